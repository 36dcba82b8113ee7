//! Writing small side files (manifests, records, `.torrent` files) so that a crash leaves
//! either the old file or the new one, complete, never a torn one.

use std::io::Write as _;
use std::path::Path;

/// Write `bytes` to `path` durably: a temporary file beside it, flushed to disk, renamed over
/// `path`, and the folder synced so the rename itself survives a power cut.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("record.json");
/// media_core::write_durable(&path, b"{}").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"{}");
/// ```
pub fn write_durable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_durable_mode(path, bytes, 0o644)
}

/// Like [`write_durable`], readable and writable by the owner only (mode 0600 where there are
/// modes): for secrets (keys, tokens).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_durable_mode(path, bytes, 0o600)
}

fn write_durable_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("no file name"))?
        .to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        // Not every platform can open a folder to sync it; the rename is done either way.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}
