//! Duty of care: what may not be stored here, checked at the one place every way in passes.
//!
//! - The denylist (`[safety] denylist`, [`media_safety::WatchedDenylist`]): SHA-256 and PDQ
//!   entries, read again when the file changes.
//! - Tombstones ([`tombstones`]): media taken down here or by a node sharing the catalog; its
//!   id, and its picture's near copies, are refused.
//! - Reports ([`reports`]): Blossom `PUT /report` (BUD-09, NIP-56 events), kept for the owner.
//! - Takedown ([`takedown`]): every copy this node wrote, then a tombstone, published.
//!
//! Uploads (API, page, CLI, library, Blossom `/upload`, `/media`, `/mirror`) are checked by
//! [`Safety::check_upload`] in the upload pipeline after cleaning and before any store (or
//! the encryption of private media) sees a byte; imported records by
//! [`Safety::check_record`]; reads of a listed or taken-down id answer "not found".

pub(crate) mod reports;
pub(crate) mod takedown;
pub(crate) mod tombstones;

use std::sync::Arc;

use media_core::{ErrorKind, MediaError, MediaFile, MediaId, Operation, PdqHash, Result};

use crate::state::ownership::Holding;
use media_safety::WatchedDenylist;

use crate::safety::reports::Reports;
use crate::safety::tombstones::Tombstones;

/// The safety state of one store.
pub(crate) struct Safety {
    pub denylist: Option<Arc<WatchedDenylist>>,
    pub tombstones: Tombstones,
    pub reports: Reports,
}

/// Why something was refused (the message names the list, never the entry).
fn refused(op: Operation, why: String) -> MediaError {
    MediaError::new(ErrorKind::Refused, op, why)
}

/// Below this PDQ quality a hash says little about the picture (Meta's guidance for sharing
/// hashes): a tombstone keeps no such hash, so flat or blank pictures are not refused as near
/// copies of one another.
pub(crate) const MIN_TOMBSTONE_QUALITY: u8 = 50;

impl Safety {
    /// Refuse an upload whose bytes (`ids`: as uploaded and as cleaned) or picture (`hashes`:
    /// its PDQ hash and variants, empty when it could not be hashed) are listed or taken down.
    /// `picture` says the bytes are (or claim to be) an image: with PDQ hashes to match
    /// against, an image that could not be hashed is refused, not waved through.
    pub fn check_upload(&self, ids: &[MediaId], hashes: &[PdqHash], picture: bool) -> Result<()> {
        let op = Operation::Upload;
        for id in ids {
            if self.tombstones.contains(id) {
                return Err(refused(
                    op,
                    format!("media {id} was taken down from this node and may not be stored again"),
                ));
            }
        }
        if hashes.iter().any(|h| self.tombstones.near(h)) {
            return Err(refused(
                op,
                "this picture matches media taken down from this node".to_owned(),
            ));
        }
        let list = self.denylist.as_ref().map(|w| w.current().0);
        if let Some(list) = &list {
            let listed = ids.iter().any(|id| list.match_sha256(&id.sha256()))
                || hashes.iter().any(|h| list.match_pdq(h).is_some());
            if listed {
                return Err(refused(
                    op,
                    format!("the media matches the denylist {}", list.name()),
                ));
            }
        }
        let pictures_to_match =
            list.as_ref().is_some_and(|l| l.has_pdq()) || self.tombstones.has_pictures();
        if picture && hashes.is_empty() && pictures_to_match {
            let against = list.as_ref().filter(|l| l.has_pdq()).map_or_else(
                || "the media taken down here".to_owned(),
                |l| format!("the denylist {}", l.name()),
            );
            return Err(refused(
                op,
                format!("the picture could not be decoded to check it against {against}"),
            ));
        }
        Ok(())
    }

    /// Why a record (imported, from the shared catalog, or about to be read) names listed or
    /// taken-down media: by its id, the upload it was remuxed from, or its PDQ hash; with
    /// `holding`, also by what this node's own index knows of it (the ids as uploaded, the
    /// hashes of private media).
    pub fn listed_with(&self, file: &MediaFile, holding: Option<&Holding>) -> Option<String> {
        let mut ids = vec![file.id];
        if let Some(from) = file.remuxed_from {
            ids.push(MediaId::from_sha256(from));
        }
        let mut hashes: Vec<PdqHash> = file.pdq.iter().map(|p| p.hash).collect();
        if let Some(h) = holding {
            ids.extend(h.sources.iter().copied());
            hashes.extend(h.pdq.iter().map(|p| p.hash));
            hashes.extend(h.pdq_variants.iter().copied());
        }
        self.check_upload(&ids, &hashes, false)
            .err()
            .map(|e| e.to_string())
    }

    /// [`Safety::listed_with`] from the record alone.
    pub fn listed(&self, file: &MediaFile) -> Option<String> {
        self.listed_with(file, None)
    }

    /// Refuse a record from someone else that names listed or taken-down media.
    pub fn check_record(&self, file: &MediaFile, op: Operation) -> Result<()> {
        match self.listed(file) {
            Some(why) => Err(refused(op, format!("record {}: {why}", file.id))),
            None => Ok(()),
        }
    }
}
