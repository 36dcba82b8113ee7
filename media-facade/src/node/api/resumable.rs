//! Resumable uploads over HTTP: tus 1.0 (core, creation, creation-with-upload, termination,
//! checksum with `sha256`, expiration) and the IETF *Resumable Uploads for HTTP* draft
//! (interop versions 3 to 6, as iOS 17+ `URLSession` and `tus-js-client`'s IETF mode speak
//! it, with `104 Upload Resumption Supported`), on the same sessions
//! ([`crate::upload::sessions`]), behind the API's bearer token.
//!
//! | method | path | tus 1.0 | IETF draft |
//! |---|---|---|---|
//! | OPTIONS | `/api/v1/uploads` | capabilities | |
//! | POST | `/api/v1/uploads` | create (`Upload-Length`, `Upload-Metadata`; a body with `application/offset+octet-stream`) | create with the first (or every) byte; `104` with the `Location` at once |
//! | HEAD | `/api/v1/uploads/{id}` | `Upload-Offset`, `Upload-Length`, `Upload-Expires` | `Upload-Offset`, `Upload-Complete` |
//! | PATCH | `/api/v1/uploads/{id}` | append at `Upload-Offset` (`Upload-Checksum: sha256 …`) | append, `Upload-Complete` |
//! | DELETE | `/api/v1/uploads/{id}` | terminate | cancel |
//! | GET | `/api/v1/uploads/{id}` | JSON status, with the record once finished | same |
//!
//! Which protocol a request speaks is told by its `Tus-Resumable` or
//! `Upload-Draft-Interop-Version` header. tus metadata keys read: `filename` (or `name`),
//! `filetype` (or `type`), `sha256` (hex), `expires_in` (seconds), `private_to` (comma-
//! separated age recipients); an `X-SHA-256` header declares the hash too. The finished
//! upload's id is in the `Media-Id` header of the response that completed it (and of `HEAD`).

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures::TryStreamExt;
use media_core::{ErrorKind, MediaError, MediaId, Operation};

use super::{authorize, Api, ApiError};
use crate::upload::sessions::{Append, Appended, NewSession, SessionStatus};

/// The path sessions are created under.
pub const UPLOADS_PATH: &str = "/api/v1/uploads";

const TUS_VERSION: &str = "1.0.0";
const TUS_EXTENSIONS: &str = "creation,creation-with-upload,termination,checksum,expiration";
/// Longest `Upload-Metadata` accepted.
const MAX_METADATA: usize = 16 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Protocol {
    Tus,
    /// IETF draft, by its interop version (3–4 say `Upload-Incomplete`, 5+ `Upload-Complete`).
    Ietf(u8),
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError(MediaError::invalid_input(Operation::Upload, message))
}

/// An early answer (boxed: a `Response` is large).
type Early = Box<Response>;

fn protocol(headers: &HeaderMap) -> Result<Protocol, Early> {
    if let Some(v) = header_str(headers, "upload-draft-interop-version") {
        return match v.parse::<u8>() {
            Ok(n @ 3..=6) => Ok(Protocol::Ietf(n)),
            _ => Err(Box::new(
                (
                    StatusCode::BAD_REQUEST,
                    "Upload-Draft-Interop-Version: this node speaks 3 to 6",
                )
                    .into_response(),
            )),
        };
    }
    match header_str(headers, "tus-resumable") {
        Some(TUS_VERSION) => Ok(Protocol::Tus),
        Some(_) => {
            let mut r = StatusCode::PRECONDITION_FAILED.into_response();
            r.headers_mut()
                .insert("tus-version", HeaderValue::from_static(TUS_VERSION));
            Err(Box::new(r))
        }
        None => Err(Box::new(
            (
                StatusCode::PRECONDITION_FAILED,
                "a resumable upload request needs Tus-Resumable: 1.0.0 or Upload-Draft-Interop-Version",
            )
                .into_response(),
        )),
    }
}

/// The request's protocol, once its token is checked (the refusal in that protocol's terms).
fn authorized(api: &Api, headers: &HeaderMap) -> Result<Protocol, Early> {
    let protocol = protocol(headers)?;
    match authorize(api, headers) {
        Ok(()) => Ok(protocol),
        Err(ApiError(e)) => Err(Box::new(error_response(protocol, e))),
    }
}

/// The IETF draft's "is this the last byte" flag, if the request says.
fn complete_flag(headers: &HeaderMap, protocol: Protocol) -> Result<Option<bool>, ApiError> {
    let (name, invert) = match protocol {
        Protocol::Tus => return Ok(None),
        Protocol::Ietf(v) if v < 5 => ("upload-incomplete", true),
        Protocol::Ietf(_) => ("upload-complete", false),
    };
    match header_str(headers, name) {
        None => Ok(None),
        Some("?1") => Ok(Some(!invert)),
        Some("?0") => Ok(Some(invert)),
        Some(_) => Err(invalid(format!("{name} is ?0 or ?1"))),
    }
}

fn number(headers: &HeaderMap, name: &str) -> Result<Option<u64>, ApiError> {
    header_str(headers, name)
        .map(|v| {
            // Digits only (Rust's parser also takes a leading `+`).
            v.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| v.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| invalid(format!("{name} must be a non-negative integer")))
        })
        .transpose()
}

/// tus `Upload-Metadata`: `key base64value,key base64value`.
fn metadata(headers: &HeaderMap) -> Result<Vec<(String, String)>, ApiError> {
    let Some(raw) = header_str(headers, "upload-metadata") else {
        return Ok(Vec::new());
    };
    if raw.len() > MAX_METADATA {
        return Err(invalid("Upload-Metadata is too long"));
    }
    raw.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
            let value = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .map_err(|_| invalid(format!("Upload-Metadata {key}: not base64")))?;
            let value = String::from_utf8(value)
                .map_err(|_| invalid(format!("Upload-Metadata {key}: not UTF-8")))?;
            Ok((key.to_owned(), value))
        })
        .collect()
}

fn new_session(headers: &HeaderMap, length: Option<u64>) -> Result<NewSession, ApiError> {
    let mut new = NewSession::named("unnamed");
    new.length = length;
    let declared = |v: &str| {
        v.trim()
            .parse::<MediaId>()
            .map_err(|e| invalid(format!("sha256: {e}")))
    };
    for (key, value) in metadata(headers)? {
        match key.as_str() {
            "filename" | "name" => new.name = value,
            "filetype" | "type" => new.mime = Some(value).filter(|v| !v.is_empty()),
            "sha256" => new.sha256 = Some(declared(&value)?),
            "expires_in" => {
                new.expires_in = Some(
                    value
                        .parse()
                        .map_err(|_| invalid("expires_in: seconds, an integer"))?,
                )
            }
            "private_to" => {
                new.private_to = value
                    .split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            // Other keys are the client's own (tus-js-client adds some); ignored.
            _ => {}
        }
    }
    if let Some(v) = header_str(headers, "x-sha-256") {
        let id = declared(v)?;
        if new.sha256.is_some_and(|s| s != id) {
            return Err(invalid("X-SHA-256 and the sha256 metadata disagree"));
        }
        new.sha256 = Some(id);
    }
    Ok(new)
}

/// `Upload-Checksum: sha256 <base64>`.
fn checksum(headers: &HeaderMap) -> Result<Option<[u8; 32]>, Early> {
    let Some(v) = header_str(headers, "upload-checksum") else {
        return Ok(None);
    };
    let (algorithm, value) = v.split_once(' ').unwrap_or((v, ""));
    if !algorithm.eq_ignore_ascii_case("sha256") {
        return Err(Box::new(
            (
                StatusCode::BAD_REQUEST,
                "Upload-Checksum: this node checks sha256 only",
            )
                .into_response(),
        ));
    }
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|d| <[u8; 32]>::try_from(d).ok())
        .map(Some)
        .ok_or_else(|| {
            Box::new((StatusCode::BAD_REQUEST, "Upload-Checksum: a base64 SHA-256").into_response())
        })
}

fn location(id: &str) -> String {
    format!("{UPLOADS_PATH}/{id}")
}

/// The headers every answer of `protocol` carries.
fn base_headers(protocol: Protocol, headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match protocol {
        Protocol::Tus => {
            headers.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
        }
        Protocol::Ietf(v) => {
            headers.insert(
                "upload-draft-interop-version",
                HeaderValue::from(u16::from(v)),
            );
        }
    }
}

fn status_headers(protocol: Protocol, status: &SessionStatus, headers: &mut HeaderMap) {
    base_headers(protocol, headers);
    headers.insert("upload-offset", HeaderValue::from(status.offset));
    if let Some(length) = status.length {
        headers.insert("upload-length", HeaderValue::from(length));
    }
    let complete = status.media.is_some();
    match protocol {
        Protocol::Tus => {
            if !complete {
                // httpdate panics past the year 9999; an expiry that far is no expiry.
                let millis = status.expires_at.as_millis().min(253_402_300_799_000);
                let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis);
                if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(at)) {
                    headers.insert("upload-expires", v);
                }
            }
        }
        Protocol::Ietf(v) if v < 5 => {
            headers.insert(
                "upload-incomplete",
                HeaderValue::from_static(if complete { "?0" } else { "?1" }),
            );
        }
        Protocol::Ietf(_) => {
            headers.insert(
                "upload-complete",
                HeaderValue::from_static(if complete { "?1" } else { "?0" }),
            );
        }
    }
    if let Some(media) = &status.media {
        if let Ok(v) = HeaderValue::from_str(&media.id.to_string()) {
            headers.insert(HeaderName::from_static("media-id"), v);
        }
    }
}

/// An error as this protocol's client expects it: the JSON summary, its headers, and tus's
/// `460` for a checksum mismatch.
fn error_response(protocol: Protocol, e: MediaError) -> Response {
    let checksum = e.kind == ErrorKind::Integrity && e.message.contains("Upload-Checksum");
    let too_large = e.kind == ErrorKind::InvalidInput && e.message.contains("limit of");
    let mut response = ApiError(e).into_response();
    if checksum && protocol == Protocol::Tus {
        *response.status_mut() = StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST);
    }
    if too_large {
        *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    }
    base_headers(protocol, response.headers_mut());
    response
}

fn conflict(protocol: Protocol, offset: u64) -> Response {
    let body = serde_json::json!({
        "type": "https://iana.org/assignments/http-problem-types#mismatching-upload-offset",
        "title": "offset from request does not match offset of resource",
        "expected-offset": offset,
    });
    let mut response = (StatusCode::CONFLICT, axum::Json(body)).into_response();
    base_headers(protocol, response.headers_mut());
    response
        .headers_mut()
        .insert("upload-offset", HeaderValue::from(offset));
    response
}

/// A body whose `Content-Length` goes past the declared length is refused before a byte of
/// it is read (`413`); chunked bodies are cut where they cross it.
fn fits(
    api: &Api,
    id: &str,
    append: &Append,
    headers: &HeaderMap,
    protocol: Protocol,
) -> Result<(), Early> {
    let Ok(Some(sent)) = number(headers, "content-length") else {
        return Ok(());
    };
    let length = match api.store.session_status(id) {
        Ok(status) => append.length.or(status.length),
        Err(e) => return Err(Box::new(error_response(protocol, e))),
    };
    match length {
        Some(length) if append.offset.saturating_add(sent) > length => {
            let mut r = error_response(
                protocol,
                MediaError::invalid_input(
                    Operation::Upload,
                    format!(
                        "{sent} bytes at offset {} go past the upload's length {length}",
                        append.offset
                    ),
                ),
            );
            *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            Err(Box::new(r))
        }
        _ => Ok(()),
    }
}

/// Read and drop a refused request's body, up to [`DRAIN_BYTES`] and [`DRAIN_TIME`], so that
/// its client reads the refusal instead of a connection reset while it is still sending; a
/// larger or slower body is cut (the connection closes).
async fn drain(body: Body) {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut left = DRAIN_BYTES;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(piece)) = stream.next().await {
            left = left.saturating_sub(piece.len());
            if left == 0 {
                break;
            }
        }
    })
    .await;
}

/// The most of a refused body read before answering.
const DRAIN_BYTES: usize = 8 << 20;
/// The longest a refused body is read before answering.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

fn body_stream(
    body: Body,
) -> impl futures::Stream<Item = Result<bytes::Bytes, axum::Error>> + Send {
    body.into_data_stream().map_ok(|b| b)
}

pub(super) async fn options(headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    h.insert("tus-extension", HeaderValue::from_static(TUS_EXTENSIONS));
    h.insert("tus-checksum-algorithm", HeaderValue::from_static("sha256"));
    h.insert("tus-max-size", HeaderValue::from(crate::DEFAULT_MAX_UPLOAD));
    let _ = headers;
    response
}

pub(super) async fn create(
    State(api): State<Api>,
    headers: HeaderMap,
    informational: Option<axum::Extension<media_http::Informational>>,
    body: Body,
) -> Response {
    let protocol = match protocol(&headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let answer = async {
        authorize(&api, &headers)?;
        let length = number(&headers, "upload-length")?;
        let complete = complete_flag(&headers, protocol)?;
        let has_body = match protocol {
            Protocol::Tus => {
                if length.is_none() {
                    return Err(invalid(
                        "Upload-Length is required (this node does not defer lengths)",
                    ));
                }
                header_str(&headers, "content-type") == Some("application/offset+octet-stream")
            }
            Protocol::Ietf(_) => {
                if complete.is_none() {
                    return Err(invalid("an IETF upload creation says Upload-Complete"));
                }
                true
            }
        };
        // A complete IETF upload in one request knows its length from Content-Length.
        let length = match (length, complete, number(&headers, "content-length")?) {
            (None, Some(true), Some(n)) => Some(n),
            (l, _, _) => l,
        };
        let new = new_session(&headers, length)?;
        // Everything the request says is checked before a session exists.
        let sum = checksum(&headers)
            .map_err(|_| invalid("Upload-Checksum: sha256 and a base64 SHA-256"))?;
        if let (Some(0), true, Ok(Some(sent))) =
            (length, has_body, number(&headers, "content-length"))
        {
            if sent > 0 {
                return Err(invalid("a body for an upload of length 0"));
            }
        }
        let (id, status) = api.store.create_session(new)?;
        Ok::<_, ApiError>((id, status, has_body, complete.unwrap_or(false), sum))
    }
    .await;
    let (id, status, has_body, complete, sum) = match answer {
        Ok(a) => a,
        Err(ApiError(e)) => return error_response(protocol, e),
    };
    let url = location(&id);
    if let (Protocol::Ietf(v), Some(axum::Extension(early))) = (protocol, informational) {
        // The client learns where to resume before it sends its first byte.
        let mut interim = HeaderMap::new();
        interim.insert(
            "upload-draft-interop-version",
            HeaderValue::from(u16::from(v)),
        );
        if let Ok(l) = HeaderValue::from_str(&url) {
            interim.insert(header::LOCATION, l);
        }
        early.send(
            StatusCode::from_u16(104).unwrap_or(StatusCode::CONTINUE),
            &interim,
        );
    }
    let status = if has_body || status.length == Some(0) {
        let append = Append {
            offset: 0,
            complete,
            length: None,
            checksum: sum,
        };
        match api
            .store
            .append_session(&id, append, body_stream(body))
            .await
        {
            Ok(Appended::Conflict { offset }) => return conflict(protocol, offset),
            Ok(_) => match api.store.session_status(&id) {
                Ok(s) => s,
                Err(e) => return error_response(protocol, e),
            },
            Err(e) => {
                // A creation whose first bytes were refused leaves no session behind (its
                // client was never told where it is).
                let _ = api.store.cancel_session(&id).await;
                return error_response(protocol, e);
            }
        }
    } else {
        status
    };
    let mut response = StatusCode::CREATED.into_response();
    status_headers(protocol, &status, response.headers_mut());
    if let Ok(l) = HeaderValue::from_str(&url) {
        response.headers_mut().insert(header::LOCATION, l);
    }
    response
}

pub(super) async fn head(
    State(api): State<Api>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let protocol = match authorized(&api, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match api.store.session_status(&id) {
        Ok(status) => {
            let code = match protocol {
                Protocol::Tus => StatusCode::OK,
                Protocol::Ietf(_) => StatusCode::NO_CONTENT,
            };
            let mut response = code.into_response();
            status_headers(protocol, &status, response.headers_mut());
            response
        }
        Err(e) => error_response(protocol, e),
    }
}

pub(super) async fn patch(
    State(api): State<Api>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    body: Body,
) -> Response {
    let protocol = match protocol(&headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let append = async {
        authorize(&api, &headers)?;
        if protocol == Protocol::Tus
            && header_str(&headers, "content-type") != Some("application/offset+octet-stream")
        {
            return Err(ApiError(MediaError::new(
                ErrorKind::Unsupported,
                Operation::Upload,
                "a tus PATCH is sent as application/offset+octet-stream",
            )));
        }
        let offset = number(&headers, "upload-offset")?
            .ok_or_else(|| invalid("Upload-Offset is required"))?;
        let complete = complete_flag(&headers, protocol)?.unwrap_or(false);
        let mut append = Append {
            offset,
            complete,
            length: number(&headers, "upload-length")?,
            checksum: None,
        };
        append.checksum = match checksum(&headers) {
            Ok(c) => c,
            Err(_) => return Err(invalid("Upload-Checksum: sha256 and a base64 SHA-256")),
        };
        Ok(append)
    }
    .await;
    let append = match append {
        Ok(a) => a,
        Err(ApiError(e)) => {
            let mut r = error_response(protocol, e);
            if r.status() == StatusCode::INTERNAL_SERVER_ERROR {
                *r.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            }
            return r;
        }
    };
    if let Err(response) = fits(&api, &id, &append, &headers, protocol) {
        drain(body).await;
        return *response;
    }
    // A client at the wrong offset (it missed an answer) is told where the session stands;
    // its part is read and dropped first so that it sees the answer rather than a reset.
    if let Ok(status) = api.store.session_status(&id) {
        if status.media.is_none() && status.offset != append.offset {
            drain(body).await;
            return conflict(protocol, status.offset);
        }
    }
    match api
        .store
        .append_session(&id, append, body_stream(body))
        .await
    {
        Ok(Appended::Conflict { offset }) => conflict(protocol, offset),
        Ok(Appended::Partial { .. }) | Ok(Appended::Done { .. }) => {
            match api.store.session_status(&id) {
                Ok(status) => {
                    let mut response = StatusCode::NO_CONTENT.into_response();
                    status_headers(protocol, &status, response.headers_mut());
                    response
                }
                Err(e) => error_response(protocol, e),
            }
        }
        Err(e) => error_response(protocol, e),
    }
}

pub(super) async fn cancel(
    State(api): State<Api>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let protocol = match authorized(&api, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match api.store.cancel_session(&id).await {
        Ok(()) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            base_headers(protocol, response.headers_mut());
            response
        }
        Err(e) => error_response(protocol, e),
    }
}

/// Our own: the session's status as JSON, with the record once the upload finished.
pub(super) async fn show(
    State(api): State<Api>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    authorize(&api, &headers)?;
    Ok(axum::Json(api.store.session_status(&id)?).into_response())
}
