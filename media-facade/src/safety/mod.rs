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

use media_core::{ErrorKind, MediaError, MediaFile, MediaId, Operation, Pdq, Result};
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

impl Safety {
    /// Refuse an upload whose bytes (`ids`: as uploaded and as cleaned) or picture (`pdq`)
    /// are listed or taken down. `picture` says the bytes are an image: with PDQ entries in
    /// the list, an image that could not be hashed is refused, not waved through.
    pub fn check_upload(&self, ids: &[MediaId], pdq: Option<&Pdq>, picture: bool) -> Result<()> {
        let op = Operation::Upload;
        for id in ids {
            if self.tombstones.contains(id) {
                return Err(refused(
                    op,
                    format!("media {id} was taken down from this node and may not be stored again"),
                ));
            }
        }
        if let Some(pdq) = pdq {
            if self.tombstones.near(&pdq.hash) {
                return Err(refused(
                    op,
                    "this picture matches media taken down from this node".to_owned(),
                ));
            }
        }
        let Some(watched) = &self.denylist else {
            return Ok(());
        };
        let (list, _) = watched.current();
        let listed = ids.iter().any(|id| list.match_sha256(&id.sha256()))
            || pdq.is_some_and(|p| list.match_pdq(&p.hash).is_some());
        if listed {
            return Err(refused(
                op,
                format!("refused: the media matches the denylist {}", list.name()),
            ));
        }
        if picture && pdq.is_none() && list.has_pdq() {
            return Err(refused(
                op,
                format!(
                    "refused: the picture could not be decoded to check it against the denylist {}",
                    list.name()
                ),
            ));
        }
        Ok(())
    }

    /// Whether a record (imported, from the shared catalog, or about to be read) names
    /// listed or taken-down media: by its id, the upload it was remuxed from, or its PDQ hash.
    pub fn listed(&self, file: &MediaFile) -> Option<String> {
        let mut ids = vec![file.id];
        if let Some(from) = file.remuxed_from {
            ids.push(MediaId::from_sha256(from));
        }
        self.check_upload(&ids, file.pdq.as_ref(), false)
            .err()
            .map(|e| e.to_string())
    }

    /// Refuse a record from someone else that names listed or taken-down media.
    pub fn check_record(&self, file: &MediaFile, op: Operation) -> Result<()> {
        match self.listed(file) {
            Some(why) => Err(refused(op, format!("record {}: {why}", file.id))),
            None => Ok(()),
        }
    }
}
