//! Mapping S3 and HTTP failures to typed [`MediaError`]s.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use media_core::{ErrorKind, MediaError, Operation};

/// Whether an S3 error code or HTTP status means "the object exists already".
pub(crate) fn is_precondition_failed<E: ProvideErrorMetadata>(
    err: &SdkError<E, HttpResponse>,
) -> bool {
    err.raw_response()
        .is_some_and(|r| r.status().as_u16() == 412)
        || err.code() == Some("PreconditionFailed")
}

/// Classify an SDK error by transport failure, HTTP status and S3 error code.
pub(crate) fn sdk_error<E>(
    backend: &str,
    operation: Operation,
    what: &str,
    err: SdkError<E, HttpResponse>,
) -> MediaError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_owned);
    let detail = err
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| match &err {
            SdkError::DispatchFailure(d) => format!("connection failed: {d:?}"),
            other => other.to_string(),
        });
    let kind = match &err {
        SdkError::TimeoutError(_) => ErrorKind::Timeout,
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => ErrorKind::Unavailable,
        SdkError::ConstructionFailure(_) => ErrorKind::InvalidInput,
        _ => classify(status, code.as_deref()),
    };
    let text = format!(
        "{what}: {}{}{detail}",
        code.as_deref().map(|c| format!("{c} ")).unwrap_or_default(),
        status.map(|s| format!("(HTTP {s}) ")).unwrap_or_default(),
    );
    MediaError::new(kind, operation, text)
        .with_backend(backend)
        .with_source(err)
}

/// Classify by HTTP status and S3 error code.
pub(crate) fn classify(status: Option<u16>, code: Option<&str>) -> ErrorKind {
    match (code, status) {
        (Some("NoSuchKey" | "NotFound" | "NoSuchBucket" | "NoSuchUpload"), _) | (_, Some(404)) => {
            ErrorKind::NotFound
        }
        (
            Some("BadDigest" | "InvalidDigest" | "XAmzContentSHA256Mismatch" | "InvalidChecksum"),
            _,
        ) => ErrorKind::Integrity,
        (
            Some(
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "AccessDenied"
                | "ExpiredToken"
                | "InvalidToken",
            ),
            _,
        )
        | (_, Some(401 | 403)) => ErrorKind::PermissionDenied,
        (Some("SlowDown" | "ServiceUnavailable" | "InternalError" | "RequestTimeout"), _) => {
            ErrorKind::Unavailable
        }
        (_, Some(408)) => ErrorKind::Timeout,
        (_, Some(s)) if s >= 500 => ErrorKind::Unavailable,
        (_, Some(416)) => ErrorKind::InvalidInput,
        (_, Some(s)) if (400..500).contains(&s) => ErrorKind::InvalidInput,
        _ => ErrorKind::Unavailable,
    }
}

/// Classify an HTTP client error (see [`media_http::client_error`]).
pub(crate) fn http_error(backend: &str, what: &str, err: reqwest::Error) -> MediaError {
    media_http::client_error(Operation::Get, what, err).with_backend(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes_map_to_kinds() {
        assert_eq!(classify(Some(404), None), ErrorKind::NotFound);
        assert_eq!(classify(Some(400), Some("BadDigest")), ErrorKind::Integrity);
        assert_eq!(
            classify(Some(403), Some("SignatureDoesNotMatch")),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            classify(Some(503), Some("SlowDown")),
            ErrorKind::Unavailable
        );
        assert_eq!(classify(Some(500), None), ErrorKind::Unavailable);
        assert_eq!(classify(Some(416), None), ErrorKind::InvalidInput);
        assert!(ErrorKind::Unavailable.default_retryable());
        assert!(!ErrorKind::PermissionDenied.default_retryable());
    }
}
