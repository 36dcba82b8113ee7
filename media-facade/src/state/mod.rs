//! The state every operation of one [`crate::MediaStore`] shares: the catalog, the anchors
//! (which chunk lists are proven), the ownership index (what this node stored, for whom: the
//! only source of what a delete removes), the verified chunk cache, in-flight uploads and
//! statistics.

pub(crate) mod anchors;
pub(crate) mod cache;
pub(crate) mod catalog;
pub(crate) mod inflight;
pub(crate) mod ownership;
pub(crate) mod stats;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use media_core::{
    Backend, Candidate, Catalog, ErrorKind, MediaEvent, MediaFile, MediaId, OperationId, Result,
    ThroughputTable, Thumbnailer,
};
use tokio::sync::broadcast;
use tracing::{debug, warn};

use crate::settings::Settings;
use crate::state::anchors::Anchors;
use crate::state::cache::ChunkCache;
use crate::state::inflight::InFlight;
use crate::state::ownership::Ownership;
use crate::state::stats::Stats;

/// Uploads hashed at once.
const INGEST_SLOTS: usize = 2;
/// Images decoded for thumbnails at once.
const DECODE_SLOTS: usize = 1;

pub(crate) struct Inner {
    pub data_dir: PathBuf,
    pub staging: PathBuf,
    pub backends: Vec<Arc<dyn Backend>>,
    pub catalog: Arc<dyn Catalog>,
    pub shared_catalog: Option<Arc<dyn Catalog>>,
    pub anchors: Anchors,
    /// What this node stored, and for whom: the only source of what a delete removes.
    pub ownership: Ownership,
    /// Verified chunks read before, if the cache is on.
    pub cache: Option<Arc<ChunkCache>>,
    pub thumbnailer: Option<Arc<dyn Thumbnailer>>,
    /// The node-wide settings, declared once in [`Settings`].
    pub settings: Settings,
    events: broadcast::Sender<MediaEvent>,
    pub stats: Stats,
    pub throughput: Mutex<ThroughputTable>,
    pub uploads: InFlight<MediaFile>,
    /// Bounds concurrent ingests (hashing, staging).
    pub ingest_slots: tokio::sync::Semaphore,
    /// Bounds concurrent image decodes for thumbnails.
    pub decode_slots: tokio::sync::Semaphore,
    /// The denylist, tombstones and reports: what may not be stored or served here.
    pub safety: crate::safety::Safety,
    /// Resumable upload sessions (tus, the IETF draft).
    pub sessions: crate::upload::sessions::Sessions,
    next_op: AtomicU64,
}

/// What [`Inner::new`] takes from the builder.
pub(crate) struct Parts {
    pub data_dir: PathBuf,
    pub staging: PathBuf,
    pub backends: Vec<Arc<dyn Backend>>,
    pub catalog: Arc<dyn Catalog>,
    pub shared_catalog: Option<Arc<dyn Catalog>>,
    pub anchors: Anchors,
    /// What this node stored, and for whom: the only source of what a delete removes.
    pub ownership: Ownership,
    /// Verified chunks read before, if the cache is on.
    pub cache: Option<Arc<ChunkCache>>,
    pub thumbnailer: Option<Arc<dyn Thumbnailer>>,
    /// The node-wide settings, declared once in [`Settings`].
    pub settings: Settings,
    pub safety: crate::safety::Safety,
    pub sessions: crate::upload::sessions::Sessions,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stats.save(true);
    }
}

impl Inner {
    pub fn new(p: Parts) -> Self {
        let (events, _) = broadcast::channel(p.settings.event_capacity);
        let stats = Stats::persistent(p.data_dir.join("stats.json"));
        Inner {
            data_dir: p.data_dir,
            staging: p.staging,
            backends: p.backends,
            catalog: p.catalog,
            shared_catalog: p.shared_catalog,
            anchors: p.anchors,
            ownership: p.ownership,
            cache: p.cache,
            thumbnailer: p.thumbnailer,
            settings: p.settings,
            events,
            stats,
            throughput: Mutex::new(ThroughputTable::new()),
            uploads: InFlight::default(),
            ingest_slots: tokio::sync::Semaphore::new(INGEST_SLOTS),
            decode_slots: tokio::sync::Semaphore::new(DECODE_SLOTS),
            safety: p.safety,
            sessions: p.sessions,
            next_op: AtomicU64::new(1),
        }
    }

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
            Ok(Some(file)) if self.safety.listed(&file).is_some() => {
                debug!(%id, "the shared catalog's record names media refused here");
                Ok(None)
            }
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

    /// Publish an event. Statistics are counted here, from the event, and nowhere else.
    pub fn emit(&self, event: MediaEvent) {
        debug!(?event, "media event");
        self.stats.record(&event);
        // No subscriber is fine.
        let _ = self.events.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<MediaEvent> {
        self.events.subscribe()
    }

    pub fn next_op(&self) -> OperationId {
        OperationId(self.next_op.fetch_add(1, Ordering::Relaxed))
    }

    pub fn candidate(backend: &dyn Backend) -> Candidate {
        Candidate::new(backend.name(), backend.kind()).with_p2p(backend.capabilities().peer_to_peer)
    }

    pub fn candidates(&self, indices: &[usize]) -> Vec<Candidate> {
        indices
            .iter()
            .map(|&i| Self::candidate(self.backends[i].as_ref()))
            .collect()
    }
}
