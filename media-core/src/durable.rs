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
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("no file name"))?
        .to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
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
