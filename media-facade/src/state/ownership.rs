//! What this node stored, and for whom: one small JSON file per media id under
//! `<data>/owned/`. It is the only source of what a delete removes from the stores.
//!
//! Records come from strangers (imports, the shared catalog, Blossom descriptors) and their
//! locations and hints are the stranger's words: a delete driven by them could remove any
//! other media's S3 object, CID or torrent. So a delete removes exactly the placements
//! written here when one of this node's own puts succeeded, and nothing for an id this node
//! never stored (the record alone leaves the catalog). Ownership says who may remove it:
//! media the node stored for itself (API, page, CLI, library, import by reference) is the
//! node's; media stored only because a Blossom signer uploaded it is Blossom's, and a Blossom
//! `DELETE` never removes what the node also owns.

use std::path::PathBuf;
use std::sync::Mutex;

use media_core::{Location, MediaError, MediaId, Operation, Result};
use serde::{Deserialize, Serialize};

/// Who asked this node to hold a media id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The node's owner: the API, the page, the CLI, the library, an import by reference.
    Node,
    /// A Blossom signer, through the node's Blossom server.
    #[cfg_attr(not(feature = "blossom"), allow(dead_code))]
    Blossom,
}

/// One put that succeeded: the backend (by name) and the location it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Placement {
    pub backend: String,
    pub location: Location,
}

/// What the node holds for one id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Holding {
    /// The node's owner wants it.
    #[serde(default)]
    pub node: bool,
    /// A Blossom signer uploaded it.
    #[serde(default)]
    pub blossom: bool,
    /// Where this node's own puts stored it.
    #[serde(default)]
    pub placements: Vec<Placement>,
    /// Media this node derived from it at upload (a HEIC's display rendition): deleted with
    /// it. Written here by the upload, never taken from a record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derived: Vec<MediaId>,
    /// For a derived media: the uploads it was derived from. Two photos with the same pixels
    /// share one rendition; it goes only with the last of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derived_from: Vec<MediaId>,
    /// The ids of the bytes as they were uploaded (before metadata was cleaned), so a list
    /// entry added later for the original still finds what was stored. This node's only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<MediaId>,
    /// The picture's PDQ hash (kept here for private media too, whose record has none) and its
    /// mirrored/rotated/over-black variants: a list entry added later is matched against them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdq: Option<media_core::Pdq>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pdq_variants: Vec<media_core::PdqHash>,
}

#[derive(Debug)]
pub(crate) struct Ownership {
    dir: PathBuf,
    /// Read-modify-write of one file at a time (late stores add placements concurrently).
    write: Mutex<()>,
}

fn io(what: &str, e: std::io::Error) -> MediaError {
    MediaError::io(Operation::Catalog, what, e)
}

impl Ownership {
    pub fn open(dir: PathBuf) -> Result<Self> {
        media_core::create_private_dir(&dir).map_err(|e| io("creating the ownership index", e))?;
        Ok(Ownership {
            dir,
            write: Mutex::new(()),
        })
    }

    fn path(&self, id: &MediaId) -> PathBuf {
        self.dir.join(id.to_string())
    }

    /// What the node holds for `id` (nothing: a default, empty holding).
    pub fn get(&self, id: &MediaId) -> Holding {
        std::fs::read(self.path(id))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn update(&self, id: &MediaId, change: impl FnOnce(&mut Holding)) -> Result<()> {
        let _guard = self.write.lock().map_err(|_| {
            MediaError::internal(Operation::Catalog, "ownership index lock poisoned")
        })?;
        let mut holding = self.get(id);
        change(&mut holding);
        let bytes = serde_json::to_vec(&holding)
            .map_err(|e| MediaError::internal(Operation::Catalog, e.to_string()))?;
        media_core::write_durable(&self.path(id), &bytes).map_err(|e| io("ownership index", e))
    }

    /// `owner` wants `id` kept.
    pub fn claim(&self, id: &MediaId, owner: Owner) -> Result<()> {
        self.update(id, |h| match owner {
            Owner::Node => h.node = true,
            Owner::Blossom => h.blossom = true,
        })
    }

    /// What the upload of `id` was: its id as uploaded and its picture's hashes.
    pub fn describe(
        &self,
        id: &MediaId,
        source: MediaId,
        pdq: Option<media_core::Pdq>,
        variants: &[media_core::PdqHash],
    ) -> Result<()> {
        self.update(id, |h| {
            if source != *id && !h.sources.contains(&source) {
                h.sources.push(source);
            }
            if pdq.is_some() {
                h.pdq = pdq;
                h.pdq_variants = variants.to_vec();
            }
        })
    }

    /// One of this node's puts stored `id` at `location` on `backend`.
    pub fn placed(&self, id: &MediaId, backend: &str, location: &Location) -> Result<()> {
        let placement = Placement {
            backend: backend.to_owned(),
            location: location.clone(),
        };
        self.update(id, |h| {
            if !h.placements.contains(&placement) {
                h.placements.push(placement);
            }
        })
    }

    /// This node's upload of `id` derived `child` from it (and stored it).
    pub fn derived(&self, id: &MediaId, child: &MediaId) -> Result<()> {
        self.update(id, |h| {
            if !h.derived.contains(child) {
                h.derived.push(*child);
            }
        })?;
        self.update(child, |h| {
            if !h.derived_from.contains(id) {
                h.derived_from.push(*id);
            }
        })
    }

    /// `parent` is being deleted: whether `child`, derived from it, is now derived from
    /// nothing else (and may go with it).
    pub fn release_derived(&self, parent: &MediaId, child: &MediaId) -> Result<bool> {
        let mut orphan = false;
        self.update(child, |h| {
            h.derived_from.retain(|p| p != parent);
            orphan = h.derived_from.is_empty();
        })?;
        Ok(orphan)
    }

    /// Whether `owner` holds `id`.
    #[cfg_attr(not(feature = "blossom"), allow(dead_code))]
    pub fn owned_by(&self, id: &MediaId, owner: Owner) -> bool {
        let h = self.get(id);
        match owner {
            Owner::Node => h.node,
            Owner::Blossom => h.blossom,
        }
    }

    /// Whether `id` is held for Blossom signers alone: only then may a Blossom `DELETE`
    /// remove it. The node's own media, and a record its owner catalogued without any Blossom
    /// upload (an import, the shared catalog), are the node's.
    #[cfg_attr(not(feature = "blossom"), allow(dead_code))]
    pub fn blossom_only(&self, id: &MediaId) -> bool {
        let h = self.get(id);
        h.blossom && !h.node
    }

    /// Blossom no longer wants `id`; the node's own claim stays.
    #[cfg_attr(not(feature = "blossom"), allow(dead_code))]
    pub fn release_blossom(&self, id: &MediaId) -> Result<()> {
        self.update(id, |h| h.blossom = false)
    }

    /// Forget `id` entirely (it was deleted).
    pub fn remove(&self, id: &MediaId) {
        let _ = std::fs::remove_file(self.path(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use media_core::BackendKind;

    #[test]
    fn claims_and_placements_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let id = MediaId::for_bytes(b"x");
        let loc = Location::new(BackendKind::new("cdn").unwrap(), "s3://b/k");
        {
            let own = Ownership::open(dir.path().join("owned")).unwrap();
            assert_eq!(own.get(&id), Holding::default());
            own.claim(&id, Owner::Blossom).unwrap();
            own.placed(&id, "cdn", &loc).unwrap();
            own.placed(&id, "cdn", &loc).unwrap();
        }
        let own = Ownership::open(dir.path().join("owned")).unwrap();
        let h = own.get(&id);
        assert!(h.blossom && !h.node);
        assert_eq!(h.placements.len(), 1);
        own.claim(&id, Owner::Node).unwrap();
        own.release_blossom(&id).unwrap();
        assert!(own.owned_by(&id, Owner::Node));
        assert!(!own.owned_by(&id, Owner::Blossom));
        let child = MediaId::for_bytes(b"rendition");
        let twin = MediaId::for_bytes(b"same pixels, other bytes");
        own.derived(&id, &child).unwrap();
        own.derived(&id, &child).unwrap();
        own.derived(&twin, &child).unwrap();
        assert_eq!(own.get(&id).derived, [child]);
        assert_eq!(own.get(&child).derived_from, [id, twin]);
        assert!(
            !own.release_derived(&twin, &child).unwrap(),
            "still derived from id"
        );
        assert!(own.release_derived(&id, &child).unwrap());
        own.remove(&id);
        assert_eq!(own.get(&id), Holding::default());
    }
}
