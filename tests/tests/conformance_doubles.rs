//! The conformance suite passes against the test doubles (keeps the suite itself honest).

use std::sync::Arc;

use media_core::conformance::{run_all, Suite};
use media_core::testing::{test_location, DirBackend, MemoryBackend};
use media_core::{BackendKind, Capabilities, MediaId};

#[tokio::test]
async fn memory_backend_passes() {
    let backend = Arc::new(MemoryBackend::new("mem", BackendKind::CDN));
    let missing = test_location(
        BackendKind::CDN,
        "mem",
        &MediaId::for_bytes(b"never stored"),
    );
    run_all(&Suite::new(backend, missing)).await;
}

#[tokio::test]
async fn memory_backend_without_ranges_or_delete_passes() {
    let caps = Capabilities::full()
        .with_range_reads(false)
        .with_delete(false);
    let backend = Arc::new(MemoryBackend::new("mem", BackendKind::TORRENT).with_capabilities(caps));
    let missing = test_location(BackendKind::TORRENT, "mem", &MediaId::for_bytes(b"never"));
    run_all(&Suite::new(backend, missing)).await;
}

#[tokio::test]
async fn dir_backend_passes() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(DirBackend::new("dir", BackendKind::IPFS, dir.path()).unwrap());
    let missing = test_location(BackendKind::IPFS, "dir", &MediaId::for_bytes(b"never"));
    run_all(&Suite::new(backend, missing)).await;
}
