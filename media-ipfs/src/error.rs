//! IPFS errors, mapped onto [`media_core::MediaError`] kinds.

use media_core::{ErrorKind, MediaError, Operation};

/// What went wrong with a CID, a block, a gateway or the local block store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IpfsError {
    /// A CID, range, URL or argument is malformed.
    #[error("{0}")]
    InvalidInput(String),
    /// A codec, hash function or UnixFS type we do not handle.
    #[error("{0}")]
    Unsupported(String),
    /// A block or CAR is structurally broken (truncated, bad varints, bad protobuf).
    #[error("{0}")]
    Malformed(String),
    /// Bytes do not hash to the CID they were fetched for.
    #[error("{0}")]
    Integrity(String),
    /// A block larger than we accept.
    #[error("{0}")]
    TooLarge(String),
    /// The content is not held here (or the gateway answered 404).
    #[error("{0}")]
    NotFound(String),
    /// A gateway or peer could not be reached or failed.
    #[error("{0}")]
    Unavailable(String),
    /// Local storage failed.
    #[error("{0}")]
    Io(#[source] std::io::Error),
}

impl IpfsError {
    /// The media-core error kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            IpfsError::InvalidInput(_) => ErrorKind::InvalidInput,
            IpfsError::Unsupported(_) => ErrorKind::Unsupported,
            IpfsError::Malformed(_) | IpfsError::Integrity(_) | IpfsError::TooLarge(_) => {
                ErrorKind::Integrity
            }
            IpfsError::NotFound(_) => ErrorKind::NotFound,
            IpfsError::Unavailable(_) => ErrorKind::Unavailable,
            IpfsError::Io(_) => ErrorKind::Io,
        }
    }

    /// As a [`MediaError`] of `operation`.
    pub fn into_media(self, operation: Operation) -> MediaError {
        let kind = self.kind();
        MediaError::new(kind, operation, self.to_string()).with_source(self)
    }
}
