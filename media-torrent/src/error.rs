//! BitTorrent errors, mapped onto [`media_core::MediaError`] kinds.

use media_core::{ErrorKind, MediaError, Operation};

/// What went wrong with a torrent, a magnet, the session or a transfer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TorrentError {
    /// A malformed magnet, ticket, name, size or option.
    #[error("{0}")]
    InvalidInput(String),
    /// No reachable peer had the torrent's metadata in time (unknown info hash, or every
    /// seeder is gone).
    #[error("{0}")]
    NotFound(String),
    /// A transfer or the metadata exchange took longer than allowed.
    #[error("{0}")]
    Timeout(String),
    /// The session or a peer failed.
    #[error("{0}")]
    Unavailable(String),
    /// The torrent is not what the magnet or record says (file count, size).
    #[error("{0}")]
    Integrity(String),
    /// Local storage failed.
    #[error("{0}")]
    Io(#[source] std::io::Error),
}

impl TorrentError {
    /// The media-core error kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            TorrentError::InvalidInput(_) => ErrorKind::InvalidInput,
            TorrentError::NotFound(_) => ErrorKind::NotFound,
            TorrentError::Timeout(_) => ErrorKind::Timeout,
            TorrentError::Unavailable(_) => ErrorKind::Unavailable,
            TorrentError::Integrity(_) => ErrorKind::Integrity,
            TorrentError::Io(_) => ErrorKind::Io,
        }
    }

    /// As a [`MediaError`] of `operation`.
    pub fn into_media(self, operation: Operation) -> MediaError {
        let kind = self.kind();
        let retryable = matches!(
            self,
            TorrentError::NotFound(_) | TorrentError::Timeout(_) | TorrentError::Unavailable(_)
        );
        MediaError::new(kind, operation, self.to_string())
            .with_source(self)
            .with_retryable(retryable)
    }
}
