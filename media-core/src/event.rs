//! Events the store publishes while it works.

use serde::{Deserialize, Serialize};

use crate::error::ErrorSummary;
use crate::id::MediaId;
use crate::location::Location;

/// Identifies one upload or download; every event of that operation carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OperationId(pub u64);

impl std::fmt::Display for OperationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "op#{}", self.0)
    }
}

/// Something that happened in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MediaEvent {
    /// An upload began reading its input.
    UploadStarted {
        /// The operation.
        op: OperationId,
        /// Name given by the caller.
        name: String,
    },
    /// The input was staged and hashed.
    Ingested {
        /// The operation.
        op: OperationId,
        /// Content id.
        id: MediaId,
        /// Size in bytes.
        size: u64,
    },
    /// Bytes sent to one backend so far.
    UploadProgress {
        /// The operation.
        op: OperationId,
        /// Content id.
        id: MediaId,
        /// Backend name.
        backend: String,
        /// Bytes done.
        bytes: u64,
        /// Bytes in all.
        total: u64,
    },
    /// One backend stored the blob.
    Stored {
        /// The operation.
        op: OperationId,
        /// Content id.
        id: MediaId,
        /// Backend name.
        backend: String,
        /// Where it lives there.
        location: Location,
    },
    /// One backend failed to store the blob.
    StoreFailed {
        /// The operation.
        op: OperationId,
        /// Content id.
        id: MediaId,
        /// Backend name.
        backend: String,
        /// Why.
        error: ErrorSummary,
    },
    /// The upload finished and the record is in the catalog.
    UploadFinished {
        /// The operation.
        op: OperationId,
        /// Content id.
        id: MediaId,
        /// Backends that hold it.
        stored: Vec<String>,
        /// True when the media was already stored (or being stored) and nothing was uploaded.
        deduplicated: bool,
    },
    /// The upload failed as a whole.
    UploadFailed {
        /// The operation.
        op: OperationId,
        /// Why.
        error: ErrorSummary,
    },
    /// A download began: `bytes` verified bytes are wanted.
    DownloadStarted {
        /// The operation.
        op: OperationId,
        /// Content id.
        id: MediaId,
        /// Bytes asked for.
        bytes: u64,
    },
    /// One backend's attempt of a download ended, having released `bytes` verified bytes;
    /// `complete` when it delivered everything still wanted (otherwise a `Fallback` follows).
    AttemptEnded {
        /// The operation.
        op: OperationId,
        /// Content id.
        id: MediaId,
        /// Backend name.
        backend: String,
        /// Verified bytes released from this backend.
        bytes: u64,
        /// Whether the attempt delivered the rest of the download.
        complete: bool,
    },
    /// A download asked one backend for bytes starting at `offset`.
    DownloadAttempt {
        /// The operation.
        op: OperationId,
        /// Content id.
        id: MediaId,
        /// Backend name.
        backend: String,
        /// First byte asked for.
        offset: u64,
    },
    /// A download moved from one backend to the next.
    Fallback {
        /// The operation.
        op: OperationId,
        /// Content id.
        id: MediaId,
        /// Backend that failed.
        from: String,
        /// Backend tried next, if any is left.
        to: Option<String>,
        /// Why `from` was abandoned.
        reason: ErrorSummary,
    },
    /// Bytes from a backend did not match their digest.
    IntegrityFailure {
        /// The operation.
        op: OperationId,
        /// Content id.
        id: MediaId,
        /// Backend that served them.
        backend: String,
        /// Chunk index that failed.
        chunk: u64,
    },
    /// Verified bytes released to the caller so far.
    DownloadProgress {
        /// The operation.
        op: OperationId,
        /// Content id.
        id: MediaId,
        /// Bytes released so far.
        bytes: u64,
        /// Bytes asked for.
        total: u64,
    },
    /// A download finished and every byte was verified.
    Verified {
        /// The operation.
        op: OperationId,
        /// Content id.
        id: MediaId,
        /// Backends that served bytes, in order.
        backends: Vec<String>,
        /// Bytes released.
        bytes: u64,
    },
    /// A download failed as a whole.
    DownloadFailed {
        /// The operation.
        op: OperationId,
        /// Content id.
        id: MediaId,
        /// Why.
        error: ErrorSummary,
    },
    /// Media reached its `expires_at` and was removed.
    Expired {
        /// Content id.
        id: MediaId,
    },
    /// Media was deleted.
    Deleted {
        /// Content id.
        id: MediaId,
        /// Backends it was removed from.
        backends: Vec<String>,
    },
}

impl MediaEvent {
    /// The operation this event belongs to, if any.
    pub fn operation(&self) -> Option<OperationId> {
        match self {
            MediaEvent::UploadStarted { op, .. }
            | MediaEvent::Ingested { op, .. }
            | MediaEvent::UploadProgress { op, .. }
            | MediaEvent::Stored { op, .. }
            | MediaEvent::StoreFailed { op, .. }
            | MediaEvent::UploadFinished { op, .. }
            | MediaEvent::UploadFailed { op, .. }
            | MediaEvent::DownloadStarted { op, .. }
            | MediaEvent::AttemptEnded { op, .. }
            | MediaEvent::DownloadAttempt { op, .. }
            | MediaEvent::Fallback { op, .. }
            | MediaEvent::IntegrityFailure { op, .. }
            | MediaEvent::DownloadProgress { op, .. }
            | MediaEvent::Verified { op, .. }
            | MediaEvent::DownloadFailed { op, .. } => Some(*op),
            MediaEvent::Expired { .. } | MediaEvent::Deleted { .. } => None,
        }
    }

    /// Whether this is the last event of its operation.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            MediaEvent::UploadFinished { .. }
                | MediaEvent::UploadFailed { .. }
                | MediaEvent::Verified { .. }
                | MediaEvent::DownloadFailed { .. }
        )
    }
}
