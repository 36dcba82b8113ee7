//! Shared helpers for the facade tests.
#![allow(dead_code)]

use std::sync::Arc;

use media_core::testing::FaultyBackend;
use media_core::{Backend, BackendKind, DownloadPolicy, MediaEvent, MemoryCatalog, CHUNK_SIZE};
use media_facade::{MediaStore, MediaStoreBuilder};
use tokio::sync::broadcast;

pub const MIB: u64 = CHUNK_SIZE;

/// Deterministic bytes whose chunks all differ.
pub fn data(len: u64, seed: u64) -> Vec<u8> {
    media_core::sample_bytes(len, seed)
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub cdn: Arc<FaultyBackend>,
    pub ipfs: Arc<FaultyBackend>,
    pub torrent: Arc<FaultyBackend>,
    pub store: MediaStore,
}

pub fn three_backends() -> (Arc<FaultyBackend>, Arc<FaultyBackend>, Arc<FaultyBackend>) {
    (
        Arc::new(FaultyBackend::memory("cdn", BackendKind::CDN)),
        Arc::new(FaultyBackend::memory("ipfs", BackendKind::IPFS)),
        Arc::new(FaultyBackend::memory("torrent", BackendKind::TORRENT)),
    )
}

pub fn builder_with(dir: &tempfile::TempDir, backends: &[Arc<FaultyBackend>]) -> MediaStoreBuilder {
    let mut b = MediaStore::builder(dir.path()).catalog(Arc::new(MemoryCatalog::new()));
    for backend in backends {
        b = b.backend(Arc::clone(backend) as Arc<dyn Backend>);
    }
    b
}

/// cdn, ipfs, torrent registered in that order, with `policy`.
pub async fn fixture(policy: impl DownloadPolicy + 'static) -> Fixture {
    fixture_with_timeout(policy, media_core::DEFAULT_ATTEMPT_TIMEOUT).await
}

/// Like [`fixture`], giving up on a store after `attempt_timeout` without bytes.
pub async fn fixture_with_timeout(
    policy: impl DownloadPolicy + 'static,
    attempt_timeout: std::time::Duration,
) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (cdn, ipfs, torrent) = three_backends();
    let store = builder_with(&dir, &[cdn.clone(), ipfs.clone(), torrent.clone()])
        .download_policy(policy)
        .attempt_timeout(attempt_timeout)
        .build()
        .await
        .unwrap();
    Fixture {
        dir,
        cdn,
        ipfs,
        torrent,
        store,
    }
}

/// Everything received so far without waiting.
pub fn drain(rx: &mut broadcast::Receiver<MediaEvent>) -> Vec<MediaEvent> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

pub fn gets(backends: &[&Arc<FaultyBackend>]) -> Vec<u64> {
    backends.iter().map(|b| b.gets()).collect()
}
