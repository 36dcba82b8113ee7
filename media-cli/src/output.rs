//! Where results go: stdout, one line at a time, ending quietly when its reader is gone.

use std::io::Write;

/// Write one line of results to stdout. When the reader has gone away (a closed pipe), the
/// command's output is no longer wanted: exit at once with success, like `yes | head -1`.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("media: writing to stdout: {e}");
        std::process::exit(1);
    }
}
