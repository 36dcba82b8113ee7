//! Who uploaded which blob: `by-owner/<pubkey>/<sha256>` files (their content the upload time),
//! so that `GET /list/<pubkey>` pages in sha256 order and `DELETE` is the uploader's alone.

use std::path::{Path, PathBuf};

use media_core::{MediaError, MediaId, Operation, Result};

/// The owners index of a Blossom server.
#[derive(Debug, Clone)]
pub struct OwnerIndex {
    dir: PathBuf,
}

fn io(what: &str, e: std::io::Error) -> MediaError {
    MediaError::io(Operation::Catalog, what, e)
}

/// A pubkey is 64 hex digits: safe as a folder name once lowercased.
fn check_pubkey(pubkey: &str) -> Result<String> {
    if pubkey.len() == 64 && pubkey.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(pubkey.to_ascii_lowercase())
    } else {
        Err(MediaError::invalid_input(
            Operation::Catalog,
            "a pubkey is 64 hex digits",
        ))
    }
}

impl OwnerIndex {
    /// Open (create) the index under `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let dir = dir.join("by-owner");
        std::fs::create_dir_all(&dir).map_err(|e| io("creating the owners index", e))?;
        Ok(OwnerIndex { dir })
    }

    fn entry(&self, pubkey: &str, sha256: &MediaId) -> Result<PathBuf> {
        Ok(self
            .dir
            .join(check_pubkey(pubkey)?)
            .join(sha256.to_string()))
    }

    /// Record that `pubkey` uploaded `sha256` at `uploaded` (Unix seconds).
    pub fn add(&self, pubkey: &str, sha256: &MediaId, uploaded: u64) -> Result<()> {
        let entry = self.entry(pubkey, sha256)?;
        if entry.exists() {
            return Ok(());
        }
        if let Some(parent) = entry.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("owners index", e))?;
        }
        media_core::write_durable(&entry, uploaded.to_string().as_bytes())
            .map_err(|e| io("owners index", e))
    }

    /// Whether `pubkey` uploaded `sha256`.
    pub fn owns(&self, pubkey: &str, sha256: &MediaId) -> bool {
        self.entry(pubkey, sha256).is_ok_and(|p| p.exists())
    }

    /// Forget that `pubkey` uploaded `sha256`; whether someone else still owns it.
    pub fn remove(&self, pubkey: &str, sha256: &MediaId) -> Result<bool> {
        match std::fs::remove_file(self.entry(pubkey, sha256)?) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("owners index", e)),
        }
        let name = sha256.to_string();
        let owners = std::fs::read_dir(&self.dir).map_err(|e| io("owners index", e))?;
        Ok(owners
            .flatten()
            .any(|owner| owner.path().join(&name).exists()))
    }

    /// Up to `limit` blobs of `pubkey` after `cursor`, in sha256 order.
    pub fn list(
        &self,
        pubkey: &str,
        cursor: Option<&MediaId>,
        limit: usize,
    ) -> Result<Vec<MediaId>> {
        let dir = self.dir.join(check_pubkey(pubkey)?);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("owners index", e)),
        };
        let after = cursor.map(|c| c.to_string());
        let mut ids: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|name| after.as_ref().is_none_or(|a| name > a))
            .collect();
        ids.sort_unstable();
        Ok(ids
            .into_iter()
            .filter_map(|name| name.parse().ok())
            .take(limit)
            .collect())
    }
}
