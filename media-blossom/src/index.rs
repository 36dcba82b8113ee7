//! Who uploaded which blob: `by-owner/<pubkey>/<sha256>` files (their content the upload time
//! and the size), so that `GET /list/<pubkey>` pages newest first, `DELETE` is the
//! uploader's alone, and an open server can hold each pubkey to a quota.

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

    /// Record that `pubkey` uploaded `sha256` (`size` bytes) at `uploaded` (Unix seconds).
    pub fn add(&self, pubkey: &str, sha256: &MediaId, uploaded: u64, size: u64) -> Result<()> {
        let entry = self.entry(pubkey, sha256)?;
        if entry.exists() {
            return Ok(());
        }
        if let Some(parent) = entry.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("owners index", e))?;
        }
        media_core::write_durable(&entry, format!("{uploaded} {size}").as_bytes())
            .map_err(|e| io("owners index", e))
    }

    /// Every blob of `pubkey` with its upload time and size (entries of older versions of
    /// the index have no size: 0).
    fn entries(&self, pubkey: &str) -> Result<Vec<(MediaId, u64, u64)>> {
        let dir = self.dir.join(check_pubkey(pubkey)?);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("owners index", e)),
        };
        Ok(entries
            .flatten()
            .filter_map(|e| {
                let id: MediaId = e.file_name().to_str()?.parse().ok()?;
                let text = std::fs::read_to_string(e.path()).ok()?;
                let mut parts = text.split_whitespace();
                let uploaded = parts.next()?.parse().ok()?;
                let size = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
                Some((id, uploaded, size))
            })
            .collect())
    }

    /// How many blobs and bytes `pubkey` has uploaded here.
    pub fn usage(&self, pubkey: &str) -> Result<(u64, u64)> {
        let entries = self.entries(pubkey)?;
        Ok((
            entries.len() as u64,
            entries.iter().map(|(_, _, size)| size).sum(),
        ))
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

    /// Up to `limit` blobs of `pubkey`, newest first (by upload time, then sha256), after
    /// `cursor`: the sha256 of the last blob of the previous page, as the list BUD asks. An
    /// unknown cursor gives an empty page.
    pub fn list(
        &self,
        pubkey: &str,
        cursor: Option<&MediaId>,
        limit: usize,
    ) -> Result<Vec<MediaId>> {
        let mut entries = self.entries(pubkey)?;
        entries.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let start = match cursor {
            None => 0,
            Some(c) => match entries.iter().position(|(id, _, _)| id == c) {
                Some(at) => at + 1,
                None => entries.len(),
            },
        };
        Ok(entries
            .into_iter()
            .skip(start)
            .take(limit)
            .map(|(id, _, _)| id)
            .collect())
    }
}
