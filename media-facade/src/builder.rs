//! [`MediaStoreBuilder`]: a [`MediaStore`] with sane defaults.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[allow(unused_imports)] // DEFAULT_ATTEMPT_TIMEOUT and PreferP2p are named by the docs.
use media_core::{
    Backend, Catalog, DownloadPolicy, MediaError, Operation, PreferP2p, Result, Thumbnailer,
    UploadPolicy, DEFAULT_ATTEMPT_TIMEOUT,
};

use crate::settings::Settings;
pub use crate::settings::DEFAULT_MAX_UPLOAD;
use tracing::warn;

use crate::state::catalog::RedbCatalog;
use crate::state::{Inner, Parts};
use crate::upload::PutLimits;
use crate::MediaStore;

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
///     .backend(Arc::new(MemoryBackend::new("cdn", BackendKind::CDN)))
///     .backend(Arc::new(MemoryBackend::new("ipfs", BackendKind::IPFS)))
///     .download_policy(PreferCdn)
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
    thumbnailer: Option<Arc<dyn Thumbnailer>>,
    shared_catalog: Option<Arc<dyn Catalog>>,
    settings: Settings,
}

impl MediaStoreBuilder {
    /// Keep verified chunks that were read in an on-disk cache under `<data_dir>/cache`,
    /// bounded by `max_bytes` (least recently used evicted first; 0 turns it off, the
    /// builder's default). A second read of the same media makes no network request and
    /// reads with every store down. [`crate::StackConfig`] turns it on with
    /// [`crate::DEFAULT_CACHE_BYTES`].
    pub fn cache_size(mut self, max_bytes: u64) -> Self {
        self.settings.cache_bytes = Some(max_bytes);
        self
    }

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
        self.settings.upload_policy = Arc::new(policy);
        self
    }

    /// The order downloads try backends in (default [`PreferP2p`]).
    pub fn download_policy(mut self, policy: impl DownloadPolicy + 'static) -> Self {
        self.settings.download_policy = Arc::new(policy);
        self
    }

    /// The order downloads try backends in, as a shared policy value.
    pub fn download_policy_arc(mut self, policy: Arc<dyn DownloadPolicy>) -> Self {
        self.settings.download_policy = policy;
        self
    }

    /// Give up on one store during a download after it sent nothing for `timeout` (default
    /// [`DEFAULT_ATTEMPT_TIMEOUT`]); [`crate::ReadOptions::attempt_timeout`] overrides it per read.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.settings.attempt_timeout = timeout;
        self
    }

    /// Deadlines of each store's put, and how long an upload that already has enough stores
    /// waits for the others (see [`PutLimits`]).
    pub fn put_limits(mut self, limits: PutLimits) -> Self {
        self.settings.put_limits = limits;
        self
    }

    /// Refuse uploads larger than `bytes` (default [`DEFAULT_MAX_UPLOAD`], 4 GiB;
    /// `u64::MAX` for no limit).
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.settings.max_size = Some(bytes);
        self
    }

    /// What uploads do with metadata in photos and videos (default
    /// [`MetadataPolicy::Strip`](media_privacy::MetadataPolicy::Strip): removed losslessly
    /// before any store receives a byte). An upload can choose otherwise
    /// ([`UploadRequest::with_metadata_policy`](crate::UploadRequest::with_metadata_policy)).
    pub fn metadata_policy(mut self, policy: media_privacy::MetadataPolicy) -> Self {
        self.settings.metadata_policy = policy;
        self
    }

    /// Whether MP4/MOV uploads whose index follows their samples are remuxed so playback
    /// starts at once (default on; per upload:
    /// [`UploadRequest::with_faststart`](crate::UploadRequest::with_faststart)).
    pub fn faststart(mut self, remux: bool) -> Self {
        self.settings.faststart = remux;
        self
    }

    /// The least the store named `store` accepts, whatever an upload asks: with `Strip` it
    /// gets only media that carries no metadata once the upload's own policy ran (an upload
    /// under `keep` that has EXIF skips it), with `Reject` only media without a location.
    /// An upload no store accepts fails with `InvalidInput` naming the stores.
    pub fn store_metadata_policy(
        mut self,
        store: impl Into<String>,
        policy: media_privacy::MetadataPolicy,
    ) -> Self {
        self.settings.store_metadata.insert(store.into(), policy);
        self
    }

    /// Consent to peer-to-peer (default [`P2pMode::On`](crate::P2pMode::On)): with `Off`, no
    /// store that declares `peer_to_peer` is read or written; with `Download`, they are read
    /// but uploads skip them. Private media skips them unless an upload asks
    /// ([`UploadRequest::share_p2p`](crate::UploadRequest::share_p2p)).
    pub fn p2p(mut self, mode: crate::P2pMode) -> Self {
        self.settings.p2p = mode;
        self
    }

    /// Events buffered per subscriber before slow subscribers miss some (default 1024).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.settings.event_capacity = capacity.max(1);
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

    /// Bounds of resumable uploads (tus and the IETF draft): open sessions, staged bytes,
    /// expiry of abandoned sessions, how long a request may send nothing (see
    /// [`crate::ResumableLimits`] for the defaults).
    pub fn resumable_limits(mut self, limits: crate::upload::sessions::ResumableLimits) -> Self {
        self.settings.resumable = limits;
        self
    }

    /// Refuse media this denylist names at every way in, and take down stored media when an
    /// entry is added: `path` holds `sha256:<hex>` and `pdq:<hex>` lines (see
    /// [`media_safety::Denylist::parse`]), read again when the file changes; a picture
    /// matches a PDQ entry within `distance` bits ([`media_safety::DEFAULT_DISTANCE`] is 31).
    /// The store does not build when the file cannot be read or parsed.
    pub fn denylist(mut self, path: impl Into<PathBuf>, distance: u32) -> Self {
        self.settings.denylist = Some((path.into(), distance));
        self
    }

    /// Remove expired media every `interval` in the background.
    pub fn expiry_sweep(mut self, interval: Duration) -> Self {
        self.settings.expiry_sweep = Some(interval);
        self
    }

    /// Create the data directory layout, open the catalog and start background tasks.
    pub async fn build(self) -> Result<MediaStore> {
        self.build_checked(true).await
    }

    pub(crate) async fn build_checked(self, need_backend: bool) -> Result<MediaStore> {
        if need_backend && self.backends.is_empty() {
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
        // The data directory and staging are the owner's alone: staged uploads are the
        // plaintext of private media until they are encrypted.
        let staging = self.data_dir.join("staging");
        media_core::create_private_dir(&self.data_dir)
            .and_then(|()| media_core::create_private_dir(&staging))
            .map_err(|e| MediaError::io(Operation::Configure, "creating data directory", e))?;
        clear_staging(&staging);
        let catalog = match self.catalog {
            Some(c) => c,
            // A store just dropped on the same folder may hold the file a moment longer.
            None => Arc::new(
                RedbCatalog::open_waiting(
                    self.data_dir.join("catalog.redb"),
                    Duration::from_secs(2),
                )
                .await?,
            ),
        };
        let anchors = crate::state::anchors::Anchors::open(self.data_dir.join("anchors"))?;
        let ownership = crate::state::ownership::Ownership::open(self.data_dir.join("owned"))?;
        let cache = match self.settings.cache_bytes {
            Some(max) if max > 0 => Some(Arc::new(crate::state::cache::ChunkCache::open(
                self.data_dir.join("cache"),
                max,
            )?)),
            _ => None,
        };
        let denylist = match &self.settings.denylist {
            Some((path, distance)) => Some(Arc::new(
                media_safety::WatchedDenylist::open(path, *distance)
                    .map_err(|e| MediaError::invalid_input(Operation::Configure, e.to_string()))?,
            )),
            None => None,
        };
        let safety = crate::safety::Safety {
            denylist,
            tombstones: crate::safety::tombstones::Tombstones::open(
                self.data_dir.join("tombstones"),
            )?,
            reports: crate::safety::reports::Reports::open(self.data_dir.join("reports"))?,
        };
        let sessions = crate::upload::sessions::Sessions::open(
            self.data_dir.join("uploads"),
            self.settings.resumable.clone(),
        )?;
        let inner = Arc::new(Inner::new(Parts {
            sessions,
            data_dir: self.data_dir,
            staging,
            backends: self.backends,
            catalog,
            shared_catalog: self.shared_catalog,
            anchors,
            ownership,
            cache,
            thumbnailer: self.thumbnailer,
            settings: self.settings,
            safety,
        }));
        if let Some(interval) = inner.settings.expiry_sweep {
            spawn_expiry_sweeper(Arc::downgrade(&inner), interval);
        }
        // What was taken down before a restart stays refused by every store.
        for tombstone in inner.safety.tombstones.list() {
            for backend in &inner.backends {
                backend.refuse(&tombstone.id);
            }
        }
        if need_backend {
            crate::safety::takedown::spawn_safety_watch(Arc::downgrade(&inner));
            crate::upload::sessions::spawn_session_sweeper(Arc::downgrade(&inner));
        }
        Ok(MediaStore::from_inner(inner))
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
            if let Err(e) = MediaStore::from_inner(inner).purge_expired().await {
                warn!(error = %e, "expiry sweep failed");
            }
        }
    });
}

impl MediaStoreBuilder {
    pub(crate) fn new(data_dir: PathBuf) -> Self {
        MediaStoreBuilder {
            data_dir,
            backends: Vec::new(),
            catalog: None,
            thumbnailer: default_thumbnailer(),
            shared_catalog: None,
            settings: Settings::default(),
        }
    }
}

#[cfg(feature = "thumb")]
fn default_thumbnailer() -> Option<Arc<dyn Thumbnailer>> {
    Some(Arc::new(media_thumb::MediaThumbnailer::default()))
}

#[cfg(not(feature = "thumb"))]
fn default_thumbnailer() -> Option<Arc<dyn Thumbnailer>> {
    None
}
