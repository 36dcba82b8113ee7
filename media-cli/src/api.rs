//! The node's HTTP API, served by `media serve` on 127.0.0.1 so that other `media` commands
//! (and apps) reach a running node instead of failing on its locked data directory.
//!
//! Every request needs `Authorization: Bearer <token>`; the token and the address are in
//! `<data>/node.json` (mode 0600), written at start and removed at exit. Reads (GET) also
//! accept the `media_read` cookie that `POST /api/v1/session` sets (HttpOnly,
//! SameSite=Strict), so that the web page's `<img>` and `<video>` elements can load content;
//! anything that changes the node still needs the header. The cookie is its own random value,
//! never the token: cookies ignore ports, so any other server on 127.0.0.1 may see it, and
//! then it can read, not act.
//!
//! The API runs through `media_http::serve` like every other server of the node (connection
//! cap, header and idle timeouts).
//!
//! `/` serves the node's web page (see `page.rs`).
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/api/v1/health` | `{"ok":true}` |
//! | POST | `/api/v1/session` | sets the read cookie |
//! | GET | `/api/v1/endpoints` | the node's public services: `{"gateway": url, "blossom": url, …}` |
//! | GET | `/api/v1/media` | every record |
//! | PUT | `/api/v1/media?name=N[&private_to=age1…,…]` | upload the body (streamed; encrypted to the recipients if given); the record |
//! | GET | `/api/v1/media/{id}` | the record |
//! | GET | `/api/v1/media/{id}/content?policy=P&range=A-B` | verified bytes; a `Range` header gives 206 |
//! | POST | `/api/v1/media/{id}/private?range=A-B` | private media decrypted with the age identity in the body (the identity file's text; never in a URL or log) |
//! | DELETE | `/api/v1/media/{id}` | `{"id":…,"removed":[…]}` |
//! | POST | `/api/v1/import?ref=R` | import the record in the body (checked against `R`) |
//! | GET | `/api/v1/stats` | statistics and each store's health |
//!
//! Errors are a JSON [`ErrorSummary`] with a matching status.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use futures::{StreamExt, TryStreamExt};
use media_core::{ErrorKind, ErrorSummary, MediaError, MediaFile, MediaId, Operation};
use media_facade::{MediaStore, UploadRequest};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use crate::request::GetRequest;

/// Where a running node says how to reach it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeFile {
    /// `http://127.0.0.1:PORT`
    pub api: String,
    /// The bearer token.
    pub token: String,
    /// The serving process.
    pub pid: u32,
}

impl NodeFile {
    pub fn path(data: &Path) -> PathBuf {
        data.join("node.json")
    }

    /// The running node's file, if there is one this user can trust: the file and its
    /// folder are this user's and nobody else may write them (else another local user could
    /// point `media` at his own server and receive the files, and identities, it sends).
    pub fn read(data: &Path) -> Option<NodeFile> {
        let path = Self::path(data);
        if let Err(why) = trusted(&path) {
            if path.exists() {
                tracing::warn!(file = %path.display(), "{why}: ignored");
                eprintln!("media: ignoring {}: {why}", path.display());
            }
            return None;
        }
        let bytes = std::fs::read(path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Write with mode 0600: the token lets anyone on the machine act as the node's owner.
    pub fn write(&self, data: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        media_core::write_private(&Self::path(data), &json)
    }
}

/// Whether `file` and its folder belong to this user and are writable by no one else.
#[cfg(unix)]
fn trusted(file: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let folder = file.parent().unwrap_or(Path::new("."));
    for (what, path) in [("its folder", folder), ("the file", file)] {
        let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{what}: {e}"))?;
        if meta.file_type().is_symlink() {
            return Err(format!("{what} is a symbolic link"));
        }
        if meta.uid() != me {
            return Err(format!(
                "{what} belongs to another user (uid {})",
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(format!("{what} is writable by other users"));
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn trusted(_file: &Path) -> Result<(), String> {
    Ok(())
}

/// A random bearer token from the OS's CSPRNG.
pub fn new_token() -> Result<String, MediaError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| {
        MediaError::internal(Operation::Configure, format!("OS random source: {e}"))
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[derive(Clone)]
struct Api {
    store: MediaStore,
    token: String,
    /// The page's read-only cookie value: random, made at start, not derived from the token.
    read_cookie: String,
    endpoints: std::sync::Arc<serde_json::Map<String, serde_json::Value>>,
}

/// The cookie that authorizes reads from the web page.
const COOKIE: &str = "media_read";

/// Serve the API and the web page for `store` on `listen` until the returned task is
/// aborted. `endpoints` are the node's public services (name, URL) the page links to.
pub async fn serve(
    store: MediaStore,
    token: String,
    listen: SocketAddr,
    endpoints: Vec<(String, String)>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), MediaError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| MediaError::io(Operation::Configure, "binding the node API", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| MediaError::io(Operation::Configure, "node API address", e))?;
    let endpoints = endpoints
        .into_iter()
        .map(|(name, url)| (name, serde_json::Value::from(url)))
        .collect();
    let app = crate::page::routes()
        .route("/api/v1/health", get(health))
        .route("/api/v1/session", post(session))
        .route("/api/v1/endpoints", get(public_endpoints))
        .route("/api/v1/media", get(list).put(upload))
        .route("/api/v1/media/{id}", get(show).delete(remove))
        .route("/api/v1/media/{id}/content", get(content))
        .route("/api/v1/media/{id}/private", post(private))
        .route("/api/v1/import", post(import))
        .route("/api/v1/stats", get(stats))
        // Uploads are streamed into ingest (which has its own limits); records are small.
        .layer(DefaultBodyLimit::disable())
        .with_state(Api {
            store,
            token,
            read_cookie: new_token()?,
            endpoints: std::sync::Arc::new(endpoints),
        });
    // The owner's API: an upload's answer can take minutes after its body arrived (every
    // store of the plan, `late_grace`), with no byte moving meanwhile; headers still have to
    // arrive within 10 s.
    // Its clients are the owner's own (the CLI, the page, an app): more uploads at once per
    // peer than a public server allows.
    let limits =
        media_http::ServeLimits::new(256, Duration::from_secs(10), Duration::from_secs(15 * 60))
            .with_per_peer(64, 16);
    let task = media_http::serve(listener, app, limits, "api");
    Ok((addr, task))
}

struct ApiError(MediaError);

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.0.kind {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorKind::PermissionDenied => StatusCode::UNAUTHORIZED,
            ErrorKind::Integrity => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Expired => StatusCode::GONE,
            ErrorKind::Unavailable | ErrorKind::PolicyUnsatisfied | ErrorKind::Timeout => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(self.0.summary())).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Constant-time comparison: both are secrets.
fn same_secret(given: &str, secret: &str) -> bool {
    given.len() == secret.len()
        && given
            .bytes()
            .zip(secret.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn is_token(api: &Api, given: &str) -> bool {
    same_secret(given, &api.token)
}

fn denied() -> ApiError {
    ApiError(MediaError::new(
        ErrorKind::PermissionDenied,
        Operation::Configure,
        "missing or wrong bearer token (see node.json in the data directory)",
    ))
}

/// The bearer token in `Authorization`: needed for everything.
fn authorize(api: &Api, headers: &HeaderMap) -> ApiResult<()> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if is_token(api, given) {
        Ok(())
    } else {
        Err(denied())
    }
}

/// The bearer token, or the page's cookie: enough for reads only. The cookie is SameSite=Strict,
/// so another site's page cannot make the browser send it.
fn authorize_read(api: &Api, headers: &HeaderMap) -> ApiResult<()> {
    if authorize(api, headers).is_ok() {
        return Ok(());
    }
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && same_secret(value, &api.read_cookie));
    if from_cookie {
        Ok(())
    } else {
        Err(denied())
    }
}

async fn session(State(api): State<Api>, headers: HeaderMap) -> ApiResult<Response> {
    authorize(&api, &headers)?;
    let cookie = format!(
        "{COOKIE}={}; Path=/api/v1/; HttpOnly; SameSite=Strict",
        api.read_cookie
    );
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

async fn public_endpoints(State(api): State<Api>, headers: HeaderMap) -> ApiResult<Response> {
    authorize_read(&api, &headers)?;
    Ok(Json(api.endpoints.as_ref().clone()).into_response())
}

fn parse_id(s: &str) -> ApiResult<MediaId> {
    s.parse::<MediaId>().map_err(|e| {
        ApiError(MediaError::invalid_input(
            Operation::Download,
            e.to_string(),
        ))
    })
}

async fn health(State(api): State<Api>, headers: HeaderMap) -> ApiResult<Response> {
    authorize(&api, &headers)?;
    Ok(Json(serde_json::json!({"ok": true})).into_response())
}

async fn list(State(api): State<Api>, headers: HeaderMap) -> ApiResult<Json<Vec<MediaFile>>> {
    authorize_read(&api, &headers)?;
    Ok(Json(api.store.list().await?))
}

async fn show(
    State(api): State<Api>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<MediaFile>> {
    authorize_read(&api, &headers)?;
    let id = parse_id(&id)?;
    let file = api.store.get(&id).await?.ok_or_else(|| {
        MediaError::not_found(Operation::Catalog, format!("no media with id {id}"))
    })?;
    Ok(Json(file))
}

#[derive(Deserialize)]
struct UploadQuery {
    name: String,
    expires_in: Option<u64>,
    /// Comma-separated age recipients: private media.
    private_to: Option<String>,
}

async fn upload(
    State(api): State<Api>,
    headers: HeaderMap,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> ApiResult<Response> {
    authorize(&api, &headers)?;
    let stream = body
        .into_data_stream()
        .map_err(|e| std::io::Error::other(e.to_string()));
    let mut request = UploadRequest::reader(q.name, tokio_util::io::StreamReader::new(stream));
    if let Some(secs) = q.expires_in {
        request = request.expires_in(Duration::from_secs(secs));
    }
    if let Some(list) = q.private_to.as_deref().filter(|l| !l.is_empty()) {
        let recipients = list
            .split(',')
            .map(|r| {
                r.parse()
                    .map_err(|e: media_facade::media_privacy::SealError| {
                        MediaError::invalid_input(Operation::Upload, format!("private_to: {e}"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        request = request.encrypt_to(recipients);
    }
    let file = api.store.upload(request).await?;
    Ok((StatusCode::CREATED, Json(file)).into_response())
}

async fn content(
    State(api): State<Api>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<GetRequest>,
) -> ApiResult<Response> {
    authorize_read(&api, &headers)?;
    let id = parse_id(&id)?;
    let mut options = q.options()?;
    let file = api.store.get(&id).await?.ok_or_else(|| {
        MediaError::not_found(Operation::Download, format!("no media with id {id}"))
    })?;
    // The type comes from a record, which a stranger may have written: only photos, audio
    // and videos are shown as what they say they are (media_http's one rule: no SVG, no
    // HTML, whatever the spelling), nothing is sniffed, and the response may run no script
    // on this origin.
    let mime = if media_http::is_passive_media(&file.mime) && file.encryption.is_none() {
        file.mime.as_str()
    } else {
        "application/octet-stream"
    };
    let ranged = media_http::Ranged::new(&headers, file.size)
        .stored_bytes(mime)
        .etag(&file.sha256.to_string())
        .header(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static("default-src 'none'; sandbox"),
        );
    let Some(range) = ranged.range() else {
        return Ok(ranged.into_response(Body::empty()));
    };
    if ranged.status() == StatusCode::PARTIAL_CONTENT {
        options = options.range(media_core::ByteRange::new(range.start, range.end));
    }
    let reader = api.store.open_with(&id, options).await?;
    // A verification failure mid-stream ends the body with an error: the client sees a
    // broken transfer, never unverified bytes.
    let body = Body::from_stream(
        reader.map(|piece| piece.map_err(|e| std::io::Error::other(e.to_string()))),
    );
    Ok(ranged.into_response(body))
}

/// Longest identity file accepted.
const MAX_IDENTITY: usize = 64 * 1024;

async fn private(
    State(api): State<Api>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<GetRequest>,
    body: Body,
) -> ApiResult<Response> {
    // The header, not the cookie: a page must not make the node decrypt.
    authorize(&api, &headers)?;
    let id = parse_id(&id)?;
    let text = axum::body::to_bytes(body, MAX_IDENTITY)
        .await
        .map_err(|_| {
            MediaError::invalid_input(
                Operation::Download,
                format!("the identity must be sent as the body, at most {MAX_IDENTITY} bytes"),
            )
        })?;
    let text = std::str::from_utf8(&text).map_err(|_| {
        MediaError::invalid_input(Operation::Download, "the identity is not UTF-8 text")
    })?;
    let identity = media_facade::media_privacy::Identity::from_file_text(text)
        .map_err(|e| MediaError::invalid_input(Operation::Download, format!("identity: {e}")))?;
    let stream = api
        .store
        .open_private(&id, q.byte_range()?, &identity)
        .await?;
    let body = Body::from_stream(
        stream.map(|piece| piece.map_err(|e| std::io::Error::other(e.to_string()))),
    );
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}

async fn remove(
    State(api): State<Api>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Response> {
    authorize(&api, &headers)?;
    let id = parse_id(&id)?;
    let removed = api.store.delete(&id).await?;
    Ok(Json(serde_json::json!({"id": id, "removed": removed})).into_response())
}

#[derive(Deserialize)]
struct ImportQuery {
    #[serde(rename = "ref")]
    reference: Option<String>,
}

async fn import(
    State(api): State<Api>,
    headers: HeaderMap,
    Query(q): Query<ImportQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Json<MediaFile>> {
    authorize(&api, &headers)?;
    let file: MediaFile = serde_json::from_slice(&body).map_err(|e| {
        MediaError::invalid_input(Operation::Catalog, format!("not a media record: {e}"))
    })?;
    match q.reference {
        Some(r) => api.store.import_ref(&file, &r.parse()?).await?,
        None => api.store.import(&file).await?,
    }
    Ok(Json(file))
}

async fn stats(State(api): State<Api>, headers: HeaderMap) -> ApiResult<Response> {
    authorize(&api, &headers)?;
    Ok(Json(crate::request::stat_report(&api.store).await).into_response())
}

/// A client of a running node's API.
pub struct Client {
    http: media_http::Client,
    node: NodeFile,
}

impl Client {
    /// The node serving `data`, if `node.json` names one that answers.
    pub async fn find(data: &Path) -> Option<Client> {
        let node = NodeFile::read(data)?;
        // The node this data directory names: trusted wherever it listens. Uploads stream
        // before the answer, so no read deadline; connecting has one.
        let http = media_http::ClientOptions::new(media_core::Reach::public_only())
            .trust_url(&node.api)
            .with_connect_timeout(Duration::from_secs(2))
            .with_read_timeout(None)
            .build()
            .ok()?;
        let client = Client { http, node };
        let probe = client.request(reqwest::Method::GET, "health").ok()?;
        match tokio::time::timeout(Duration::from_secs(3), probe.send()).await {
            Ok(Ok(r)) if r.status().is_success() => Some(client),
            _ => None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1/{path}", self.node.api)
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, MediaError> {
        Ok(self
            .http
            .request(method, &self.url(path))?
            .bearer_auth(&self.node.token))
    }

    /// Send and turn error statuses into the node's error.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, MediaError> {
        let response = request.send().await.map_err(|e| {
            MediaError::unavailable(Operation::Configure, format!("the running node: {e}"))
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let summary: Option<ErrorSummary> = response.json().await.ok();
        Err(match summary {
            Some(s) => MediaError::new(s.kind, s.operation, s.message),
            None => MediaError::unavailable(
                Operation::Configure,
                format!("the running node answered {status}"),
            ),
        })
    }

    pub async fn json<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, MediaError> {
        self.send(request).await?.json().await.map_err(|e| {
            MediaError::unavailable(
                Operation::Configure,
                format!("the running node's answer: {e}"),
            )
        })
    }

    /// Stream the body of a response.
    pub async fn stream(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<
        (
            Option<u64>,
            impl futures::Stream<Item = Result<bytes::Bytes, MediaError>>,
        ),
        MediaError,
    > {
        let response = self.send(request).await?;
        let len = response.content_length();
        let stream = response.bytes_stream().map(|r| {
            r.map_err(|e| {
                MediaError::unavailable(
                    Operation::Download,
                    format!("the transfer from the running node broke: {e}"),
                )
            })
        });
        Ok((len, stream))
    }
}
