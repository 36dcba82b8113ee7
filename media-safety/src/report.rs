//! [`Report`]: a stranger's report of media (BUD-09: a NIP-56 kind 1984 event), as the node
//! keeps it for its owner's review.

use media_core::MediaId;
use serde::{Deserialize, Serialize};

/// One reported blob and what the reporter says it is (`nudity`, `malware`, `profanity`,
/// `illegal`, `spam`, `impersonation`, `other`: NIP-56's types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Reported {
    /// The media (the blob's SHA-256).
    pub id: MediaId,
    /// The report type the event gives for it.
    pub kind: String,
}

/// A report, checked (signature, kind, at least one blob) by whoever received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// The event id (64 hex digits): one report per event.
    pub id: String,
    /// Who signed it (a Nostr public key, hex).
    pub reporter: String,
    /// The blobs it reports.
    pub media: Vec<Reported>,
    /// The reporter's words (the event's content), as given.
    pub content: String,
    /// When the reporter says it was written (Unix seconds).
    pub created_at: u64,
    /// When this node received it (Unix seconds).
    pub received_at: u64,
    /// The signed event as received, so it can be checked again or passed on.
    pub event: String,
}

impl Report {
    /// A report of `media` by `reporter`.
    pub fn new(
        id: impl Into<String>,
        reporter: impl Into<String>,
        media: Vec<Reported>,
        content: impl Into<String>,
        created_at: u64,
        event: impl Into<String>,
    ) -> Self {
        Report {
            id: id.into(),
            reporter: reporter.into(),
            media,
            content: content.into(),
            created_at,
            received_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            event: event.into(),
        }
    }
}

impl Reported {
    /// `id` reported as `kind`.
    pub fn new(id: MediaId, kind: impl Into<String>) -> Self {
        Reported {
            id,
            kind: kind.into(),
        }
    }
}
