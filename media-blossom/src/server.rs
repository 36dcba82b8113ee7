//! The Blossom HTTP server: BUD-01 (get/head, CORS, errors), BUD-02 (upload, delete, list),
//! BUD-04 (mirror), BUD-06 (upload preflight), over any [`BlobHost`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use futures::{StreamExt, TryStreamExt};
use media_core::{ByteRange, ErrorKind, MediaError, MediaId, Operation, Reach};
use media_http::ServeLimits;
use serde::Deserialize;
use tokio::net::TcpListener;
use tracing::{debug, info};

use crate::auth::{self, AuthError, AuthRequirement, Authorized};
use crate::host::{BlobHost, BlobInfo, IncomingBlob};
use crate::index::OwnerIndex;

/// How a Blossom server runs. Defaults: 127.0.0.1 on a port the OS picks, writes (upload,
/// mirror, media, delete) only from `allowed_pubkeys` (none: nobody writes until keys are
/// listed or `open_writes` is set), 1 GiB per blob, any MIME type, reads without
/// authorization, mirrors only from public addresses, authorizations valid at most two hours,
/// a delete authorization used once.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BlossomServerConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The base URL in Blob Descriptors (default `http://<listen address>`).
    pub public_url: Option<String>,
    /// Host names `server` tags may name besides the public URL's (e.g. a domain in front).
    pub server_names: Vec<String>,
    /// Pubkeys (hex) allowed to upload, mirror and delete.
    pub allowed_pubkeys: Vec<String>,
    /// Let any valid signer write (upload, mirror, media, delete what it uploaded), within
    /// the per-pubkey quotas. Off by default: an open server stores (and, behind a media
    /// store, seeds from this machine's address) whatever strangers send, and fills its disk.
    pub open_writes: bool,
    /// With `open_writes`: most blobs one pubkey may have here.
    pub max_blobs_per_pubkey: u64,
    /// With `open_writes`: most bytes one pubkey may have here.
    pub max_bytes_per_pubkey: u64,
    /// Longest authorization lifetime accepted (`expiration` − now), in seconds.
    pub max_auth_lifetime: u64,
    /// Largest blob accepted, in bytes.
    pub max_size: u64,
    /// Accepted MIME types (`image/*` style wildcards); empty: any.
    pub mime_allow: Vec<String>,
    /// Require a `get` authorization to read.
    pub auth_on_get: bool,
    /// Where `PUT /mirror` may fetch from.
    pub reach: Reach,
    /// Deadline of a mirror's origin request (connect to last byte).
    pub mirror_timeout: Duration,
    /// Where the owners index lives (who uploaded which blob).
    pub index_dir: PathBuf,
    /// Connection limits.
    pub limits: ServeLimits,
    /// Re-encodes images for BUD-05 `PUT /media`; without one, `/media` answers 404.
    pub optimizer: Option<Arc<dyn MediaOptimizer>>,
    /// Which pages may use the server from a browser (default: any origin, as BUD-01 asks).
    pub cors_origins: media_http::AllowOrigins,
}

/// Largest original `PUT /media` takes (it is decoded in memory): 64 MiB.
pub const MAX_MEDIA_INPUT: u64 = 64 << 20;

/// BUD-05: makes the served version of an uploaded image — re-encoded, without metadata
/// (location, camera, dates), upright.
pub trait MediaOptimizer: Send + Sync + std::fmt::Debug + 'static {
    /// The optimized bytes of the image at `path` and their MIME type.
    fn optimize(&self, path: &std::path::Path) -> media_core::Result<(Vec<u8>, String)>;
}

/// Default largest blob: 1 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;
/// Default [`BlossomServerConfig::max_blobs_per_pubkey`].
pub const DEFAULT_MAX_BLOBS_PER_PUBKEY: u64 = 1000;
/// Default [`BlossomServerConfig::max_bytes_per_pubkey`]: 2 GiB.
pub const DEFAULT_MAX_BYTES_PER_PUBKEY: u64 = 2 << 30;
/// Delete authorizations remembered at once per key (to refuse replays); past it, that key's
/// new deletes wait for its old authorizations to expire.
const MAX_REMEMBERED_DELETES: usize = 10_000;

impl BlossomServerConfig {
    /// Defaults, keeping the owners index under `index_dir`.
    pub fn new(index_dir: impl Into<PathBuf>) -> Self {
        BlossomServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: None,
            server_names: Vec::new(),
            allowed_pubkeys: Vec::new(),
            open_writes: false,
            max_blobs_per_pubkey: DEFAULT_MAX_BLOBS_PER_PUBKEY,
            max_bytes_per_pubkey: DEFAULT_MAX_BYTES_PER_PUBKEY,
            max_auth_lifetime: auth::DEFAULT_MAX_LIFETIME_SECS,
            max_size: DEFAULT_MAX_SIZE,
            mime_allow: Vec::new(),
            auth_on_get: false,
            reach: Reach::public_only(),
            mirror_timeout: Duration::from_secs(300),
            index_dir: index_dir.into(),
            // A client may send as many uploads at once as its key may have under way.
            limits: ServeLimits::default().with_per_peer(64, 16),
            optimizer: None,
            cors_origins: media_http::AllowOrigins::Any,
        }
    }

    /// Listen on `addr`.
    #[must_use]
    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Only these pubkeys (hex) may upload, mirror and delete.
    #[must_use]
    pub fn with_allowed_pubkeys(mut self, keys: Vec<String>) -> Self {
        self.allowed_pubkeys = keys;
        self
    }

    /// Let any valid signer write, within the per-pubkey quotas (see
    /// [`BlossomServerConfig::open_writes`] for what that costs).
    #[must_use]
    pub fn with_open_writes(mut self, yes: bool) -> Self {
        self.open_writes = yes;
        self
    }

    /// Per-pubkey quotas of an open server: blobs and bytes.
    #[must_use]
    pub fn with_quota(mut self, blobs: u64, bytes: u64) -> Self {
        self.max_blobs_per_pubkey = blobs;
        self.max_bytes_per_pubkey = bytes;
        self
    }

    /// Longest authorization lifetime accepted, in seconds.
    #[must_use]
    pub fn with_max_auth_lifetime(mut self, secs: u64) -> Self {
        self.max_auth_lifetime = secs;
        self
    }

    /// Largest blob accepted.
    #[must_use]
    pub fn with_max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// Accepted MIME types (`image/*` wildcards allowed).
    #[must_use]
    pub fn with_mime_allow(mut self, types: Vec<String>) -> Self {
        self.mime_allow = types;
        self
    }

    /// Require a `get` authorization to read.
    #[must_use]
    pub fn with_auth_on_get(mut self, yes: bool) -> Self {
        self.auth_on_get = yes;
        self
    }

    /// Where mirrors may fetch from.
    #[must_use]
    pub fn with_reach(mut self, reach: Reach) -> Self {
        self.reach = reach;
        self
    }

    /// Let only pages of `origins` use the server from a browser.
    #[must_use]
    pub fn with_cors_origins(mut self, origins: media_http::AllowOrigins) -> Self {
        self.cors_origins = origins;
        self
    }

    /// Serve BUD-05 `/media` with `optimizer`.
    #[must_use]
    pub fn with_optimizer(mut self, optimizer: Arc<dyn MediaOptimizer>) -> Self {
        self.optimizer = Some(optimizer);
        self
    }

    /// The base URL in Blob Descriptors.
    #[must_use]
    pub fn with_public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }
}

/// A running Blossom server.
#[derive(Debug)]
pub struct BlossomServer {
    url: String,
    server: media_http::Server,
}

impl BlossomServer {
    /// Bind and serve `host` until [`BlossomServer::shutdown`] (or drop).
    pub async fn start(
        config: BlossomServerConfig,
        host: Arc<dyn BlobHost>,
    ) -> media_core::Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| MediaError::io(Operation::Configure, "binding the Blossom server", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| MediaError::io(Operation::Configure, "Blossom server address", e))?;
        let url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let mut server_names = config.server_names.clone();
        server_names.push(auth::server_host(&url));
        let index = OwnerIndex::open(&config.index_dir)?;
        // Mirrors fetch a stranger's URL: the node's one outbound client checks every
        // address it connects to.
        let http = media_http::ClientOptions::new(config.reach.clone())
            .with_total_timeout(Some(config.mirror_timeout))
            .build()?;
        let limits = config.limits;
        let cors = blossom_cors(&config);
        let state = Arc::new(ServerState {
            host,
            config,
            url: url.clone(),
            server_names,
            index,
            http,
            used_deletes: std::sync::Mutex::new(HashMap::new()),
            started: auth::unix_now(),
            pending: std::sync::Mutex::new(HashMap::new()),
            optimize_slots: tokio::sync::Semaphore::new(1),
        });
        let app = router(state);
        let app = cors.wrap(app);
        let server = media_http::Server::start(listener, app, limits, "blossom")
            .map_err(|e| MediaError::io(Operation::Configure, "Blossom server address", e))?;
        info!(%addr, "Blossom server listening");
        Ok(BlossomServer { url, server })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The base URL of its blobs.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stop serving (open connections are closed; also on drop).
    pub fn shutdown(&self) {
        self.server.shutdown();
    }
}

struct ServerState {
    host: Arc<dyn BlobHost>,
    config: BlossomServerConfig,
    url: String,
    server_names: Vec<String>,
    index: OwnerIndex,
    http: media_http::Client,
    /// Delete authorizations already used in this run, by pubkey (event id → expiration):
    /// each works once.
    used_deletes: std::sync::Mutex<HashMap<String, HashMap<String, u64>>>,
    /// When this server started (Unix seconds): delete authorizations made before it are
    /// refused, so a replay cannot wait for a restart to clear the table above.
    started: u64,
    /// Uploads under way per open-server key.
    pending: std::sync::Mutex<HashMap<String, Pending>>,
    /// `PUT /media` decodes images: one at a time, whoever asks.
    optimize_slots: tokio::sync::Semaphore,
}

type Shared = State<Arc<ServerState>>;

fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/", get(root).head(root))
        .route("/upload", put(upload).head(upload_check))
        .route("/mirror", put(mirror))
        .route("/report", put(report))
        .route("/media", put(media).head(media_check))
        .route("/list/{pubkey}", get(list))
        .route("/{blob}", get(get_blob).head(get_blob).delete(delete_blob))
        // Bodies are streamed into the host, which enforces the size limit.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// BUD-01: CORS on every response, reads from any page; writes from any page only on an
/// open server, else from the configured origins alone.
pub fn blossom_cors(config: &BlossomServerConfig) -> media_http::Cors {
    let reads = media_http::Cors::public_reads().with_origins(config.cors_origins.clone());
    if config.open_writes {
        // BUD-01: a public server takes uploads from any page.
        reads.with_writes(media_http::AllowOrigins::Any)
    } else {
        match &config.cors_origins {
            // Writes are closed to strangers: only pages the configuration names may send
            // one from a browser.
            media_http::AllowOrigins::List(_) => reads.with_writes(config.cors_origins.clone()),
            _ => reads,
        }
    }
}

/// A refusal: JSON `{"message"}` and `X-Reason`, as BUD-01 asks.
struct Refusal {
    status: StatusCode,
    reason: String,
}

impl Refusal {
    fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Refusal {
            status,
            reason: reason.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        debug!(status = %self.status, reason = %self.reason, "Blossom request refused");
        // A header value cannot carry newlines or non-visible bytes.
        let reason: String = self
            .reason
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .take(300)
            .collect();
        let mut response =
            (self.status, Json(serde_json::json!({"message": reason}))).into_response();
        if let Ok(value) = HeaderValue::from_str(&reason) {
            response.headers_mut().insert("x-reason", value);
        }
        response
    }
}

impl From<AuthError> for Refusal {
    fn from(e: AuthError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED);
        Refusal::new(status, e.to_string())
    }
}

impl From<MediaError> for Refusal {
    fn from(e: MediaError) -> Self {
        let status = match e.kind {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorKind::PermissionDenied | ErrorKind::Refused => StatusCode::FORBIDDEN,
            ErrorKind::Integrity => StatusCode::CONFLICT,
            ErrorKind::Unavailable | ErrorKind::PolicyUnsatisfied | ErrorKind::Timeout => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Refusal::new(status, e.to_string())
    }
}

type Answer = Result<Response, Refusal>;

async fn root() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "media-store Blossom server (BUD-01, 02, 04, 05, 06, 09)\n",
    )
        .into_response()
}

/// `<sha256>` or `<sha256>.<ext>`.
fn parse_blob(path: &str) -> Result<MediaId, Refusal> {
    let hash = path.split_once('.').map_or(path, |(h, _)| h);
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "not a sha256 blob path",
        ));
    }
    hash.to_ascii_lowercase()
        .parse::<MediaId>()
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.to_string()))
}

impl ServerState {
    fn authorize(
        &self,
        headers: &HeaderMap,
        verb: &str,
        sha256: Option<&MediaId>,
    ) -> Result<Authorized, Refusal> {
        let sha = sha256.map(|s| s.to_string());
        let header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let who = auth::check_header(
            header,
            &AuthRequirement {
                verb,
                sha256: sha.as_deref(),
                server_names: &self.server_names,
                now: auth::unix_now(),
                max_lifetime: self.config.max_auth_lifetime,
            },
        )?;
        Ok(who)
    }

    /// Writers (upload, mirror, media, delete) must be allowed pubkeys, unless the server
    /// was opened to any signer.
    fn authorize_writer(
        &self,
        headers: &HeaderMap,
        verb: &str,
        sha256: Option<&MediaId>,
    ) -> Result<Authorized, Refusal> {
        let who = self.authorize(headers, verb, sha256)?;
        let allowed = &self.config.allowed_pubkeys;
        let listed = allowed.iter().any(|k| k.eq_ignore_ascii_case(&who.pubkey));
        if !listed && !self.config.open_writes {
            return Err(AuthError::Forbidden(who.pubkey).into());
        }
        Ok(who)
    }

    /// Whether `who` is held to the open server's quotas (listed keys are not).
    fn quota_applies(&self, who: &Authorized) -> bool {
        !self
            .config
            .allowed_pubkeys
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&who.pubkey))
    }

    /// Refuse a second use of one delete authorization (a leaked or logged event), for as
    /// long as it would be valid: remembered in this run, and refused across a restart
    /// because it was made before the server started.
    fn spend_once(&self, who: &Authorized) -> Result<(), Refusal> {
        if who.created_at + auth::CLOCK_SKEW_SECS < self.started {
            return Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "this delete authorization was made before the server started: sign a new one",
            ));
        }
        let mut used = self
            .used_deletes
            .lock()
            .map_err(|_| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "replay table"))?;
        let now = auth::unix_now();
        let key = who.pubkey.to_ascii_lowercase();
        let mine = used.entry(key).or_default();
        mine.retain(|_, expires| *expires > now);
        if mine.contains_key(&who.event_id) {
            return Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "this delete authorization was already used",
            ));
        }
        // A bound per key: one key's deletes can only ever crowd out its own.
        if mine.len() >= MAX_REMEMBERED_DELETES {
            return Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many deletes by this key at once; try again later",
            ));
        }
        mine.insert(who.event_id.clone(), who.expires);
        Ok(())
    }

    fn mime_allowed(&self, mime: &str) -> bool {
        let mime = mime.split(';').next().unwrap_or_default().trim();
        self.config.mime_allow.is_empty()
            || self.config.mime_allow.iter().any(|allowed| {
                allowed.eq_ignore_ascii_case(mime)
                    || allowed.strip_suffix("/*").is_some_and(|family| {
                        mime.split('/')
                            .next()
                            .is_some_and(|f| f.eq_ignore_ascii_case(family))
                    })
            })
    }

    fn descriptor(&self, info: &BlobInfo) -> serde_json::Value {
        let ext = extension_for(&info.mime);
        let url = format!("{}/{}{}", self.url, info.sha256, ext);
        let mut nip94 = vec![
            vec!["url".to_owned(), url.clone()],
            vec!["m".to_owned(), info.mime.clone()],
            vec!["x".to_owned(), info.sha256.to_string()],
            vec!["size".to_owned(), info.size.to_string()],
        ];
        let mut descriptor = serde_json::json!({
            "url": url,
            "sha256": info.sha256.to_string(),
            "size": info.size,
            "type": info.mime,
            "uploaded": info.uploaded,
        });
        for (key, value) in &info.also_at {
            descriptor[key.as_str()] = serde_json::Value::String(value.clone());
            if key == "magnet" {
                nip94.push(vec!["magnet".to_owned(), value.clone()]);
            }
            if key == "infohash" {
                nip94.push(vec!["i".to_owned(), value.clone()]);
            }
        }
        descriptor["nip94"] = serde_json::json!(nip94);
        descriptor
    }

    /// Store `body` for `who`: 201 when new, 200 when it was already here.
    ///
    /// A blob the host already keeps for itself (a media store's own media, a record its
    /// owner imported) is answered from what the host has: the upload changes nothing (not
    /// its name, type or expiry) and makes nobody its owner. On an open server, a key's
    /// quota counts what it has and what it is uploading now (a reservation taken before
    /// the body is read), so parallel uploads cannot pass it.
    async fn accept(
        &self,
        who: &Authorized,
        expected: MediaId,
        mime: Option<String>,
        length: Option<u64>,
        body: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>,
    ) -> Answer {
        if let Some(mime) = &mime {
            if !self.mime_allowed(mime) {
                return Err(Refusal::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("{mime} is not accepted here"),
                ));
            }
        }
        let existing = self.host.describe(&expected).await?;
        if let Some(info) = &existing {
            if self.host.owned_by_host(&expected).await? {
                return Ok((StatusCode::OK, Json(self.descriptor(info))).into_response());
            }
        }
        let existed = existing.is_some();
        let owned_already = self.index.owns(&who.pubkey, &expected);
        let reservation = if self.quota_applies(who) && !owned_already {
            Some(self.reserve(who, &expected, length)?)
        } else {
            None
        };
        let max_size = reservation
            .as_ref()
            .map_or(self.config.max_size, |r| r.bytes);
        let info = self
            .host
            .store(IncomingBlob {
                body,
                expected,
                max_size,
                mime,
            })
            .await
            .map_err(|e| {
                if e.kind == ErrorKind::InvalidInput && e.to_string().contains("limit") {
                    Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())
                } else {
                    Refusal::from(e)
                }
            })?;
        self.index
            .add(&who.pubkey, &info.sha256, info.uploaded, info.size)?;
        drop(reservation);
        let status = if existed {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        Ok((status, Json(self.descriptor(&info))).into_response())
    }

    /// Room for blob `sha256` of `who` (of `length` bytes if declared), counting what the
    /// key has and what it is uploading: refused when the quota is spent, else held until
    /// the returned reservation is dropped. Concurrent uploads of one blob by one key share
    /// a reservation (it is stored once).
    fn reserve(
        &self,
        who: &Authorized,
        sha256: &MediaId,
        length: Option<u64>,
    ) -> Result<Reservation<'_>, Refusal> {
        let (blobs, bytes) = self.index.usage(&who.pubkey)?;
        let mut pending = self
            .pending
            .lock()
            .map_err(|_| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "quota table"))?;
        let key = who.pubkey.to_ascii_lowercase();
        let mine = pending.entry(key.clone()).or_default();
        if mine.uploads >= MAX_UPLOADS_PER_PUBKEY {
            return Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("this key already has {} uploads under way", mine.uploads),
            ));
        }
        if let Some((refs, reserved)) = mine.blobs.get_mut(sha256) {
            *refs += 1;
            let reserved = *reserved;
            mine.uploads += 1;
            return Ok(Reservation {
                state: self,
                pubkey: key,
                sha256: *sha256,
                bytes: reserved,
            });
        }
        let busy_blobs = mine.blobs.len() as u64;
        let busy_bytes: u64 = mine.blobs.values().map(|(_, b)| b).sum();
        if blobs + busy_blobs >= self.config.max_blobs_per_pubkey {
            return Err(Refusal::new(
                StatusCode::INSUFFICIENT_STORAGE,
                format!(
                    "this key has {} blobs here and on the way (at most {})",
                    blobs + busy_blobs,
                    self.config.max_blobs_per_pubkey
                ),
            ));
        }
        let room = self
            .config
            .max_bytes_per_pubkey
            .saturating_sub(bytes + busy_bytes)
            .min(self.config.max_size);
        let wanted = length.unwrap_or(room);
        if room == 0 || wanted > room {
            return Err(Refusal::new(
                StatusCode::INSUFFICIENT_STORAGE,
                format!(
                    "this key has {} bytes here and on the way (at most {})",
                    bytes + busy_bytes,
                    self.config.max_bytes_per_pubkey
                ),
            ));
        }
        mine.blobs.insert(*sha256, (1, wanted));
        mine.uploads += 1;
        Ok(Reservation {
            state: self,
            pubkey: key,
            sha256: *sha256,
            bytes: wanted,
        })
    }
}

/// Uploads one open-server key may have under way at once.
const MAX_UPLOADS_PER_PUBKEY: u64 = 16;

/// What one open-server key is uploading now.
#[derive(Debug, Default)]
struct Pending {
    uploads: u64,
    /// Each blob under way: uploads of it, bytes reserved for it.
    blobs: HashMap<MediaId, (u64, u64)>,
}

/// One upload's share of its key's quota while its body arrives.
struct Reservation<'a> {
    state: &'a ServerState,
    pubkey: String,
    sha256: MediaId,
    /// The most bytes this upload may store.
    bytes: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if let Ok(mut pending) = self.state.pending.lock() {
            if let Some(mine) = pending.get_mut(&self.pubkey) {
                mine.uploads = mine.uploads.saturating_sub(1);
                if let Some((refs, _)) = mine.blobs.get_mut(&self.sha256) {
                    *refs = refs.saturating_sub(1);
                    if *refs == 0 {
                        mine.blobs.remove(&self.sha256);
                    }
                }
                if mine.uploads == 0 {
                    pending.remove(&self.pubkey);
                }
            }
        }
    }
}

/// The hash an upload or mirror must have: `X-SHA-256`, else the single `x` tag it signed.
fn expected_hash(headers: &HeaderMap) -> Result<Option<MediaId>, Refusal> {
    match headers.get("x-sha-256").and_then(|v| v.to_str().ok()) {
        Some(value) => parse_blob(value.trim())
            .map(Some)
            .map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, "X-SHA-256 is not a sha256")),
        None => Ok(None),
    }
}

/// Without `X-SHA-256`, the upload's hash is the one `x` tag of its authorization.
fn single_x_tag(headers: &HeaderMap) -> Option<MediaId> {
    let header = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let event = auth::peek_event(header)?;
    let mut xs = event.tag_values("x");
    let first = xs.next()?;
    if xs.next().is_some() {
        return None;
    }
    first.parse().ok()
}

async fn upload(State(state): Shared, headers: HeaderMap, body: Body) -> Answer {
    let expected = match expected_hash(&headers)? {
        Some(hash) => hash,
        None => single_x_tag(&headers).ok_or_else(|| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "send X-SHA-256 (or sign exactly one x tag) with the upload",
            )
        })?,
    };
    let who = state.authorize_writer(&headers, "upload", Some(&expected))?;
    if let Some(len) = content_length(&headers) {
        if len > state.config.max_size {
            return Err(too_large(&state));
        }
    }
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|m| m.split(';').next().unwrap_or(m).trim().to_owned())
        .filter(|m| !m.is_empty() && m != "application/x-www-form-urlencoded");
    let reader = tokio_util::io::StreamReader::new(
        body.into_data_stream()
            .map_err(|e| std::io::Error::other(e.to_string())),
    );
    let length = content_length(&headers);
    state
        .accept(&who, expected, mime, length, Box::pin(reader))
        .await
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn too_large(state: &ServerState) -> Refusal {
    Refusal::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("blobs here are at most {} bytes", state.config.max_size),
    )
}

/// BUD-06: may this upload go ahead?
async fn upload_check(State(state): Shared, headers: HeaderMap) -> Answer {
    preflight(&state, &headers, "upload", state.config.max_size)
}

/// BUD-05's preflight: the same questions for `PUT /media`.
async fn media_check(State(state): Shared, headers: HeaderMap) -> Answer {
    if state.config.optimizer.is_none() {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "this server does not optimize media",
        ));
    }
    if let Some(mime) = headers.get("x-content-type").and_then(|v| v.to_str().ok()) {
        if !mime.starts_with("image/") {
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "only images are optimized here",
            ));
        }
    }
    preflight(
        &state,
        &headers,
        "media",
        MAX_MEDIA_INPUT.min(state.config.max_size),
    )
}

fn preflight(state: &ServerState, headers: &HeaderMap, verb: &str, max_size: u64) -> Answer {
    let expected = expected_hash(headers)?
        .ok_or_else(|| Refusal::new(StatusCode::BAD_REQUEST, "X-SHA-256 is required"))?;
    let length = headers
        .get("x-content-length")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Refusal::new(StatusCode::LENGTH_REQUIRED, "X-Content-Length is required"))?
        .parse::<u64>()
        .map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, "X-Content-Length is not a number"))?;
    if length > max_size {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("at most {max_size} bytes here"),
        ));
    }
    if let Some(mime) = headers.get("x-content-type").and_then(|v| v.to_str().ok()) {
        if !state.mime_allowed(mime) {
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("{mime} is not accepted here"),
            ));
        }
    }
    state.authorize_writer(headers, verb, Some(&expected))?;
    Ok(StatusCode::OK.into_response())
}

/// BUD-05: keep an optimized version of the uploaded image (metadata gone, re-encoded); the
/// original's hash is not kept.
async fn media(State(state): Shared, headers: HeaderMap, body: Body) -> Answer {
    let Some(optimizer) = state.config.optimizer.clone() else {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "this server does not optimize media",
        ));
    };
    let original = match expected_hash(&headers)? {
        Some(hash) => hash,
        None => single_x_tag(&headers).ok_or_else(|| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "send X-SHA-256 (or sign one x tag)",
            )
        })?,
    };
    let who = state.authorize_writer(&headers, "media", Some(&original))?;
    // An open server's key past its quota is refused before its image is read or decoded.
    if state.quota_applies(&who) {
        drop(state.reserve(&who, &original, None)?);
    }
    let max = MAX_MEDIA_INPUT.min(state.config.max_size);
    if content_length(&headers).is_some_and(|n| n > max) {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("images here are at most {max} bytes"),
        ));
    }
    // The original only passes through a temporary file: it is never stored or served.
    let tmp = state.config.index_dir.join("tmp");
    std::fs::create_dir_all(&tmp)
        .map_err(|e| Refusal::from(MediaError::io(Operation::Upload, "media staging", e)))?;
    let staged = tempfile_in(&tmp)?;
    let mut reader = tokio_util::io::StreamReader::new(
        body.into_data_stream()
            .map_err(|e| std::io::Error::other(e.to_string())),
    );
    let path = staged.path().to_path_buf();
    let digests = {
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| Refusal::from(MediaError::io(Operation::Upload, "media staging", e)))?;
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        let mut total = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut reader, &mut buf)
                .await
                .map_err(|e| {
                    Refusal::new(StatusCode::BAD_REQUEST, format!("reading the body: {e}"))
                })?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > max {
                return Err(Refusal::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("images here are at most {max} bytes"),
                ));
            }
            sha2::Digest::update(&mut hasher, &buf[..n]);
            tokio::io::AsyncWriteExt::write_all(&mut file, &buf[..n])
                .await
                .map_err(|e| {
                    Refusal::from(MediaError::io(Operation::Upload, "media staging", e))
                })?;
        }
        // tokio's `File` finishes its last write in the background: without this flush the
        // decoder, which opens the path anew, can read a short (even empty) file.
        tokio::io::AsyncWriteExt::flush(&mut file)
            .await
            .map_err(|e| Refusal::from(MediaError::io(Operation::Upload, "media staging", e)))?;
        hex::encode(sha2::Digest::finalize(hasher))
    };
    if digests != original.to_string() {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            format!("the body's SHA-256 is {digests}, not {original}"),
        ));
    }
    // Decoding is the costly part (memory and CPU): one image at a time.
    let _slot = state
        .optimize_slots
        .acquire()
        .await
        .map_err(|_| Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
    let (bytes, mime) = tokio::task::spawn_blocking(move || optimizer.optimize(&path))
        .await
        .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| Refusal::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, e.to_string()))?;
    drop(staged);
    let expected = MediaId::for_bytes(&bytes);
    let length = Some(bytes.len() as u64);
    let body = Box::pin(std::io::Cursor::new(bytes));
    state.accept(&who, expected, Some(mime), length, body).await
}

/// A temporary file removed on drop.
fn tempfile_in(dir: &std::path::Path) -> Result<TempFile, Refusal> {
    let mut name = [0u8; 12];
    getrandom::fill(&mut name)
        .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(TempFile(dir.join(hex::encode(name))))
}

struct TempFile(PathBuf);

impl TempFile {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn get_blob(
    State(state): Shared,
    method: Method,
    headers: HeaderMap,
    UrlPath(blob): UrlPath<String>,
) -> Answer {
    let sha256 = parse_blob(&blob)?;
    if state.config.auth_on_get {
        state.authorize(&headers, "get", Some(&sha256))?;
    }
    let info = state
        .host
        .describe(&sha256)
        .await?
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "blob not found"))?;
    // The uploader chose the type: nothing stored here runs as a page on this origin.
    let ranged = media_http::Ranged::new(&headers, info.size)
        .stored_bytes(&info.mime)
        .etag(&info.sha256.to_string())
        .header(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    let range = match ranged.range() {
        Some(range) if method != Method::HEAD && !range.is_empty() => range,
        _ => return Ok(ranged.into_response(Body::empty())),
    };
    let stream = state
        .host
        .read(&sha256, ByteRange::new(range.start, range.end))
        .await?;
    // A verification failure mid-stream breaks the transfer: never unverified bytes.
    Ok(ranged.into_response(Body::from_stream(
        stream.map(|piece| piece.map_err(|e| std::io::Error::other(e.to_string()))),
    )))
}

async fn delete_blob(
    State(state): Shared,
    headers: HeaderMap,
    UrlPath(blob): UrlPath<String>,
) -> Answer {
    let sha256 = parse_blob(&blob)?;
    let who = state.authorize_writer(&headers, "delete", Some(&sha256))?;
    if state.host.describe(&sha256).await?.is_none() {
        return Err(Refusal::new(StatusCode::NOT_FOUND, "blob not found"));
    }
    if !state.index.owns(&who.pubkey, &sha256) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "only the blob's uploader may delete it",
        ));
    }
    // A delete authorization deletes once: the same event replayed later (after the blob
    // came back) is refused.
    state.spend_once(&who)?;
    let others_left = state.index.remove(&who.pubkey, &sha256)?;
    if !others_left {
        // The host keeps what it holds for itself (a media store's own uploads).
        state.host.delete(&sha256).await?;
    }
    Ok(StatusCode::OK.into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

/// Largest page of `GET /list`.
pub const MAX_LIST: usize = 1000;

async fn list(
    State(state): Shared,
    UrlPath(pubkey): UrlPath<String>,
    Query(q): Query<ListQuery>,
) -> Answer {
    if pubkey.len() != 64 || !pubkey.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, "not a hex pubkey"));
    }
    let cursor = match q.cursor.as_deref() {
        Some(c) => Some(parse_blob(c)?),
        None => None,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_LIST);
    let mut out = Vec::new();
    for sha256 in state.index.list(&pubkey, cursor.as_ref(), limit)? {
        if let Some(info) = state.host.describe(&sha256).await? {
            out.push(state.descriptor(&info));
        }
    }
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
struct MirrorBody {
    url: String,
}

/// Largest report event read (a report is a few tags and a paragraph).
const MAX_REPORT: usize = 16 * 1024;
/// NIP-56's event kind.
const REPORT_KIND: u64 = 1984;

/// BUD-09: a NIP-56 report (kind 1984) signed by the reporter, naming blobs with `x` tags
/// (`["x", sha256, type]`). Anyone may report; the host keeps it for its owner's review,
/// bounded per reporter. Only blobs this server has are kept in the report.
async fn report(
    State(state): Shared,
    peer: Option<axum::Extension<media_http::Peer>>,
    body: Body,
) -> Answer {
    let peer = peer.map(|axum::Extension(p)| p.to_string());
    let body = axum::body::to_bytes(body, MAX_REPORT)
        .await
        .map_err(|_| Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, "the report is too long"))?;
    let event: auth::NostrEvent = serde_json::from_slice(&body).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("expected a signed nostr event: {e}"),
        )
    })?;
    if event.kind != REPORT_KIND {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("a report is a kind {REPORT_KIND} event (NIP-56)"),
        ));
    }
    event.verify()?;
    if event.created_at > auth::unix_now() + 600 {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "the report is dated in the future",
        ));
    }
    let mut media = Vec::new();
    for tag in event
        .tags
        .iter()
        .filter(|t| t.first().map(String::as_str) == Some("x"))
    {
        let Some(id) = tag.get(1).and_then(|h| h.parse::<MediaId>().ok()) else {
            continue;
        };
        let kind: String = tag
            .get(2)
            .map_or("other", String::as_str)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .take(32)
            .collect();
        if media.len() < 16 && state.host.describe(&id).await?.is_some() {
            media.push(media_safety::Reported::new(id, kind));
        }
    }
    if media.is_empty() {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "the report names no blob this server has (x tags)",
        ));
    }
    let report = media_safety::Report::new(
        event.id.clone(),
        event.pubkey.clone(),
        media,
        event.content.clone(),
        event.created_at,
        String::from_utf8_lossy(&body).into_owned(),
    );
    match state.host.report(report, peer).await {
        Ok(()) => {}
        Err(e) if e.kind == ErrorKind::Unavailable => {
            return Err(Refusal::new(StatusCode::TOO_MANY_REQUESTS, e.to_string()))
        }
        Err(e) => return Err(e.into()),
    }
    info!(reporter = %event.pubkey, "report received");
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({"received": event.id})),
    )
        .into_response())
}

/// BUD-04: fetch `url` (within reach), keep it if its hash is the signed one.
async fn mirror(State(state): Shared, headers: HeaderMap, body: Body) -> Answer {
    let body = axum::body::to_bytes(body, 16 * 1024).await.map_err(|_| {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the mirror request is too long",
        )
    })?;
    let request: MirrorBody = serde_json::from_slice(&body).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"url\"}}: {e}"),
        )
    })?;
    let expected = match expected_hash(&headers)? {
        Some(hash) => hash,
        None => match single_x_tag(&headers) {
            Some(hash) => hash,
            // The hash is often in the URL itself.
            None => url_hash(&request.url).ok_or_else(|| {
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "send X-SHA-256 or sign exactly one x tag with the mirror",
                )
            })?,
        },
    };
    let who = state.authorize_writer(&headers, "upload", Some(&expected))?;
    // Refused addresses are 403 and failures 502; the client checks again on connect.
    state
        .http
        .check_host(&request.url)
        .await
        .map_err(origin_refusal)?;
    let origin = state
        .http
        .get(&request.url)
        .map_err(origin_refusal)?
        .send()
        .await
        .map_err(|e| {
            origin_refusal(media_http::client_error(
                Operation::Get,
                "the origin failed",
                e,
            ))
        })?;
    if !origin.status().is_success() {
        return Err(Refusal::new(
            StatusCode::BAD_GATEWAY,
            format!("the origin answered {}", origin.status()),
        ));
    }
    if origin
        .content_length()
        .is_some_and(|n| n > state.config.max_size)
    {
        return Err(too_large(&state));
    }
    let mime = origin
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|m| m.split(';').next().unwrap_or(m).trim().to_owned());
    // What the origin says it sends (the request's own length is its JSON body's).
    let length = origin.content_length();
    let reader = tokio_util::io::StreamReader::new(
        origin
            .bytes_stream()
            .map_err(|e| std::io::Error::other(format!("the origin failed: {e}"))),
    );
    state
        .accept(&who, expected, mime, length, Box::pin(reader))
        .await
}

fn url_hash(url: &str) -> Option<MediaId> {
    let last = url.split(['?', '#']).next()?.rsplit('/').next()?;
    parse_blob(last).ok()
}

/// A mirror's origin that the node may not or could not reach.
fn origin_refusal(e: MediaError) -> Refusal {
    let status = if e.kind == media_core::ErrorKind::PermissionDenied {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::BAD_GATEWAY
    };
    Refusal::new(status, e.to_string())
}

/// The extension a blob URL gets for `mime`.
pub fn extension_for(mime: &str) -> &'static str {
    let table: HashMap<&str, &str> = [
        ("image/jpeg", ".jpg"),
        ("image/png", ".png"),
        ("image/webp", ".webp"),
        ("image/gif", ".gif"),
        ("image/avif", ".avif"),
        ("image/heic", ".heic"),
        ("video/mp4", ".mp4"),
        ("video/quicktime", ".mov"),
        ("video/webm", ".webm"),
        ("audio/mpeg", ".mp3"),
        ("application/pdf", ".pdf"),
        ("text/plain", ".txt"),
    ]
    .into_iter()
    .collect();
    table.get(mime).copied().unwrap_or("")
}
