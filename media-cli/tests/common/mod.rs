//! What the command-line tests share: running `media` and `media serve`.

#![allow(dead_code)]

use std::process::Command;

/// `media --data DATA ARGS…`: success, stdout, stderr.
pub fn media(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let (code, out, err) = media_code(data, args);
    (code == 0, out, err)
}

/// The `media` binary under test: this build's, or `MEDIA_BIN` (to replay the attack suite
/// against an older build and watch the attacks work there).
pub fn media_bin() -> std::path::PathBuf {
    std::env::var_os("MEDIA_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_media").into())
}

/// `media --data DATA ARGS…`: exit code, stdout, stderr.
pub fn media_code(data: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(media_bin())
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `media serve` child, killed when dropped.
pub struct Serve(Option<std::process::Child>);

impl Serve {
    /// The process id of the `media serve` child.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.0.as_ref().map_or(0, |c| c.id())
    }

    /// No process (a placeholder while one is replaced).
    #[allow(dead_code)]
    pub fn none() -> Serve {
        Serve(None)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Start `media serve` on `data` and wait for its start-up lines.
pub fn serve(data: &std::path::Path) -> (Serve, Vec<String>) {
    serve_with(data, &[])
}

/// Like [`serve`], with more arguments for `serve`.
pub fn serve_with(data: &std::path::Path, args: &[&str]) -> (Serve, Vec<String>) {
    let mut cmd = Command::new(media_bin());
    cmd.arg("--data").arg(data).arg("serve").args(args);
    spawn_serve(cmd)
}

/// Start `cmd` (a `media … serve`) and wait for its start-up lines, up to `serving …`.
pub fn spawn_serve(mut cmd: Command) -> (Serve, Vec<String>) {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = Serve(Some(child));
    let mut seen = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.starts_with("serving ");
        seen.push(line);
        if done {
            break;
        }
    }
    (guard, seen)
}
