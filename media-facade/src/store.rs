//! [`MediaStore`]: composes backends with policies.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use media_core::{
    Backend, Candidate, Catalog, DownloadPolicy, ErrorKind, MediaError, MediaEvent, MediaFile,
    MediaId, Operation, OperationId, PreferP2p, Progress, Result, StagedBlob, ThroughputTable,
    Thumbnail, Thumbnailer, Timestamp, UploadPolicy, UploadToAll,
};
use tokio::sync::broadcast;
use tracing::{debug, info, warn};

use crate::catalog::RedbCatalog;
use crate::handle::UploadHandle;
use crate::inflight::{InFlight, Joined};
use crate::ingest::{clean_name, ingest, UploadRequest};
use crate::stats::{add, bump, Stats, StatsSnapshot};

/// Emit an upload progress event at most every this many bytes per backend.
const PROGRESS_STEP: u64 = 4 << 20;

/// Builds a [`MediaStore`] with sane defaults: a `redb` catalog in the data directory, upload to
/// every backend requiring one success, P2P-first downloads.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> media_core::Result<()> {
/// use std::sync::Arc;
/// use media_core::{testing::MemoryBackend, BackendKind, PreferCdn};
/// use media_facade::{MediaStore, UploadRequest};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = MediaStore::builder(dir.path())
///     .backend(Arc::new(MemoryBackend::new("cdn", BackendKind::Cdn)))
///     .backend(Arc::new(MemoryBackend::new("ipfs", BackendKind::Ipfs)))
///     .download_policy(PreferCdn::default())
///     .build()
///     .await?;
/// let file = store.upload(UploadRequest::bytes("hi.txt", &b"hi"[..])).await?;
/// assert_eq!(file.locations.len(), 2);
/// assert_eq!(store.read_all(&file.id).await?, b"hi"[..]);
/// # Ok(()) }
/// ```
#[must_use]
pub struct MediaStoreBuilder {
    data_dir: PathBuf,
    backends: Vec<Arc<dyn Backend>>,
    catalog: Option<Arc<dyn Catalog>>,
    upload_policy: Arc<dyn UploadPolicy>,
    download_policy: Arc<dyn DownloadPolicy>,
    max_size: Option<u64>,
    event_capacity: usize,
    expiry_sweep: Option<Duration>,
    thumbnailer: Option<Arc<dyn Thumbnailer>>,
    shared_catalog: Option<Arc<dyn Catalog>>,
}

impl MediaStoreBuilder {
    /// Add a backend. Names must be unique.
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backends.push(backend);
        self
    }

    /// Use this catalog instead of the `redb` file in the data directory.
    pub fn catalog(mut self, catalog: Arc<dyn Catalog>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Where uploads go and how many must succeed.
    pub fn upload_policy(mut self, policy: impl UploadPolicy + 'static) -> Self {
        self.upload_policy = Arc::new(policy);
        self
    }

    /// The order downloads try backends in.
    pub fn download_policy(mut self, policy: impl DownloadPolicy + 'static) -> Self {
        self.download_policy = Arc::new(policy);
        self
    }

    /// The order downloads try backends in, as a shared policy value.
    pub fn download_policy_arc(mut self, policy: Arc<dyn DownloadPolicy>) -> Self {
        self.download_policy = policy;
        self
    }

    /// Refuse uploads larger than `bytes`.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// Events buffered per subscriber before slow subscribers miss some (default 1024).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// Make inline thumbnails at upload with this thumbnailer. With the `thumb` feature the
    /// default is `media_thumb::MediaThumbnailer` (256 px WebP); without it, none.
    pub fn thumbnailer(mut self, thumbnailer: Arc<dyn Thumbnailer>) -> Self {
        self.thumbnailer = Some(thumbnailer);
        self
    }

    /// A catalog shared with other nodes (e.g. `media_cdn::S3Catalog`, the records next to the
    /// objects in the bucket): every stored record is published there too, and ids missing
    /// from the local catalog are resolved through it.
    pub fn shared_catalog(mut self, catalog: Arc<dyn Catalog>) -> Self {
        self.shared_catalog = Some(catalog);
        self
    }

    /// Make no thumbnails.
    pub fn without_thumbnails(mut self) -> Self {
        self.thumbnailer = None;
        self
    }

    /// Remove expired media every `interval` in the background.
    pub fn expiry_sweep(mut self, interval: Duration) -> Self {
        self.expiry_sweep = Some(interval);
        self
    }

    /// Create the data directory layout, open the catalog and start background tasks.
    pub async fn build(self) -> Result<MediaStore> {
        if self.backends.is_empty() {
            return Err(MediaError::invalid_input(
                Operation::Configure,
                "a media store needs at least one backend",
            ));
        }
        let mut names = HashSet::new();
        for b in &self.backends {
            if !names.insert(b.name().to_owned()) {
                return Err(MediaError::invalid_input(
                    Operation::Configure,
                    format!("two backends are named {:?}", b.name()),
                ));
            }
        }
        let staging = self.data_dir.join("staging");
        std::fs::create_dir_all(&staging)
            .map_err(|e| MediaError::io(Operation::Configure, "creating data directory", e))?;
        clear_staging(&staging);
        let catalog = match self.catalog {
            Some(c) => c,
            None => Arc::new(RedbCatalog::open(self.data_dir.join("catalog.redb"))?),
        };
        let (events, _) = broadcast::channel(self.event_capacity);
        let inner = Arc::new(Inner {
            data_dir: self.data_dir,
            staging,
            backends: self.backends,
            catalog,
            upload_policy: self.upload_policy,
            download_policy: self.download_policy,
            max_size: self.max_size,
            events,
            stats: Stats::default(),
            throughput: Mutex::new(ThroughputTable::new()),
            uploads: InFlight::default(),
            next_op: AtomicU64::new(1),
            thumbnailer: self.thumbnailer,
            shared_catalog: self.shared_catalog,
        });
        if let Some(interval) = self.expiry_sweep {
            spawn_expiry_sweeper(Arc::downgrade(&inner), interval);
        }
        Ok(MediaStore { inner })
    }
}

/// Staged files left by a crash belong to no record: remove them.
fn clear_staging(staging: &Path) {
    if let Ok(entries) = std::fs::read_dir(staging) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn spawn_expiry_sweeper(inner: std::sync::Weak<Inner>, interval: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(inner) = inner.upgrade() else { break };
            if let Err(e) = (MediaStore { inner }).purge_expired().await {
                warn!(error = %e, "expiry sweep failed");
            }
        }
    });
}

pub(crate) struct Inner {
    pub data_dir: PathBuf,
    pub staging: PathBuf,
    pub backends: Vec<Arc<dyn Backend>>,
    pub catalog: Arc<dyn Catalog>,
    pub upload_policy: Arc<dyn UploadPolicy>,
    pub download_policy: Arc<dyn DownloadPolicy>,
    pub max_size: Option<u64>,
    pub events: broadcast::Sender<MediaEvent>,
    pub stats: Stats,
    pub throughput: Mutex<ThroughputTable>,
    uploads: InFlight<MediaFile>,
    next_op: AtomicU64,
    thumbnailer: Option<Arc<dyn Thumbnailer>>,
    shared_catalog: Option<Arc<dyn Catalog>>,
}

impl Inner {
    /// The record of `id` from the local catalog, else from the shared one (then remembered
    /// locally, if it is self-consistent).
    pub async fn resolve(&self, id: &MediaId) -> Result<Option<MediaFile>> {
        if let Some(file) = self.catalog.get(id).await? {
            return Ok(Some(file));
        }
        let Some(shared) = &self.shared_catalog else {
            return Ok(None);
        };
        match shared.get(id).await {
            Ok(Some(file)) if file.id == *id && file.is_consistent() => {
                self.catalog.put(&file).await?;
                Ok(Some(file))
            }
            Ok(Some(_)) => {
                warn!(%id, "shared catalog returned an inconsistent record; ignored");
                Ok(None)
            }
            Ok(None) => Ok(None),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn emit(&self, event: MediaEvent) {
        debug!(?event, "media event");
        // No subscriber is fine.
        let _ = self.events.send(event);
    }

    pub fn next_op(&self) -> OperationId {
        OperationId(self.next_op.fetch_add(1, Ordering::Relaxed))
    }

    pub fn candidates(&self, indices: &[usize]) -> Vec<Candidate> {
        indices
            .iter()
            .map(|&i| Candidate::new(self.backends[i].name(), self.backends[i].kind()))
            .collect()
    }
}

/// The media store: uploads to every backend in parallel, downloads with fallback and
/// verification, dedup, events, statistics, expiry and a durable catalog.
///
/// Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct MediaStore {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaStore")
            .field("data_dir", &self.inner.data_dir)
            .field(
                "backends",
                &self
                    .inner
                    .backends
                    .iter()
                    .map(|b| b.name())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl MediaStore {
    /// A builder storing local state under `data_dir`.
    pub fn builder(data_dir: impl Into<PathBuf>) -> MediaStoreBuilder {
        MediaStoreBuilder {
            data_dir: data_dir.into(),
            backends: Vec::new(),
            catalog: None,
            upload_policy: Arc::new(UploadToAll::default()),
            download_policy: Arc::new(PreferP2p::default()),
            max_size: None,
            event_capacity: 1024,
            expiry_sweep: None,
            thumbnailer: default_thumbnailer(),
            shared_catalog: None,
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The backends, in registration order.
    pub fn backends(&self) -> &[Arc<dyn Backend>] {
        &self.inner.backends
    }

    /// Subscribe to every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<MediaEvent> {
        self.inner.events.subscribe()
    }

    /// Current statistics.
    pub fn stats(&self) -> StatsSnapshot {
        let table = self
            .inner
            .throughput
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default();
        self.inner.stats.snapshot(|name| table.rate(name))
    }

    /// Start an upload. The returned handle can be awaited for the [`MediaFile`] or polled for
    /// this upload's events.
    pub fn upload(&self, request: UploadRequest) -> UploadHandle {
        let op = self.inner.next_op();
        let events = self.inner.events.subscribe();
        let inner = Arc::clone(&self.inner);
        let task = tokio::spawn(async move { upload(inner, op, request).await });
        UploadHandle::new(op, events, task)
    }

    /// The record of `id`, if catalogued (expired records included).
    pub async fn get(&self, id: &MediaId) -> Result<Option<MediaFile>> {
        self.inner.resolve(id).await
    }

    /// The thumbnail of `id`, checked against the digest in its record. `NotFound` when the
    /// id is unknown or has no thumbnail; `Integrity` when the bytes do not match.
    pub async fn thumbnail(&self, id: &MediaId) -> Result<Thumbnail> {
        let file = self.inner.catalog.get(id).await?.ok_or_else(|| {
            MediaError::not_found(Operation::Thumbnail, format!("no media with id {id}"))
        })?;
        let thumb = file.thumbnail.ok_or_else(|| {
            MediaError::not_found(Operation::Thumbnail, format!("media {id} has no thumbnail"))
        })?;
        if !thumb.verify() {
            return Err(MediaError::new(
                ErrorKind::Integrity,
                Operation::Thumbnail,
                format!("the thumbnail of {id} does not match its SHA-256"),
            ));
        }
        Ok(thumb)
    }

    /// Every catalogued record.
    pub async fn list(&self) -> Result<Vec<MediaFile>> {
        self.inner.catalog.list().await
    }

    /// Remember a record received from a peer, after checking it is self-consistent, so its
    /// media can be downloaded by id.
    pub async fn import(&self, file: &MediaFile) -> Result<()> {
        if !file.is_consistent() {
            return Err(MediaError::invalid_input(
                Operation::Catalog,
                format!("record {} is inconsistent (digest count or id)", file.id),
            ));
        }
        self.inner.catalog.put(file).await
    }

    /// Delete media from every backend that can delete and from the catalog. Returns the
    /// names of the backends it was removed from; errors if the id is unknown.
    pub async fn delete(&self, id: &MediaId) -> Result<Vec<String>> {
        let file = self.inner.catalog.get(id).await?.ok_or_else(|| {
            MediaError::not_found(Operation::Delete, format!("no media with id {id}"))
        })?;
        let removed = self.remove_everywhere(&file).await?;
        bump(&self.inner.stats.deleted);
        self.inner.emit(MediaEvent::Deleted {
            id: *id,
            backends: removed.clone(),
        });
        Ok(removed)
    }

    async fn remove_everywhere(&self, file: &MediaFile) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        let mut failures = Vec::new();
        for backend in &self.inner.backends {
            let Some(location) = file.location(backend.kind()) else {
                continue;
            };
            if !backend.capabilities().delete {
                continue;
            }
            match backend.delete(location).await {
                Ok(()) => removed.push(backend.name().to_owned()),
                Err(e) if e.kind == ErrorKind::NotFound => removed.push(backend.name().to_owned()),
                Err(e) => failures.push(e),
            }
        }
        if let Some(first) = failures.into_iter().next() {
            // Keep the record so the delete can be retried; nothing is orphaned.
            return Err(first);
        }
        self.inner.catalog.delete(&file.id).await?;
        Ok(removed)
    }

    /// Remove every record whose `expires_at` has passed, from the stores and the catalog.
    /// Returns the ids removed.
    pub async fn purge_expired(&self) -> Result<Vec<MediaId>> {
        let now = Timestamp::now();
        let mut purged = Vec::new();
        for file in self.inner.catalog.list().await? {
            if !file.is_expired_at(now) {
                continue;
            }
            match self.remove_everywhere(&file).await {
                Ok(_) => {
                    bump(&self.inner.stats.expired);
                    self.inner.emit(MediaEvent::Expired { id: file.id });
                    purged.push(file.id);
                }
                Err(e) => warn!(id = %file.id, error = %e, "could not remove expired media"),
            }
        }
        Ok(purged)
    }

    /// Check every backend; returns each backend's name with its result.
    pub async fn health(&self) -> Vec<(String, Result<()>)> {
        let checks = self
            .inner
            .backends
            .iter()
            .map(|b| async move { (b.name().to_owned(), b.health().await) });
        join_all(checks).await
    }
}

async fn upload(inner: Arc<Inner>, op: OperationId, request: UploadRequest) -> Result<MediaFile> {
    let _active = inner.stats.active();
    bump(&inner.stats.uploads_started);
    let result = upload_steps(&inner, op, request).await;
    match &result {
        Ok(_) => bump(&inner.stats.uploads_completed),
        Err(e) => {
            bump(&inner.stats.uploads_failed);
            inner.emit(MediaEvent::UploadFailed {
                op,
                error: e.summary(),
            });
        }
    }
    result
}

async fn upload_steps(
    inner: &Arc<Inner>,
    op: OperationId,
    request: UploadRequest,
) -> Result<MediaFile> {
    let name = clean_name(&request.name);
    if let Some(at) = request.expires_at {
        if at <= Timestamp::now() {
            return Err(MediaError::invalid_input(
                Operation::Upload,
                "expires_at is in the past",
            ));
        }
    }
    inner.emit(MediaEvent::UploadStarted {
        op,
        name: name.clone(),
    });
    let part = inner.staging.join(format!("{}.part", op.0));
    let ingested = ingest(request.input, &name, part, inner.max_size).await?;
    let id = ingested.digests.id();
    add(&inner.stats.bytes_uploaded, ingested.digests.size);
    inner.emit(MediaEvent::Ingested {
        op,
        id,
        size: ingested.digests.size,
    });
    info!(%id, size = ingested.digests.size, %name, "ingested");

    let mime = request
        .mime
        .unwrap_or_else(|| ingested.sniffed_mime.to_owned());
    let part_path = ingested.path.clone();
    let catalog = Arc::clone(&inner.catalog);
    let existing = async move {
        Ok(catalog
            .get(&id)
            .await?
            .filter(|f| !f.is_expired_at(Timestamp::now())))
    };
    let store_inner = Arc::clone(inner);
    let expires_at = request.expires_at;
    let start =
        async move { store_everywhere(&store_inner, op, ingested, name, mime, expires_at).await };
    let (result, joined) = inner.uploads.run(id, existing, start).await;
    if joined != Joined::Led {
        let _ = std::fs::remove_file(&part_path);
        if result.is_ok() {
            bump(&inner.stats.deduplicated);
        }
    }
    let file = result?;
    inner.emit(MediaEvent::UploadFinished {
        op,
        id,
        stored: backends_holding(inner, &file),
        deduplicated: joined != Joined::Led,
    });
    Ok(file)
}

fn backends_holding(inner: &Inner, file: &MediaFile) -> Vec<String> {
    inner
        .backends
        .iter()
        .filter(|b| file.location(b.kind()).is_some())
        .map(|b| b.name().to_owned())
        .collect()
}

/// Put the staged blob on every backend of the upload plan, then record it.
async fn store_everywhere(
    inner: &Arc<Inner>,
    op: OperationId,
    ingested: crate::ingest::Ingested,
    name: String,
    mime: String,
    expires_at: Option<Timestamp>,
) -> Result<MediaFile> {
    let digests = Arc::new(ingested.digests);
    let id = digests.id();
    let staged_path = inner.staging.join(id.to_string());
    std::fs::rename(&ingested.path, &staged_path)
        .map_err(|e| MediaError::io(Operation::Upload, "moving staged file", e))?;
    let blob = StagedBlob::new(&staged_path, &name, &mime, Arc::clone(&digests));

    let all: Vec<usize> = (0..inner.backends.len()).collect();
    let plan = inner.upload_policy.plan(&inner.candidates(&all));
    let puts = plan.targets.iter().map(|&i| {
        let backend = Arc::clone(&inner.backends[i]);
        let progress = progress_events(inner, op, id, backend.name(), digests.size);
        let blob = &blob;
        async move {
            // Each store's outcome is reported the moment it is known, not when the slowest
            // store is done, so a caller following events sees the fast stores land first.
            let bname = backend.name().to_owned();
            let result = backend
                .put(blob, progress)
                .await
                .map_err(|e| e.or_backend(&bname));
            let event = match &result {
                Ok(location) => {
                    inner.stats.backend(&bname, |s| s.puts_ok += 1);
                    MediaEvent::Stored {
                        op,
                        id,
                        backend: bname,
                        location: location.clone(),
                    }
                }
                Err(e) => {
                    warn!(%id, backend = %bname, error = %e, "store failed");
                    inner.stats.backend(&bname, |s| s.puts_failed += 1);
                    MediaEvent::StoreFailed {
                        op,
                        id,
                        backend: bname,
                        error: e.summary(),
                    }
                }
            };
            inner.emit(event);
            (backend, result)
        }
    });
    let (results, thumbnail) =
        futures::join!(join_all(puts), make_thumbnail(inner, &staged_path, &mime));

    let mut record = MediaFile::new(&name, &mime, &digests, Timestamp::now());
    record.expires_at = expires_at;
    record.thumbnail = thumbnail;
    let mut failures = Vec::new();
    let mut stored = Vec::new();
    for (backend, result) in results {
        match result {
            Ok(location) => {
                if record.location(location.kind()).is_none() {
                    record.locations.push(location.clone());
                }
                stored.push((backend, location));
            }
            Err(e) => failures.push(e),
        }
    }

    let outcome = if stored.len() < plan.required {
        let detail: Vec<String> = failures.iter().map(ToString::to_string).collect();
        // Undo partial stores so a failed upload leaves nothing behind.
        for (backend, location) in &stored {
            if backend.capabilities().delete {
                let _ = backend.delete(location).await;
            }
        }
        let retryable = failures.iter().any(MediaError::is_retryable);
        Err(MediaError::new(
            ErrorKind::PolicyUnsatisfied,
            Operation::Upload,
            format!(
                "{} of {} stores succeeded, {} required: {}",
                stored.len(),
                plan.targets.len(),
                plan.required,
                detail.join("; ")
            ),
        )
        .with_retryable(retryable))
    } else {
        let stored = inner.catalog.put(&record).await.map(|()| record);
        if let (Ok(record), Some(shared)) = (&stored, &inner.shared_catalog) {
            // Best effort: the media is stored; other nodes just cannot resolve it by id yet.
            if let Err(e) = shared.put(record).await {
                warn!(%id, error = %e, "could not publish the record to the shared catalog");
            }
        }
        stored
    };
    let _ = std::fs::remove_file(&staged_path);
    outcome
}

#[cfg(feature = "thumb")]
fn default_thumbnailer() -> Option<Arc<dyn Thumbnailer>> {
    Some(Arc::new(media_thumb::MediaThumbnailer::default()))
}

#[cfg(not(feature = "thumb"))]
fn default_thumbnailer() -> Option<Arc<dyn Thumbnailer>> {
    None
}

/// The inline thumbnail of a staged file, made on a blocking thread while the stores upload.
/// A thumbnail that cannot be made never fails the upload.
async fn make_thumbnail(inner: &Inner, staged: &Path, mime: &str) -> Option<Thumbnail> {
    let thumbnailer = Arc::clone(inner.thumbnailer.as_ref()?);
    let (path, mime) = (staged.to_path_buf(), mime.to_owned());
    let made = tokio::task::spawn_blocking(move || thumbnailer.thumbnail(&path, &mime)).await;
    match made {
        Ok(Ok(thumb)) => thumb,
        Ok(Err(e)) => {
            warn!(path = %staged.display(), error = %e, "no thumbnail");
            None
        }
        Err(e) => {
            warn!(error = %e, "thumbnail task failed");
            None
        }
    }
}

/// A progress sink that turns a backend's byte counts into throttled events.
fn progress_events(
    inner: &Arc<Inner>,
    op: OperationId,
    id: MediaId,
    backend: &str,
    total: u64,
) -> Progress {
    let events = inner.events.clone();
    let backend = backend.to_owned();
    let last = AtomicU64::new(0);
    Progress::new(move |bytes| {
        let prev = last.load(Ordering::Relaxed);
        if bytes >= total || bytes >= prev + PROGRESS_STEP {
            last.store(bytes, Ordering::Relaxed);
            let _ = events.send(MediaEvent::UploadProgress {
                op,
                id,
                backend: backend.clone(),
                bytes,
                total,
            });
        }
    })
}
