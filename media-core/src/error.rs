//! One error type for every backend and operation.
//!
//! Fallback and retry decide on [`ErrorKind`] and [`MediaError::is_retryable`], never on
//! message text.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What went wrong, in terms a policy can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The object, id or location is not known to the store.
    NotFound,
    /// The store did not answer in time.
    Timeout,
    /// Bytes did not match their digest: corrupt, truncated or overlong data.
    Integrity,
    /// The store is down, unreachable or refused the request for now.
    Unavailable,
    /// The caller's input is unusable (bad range, malformed location, empty name, ...).
    InvalidInput,
    /// The store cannot do this (no delete, no range reads, unsupported format).
    Unsupported,
    /// The store refused the credentials or the request (wrong keys, no access).
    PermissionDenied,
    /// The media exists but its `expires_at` has passed.
    Expired,
    /// A local file system or I/O failure.
    Io,
    /// Too few stores accepted an upload, or no store could serve a download.
    PolicyUnsatisfied,
    /// The operation was cancelled (e.g. a hedged attempt that lost the race).
    Cancelled,
    /// A bug or an unexpected state; report it.
    Internal,
    /// The node's safety policy refuses this media (a denylist match, media taken down).
    Refused,
}

impl ErrorKind {
    /// Whether an error of this kind is usually transient.
    pub fn default_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Timeout | ErrorKind::Unavailable | ErrorKind::Io
        )
    }

    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Integrity => "integrity failure",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::Refused => "refused by the safety policy",
            ErrorKind::Expired => "expired",
            ErrorKind::Io => "i/o error",
            ErrorKind::PolicyUnsatisfied => "policy unsatisfied",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operation during which an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Operation {
    /// Reading and hashing the input into the staging area.
    Ingest,
    /// Storing a staged blob on one backend.
    Put,
    /// Reading bytes from one backend.
    Get,
    /// Removing an object from one backend.
    Delete,
    /// Probing a backend.
    Health,
    /// The whole upload across backends.
    Upload,
    /// The whole download across backends.
    Download,
    /// Reading or writing the catalog.
    Catalog,
    /// Making a thumbnail.
    Thumbnail,
    /// Building or validating configuration.
    Configure,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Operation::Ingest => "ingest",
            Operation::Put => "put",
            Operation::Get => "get",
            Operation::Delete => "delete",
            Operation::Health => "health",
            Operation::Upload => "upload",
            Operation::Download => "download",
            Operation::Catalog => "catalog",
            Operation::Thumbnail => "thumbnail",
            Operation::Configure => "configure",
        };
        f.write_str(s)
    }
}

/// The error of every fallible call in the library.
///
/// It is cheap to clone (the source is shared) so that one failed operation can be reported to
/// every caller that joined it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
#[error("{operation}{}: {kind}: {message}", backend.as_deref().map(|b| format!(" on {b}")).unwrap_or_default())]
pub struct MediaError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// During which operation.
    pub operation: Operation,
    /// Name of the backend involved, if any.
    pub backend: Option<String>,
    /// Whether retrying the same request may succeed.
    pub retryable: bool,
    /// Human readable detail; never parse it.
    pub message: String,
    #[source]
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Shorthand for results carrying [`MediaError`].
pub type Result<T, E = MediaError> = std::result::Result<T, E>;

impl MediaError {
    /// A new error; retryability defaults to [`ErrorKind::default_retryable`].
    pub fn new(kind: ErrorKind, operation: Operation, message: impl Into<String>) -> Self {
        MediaError {
            kind,
            operation,
            backend: None,
            retryable: kind.default_retryable(),
            message: message.into(),
            source: None,
        }
    }

    /// Attach the backend's name.
    #[must_use]
    pub fn with_backend(mut self, backend: impl Into<String>) -> Self {
        self.backend = Some(backend.into());
        self
    }

    /// Attach the backend's name unless one is already there (errors from a wrapped store
    /// keep the innermost name).
    #[must_use]
    pub fn or_backend(self, backend: &str) -> Self {
        if self.backend.is_some() {
            self
        } else {
            self.with_backend(backend)
        }
    }

    /// Override whether retrying may help.
    #[must_use]
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Attach the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// An I/O error, classified by its [`std::io::ErrorKind`].
    pub fn io(operation: Operation, context: impl Into<String>, err: std::io::Error) -> Self {
        use std::io::ErrorKind as Io;
        let kind = match err.kind() {
            Io::NotFound => ErrorKind::NotFound,
            Io::TimedOut => ErrorKind::Timeout,
            Io::InvalidInput => ErrorKind::InvalidInput,
            Io::PermissionDenied => ErrorKind::PermissionDenied,
            Io::InvalidData | Io::UnexpectedEof => ErrorKind::Integrity,
            Io::ConnectionRefused
            | Io::ConnectionReset
            | Io::ConnectionAborted
            | Io::NotConnected
            | Io::BrokenPipe => ErrorKind::Unavailable,
            _ => ErrorKind::Io,
        };
        let context = context.into();
        MediaError::new(kind, operation, format!("{context}: {err}")).with_source(err)
    }

    /// Shorthand for [`ErrorKind::NotFound`].
    pub fn not_found(operation: Operation, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, operation, message)
    }

    /// Shorthand for [`ErrorKind::InvalidInput`].
    pub fn invalid_input(operation: Operation, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, operation, message)
    }

    /// Shorthand for [`ErrorKind::Integrity`].
    pub fn integrity(operation: Operation, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Integrity, operation, message)
    }

    /// Shorthand for [`ErrorKind::Unavailable`].
    pub fn unavailable(operation: Operation, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, operation, message)
    }

    /// Shorthand for [`ErrorKind::Timeout`].
    pub fn timeout(operation: Operation, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, operation, message)
    }

    /// Shorthand for [`ErrorKind::Internal`].
    pub fn internal(operation: Operation, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, operation, message)
    }

    /// Whether retrying the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// A serialisable summary for events and reports.
    pub fn summary(&self) -> ErrorSummary {
        ErrorSummary {
            kind: self.kind,
            operation: self.operation,
            backend: self.backend.clone(),
            retryable: self.retryable,
            message: self.to_string(),
        }
    }
}

/// A serialisable copy of a [`MediaError`] for events, reports and logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorSummary {
    /// What went wrong.
    pub kind: ErrorKind,
    /// During which operation.
    pub operation: Operation,
    /// Backend involved, if any.
    pub backend: Option<String>,
    /// Whether retrying may help.
    pub retryable: bool,
    /// The error's full display text.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_backend_operation_and_kind() {
        let e = MediaError::timeout(Operation::Get, "no bytes for 5s").with_backend("cdn");
        assert_eq!(e.to_string(), "get on cdn: timeout: no bytes for 5s");
        assert!(e.is_retryable());
        let e = MediaError::integrity(Operation::Download, "chunk 3");
        assert_eq!(e.to_string(), "download: integrity failure: chunk 3");
        assert!(!e.is_retryable());
    }

    #[test]
    fn io_errors_are_classified_by_kind() {
        let e = MediaError::io(
            Operation::Ingest,
            "reading x",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(std::error::Error::source(&e).is_some());
        let e = MediaError::io(
            Operation::Get,
            "socket",
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        );
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.is_retryable());
    }
}
