//! Tombstones: one small JSON file per media id taken down, under `<data>/tombstones/`, and
//! in memory with a PDQ index of their pictures so near copies are refused too.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::RwLock;

use media_core::{MediaError, MediaId, Operation, PdqHash, Result, Tombstone};
use media_safety::{PdqIndex, DEFAULT_DISTANCE};
use tracing::warn;

pub(crate) struct Tombstones {
    dir: PathBuf,
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    by_id: BTreeMap<MediaId, Tombstone>,
    pictures: Option<PdqIndex>,
}

impl Tombstones {
    /// The tombstones under `dir` (created 0700).
    pub fn open(dir: PathBuf) -> Result<Self> {
        media_core::create_private_dir(&dir)
            .map_err(|e| MediaError::io(Operation::Catalog, "creating the tombstone folder", e))?;
        let mut by_id = BTreeMap::new();
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| MediaError::io(Operation::Catalog, "reading the tombstones", e))?;
        for entry in entries.flatten() {
            let read = std::fs::read(entry.path())
                .ok()
                .and_then(|b| serde_json::from_slice::<Tombstone>(&b).ok());
            match read {
                Some(t) => {
                    by_id.insert(t.id, t);
                }
                None => warn!(file = %entry.path().display(), "an unreadable tombstone is ignored"),
            }
        }
        let tombstones = Tombstones {
            dir,
            state: RwLock::new(State::default()),
        };
        tombstones.replace(by_id);
        Ok(tombstones)
    }

    fn replace(&self, by_id: BTreeMap<MediaId, Tombstone>) {
        let hashes: Vec<PdqHash> = by_id.values().filter_map(|t| t.pdq).collect();
        let pictures = (!hashes.is_empty()).then(|| PdqIndex::new(hashes));
        if let Ok(mut state) = self.state.write() {
            *state = State { by_id, pictures };
        }
    }

    /// Whether `id` was taken down.
    pub fn contains(&self, id: &MediaId) -> bool {
        self.state.read().is_ok_and(|s| s.by_id.contains_key(id))
    }

    /// Whether a picture is within the match distance of a taken-down one.
    pub fn near(&self, hash: &PdqHash) -> bool {
        self.state.read().is_ok_and(|s| {
            s.pictures
                .as_ref()
                .is_some_and(|p| p.nearest(hash, DEFAULT_DISTANCE).is_some())
        })
    }

    /// Whether any tombstone keeps a picture's hash (then undecodable pictures are refused).
    pub fn has_pictures(&self) -> bool {
        self.state.read().is_ok_and(|s| s.pictures.is_some())
    }

    /// Every tombstone, by id.
    pub fn list(&self) -> Vec<Tombstone> {
        self.state
            .read()
            .map(|s| s.by_id.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Record a tombstone (durably, before anything is removed). Returns false when `id` had
    /// one already (kept as it was). One writer at a time: concurrent takedowns each keep theirs.
    pub fn add(&self, tombstone: &Tombstone) -> Result<bool> {
        let mut state = self
            .state
            .write()
            .map_err(|_| MediaError::internal(Operation::Delete, "tombstone lock poisoned"))?;
        if state.by_id.contains_key(&tombstone.id) {
            return Ok(false);
        }
        let bytes = serde_json::to_vec(tombstone)
            .map_err(|e| MediaError::internal(Operation::Delete, e.to_string()))?;
        media_core::write_durable(&self.dir.join(tombstone.id.to_string()), &bytes)
            .map_err(|e| MediaError::io(Operation::Delete, "writing a tombstone", e))?;
        state.by_id.insert(tombstone.id, tombstone.clone());
        if tombstone.pdq.is_some() {
            let hashes: Vec<PdqHash> = state.by_id.values().filter_map(|t| t.pdq).collect();
            state.pictures = Some(PdqIndex::new(hashes));
        }
        Ok(true)
    }
}
