//! Engine errors as JavaScript errors.
//!
//! napi-rs turns an async function's error into a plain `Error` whose `code` is a napi
//! status, so the engine's kind travels in the message instead: `[media:<kind>] <message>`,
//! `<kind>` being [`media_core::ErrorKind`]'s own serialized name (`not_found`,
//! `integrity`, ...). The package's TypeScript turns that prefix into an `Error` subclass
//! (`MediaNotFoundError`, `MediaIntegrityError`, ...) with `kind` and `operation` fields.

use media_facade::media_core::{ErrorKind, MediaError, Operation};

/// The prefix every engine error's message starts with.
pub const PREFIX: &str = "[media:";

/// `kind`'s name as the engine serializes it (`not_found`, `policy_unsatisfied`, ...).
pub fn kind_name(kind: ErrorKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "internal".to_owned())
}

/// `operation`'s name as the engine serializes it (`upload`, `download`, ...).
pub fn operation_name(operation: Operation) -> String {
    serde_json::to_value(operation)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The JavaScript error for an engine error: `[media:<kind>:<operation>] <message>`.
pub fn to_js(error: MediaError) -> napi::Error {
    napi::Error::new(
        napi::Status::GenericFailure,
        format!(
            "{PREFIX}{}:{}] {}",
            kind_name(error.kind),
            operation_name(error.operation),
            error.message
        ),
    )
}

/// An error of `kind` during `operation` raised by the binding itself (a bad argument).
pub fn js_error(kind: ErrorKind, operation: Operation, message: impl Into<String>) -> napi::Error {
    to_js(MediaError::new(kind, operation, message))
}

/// Invalid input during `operation`.
pub fn invalid(operation: Operation, message: impl Into<String>) -> napi::Error {
    js_error(ErrorKind::InvalidInput, operation, message)
}

/// `Result<T, MediaError>` into a napi result.
pub trait IntoJs<T> {
    /// The engine's error as a JavaScript error.
    fn js(self) -> napi::Result<T>;
}

impl<T> IntoJs<T> for Result<T, MediaError> {
    fn js(self) -> napi::Result<T> {
        self.map_err(to_js)
    }
}
