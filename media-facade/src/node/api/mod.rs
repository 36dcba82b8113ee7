//! The node's HTTP API and web page, as a frontend of the library: [`ApiServer::start`] serves
//! a [`MediaStore`] the way `media serve` does on 127.0.0.1, so that other `media` commands
//! (and apps embedding the library) reach a running node instead of failing on its locked
//! data directory.
//!
//! Every request needs `Authorization: Bearer <token>` (`media serve` writes the token and the
//! address to `<data>/node.json`, mode 0600, and removes it at exit; the token itself stays in
//! `<data>/api-token`, 0600, across restarts: see [`node_token`]). Reads (GET) also
//! accept the `media_read` cookie that `POST /api/v1/session` sets (HttpOnly,
//! SameSite=Strict), so that the web page's `<img>` and `<video>` elements can load content;
//! anything that changes the node still needs the header. The cookie is its own random value,
//! never the token: cookies ignore ports, so any other server on 127.0.0.1 may see it, and
//! then it can read, not act.
//!
//! The API runs through `media_http::Server` like every other server of the node (connection
//! cap, header and idle timeouts).
//!
//! `/` serves the node's web page (see [`page`]).
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
//! | POST, HEAD, PATCH, DELETE | `/api/v1/uploads[/{id}]` | resumable uploads: tus 1.0 and the IETF draft (see [`resumable`]) |
//! | POST | `/api/v1/import?ref=R` | import the record in the body (checked against `R`) |
//! | GET | `/api/v1/stats` | statistics and each store's health |
//!
//! Errors are a JSON [`ErrorSummary`] with a matching status.

pub mod page;
pub mod resumable;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use futures::{StreamExt, TryStreamExt};
use media_core::{
    download_policy_named, ByteRange, ErrorKind, MediaError, MediaFile, MediaId, Operation,
    DEFAULT_HEDGE_AFTER,
};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use crate::{MediaStore, ReadOptions, UploadRequest};

/// A read's options as the API's query string carries them (and `media get` its flags).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReadQuery {
    /// Download policy: one of `media_core::download_policy_names()`.
    pub policy: Option<String>,
    /// Only these bytes, inclusive: `A-B`.
    pub range: Option<String>,
    /// Delay before a hedged policy asks the next store, in milliseconds.
    pub hedge_after_ms: Option<u64>,
}

impl ReadQuery {
    /// A query with these values.
    pub fn new(policy: Option<String>, range: Option<String>, hedge_after_ms: Option<u64>) -> Self {
        ReadQuery {
            policy,
            range,
            hedge_after_ms,
        }
    }

    /// The range asked for, half-open.
    pub fn byte_range(&self) -> Result<ByteRange, MediaError> {
        let Some(r) = &self.range else {
            return Ok(ByteRange::full());
        };
        let bad = || {
            MediaError::invalid_input(
                Operation::Download,
                format!("range {r:?}: A-B, inclusive byte offsets with A <= B"),
            )
        };
        let (a, b) = r.split_once('-').ok_or_else(bad)?;
        let a: u64 = a.trim().parse().map_err(|_| bad())?;
        let b: u64 = b.trim().parse().map_err(|_| bad())?;
        if b < a || b == u64::MAX {
            return Err(bad());
        }
        Ok(ByteRange::new(a, b + 1))
    }

    /// Read options for the store.
    pub fn options(&self) -> Result<ReadOptions, MediaError> {
        let mut options = ReadOptions::new().range(self.byte_range()?);
        if let Some(name) = &self.policy {
            let after = self
                .hedge_after_ms
                .map_or(DEFAULT_HEDGE_AFTER, Duration::from_millis);
            let policy = download_policy_named(name, after).map_err(|e| {
                MediaError::invalid_input(Operation::Download, format!("policy: {}", e.message))
            })?;
            options = options.policy_arc(policy);
        }
        Ok(options)
    }
}

/// Statistics and each store's health, as `GET /api/v1/stats` and `media stat` give them.
pub async fn stat_report(store: &MediaStore) -> serde_json::Value {
    let health: serde_json::Map<String, serde_json::Value> = store
        .health()
        .await
        .into_iter()
        .map(|(name, r)| {
            let v = match r {
                Ok(()) => serde_json::Value::from("ok"),
                Err(e) => serde_json::Value::from(e.to_string()),
            };
            (name, v)
        })
        .collect();
    serde_json::json!({ "stats": store.stats(), "health": health })
}

/// A random bearer token from the OS's CSPRNG.
pub fn new_token() -> Result<String, MediaError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| {
        MediaError::internal(Operation::Configure, format!("OS random source: {e}"))
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Where the node keeps its API token between runs.
const TOKEN_FILE: &str = "api-token";

/// The node's API token: the one saved in `<data>/api-token` (0600) when there is one, else a
/// fresh one, saved. It outlives restarts so that a client in the middle of a resumable upload
/// (a phone holding the token) goes on after the node comes back; delete the file to rotate it.
pub fn node_token(data_dir: &std::path::Path) -> Result<String, MediaError> {
    let path = data_dir.join(TOKEN_FILE);
    if let Ok(saved) = std::fs::read_to_string(&path) {
        let saved = saved.trim();
        if saved.len() == 48 && saved.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(saved.to_owned());
        }
    }
    let token = new_token()?;
    media_core::write_private(&path, token.as_bytes())
        .map_err(|e| MediaError::io(Operation::Configure, "saving the API token", e))?;
    Ok(token)
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

/// The node's API and page on a socket, until [`ApiServer::shutdown`] or drop.
pub struct ApiServer {
    server: media_http::Server,
    token: String,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("addr", &self.server.addr())
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The `[api]` section: the node's HTTP API and web page, started by [`crate::EmbeddedStack`]
/// after the stores and Blossom when the section is present (`media serve` always adds it).
///
/// ```toml
/// [api]
/// listen = "127.0.0.1:0"    # default: a free port on 127.0.0.1
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ApiSection {
    /// Where the API listens (default 127.0.0.1 on a port the OS picks).
    pub listen: Option<SocketAddr>,
    /// `false` turns it off even when the section is present.
    pub enabled: Option<bool>,
}

/// Start the API frontend over `store` when the configuration has an `[api]` section, with a
/// fresh token; `endpoints` are the services started before it (the page links to them).
pub(crate) async fn start_frontend(
    store: &MediaStore,
    section: Option<serde_json::Value>,
    endpoints: Vec<(String, String)>,
) -> Result<Option<std::sync::Arc<dyn media_core::Service>>, MediaError> {
    let Some(section) = section else {
        return Ok(None);
    };
    let section: ApiSection = media_core::parse_section("api", Some(section))?;
    if section.enabled == Some(false) {
        return Ok(None);
    }
    let listen = section
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let token = node_token(store.data_dir())?;
    let server = ApiServer::start(store.clone(), token, listen, endpoints).await?;
    Ok(Some(std::sync::Arc::new(server)))
}

#[async_trait::async_trait]
impl media_core::Service for ApiServer {
    fn endpoints(&self) -> Vec<(String, String)> {
        vec![
            ("api".to_owned(), self.url()),
            (
                "uploads".to_owned(),
                format!("{}{}", self.url(), resumable::UPLOADS_PATH),
            ),
        ]
    }

    async fn shutdown(&self) {
        self.server.shutdown();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl ApiServer {
    /// Serve the API and the web page for `store` on `listen`, for clients holding `token`
    /// (see [`new_token`]). `endpoints` are the node's public services (name, URL) the page
    /// links to.
    pub async fn start(
        store: MediaStore,
        token: String,
        listen: SocketAddr,
        endpoints: Vec<(String, String)>,
    ) -> Result<Self, MediaError> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| MediaError::io(Operation::Configure, "binding the node API", e))?;
        let endpoints = endpoints
            .into_iter()
            .map(|(name, url)| (name, serde_json::Value::from(url)))
            .collect();
        let app = page::routes()
            .route("/api/v1/health", get(health))
            .route("/api/v1/session", post(session))
            .route("/api/v1/endpoints", get(public_endpoints))
            .route("/api/v1/media", get(list).put(upload))
            .route("/api/v1/media/{id}", get(show).delete(remove))
            .route("/api/v1/media/{id}/content", get(content))
            .route("/api/v1/media/{id}/private", post(private))
            .route("/api/v1/media/{id}/takedown", post(takedown))
            .route("/api/v1/reports", get(reports))
            .route(
                "/api/v1/reports/{id}",
                axum::routing::delete(dismiss_report),
            )
            .route("/api/v1/tombstones", get(tombstones))
            .route(
                resumable::UPLOADS_PATH,
                post(resumable::create).options(resumable::options),
            )
            .route(
                "/api/v1/uploads/{id}",
                get(resumable::show)
                    .head(resumable::head)
                    .patch(resumable::patch)
                    .delete(resumable::cancel),
            )
            .route("/api/v1/import", post(import))
            .route("/api/v1/stats", get(stats))
            // Uploads are streamed into ingest (which has its own limits); records are small.
            .layer(DefaultBodyLimit::disable())
            .with_state(Api {
                store,
                token: token.clone(),
                read_cookie: new_token()?,
                endpoints: std::sync::Arc::new(endpoints),
            });
        // The owner's API: an upload's answer can take minutes after its body arrived (every
        // store of the plan, `late_grace`), with no byte moving meanwhile; headers still have to
        // arrive within 10 s.
        // Its clients are the owner's own (the CLI, the page, an app): more uploads at once per
        // peer than a public server allows.
        let limits = media_http::ServeLimits::new(
            256,
            Duration::from_secs(10),
            Duration::from_secs(15 * 60),
        )
        .with_per_peer(64, 16);
        let server = media_http::Server::start(listener, app, limits, "api")
            .map_err(|e| MediaError::io(Operation::Configure, "node API address", e))?;
        Ok(ApiServer { server, token })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The bearer token clients must send (a secret: for `node.json`, never for logs).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Stop serving (open connections are closed; also on drop).
    pub fn shutdown(&self) {
        self.server.shutdown();
    }
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
            ErrorKind::Refused => StatusCode::FORBIDDEN,
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
                r.parse().map_err(|e: crate::media_privacy::SealError| {
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
    Query(q): Query<ReadQuery>,
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

/// Longest record `POST /api/v1/import` accepts.
const MAX_RECORD: usize = 1 << 20;

/// Longest identity file accepted.
const MAX_IDENTITY: usize = 64 * 1024;

async fn private(
    State(api): State<Api>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<ReadQuery>,
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
    let identity = crate::media_privacy::Identity::from_file_text(text)
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

#[derive(Deserialize, Default)]
struct TakedownBody {
    #[serde(default)]
    reason: Option<String>,
}

/// Take media down from every store this node wrote, leave a tombstone, publish it.
async fn takedown(
    State(api): State<Api>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    body: Body,
) -> ApiResult<Response> {
    authorize(&api, &headers)?;
    let id = parse_id(&id)?;
    let body = axum::body::to_bytes(body, 4096).await.map_err(|_| {
        MediaError::invalid_input(Operation::Delete, "a takedown's body is at most 4 KiB")
    })?;
    let asked: TakedownBody = if body.is_empty() {
        TakedownBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            MediaError::invalid_input(Operation::Delete, format!("expected {{\"reason\"}}: {e}"))
        })?
    };
    let done = api
        .store
        .takedown(&id, asked.reason.as_deref().unwrap_or("takedown"))
        .await?;
    Ok(Json(serde_json::json!({
        "id": id,
        "removed_from": done.removed_from,
        "derived": done.derived,
        "published": done.published,
    }))
    .into_response())
}

/// Reports received through Blossom (BUD-09), newest first: the owner's review queue.
async fn reports(State(api): State<Api>, headers: HeaderMap) -> ApiResult<Response> {
    authorize(&api, &headers)?;
    Ok(Json(api.store.reports()).into_response())
}

async fn dismiss_report(
    State(api): State<Api>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Response> {
    authorize(&api, &headers)?;
    let removed = api.store.dismiss_report(&id)?;
    if !removed {
        return Err(MediaError::not_found(Operation::Catalog, format!("no report {id}")).into());
    }
    Ok(Json(serde_json::json!({"dismissed": id})).into_response())
}

async fn tombstones(State(api): State<Api>, headers: HeaderMap) -> ApiResult<Response> {
    authorize(&api, &headers)?;
    Ok(Json(api.store.tombstones()).into_response())
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
    body: Body,
) -> ApiResult<Json<MediaFile>> {
    // Authorized before a byte of the body is read, and the body bounded: a record is small.
    authorize(&api, &headers)?;
    let body = axum::body::to_bytes(body, MAX_RECORD).await.map_err(|_| {
        MediaError::invalid_input(
            Operation::Catalog,
            format!("a record is sent as the body, at most {MAX_RECORD} bytes"),
        )
    })?;
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
    Ok(Json(stat_report(&api.store).await).into_response())
}
