//! The native manager: one embedded stack (or the stores a configuration file names) over
//! one data directory, and every operation the package's `MediaStorageManager` offers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use media_facade::media_core::{
    self, download_policy_named, ByteRange, ErrorKind, MediaId, MediaRef, Operation, Timestamp,
};
use media_facade::media_privacy::{Identity, Recipient};
use media_facade::{EmbeddedStack, MediaStore, P2pMode, ReadOptions, StackConfig, UploadRequest};
use napi::bindgen_prelude::Buffer;
use napi::threadsafe_function::{
    ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue,
};
use tokio::sync::Mutex;

use crate::errors::{invalid, js_error, IntoJs};
use crate::shapes::{
    self, CatalogCounts, ManagerOptions, MediaDownloadOptions, MediaEvent, MediaFile,
    MediaStorageStats, MediaUploadOptions,
};
use crate::transfer::{channel_input, MediaDownload, MediaUpload, OpenReads, DEFAULT_IDLE_TIMEOUT};
use tokio_util::sync::CancellationToken;

/// One store's answer to a health check.
#[napi(object)]
pub struct StoreHealth {
    /// The store's name.
    pub store: String,
    /// Whether it answered.
    pub ok: bool,
    /// Why not.
    pub error: Option<String>,
}

/// One of the node's endpoints (the embedded S3 server, the IPFS gateway, Blossom, ...).
#[napi(object)]
pub struct Endpoint {
    /// What it is.
    pub name: String,
    /// Its URL.
    pub url: String,
}

/// The running engine behind one `MediaStorageManager`.
#[napi]
pub struct NativeManager {
    // Operations clone the store out of here; `close()` empties it, so once the running
    // ones end nothing holds the stores' sockets and the data directory can be opened again.
    store: std::sync::RwLock<Option<MediaStore>>,
    stack: Mutex<Option<EmbeddedStack>>,
    events: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    endpoints: Vec<(String, String)>,
    // Cancelled by `close()`: every transfer's token is a child of it.
    token: CancellationToken,
    open_reads: OpenReads,
}

/// Start the stores `options` name over its data directory.
#[napi]
pub async fn open_manager(options: ManagerOptions) -> napi::Result<NativeManager> {
    let config = stack_config(&options)?;
    let stack = EmbeddedStack::start(config).await.js()?;
    Ok(NativeManager {
        store: std::sync::RwLock::new(Some(stack.store.clone())),
        endpoints: stack.endpoints(),
        stack: Mutex::new(Some(stack)),
        events: std::sync::Mutex::new(None),
        token: CancellationToken::new(),
        open_reads: OpenReads::default(),
    })
}

/// The store configuration `options` describe.
fn stack_config(options: &ManagerOptions) -> napi::Result<StackConfig> {
    let op = Operation::Configure;
    if options.data_dir.is_empty() {
        return Err(invalid(op, "dataDir is required"));
    }
    let data = PathBuf::from(&options.data_dir);
    let mut config = match &options.config_file {
        Some(path) => StackConfig::from_file(std::path::Path::new(path), &data).js()?,
        None => StackConfig::new(&data),
    };
    if let Some(only) = &options.stores {
        let known: Vec<&str> = media_facade::providers()
            .iter()
            .map(|p| p.section())
            .collect();
        if let Some(unknown) = only.iter().find(|s| !known.contains(&s.as_str())) {
            return Err(invalid(
                op,
                format!(
                    "unknown store {unknown:?} (this build has {})",
                    known.join(", ")
                ),
            ));
        }
        for store in known.into_iter().filter(|k| !only.iter().any(|s| s == k)) {
            config = config.with_store_enabled(store, false);
        }
    }
    if let Some(mode) = &options.p2p {
        config.p2p = mode.parse::<P2pMode>().js()?;
    }
    if let Some(ms) = options.attempt_timeout_ms {
        let timeout = millis(ms, "attemptTimeoutMs", op)?;
        config = config.with_p2p_timeout(timeout);
        config.attempt_timeout = timeout;
    }
    if let Some(yes) = options.allow_private_addresses {
        let reach = config.reach.clone().allow_private(yes);
        config = config.with_reach(reach);
    }
    Ok(config)
}

/// The longest duration an option may name.
const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

/// `ms` milliseconds, if it is a number from 1 ms to a day.
pub(crate) fn millis(ms: f64, what: &str, op: Operation) -> napi::Result<Duration> {
    if ms.is_finite() && ms >= 1.0 && ms <= MAX_WAIT.as_millis() as f64 {
        Ok(Duration::from_secs_f64(ms / 1000.0))
    } else {
        Err(invalid(
            op,
            format!("{what} is a number of milliseconds, at least 1 and at most a day"),
        ))
    }
}

/// The engine's upload request for `input` with `options`.
fn upload_request(
    mut request: UploadRequest,
    options: Option<MediaUploadOptions>,
) -> napi::Result<UploadRequest> {
    let op = Operation::Upload;
    let Some(options) = options else {
        return Ok(request);
    };
    if let Some(name) = options.name {
        request = request.with_name(name);
    }
    if let Some(mime) = options.mime_type {
        request = request.with_mime(mime);
    }
    if let Some(secs) = options.expires_in {
        let ttl = Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| !d.is_zero() && d.as_secs() < 100 * 365 * 24 * 3600)
            .ok_or_else(|| {
                invalid(
                    op,
                    "expiresIn is a number of seconds above 0, under a century",
                )
            })?;
        request = request.expires_in(ttl);
    }
    if let Some(ms) = options.expires_at {
        if !(ms.is_finite() && ms > 0.0) {
            return Err(invalid(
                op,
                "expiresAt is a time in milliseconds since the epoch",
            ));
        }
        request = request.expires_at(Timestamp(ms as u64));
    }
    if let Some(recipients) = options.private_to.filter(|r| !r.is_empty()) {
        // The value is never echoed: an identity pasted here by mistake is a secret.
        let parsed = recipients
            .iter()
            .enumerate()
            .map(|(i, r)| {
                r.parse::<Recipient>().map_err(|_| {
                    invalid(
                        op,
                        format!("privateTo[{i}] is not an age recipient (age1…)"),
                    )
                })
            })
            .collect::<napi::Result<Vec<_>>>()?;
        request = request.encrypt_to(parsed);
    }
    if let Some(share) = options.share_p2p {
        request = request.share_p2p(share);
    }
    if options.keep_original == Some(true) {
        request = request.as_given();
    }
    if let Some(ms) = options.idle_timeout {
        millis(ms, "idleTimeout", op)?;
    }
    if let Some(hash) = options.expected_hash {
        let id: MediaId = hash
            .parse()
            .map_err(|e| invalid(op, format!("expectedHash: {e}")))?;
        request = request.expect_sha256(id);
    }
    Ok(request)
}

/// A record or an id from JavaScript: a `MediaFile`'s `record` (JSON) or a media id; with
/// `expected`, the `MediaFile`'s `id`, which must be its record's.
enum Target {
    Record(Box<media_core::MediaFile>),
    Id(MediaId),
}

/// The longest record accepted from JavaScript: a 2 GiB video's chunk list is about 140 KB
/// of hex, an inline thumbnail a few tens more.
pub const MAX_RECORD_BYTES: usize = 4 << 20;

fn target(text: &str, expected: Option<&str>, op: Operation) -> napi::Result<Target> {
    let target = parse_target(text, op)?;
    if let (Target::Record(file), Some(expected)) = (&target, expected) {
        if file.id.to_string() != expected.trim() {
            return Err(invalid(
                op,
                format!(
                    "the MediaFile's id {expected} is not its record's id {}",
                    file.id
                ),
            ));
        }
    }
    Ok(target)
}

fn parse_target(text: &str, op: Operation) -> napi::Result<Target> {
    if text.len() > MAX_RECORD_BYTES {
        return Err(invalid(
            op,
            format!("a media record is at most {MAX_RECORD_BYTES} bytes"),
        ));
    }
    if text.trim_start().starts_with('{') {
        let file: media_core::MediaFile = serde_json::from_str(text)
            .map_err(|e| invalid(op, format!("not a media record: {e}")))?;
        return Ok(Target::Record(Box::new(file)));
    }
    text.trim()
        .parse::<MediaId>()
        .map(Target::Id)
        .map_err(|e| invalid(op, format!("not a media id: {e}")))
}

fn read_options(options: &MediaDownloadOptions) -> napi::Result<ReadOptions> {
    let mut read = ReadOptions::new();
    let op = Operation::Download;
    let hedge = match options.hedge_after_ms {
        Some(ms) => millis(ms, "hedgeAfterMs", op)?,
        None => Duration::from_millis(250),
    };
    let policy = match (&options.policy, options.prefer_p2p) {
        (Some(name), _) => Some(name.as_str()),
        (None, Some(true)) => Some("p2p"),
        (None, Some(false)) => Some("cdn"),
        (None, None) => None,
    };
    if let Some(name) = policy {
        // Checked against the list first so an unknown value is not echoed back.
        if !media_core::download_policy_names()
            .iter()
            .any(|n| n == name)
        {
            return Err(invalid(
                op,
                format!(
                    "unknown policy (known: {})",
                    media_core::download_policy_names().join(", ")
                ),
            ));
        }
        read = read.policy_arc(download_policy_named(name, hedge).js()?);
    }
    if let Some(ms) = options.timeout {
        read = read.attempt_timeout(millis(ms, "timeout", op)?);
    }
    if let Some(store) = &options.only_store {
        read = read.only_backend(store.clone());
    }
    let range = byte_range(options)?;
    if !range.is_full() {
        read = read.range(range);
    }
    Ok(read)
}

fn byte_range(options: &MediaDownloadOptions) -> napi::Result<ByteRange> {
    let op = Operation::Download;
    let whole = |v: f64, what: &str| {
        if v.is_finite() && v >= 0.0 && v.fract() == 0.0 {
            Ok(v as u64)
        } else {
            Err(invalid(op, format!("{what} is a byte offset")))
        }
    };
    match (options.start, options.end) {
        (None, None) => Ok(ByteRange::full()),
        (start, end) => {
            let start = start.map(|s| whole(s, "start")).transpose()?.unwrap_or(0);
            let end = end.map(|e| whole(e, "end")).transpose()?;
            match end {
                Some(end) if end < start => Err(invalid(op, "end comes before start")),
                Some(end) => Ok(ByteRange::new(start, end.saturating_add(1))),
                None => Ok(ByteRange::from(start)),
            }
        }
    }
}

impl NativeManager {
    /// The store, unless the manager was closed.
    fn open_store(&self) -> napi::Result<MediaStore> {
        self.store
            .read()
            .ok()
            .and_then(|s| s.clone())
            .ok_or_else(|| {
                js_error(
                    ErrorKind::Unavailable,
                    Operation::Configure,
                    "this manager was destroyed",
                )
            })
    }

    async fn record(&self, target: Target, op: Operation) -> napi::Result<media_core::MediaFile> {
        match target {
            Target::Record(file) => Ok(*file),
            Target::Id(id) => {
                self.open_store()?.get(&id).await.js()?.ok_or_else(|| {
                    js_error(ErrorKind::NotFound, op, format!("no media with id {id}"))
                })
            }
        }
    }

    async fn upload(&self, request: UploadRequest) -> napi::Result<MediaFile> {
        let file = self.open_store()?.upload(request).await.js()?;
        Ok(MediaFile::from(&file))
    }
}

#[napi]
impl NativeManager {
    /// Store the file at `path` on every store.
    #[napi]
    pub async fn upload_path(
        &self,
        path: String,
        options: Option<MediaUploadOptions>,
    ) -> napi::Result<MediaFile> {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(js_error(
                ErrorKind::NotFound,
                Operation::Upload,
                format!("{}: no such file", path.display()),
            ));
        }
        self.upload(upload_request(UploadRequest::path(path), options)?)
            .await
    }

    /// Store `bytes` on every store.
    #[napi]
    pub async fn upload_buffer(
        &self,
        bytes: Buffer,
        options: Option<MediaUploadOptions>,
    ) -> napi::Result<MediaFile> {
        let bytes = bytes::Bytes::copy_from_slice(&bytes);
        let name = options
            .as_ref()
            .and_then(|o| o.name.clone())
            .unwrap_or_else(|| "upload".to_owned());
        self.upload(upload_request(UploadRequest::bytes(name, bytes), options)?)
            .await
    }

    /// Start an upload written chunk by chunk (from a JavaScript stream).
    #[napi]
    pub async fn begin_upload(
        &self,
        options: Option<MediaUploadOptions>,
    ) -> napi::Result<MediaUpload> {
        let name = options
            .as_ref()
            .and_then(|o| o.name.clone())
            .unwrap_or_else(|| "upload".to_owned());
        let idle = match options.as_ref().and_then(|o| o.idle_timeout) {
            Some(ms) => millis(ms, "idleTimeout", Operation::Upload)?,
            None => DEFAULT_IDLE_TIMEOUT,
        };
        let store = self.open_store()?;
        let token = self.token.child_token();
        let (input, reader) = channel_input(token.clone(), idle);
        let request = upload_request(UploadRequest::reader(name, reader), options)?;
        let handle = store.upload(request);
        Ok(MediaUpload::new(input, handle, token))
    }

    /// Open a verified read of `target` (a record's JSON or a media id; `id`, when given, is
    /// the id the caller holds the record under, and must be the record's).
    #[napi]
    pub async fn open_download(
        &self,
        target: String,
        options: Option<MediaDownloadOptions>,
        id: Option<String>,
    ) -> napi::Result<MediaDownload> {
        let op = Operation::Download;
        let options = options.unwrap_or_default();
        let store = self.open_store()?;
        let deadline = options
            .deadline
            .map(|ms| millis(ms, "deadline", op))
            .transpose()?;
        let token = self.token.child_token();
        let target = self::target(&target, id.as_deref(), op)?;
        if let (Target::Record(file), Some(reference)) = (&target, &options.reference) {
            // Whole public reads verify against the id alone; ranges and private media check
            // chunks, whose list the sender's reference vouches for.
            if options.identity.is_some() || !byte_range(&options)?.is_full() {
                let reference: MediaRef = reference.parse().js()?;
                store.import_ref(file, &reference).await.js()?;
            }
        }
        if let Some(text) = &options.identity {
            let identity = Identity::from_file_text(text)
                .map_err(|e| invalid(op, format!("identity: {e}")))?;
            let id = match target {
                Target::Record(file) => {
                    // A peer's private record: catalogued (checked like any import) so the
                    // engine can find its age header.
                    if store.get(&file.id).await.js()?.is_none() {
                        store.import(&file).await.js()?;
                    }
                    file.id
                }
                Target::Id(id) => id,
            };
            let stream = store
                .open_private(&id, byte_range(&options)?, &identity)
                .await
                .js()?;
            return Ok(MediaDownload::new(
                stream.boxed(),
                None,
                token,
                deadline,
                &self.open_reads,
            ));
        }
        let file = self.record(target, op).await?;
        let reader = store.open_file(&file, read_options(&options)?).await.js()?;
        let length = reader.len();
        Ok(MediaDownload::new(
            reader.boxed(),
            Some(length),
            token,
            deadline,
            &self.open_reads,
        ))
    }

    /// Read `target` into the file at `path` (written beside it, renamed when verified):
    /// the number of bytes written.
    #[napi]
    pub async fn download_to_file(
        &self,
        target: String,
        path: String,
        options: Option<MediaDownloadOptions>,
        id: Option<String>,
    ) -> napi::Result<f64> {
        let op = Operation::Download;
        let options = options.unwrap_or_default();
        if options.identity.is_some() {
            return Err(invalid(
                op,
                "private media: read it with a stream (downloadMedia or createReadStream)",
            ));
        }
        let file = self
            .record(self::target(&target, id.as_deref(), op)?, op)
            .await?;
        let reader = self
            .open_store()?
            .open_file(&file, read_options(&options)?)
            .await
            .js()?;
        let token = self.token.child_token();
        let deadline = options
            .deadline
            .map(|ms| millis(ms, "deadline", op))
            .transpose()?
            .unwrap_or(Duration::MAX);
        let write = reader.write_to(std::path::Path::new(&path));
        let written = tokio::select! {
            _ = token.cancelled() => return Err(js_error(
                ErrorKind::Cancelled,
                op,
                "cancelled: the manager was destroyed",
            )),
            done = tokio::time::timeout(deadline, write) => done.map_err(|_| {
                js_error(ErrorKind::Timeout, op, "the read passed its deadline")
            })?,
        };
        Ok(written.js()? as f64)
    }

    /// The record of `id`, if this manager's catalog has it.
    #[napi]
    pub async fn get(&self, id: String) -> napi::Result<Option<MediaFile>> {
        let id: MediaId = id
            .parse()
            .map_err(|e| invalid(Operation::Catalog, format!("not a media id: {e}")))?;
        Ok(self
            .open_store()?
            .get(&id)
            .await
            .js()?
            .map(|f| MediaFile::from(&f)))
    }

    /// Every record in the catalog, in id order.
    #[napi]
    pub async fn list(&self) -> napi::Result<Vec<MediaFile>> {
        Ok(self
            .open_store()?
            .list()
            .await
            .js()?
            .iter()
            .map(MediaFile::from)
            .collect())
    }

    /// Add a peer's record (its `record` JSON) to the catalog, checked for consistency and
    /// against the safety policy.
    #[napi]
    pub async fn import_media(
        &self,
        record: String,
        id: Option<String>,
    ) -> napi::Result<MediaFile> {
        let op = Operation::Catalog;
        let Target::Record(file) = self::target(&record, id.as_deref(), op)? else {
            return Err(invalid(op, "importMedia takes a MediaFile (its record)"));
        };
        self.open_store()?.import(&file).await.js()?;
        Ok(MediaFile::from(file.as_ref()))
    }

    /// Delete `target` (a media id, or a record's JSON with `id` the id the caller holds it
    /// under) from every store this node holds it on and from the catalog: the stores
    /// cleared. What is removed is decided by the id and this node's own index, never by
    /// the record.
    #[napi]
    pub async fn delete(&self, target: String, id: Option<String>) -> napi::Result<Vec<String>> {
        let op = Operation::Delete;
        let id = match self::target(&target, id.as_deref(), op)? {
            Target::Record(file) => file.id,
            Target::Id(id) => id,
        };
        self.open_store()?.delete(&id).await.js()
    }

    /// The counters and what the catalog holds.
    #[napi]
    pub async fn stats(&self) -> napi::Result<MediaStorageStats> {
        let store = self.open_store()?;
        let mut counts = CatalogCounts::default();
        let mut after = None;
        loop {
            let page = store
                .list_page(after.as_ref(), media_facade::MAX_PAGE)
                .await
                .js()?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            page.iter().for_each(|f| counts.add(f));
        }
        Ok(shapes::stats(store.stats(), counts, store.cached_bytes()))
    }

    /// Ask every store whether it answers.
    #[napi]
    pub async fn health(&self) -> napi::Result<Vec<StoreHealth>> {
        Ok(self
            .open_store()?
            .health()
            .await
            .into_iter()
            .map(|(store, result)| StoreHealth {
                store,
                ok: result.is_ok(),
                error: result.err().map(|e| e.to_string()),
            })
            .collect())
    }

    /// The node's endpoints (S3 server, IPFS gateway, Blossom, ...).
    #[napi]
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.endpoints
            .iter()
            .map(|(name, url)| Endpoint {
                name: name.clone(),
                url: url.clone(),
            })
            .collect()
    }

    /// Deliver every engine event to `callback` (replacing an earlier one), called with the
    /// event alone. Like an open server, a subscribed manager keeps the process alive until
    /// `close()`.
    #[napi]
    pub async fn subscribe(
        &self,
        callback: ThreadsafeFunction<
            MediaEvent,
            UnknownReturnValue,
            MediaEvent,
            napi::Status,
            false,
        >,
    ) -> napi::Result<()> {
        let mut events = self.open_store()?.subscribe();
        let callback = Arc::new(callback);
        let task = tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match events.recv().await {
                    Ok(event) => {
                        callback.call(
                            MediaEvent::from(&event),
                            ThreadsafeFunctionCallMode::NonBlocking,
                        );
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::debug!(missed = n, "events dropped for a slow listener");
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
        let old = self
            .events
            .lock()
            .map_err(|_| js_error(ErrorKind::Internal, Operation::Configure, "poisoned"))?
            .replace(task);
        if let Some(old) = old {
            old.abort();
        }
        Ok(())
    }

    /// Stop every store and release the data directory. Idempotent.
    #[napi]
    pub async fn close(&self) -> napi::Result<()> {
        if let Ok(mut events) = self.events.lock() {
            if let Some(task) = events.take() {
                task.abort();
            }
        }
        let store = self.store.write().ok().and_then(|mut s| s.take());
        // Every running transfer ends now: reads drop their streams, stream uploads fail.
        self.token.cancel();
        self.open_reads.drop_all().await;
        if let Some(store) = store {
            // Let the cancelled uploads finish failing (bounded) before the stores stop.
            let until = tokio::time::Instant::now() + Duration::from_secs(10);
            while store.stats().active_operations > 0 && tokio::time::Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if let Some(stack) = self.stack.lock().await.take() {
            stack.shutdown().await;
        }
        Ok(())
    }
}
