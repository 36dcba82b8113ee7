//! Chunk lists this node trusts: one small file per media id under `<data>/anchors/`, holding
//! the [`chunk_root`] of a record whose chunk digests were proven. A record is anchored when
//! this node computed its digests (its own upload), read the whole file and found it hashing
//! to the id, or received it with a matching [`media_core::MediaRef`]. Only anchored records
//! verify range reads; see SECURITY.md.

use std::path::PathBuf;

use media_core::{chunk_root, Digest32, MediaError, MediaFile, MediaId, Operation, Result};

/// How a record relates to what this node trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trust {
    /// Its chunk list is the anchored one.
    Anchored,
    /// The id is anchored with a different chunk list: the record is forged or corrupt.
    Conflicts,
    /// Nothing anchors this id yet.
    Unanchored,
}

#[derive(Debug)]
pub(crate) struct Anchors {
    dir: PathBuf,
}

impl Anchors {
    pub fn open(dir: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| MediaError::io(Operation::Configure, "creating the anchors folder", e))?;
        Ok(Anchors { dir })
    }

    fn path(&self, id: &MediaId) -> PathBuf {
        self.dir.join(id.to_string())
    }

    fn root(&self, id: &MediaId) -> Option<Digest32> {
        let text = std::fs::read_to_string(self.path(id)).ok()?;
        Digest32::from_hex(text.trim()).ok()
    }

    pub fn trust(&self, file: &MediaFile) -> Trust {
        match self.root(&file.id) {
            None => Trust::Unanchored,
            Some(root) if root == chunk_root(file.size, &file.chunks) => Trust::Anchored,
            Some(_) => Trust::Conflicts,
        }
    }

    /// Anchor `file`'s chunk list (durably: a crash leaves the old anchor or the new one).
    pub fn set(&self, file: &MediaFile) -> Result<()> {
        let root = chunk_root(file.size, &file.chunks).to_hex();
        media_core::write_durable(&self.path(&file.id), root.as_bytes())
            .map_err(|e| MediaError::io(Operation::Catalog, "writing an anchor", e))
    }

    pub fn remove(&self, id: &MediaId) {
        let _ = std::fs::remove_file(self.path(id));
    }
}

/// The error for a record that contradicts the anchored chunk list of its id.
pub(crate) fn conflict(file: &MediaFile, op: Operation) -> MediaError {
    MediaError::integrity(
        op,
        format!(
            "record {} does not match the chunk list this node verified for that id: forged or corrupt, refused",
            file.id
        ),
    )
}

/// The error for a range read of a record nothing vouches for.
pub(crate) fn unanchored(file: &MediaFile) -> MediaError {
    MediaError::integrity(
        Operation::Download,
        format!(
            "the chunk digests of {} are not anchored, so a range of it cannot be verified: open it with the reference its sender shared (media:…?root=…), or read it whole once",
            file.id
        ),
    )
}
