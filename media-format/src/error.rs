//! The one error type of the format layer.

/// Why a file could not be read, cleaned or rewritten.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// A format (TIFF/DNG) or a variant of one (HEIF item infos of version 0) whose metadata
    /// cannot be removed yet.
    #[error("{0} cannot be cleaned of metadata yet; upload a JPEG/PNG/WebP, or choose the `keep` policy")]
    Unsupported(&'static str),
    /// The file does not parse as the format its first bytes announce.
    #[error("malformed file: {0}")]
    Malformed(String),
    /// The file parses, but goes past a bound no real file reaches (nesting, box count, index
    /// size): refused rather than followed.
    #[error("refused: {0}")]
    TooLarge(String),
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub(crate) fn malformed(what: impl Into<String>) -> FormatError {
    FormatError::Malformed(what.into())
}

pub(crate) fn too_large(what: impl Into<String>) -> FormatError {
    FormatError::TooLarge(what.into())
}
