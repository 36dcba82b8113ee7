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
///
/// The file is readable by its owner only (0600): what a node writes beside its media
/// (records, indexes, anchors) is nobody else's business on a shared machine.
pub fn write_durable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_durable_mode(path, bytes, 0o600)
}

/// Create `dir` (and its parents) and make `dir` itself accessible to its owner only
/// (0700 where there are modes), also when it already existed: a data directory holds
/// plaintext of private uploads while they are staged, and the node's secrets.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let data = dir.path().join("data");
/// media_core::create_private_dir(&data).unwrap();
/// # #[cfg(unix)] {
/// use std::os::unix::fs::PermissionsExt;
/// assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
/// # }
/// ```
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Like [`write_durable`] (mode 0600 where there are modes), named for the call sites that
/// write secrets (keys, tokens).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_durable_mode(path, bytes, 0o600)
}

fn write_durable_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("no file name"))?
        .to_string_lossy();
    // A name of its own per write: two writers of one file (two uploads of one blob
    // indexing it at once) must not rename each other's temporary file away.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()));
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
