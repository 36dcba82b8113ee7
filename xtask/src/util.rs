//! What every job uses: the workspace root, running cargo and tools, timing, bench inputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Every job's result: an error is a message for the person running it.
pub(crate) type Res<T = ()> = Result<T, String>;

pub(crate) fn root() -> PathBuf {
    // `cargo run` sets CARGO_MANIFEST_DIR at run time. Prefer it over the compile-time value:
    // clones sharing one CARGO_TARGET_DIR may run an xtask binary built from another clone.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

pub(crate) fn run(step: &str, cmd: &mut Command) -> Res {
    eprintln!("==> {step}");
    let t = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("{step}: cannot start {cmd:?}: {e}"))?;
    eprintln!("    ({step}: {:.1}s)", t.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

pub(crate) fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub(crate) fn flag(args: &[String], name: &str) -> Option<u64> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

pub(crate) fn bench_dir() -> Res<PathBuf> {
    let dir = target_dir().join("bench-data");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    Ok(dir)
}

/// A file of `mib` MiB of non-repeating bytes, made once and reused.
pub(crate) fn bench_file(mib: u64) -> Res<PathBuf> {
    let path = bench_dir()?.join(format!("random-{mib}MiB.bin"));
    let want = mib << 20;
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == want) {
        return Ok(path);
    }
    eprintln!("==> generating {}", path.display());
    use std::io::Write;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?,
    );
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        out.write_all(&block).map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(path)
}

/// Flush dirty pages (`sync`) so a timed step does not pay for an earlier one's writeback.
pub(crate) fn settle_page_cache() {
    let _ = Command::new("sync").status();
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Wall time of one run of `cmd`, failing if it fails.
pub(crate) fn timed(cmd: &mut Command) -> Res<(f64, String, String)> {
    let t = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((
        secs,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

pub(crate) fn json_field(line: &str, field: &str) -> Option<f64> {
    let at = line.find(&format!("\"{field}\":"))? + field.len() + 3;
    let rest = &line[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// `exe` run under `/usr/bin/time -v` when available, to read its peak memory.
pub(crate) fn with_time_v(exe: &Path) -> Command {
    if Path::new("/usr/bin/time").exists() {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-v").arg(exe);
        c
    } else {
        Command::new(exe)
    }
}

/// Peak RSS from `/usr/bin/time -v` output.
pub(crate) fn max_rss_kb(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
}

/// A long-running child whose stdout lines are read until `want` lines arrived; killed on drop.
pub(crate) struct Background(pub(crate) std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn spawn_lines(cmd: &mut Command, want: usize) -> Res<(Background, Vec<String>)> {
    use std::io::BufRead;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting {cmd:?}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let bg = Background(child);
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stdout).lines().take(want) {
        lines.push(line.map_err(|e| e.to_string())?);
    }
    if lines.len() < want {
        return Err(format!("{cmd:?} stopped early: {lines:?}"));
    }
    Ok((bg, lines))
}

/// Build a benchmark program of the `media-bench` crate in release mode; return its path.
pub(crate) fn release_bench(bin: &str) -> Res<PathBuf> {
    release_build("media-bench", &[], "--bin", bin)?;
    Ok(target_dir().join("release").join(bin))
}

/// The `media` CLI built in release mode (default features), and its path.
pub(crate) fn release_media() -> Res<PathBuf> {
    release_build("media-cli", &[], "--bin", "media")?;
    Ok(target_dir().join("release").join("media"))
}

/// Build an example of `package` in release mode and return its path.
pub(crate) fn release_example(package: &str, features: &[&str], example: &str) -> Res<PathBuf> {
    release_build(package, features, "--example", example)?;
    Ok(target_dir().join("release/examples").join(example))
}

/// `cargo build --release` of one target (`--bin NAME` or `--example NAME`) of `package`.
fn release_build(package: &str, features: &[&str], kind: &str, name: &str) -> Res {
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--quiet", "-p", package, kind, name]);
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    run(&format!("build {name} (release)"), &mut cmd)
}
