//! Thumbnail errors.

use media_core::{ErrorKind, MediaError, Operation};

/// Why no thumbnail could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ThumbError {
    /// The format is not supported (HEIC, AVIF, or unknown bytes).
    #[error("unsupported image format: {0}")]
    Unsupported(String),
    /// The image is larger than the configured limits (a decompression bomb, or just huge).
    #[error("image of {width}×{height} exceeds the limit: {limit}")]
    TooLarge {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// Which limit.
        limit: String,
    },
    /// The image data is corrupt or truncated.
    #[error("corrupt or truncated image: {0}")]
    Corrupt(String),
    /// Encoding the thumbnail failed.
    #[error("encoding the thumbnail failed: {0}")]
    Encode(String),
    /// The options are unusable.
    #[error("invalid thumbnail options: {0}")]
    InvalidOptions(String),
    /// Reading the input failed.
    #[error("reading the image: {0}")]
    Io(#[source] std::io::Error),
}

impl From<media_format::FormatError> for ThumbError {
    fn from(e: media_format::FormatError) -> Self {
        use media_format::FormatError as F;
        match e {
            F::Io(e) => ThumbError::Io(e),
            F::TooLarge(limit) => ThumbError::TooLarge {
                width: 0,
                height: 0,
                limit,
            },
            F::Unsupported(what) => ThumbError::Unsupported(what.to_owned()),
            other => ThumbError::Corrupt(other.to_string()),
        }
    }
}

impl From<ThumbError> for MediaError {
    fn from(e: ThumbError) -> Self {
        let kind = match &e {
            ThumbError::Unsupported(_) => ErrorKind::Unsupported,
            ThumbError::TooLarge { .. } | ThumbError::InvalidOptions(_) => ErrorKind::InvalidInput,
            ThumbError::Corrupt(_) => ErrorKind::Integrity,
            ThumbError::Encode(_) => ErrorKind::Internal,
            ThumbError::Io(_) => ErrorKind::Io,
        };
        MediaError::new(kind, Operation::Thumbnail, e.to_string()).with_source(e)
    }
}
