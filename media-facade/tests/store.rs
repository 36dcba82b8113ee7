//! MediaStore behaviour with in-memory and fault-injecting backends: uploads, policies,
//! fallback, verification, dedup, events, statistics, expiry and delete.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use media_core::testing::{FaultyBackend, MemoryBackend};
use media_core::{
    Backend, BackendKind, ByteRange, Capabilities, Digests, ErrorKind, Fastest, Hedge, MediaEvent,
    MediaId, PreferCdn, PreferP2p, UploadToAll,
};
use media_facade::{MediaStore, ReadOptions, UploadRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_stores_on_every_backend_with_digests_and_events() {
    let f = fixture(PreferP2p).await;
    let mut events = f.store.subscribe();
    let bytes = data(3 * MIB + 512 * 1024, 1);
    let file = f
        .store
        .upload(UploadRequest::bytes("clip.mp4", bytes.clone()))
        .await
        .unwrap();

    let expected = Digests::of_bytes(&bytes);
    assert_eq!(file.id, MediaId::for_bytes(&bytes));
    assert_eq!(file.sha256, expected.sha256);
    assert_eq!(file.blake3, expected.blake3);
    assert_eq!(file.chunks, expected.chunks);
    assert_eq!(file.chunks.len(), 4);
    assert_eq!(file.size, bytes.len() as u64);
    assert_eq!(file.name, "clip.mp4");
    assert_eq!(file.locations.len(), 3);
    assert!(file.cdn_url().is_some() && file.cid().is_some() && file.magnet().is_some());
    for b in [&f.cdn, &f.ipfs, &f.torrent] {
        assert_eq!(b.puts(), 1, "{} put count", b.name());
    }
    assert_eq!(f.store.get(&file.id).await.unwrap(), Some(file.clone()));
    assert_eq!(f.store.read_all(&file.id).await.unwrap(), bytes);

    let events = drain(&mut events);
    assert!(
        matches!(events.first(), Some(MediaEvent::UploadStarted { name, .. }) if name == "clip.mp4")
    );
    assert!(events.iter().any(|e| matches!(e, MediaEvent::Ingested { id, size, .. } if *id == file.id && *size == bytes.len() as u64)));
    let stored: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Stored { backend, .. } => Some(backend.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(stored.len(), 3);
    assert!(events.iter().any(|e| matches!(e, MediaEvent::UploadFinished { deduplicated: false, stored, .. } if stored.len() == 3)));
    let stats = f.store.stats();
    assert_eq!(stats.uploads_completed, 1);
    assert_eq!(stats.bytes_uploaded, bytes.len() as u64);
    assert_eq!(stats.backends["cdn"].puts_ok, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_store_is_reported_as_it_lands_not_when_the_slowest_is_done() {
    let f = fixture(PreferP2p).await;
    f.cdn
        .set_faults(|x| x.put_delay = Some(Duration::from_secs(2)));
    let bytes = data(MIB + 3, 21);
    let id = MediaId::for_bytes(&bytes);
    let mut handle = f.store.upload(UploadRequest::bytes("late-cdn.bin", bytes));
    let mut landed = Vec::new();
    while let Some(event) = handle.next_event().await {
        if let MediaEvent::Stored { backend, .. } = event {
            landed.push(backend);
            if landed.len() == 2 {
                break;
            }
        }
    }
    landed.sort();
    assert_eq!(landed, ["ipfs", "torrent"]);
    // The CDN is still storing: the upload has not finished, so no record exists yet.
    assert_eq!(f.store.get(&id).await.unwrap(), None);
    let file = handle.await.unwrap();
    assert_eq!(file.locations.len(), 3);
    assert_eq!(f.store.get(&id).await.unwrap(), Some(file));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_is_reported_and_the_minimum_decides() {
    let f = fixture(PreferP2p).await;
    f.torrent
        .set_faults(|x| x.fail_put = Some(ErrorKind::Unavailable));
    let mut events = f.store.subscribe();
    let file = f
        .store
        .upload(UploadRequest::bytes("a.bin", data(1000, 2)))
        .await
        .unwrap();
    assert_eq!(file.locations.len(), 2);
    assert!(file.magnet().is_none());
    let events = drain(&mut events);
    assert!(events.iter().any(
        |e| matches!(e, MediaEvent::StoreFailed { backend, error, .. }
        if backend == "torrent" && error.kind == ErrorKind::Unavailable && error.retryable)
    ));
    assert_eq!(f.store.stats().backends["torrent"].puts_failed, 1);

    // Requiring every store: the upload fails, names the store, and leaves nothing behind.
    let dir = tempfile::tempdir().unwrap();
    let (cdn, ipfs, torrent) = three_backends();
    torrent.set_faults(|x| x.fail_put = Some(ErrorKind::Unavailable));
    let store = builder_with(&dir, &[cdn.clone(), ipfs.clone(), torrent.clone()])
        .upload_policy(UploadToAll::all_required())
        .build()
        .await
        .unwrap();
    let bytes = data(5000, 3);
    let err = store
        .upload(UploadRequest::bytes("b.bin", bytes.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::PolicyUnsatisfied);
    assert!(err.is_retryable());
    assert!(err.message.contains("torrent"), "{err}");
    assert!(store
        .get(&MediaId::for_bytes(&bytes))
        .await
        .unwrap()
        .is_none());
    // The two stores that succeeded were cleaned up.
    let probe =
        media_core::testing::test_location(BackendKind::CDN, "cdn", &MediaId::for_bytes(&bytes));
    let gone = cdn
        .get(&probe, ByteRange::full())
        .await
        .err()
        .map(|e| e.kind);
    assert_eq!(gone, Some(ErrorKind::NotFound));
    assert_eq!(store.stats().uploads_failed, 1);
    assert_eq!(
        std::fs::read_dir(dir.path().join("staging"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_ask_backends_in_their_order() {
    let f = fixture(PreferP2p).await;
    let bytes = data(2 * MIB + 3, 4);
    let file = f
        .store
        .upload(UploadRequest::bytes("x", bytes.clone()))
        .await
        .unwrap();

    // P2P first: ipfs is the first P2P backend registered.
    assert_eq!(f.store.read_all(&file.id).await.unwrap(), bytes);
    assert_eq!(gets(&[&f.cdn, &f.ipfs, &f.torrent]), [0, 1, 0]);

    let cdn_first = ReadOptions::new().policy(PreferCdn);
    let got = f
        .store
        .open_with(&file.id, cdn_first)
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(got, bytes);
    assert_eq!(gets(&[&f.cdn, &f.ipfs, &f.torrent]), [1, 1, 0]);

    // One backend alone.
    let only = ReadOptions::new().only_backend("torrent");
    let got = f
        .store
        .open_with(&file.id, only)
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(got, bytes);
    assert_eq!(gets(&[&f.cdn, &f.ipfs, &f.torrent]), [1, 1, 1]);

    let err = f
        .store
        .open_with(&file.id, ReadOptions::new().only_backend("nope"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_on_error_names_both_backends() {
    let f = fixture(PreferP2p).await;
    let bytes = data(MIB + 10, 5);
    let file = f
        .store
        .upload(UploadRequest::bytes("x", bytes.clone()))
        .await
        .unwrap();
    f.ipfs
        .set_faults(|x| x.fail_get = Some(ErrorKind::Unavailable));
    let mut events = f.store.subscribe();
    assert_eq!(f.store.read_all(&file.id).await.unwrap(), bytes);
    assert_eq!(gets(&[&f.cdn, &f.ipfs, &f.torrent]), [0, 1, 1]);
    let events = drain(&mut events);
    assert!(events.iter().any(
        |e| matches!(e, MediaEvent::Fallback { from, to: Some(to), reason, .. }
        if from == "ipfs" && to == "torrent" && reason.kind == ErrorKind::Unavailable)
    ));
    assert!(events.iter().any(
        |e| matches!(e, MediaEvent::Verified { backends, bytes: n, .. }
        if backends == &["torrent".to_owned()] && *n == bytes.len() as u64)
    ));
    let stats = f.store.stats();
    assert_eq!(stats.fallbacks, 1);
    assert_eq!(stats.downloads_completed, 1);
    assert_eq!(stats.backends["ipfs"].gets_failed, 1);
    assert_eq!(stats.backends["torrent"].bytes_served, bytes.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_backend_times_out_and_falls_back() {
    let f = fixture_with_timeout(PreferP2p, Duration::from_millis(200)).await;
    let bytes = data(MIB / 2, 6);
    let file = f
        .store
        .upload(UploadRequest::bytes("x", bytes.clone()))
        .await
        .unwrap();
    f.ipfs.set_faults(|x| x.stall = true);
    let mut events = f.store.subscribe();
    assert_eq!(f.store.read_all(&file.id).await.unwrap(), bytes);
    let events = drain(&mut events);
    assert!(events
        .iter()
        .any(|e| matches!(e, MediaEvent::Fallback { from, reason, .. }
        if from == "ipfs" && reason.kind == ErrorKind::Timeout)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corruption_is_caught_and_the_next_backend_resumes_at_the_bad_chunk() {
    let f = fixture(PreferP2p).await;
    let bytes = data(5 * MIB + 123, 7);
    let file = f
        .store
        .upload(UploadRequest::bytes("x", bytes.clone()))
        .await
        .unwrap();
    f.ipfs.set_faults(|x| x.corrupt_at = Some(2 * MIB + 5));
    let mut events = f.store.subscribe();
    assert_eq!(f.store.read_all(&file.id).await.unwrap(), bytes);

    assert_eq!(
        f.ipfs.requested_ranges(),
        [ByteRange::new(0, bytes.len() as u64)]
    );
    // Chunks 0 and 1 were verified from ipfs; torrent was asked from chunk 2 on, not byte 0.
    assert_eq!(
        f.torrent.requested_ranges(),
        [ByteRange::new(2 * MIB, bytes.len() as u64)]
    );
    let events = drain(&mut events);
    assert!(events.iter().any(
        |e| matches!(e, MediaEvent::IntegrityFailure { backend, chunk: 2, .. } if backend == "ipfs")
    ));
    assert!(events
        .iter()
        .any(|e| matches!(e, MediaEvent::Verified { backends, .. }
        if backends == &["ipfs".to_owned(), "torrent".to_owned()])));
    let stats = f.store.stats();
    assert_eq!(stats.integrity_failures, 1);
    assert_eq!(stats.backends["ipfs"].integrity_failures, 1);
    assert_eq!(stats.backends["ipfs"].bytes_served, 2 * MIB);
    assert_eq!(
        stats.backends["torrent"].bytes_served,
        bytes.len() as u64 - 2 * MIB
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_dying_mid_stream_or_truncating_is_resumed_elsewhere() {
    let f = fixture(PreferP2p).await;
    let bytes = data(4 * MIB + 9, 8);
    let file = f
        .store
        .upload(UploadRequest::bytes("x", bytes.clone()))
        .await
        .unwrap();
    f.ipfs.set_faults(|x| x.die_at = Some(3 * MIB + 7));
    f.torrent
        .set_faults(|x| x.truncate_at = Some(3 * MIB + 100_000));
    assert_eq!(f.store.read_all(&file.id).await.unwrap(), bytes);
    assert_eq!(
        f.torrent.requested_ranges(),
        [ByteRange::new(3 * MIB, bytes.len() as u64)]
    );
    // torrent delivered nothing verifiable from chunk 3 (truncated inside it): cdn resumes there.
    assert_eq!(
        f.cdn.requested_ranges(),
        [ByteRange::new(3 * MIB, bytes.len() as u64)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_backend_fails_the_reader_gets_a_typed_error() {
    let f = fixture(PreferP2p).await;
    let bytes = data(MIB + 1, 9);
    let file = f
        .store
        .upload(UploadRequest::bytes("x", bytes.clone()))
        .await
        .unwrap();
    for b in [&f.cdn, &f.ipfs, &f.torrent] {
        b.set_faults(|x| x.corrupt_at = Some(MIB));
    }
    let mut events = f.store.subscribe();
    let reader = f.store.open(&file.id, ByteRange::full()).await.unwrap();
    let err = reader.read_to_end().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity);
    assert!(!err.is_retryable());
    // Each fallback resumed at chunk 1, the first unverified one.
    assert_eq!(f.torrent.requested_ranges(), [ByteRange::new(MIB, MIB + 1)]);
    assert_eq!(f.cdn.requested_ranges(), [ByteRange::new(MIB, MIB + 1)]);
    let events = drain(&mut events);
    assert!(events.iter().any(|e| matches!(e, MediaEvent::DownloadFailed { error, .. } if error.kind == ErrorKind::Integrity)));
    assert_eq!(f.store.stats().downloads_failed, 1);
    assert_eq!(f.store.stats().integrity_failures, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_reads_are_verified_chunk_aligned_and_fall_back() {
    let f = fixture(PreferP2p).await;
    let bytes = data(4 * MIB, 10);
    let file = f
        .store
        .upload(UploadRequest::bytes("x", bytes.clone()))
        .await
        .unwrap();
    let (a, b) = (MIB - 5, 2 * MIB + 5);
    let got = f
        .store
        .open(&file.id, ByteRange::new(a, b))
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(got, &bytes[a as usize..b as usize]);
    assert_eq!(f.ipfs.requested_ranges(), [ByteRange::new(0, 3 * MIB)]);

    f.ipfs.set_faults(|x| x.corrupt_at = Some(2 * MIB + 1));
    let got = f
        .store
        .open(&file.id, ByteRange::new(a, b))
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(got, &bytes[a as usize..b as usize]);
    assert_eq!(
        f.torrent.requested_ranges(),
        [ByteRange::new(2 * MIB, 3 * MIB)]
    );

    let err = f
        .store
        .open(&file.id, ByteRange::new(0, 4 * MIB + 1))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    let empty = f.store.open(&file.id, ByteRange::new(7, 7)).await.unwrap();
    assert!(empty.is_empty());
    assert!(empty.read_to_end().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_without_range_reads_still_serve_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let caps = Capabilities::full().with_range_reads(false);
    let plain = Arc::new(FaultyBackend::new(Arc::new(
        MemoryBackend::new("torrent", BackendKind::TORRENT).with_capabilities(caps),
    )));
    let store = builder_with(&dir, std::slice::from_ref(&plain))
        .build()
        .await
        .unwrap();
    let bytes = data(3 * MIB + 77, 11);
    let file = store
        .upload(UploadRequest::bytes("x", bytes.clone()))
        .await
        .unwrap();
    let got = store
        .open(&file.id, ByteRange::from(2 * MIB + 1))
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(got, &bytes[(2 * MIB + 1) as usize..]);
    let got = store
        .open(&file.id, ByteRange::new(5, 10))
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(got, &bytes[5..10]);
    assert_eq!(
        plain.requested_ranges(),
        [ByteRange::full(), ByteRange::full()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hedged_reads_ask_the_next_store_when_the_first_is_slow() {
    let f = fixture(Hedge::new(PreferP2p, Duration::from_millis(50))).await;
    let bytes = data(2 * MIB, 12);
    let file = f
        .store
        .upload(UploadRequest::bytes("x", bytes.clone()))
        .await
        .unwrap();

    // Fast primary: the hedge is never sent.
    assert_eq!(f.store.read_all(&file.id).await.unwrap(), bytes);
    assert_eq!(gets(&[&f.cdn, &f.ipfs, &f.torrent]), [0, 1, 0]);

    // Slow primary: the hedge goes to torrent, which wins.
    f.ipfs
        .set_faults(|x| x.first_byte_delay = Some(Duration::from_secs(5)));
    let mut events = f.store.subscribe();
    assert_eq!(f.store.read_all(&file.id).await.unwrap(), bytes);
    assert_eq!(gets(&[&f.cdn, &f.ipfs, &f.torrent]), [0, 2, 1]);
    let events = drain(&mut events);
    assert!(events.iter().any(|e| matches!(e, MediaEvent::Verified { backends, .. } if backends == &["torrent".to_owned()])));
    // The losing attempt is dropped, not reported as a failure.
    assert!(!events
        .iter()
        .any(|e| matches!(e, MediaEvent::Fallback { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hedged_reads_survive_a_failing_primary() {
    let f = fixture(Hedge::new(PreferP2p, Duration::from_millis(30))).await;
    let bytes = data(MIB + 5, 13);
    let file = f
        .store
        .upload(UploadRequest::bytes("x", bytes.clone()))
        .await
        .unwrap();
    f.ipfs
        .set_faults(|x| x.fail_get = Some(ErrorKind::Unavailable));
    f.torrent
        .set_faults(|x| x.first_byte_delay = Some(Duration::from_millis(100)));
    assert_eq!(f.store.read_all(&file.id).await.unwrap(), bytes);
    assert_eq!(gets(&[&f.cdn, &f.ipfs, &f.torrent]), [0, 1, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fastest_learns_from_observed_throughput() {
    let f = fixture(Fastest).await;
    let bytes = data(2 * MIB, 14);
    let file = f
        .store
        .upload(UploadRequest::bytes("x", bytes.clone()))
        .await
        .unwrap();
    f.ipfs
        .set_faults(|x| x.piece_delay = Some(Duration::from_millis(15)));
    f.torrent
        .set_faults(|x| x.piece_delay = Some(Duration::from_millis(15)));
    // Unmeasured backends are explored first, one download each (P2P order).
    for _ in 0..3 {
        assert_eq!(f.store.read_all(&file.id).await.unwrap(), bytes);
    }
    assert_eq!(gets(&[&f.cdn, &f.ipfs, &f.torrent]), [1, 1, 1]);
    // Now cdn, the fastest, is chosen every time.
    for _ in 0..3 {
        assert_eq!(f.store.read_all(&file.id).await.unwrap(), bytes);
    }
    assert_eq!(gets(&[&f.cdn, &f.ipfs, &f.torrent]), [4, 1, 1]);
    let stats = f.store.stats();
    let rate = |n: &str| stats.backends[n].throughput.unwrap();
    assert!(rate("cdn") > rate("ipfs") && rate("cdn") > rate("torrent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_bytes_are_stored_once() {
    let f = fixture(PreferP2p).await;
    let bytes = data(300_000, 15);
    let first = f
        .store
        .upload(UploadRequest::bytes("a.jpg", bytes.clone()))
        .await
        .unwrap();
    let mut handle = f
        .store
        .upload(UploadRequest::bytes("renamed.jpg", bytes.clone()));
    let mut dedup_event = false;
    while let Some(e) = handle.next_event().await {
        dedup_event |= matches!(
            e,
            MediaEvent::UploadFinished {
                deduplicated: true,
                ..
            }
        );
    }
    let second = handle.await.unwrap();
    assert!(dedup_event);
    assert_eq!(first, second);
    for b in [&f.cdn, &f.ipfs, &f.torrent] {
        assert_eq!(b.puts(), 1);
    }
    assert_eq!(f.store.stats().deduplicated, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_uploads_of_the_same_bytes_share_one_put_per_backend() {
    let f = fixture(PreferP2p).await;
    for b in [&f.cdn, &f.ipfs, &f.torrent] {
        b.set_faults(|x| x.put_delay = Some(Duration::from_millis(300)));
    }
    let bytes = bytes::Bytes::from(data(2 * MIB + 1, 16));
    let handles: Vec<_> = (0..50)
        .map(|i| {
            f.store
                .upload(UploadRequest::bytes(format!("copy-{i}"), bytes.clone()))
        })
        .collect();
    let results = futures::future::join_all(handles.into_iter().map(|h| h.finish())).await;
    let id = MediaId::for_bytes(&bytes);
    for r in &results {
        assert_eq!(r.as_ref().unwrap().id, id);
    }
    for b in [&f.cdn, &f.ipfs, &f.torrent] {
        assert_eq!(b.puts(), 1, "{} was asked more than once", b.name());
    }
    let stats = f.store.stats();
    assert_eq!(stats.deduplicated, 49);
    assert_eq!(stats.uploads_completed, 50);
    assert_eq!(stats.active_operations, 0);
    assert_eq!(
        std::fs::read_dir(f.dir.path().join("staging"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(f.store.list().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_media_is_refused_and_purged_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let cdn = Arc::new(MemoryBackend::new("cdn", BackendKind::CDN));
    let ipfs = Arc::new(MemoryBackend::new("ipfs", BackendKind::IPFS));
    let store = MediaStore::builder(dir.path())
        .backend(cdn.clone())
        .backend(ipfs.clone())
        .expiry_sweep(Duration::from_millis(100))
        .build()
        .await
        .unwrap();
    let keep = store
        .upload(UploadRequest::bytes("keep", data(10, 17)))
        .await
        .unwrap();
    let mut events = store.subscribe();
    let file = store
        .upload(UploadRequest::bytes("x", data(1000, 17)).expires_in(Duration::from_millis(200)))
        .await
        .unwrap();
    assert_eq!(cdn.len(), 2);
    tokio::time::sleep(Duration::from_millis(250)).await;
    // Whether or not the sweeper ran yet, the media is gone for readers.
    let err = store.read_all(&file.id).await.unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::Expired | ErrorKind::NotFound),
        "{err}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        store.get(&file.id).await.unwrap().is_none(),
        "sweeper did not purge"
    );
    assert_eq!((cdn.len(), ipfs.len()), (1, 1));
    assert!(drain(&mut events)
        .iter()
        .any(|e| matches!(e, MediaEvent::Expired { id } if *id == file.id)));
    assert_eq!(store.stats().expired, 1);
    assert_eq!(store.read_all(&keep.id).await.unwrap(), data(10, 17));

    let err = store
        .upload(UploadRequest::bytes("late", data(5, 1)).expires_at(media_core::Timestamp(1)))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_expired_on_demand() {
    let f = fixture(PreferP2p).await;
    let file = f
        .store
        .upload(UploadRequest::bytes("x", data(10, 18)).expires_in(Duration::from_millis(50)))
        .await
        .unwrap();
    assert!(f.store.purge_expired().await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(f.store.purge_expired().await.unwrap(), [file.id]);
    assert_eq!(
        f.cdn
            .counts()
            .deletes
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_from_every_store_and_the_catalog() {
    let f = fixture(PreferP2p).await;
    let file = f
        .store
        .upload(UploadRequest::bytes("x", data(2000, 19)))
        .await
        .unwrap();
    let mut events = f.store.subscribe();
    let removed = f.store.delete(&file.id).await.unwrap();
    assert_eq!(removed, ["cdn", "ipfs", "torrent"]);
    assert!(f.store.get(&file.id).await.unwrap().is_none());
    assert_eq!(
        f.store.read_all(&file.id).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        f.store.delete(&file.id).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert!(drain(&mut events)
        .iter()
        .any(|e| matches!(e, MediaEvent::Deleted { backends, .. } if backends.len() == 3)));
    // The bytes are gone from the stores, not just the catalog.
    let err = f
        .store
        .open_file(&file, ReadOptions::new())
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_and_one_byte_files_round_trip() {
    let f = fixture(PreferP2p).await;
    for bytes in [Vec::new(), vec![42u8]] {
        let file = f
            .store
            .upload(UploadRequest::bytes("tiny", bytes.clone()))
            .await
            .unwrap();
        assert_eq!(file.id, MediaId::for_bytes(&bytes));
        assert_eq!(file.chunks.len(), 1);
        assert_eq!(f.store.read_all(&file.id).await.unwrap(), bytes);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_typed_errors_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (cdn, ipfs, torrent) = three_backends();
    let store = builder_with(&dir, &[cdn.clone(), ipfs.clone(), torrent.clone()])
        .max_size(MIB)
        .build()
        .await
        .unwrap();
    let missing = store
        .upload(UploadRequest::path(dir.path().join("nope.jpg")))
        .await
        .unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound);
    let folder = store
        .upload(UploadRequest::path(dir.path()))
        .await
        .unwrap_err();
    assert_eq!(folder.kind, ErrorKind::InvalidInput);
    let big = store
        .upload(UploadRequest::bytes("big", data(MIB + 1, 1)))
        .await
        .unwrap_err();
    assert_eq!(big.kind, ErrorKind::InvalidInput);
    assert!(big.message.contains("limit"), "{big}");
    assert_eq!(cdn.puts(), 0);
    assert_eq!(
        std::fs::read_dir(dir.path().join("staging"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(store.stats().uploads_failed, 3);

    let unknown = MediaId::for_bytes(b"unknown");
    assert_eq!(
        store.read_all(&unknown).await.unwrap_err().kind,
        ErrorKind::NotFound
    );

    // A record from a peer whose digests do not add up is refused.
    let file = store
        .upload(UploadRequest::bytes("ok", data(100, 2)))
        .await
        .unwrap();
    let mut forged = file.clone();
    forged.size += media_core::CHUNK_SIZE;
    assert_eq!(
        store
            .open_file(&forged, ReadOptions::new())
            .await
            .unwrap_err()
            .kind,
        ErrorKind::InvalidInput
    );
    assert_eq!(
        store.import(&forged).await.unwrap_err().kind,
        ErrorKind::InvalidInput
    );

    // Odd names are kept for display, cleaned of control characters.
    let odd = store
        .upload(UploadRequest::bytes("../a\n\u{7}b.jpg", data(3, 3)))
        .await
        .unwrap();
    assert_eq!(odd.name, "../a__b.jpg");

    let err = MediaStore::builder(dir.path()).build().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    let err = builder_with(&dir, &[cdn.clone(), cdn.clone()])
        .build()
        .await
        .unwrap_err();
    assert!(err.message.contains("two backends"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_from_files_and_readers_and_progress_events() {
    let f = fixture(PreferP2p).await;
    let bytes = data(9 * MIB + 3, 20);
    let path = f.dir.path().join("video.mp4");
    std::fs::write(&path, &bytes).unwrap();
    let mut handle = f.store.upload(UploadRequest::path(&path));
    let mut seen = Vec::new();
    while let Some(e) = handle.next_event().await {
        seen.push(e);
    }
    let file = handle.await.unwrap();
    assert_eq!(file.name, "video.mp4");
    assert_eq!(file.mime, "video/mp4");
    assert!(seen
        .iter()
        .any(|e| matches!(e, MediaEvent::UploadProgress { bytes: b, total, .. } if *b == *total)));
    assert!(seen.last().unwrap().is_terminal());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "input must not be modified"
    );

    let reader = tokio::io::BufReader::new(std::io::Cursor::new(data(MIB + 17, 21)));
    let file = f
        .store
        .upload(UploadRequest::reader("pipe.bin", reader))
        .await
        .unwrap();
    assert_eq!(file.id, MediaId::for_bytes(&data(MIB + 17, 21)));
    let out = f.dir.path().join("out.bin");
    let n = f
        .store
        .open(&file.id, ByteRange::full())
        .await
        .unwrap()
        .write_to(&out)
        .await
        .unwrap();
    assert_eq!(n, MIB + 17);
    assert_eq!(std::fs::read(&out).unwrap(), data(MIB + 17, 21));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_downloads_from_the_record_alone() {
    let f = fixture(PreferCdn).await;
    let bytes = data(2 * MIB + 9, 22);
    let file = f
        .store
        .upload(UploadRequest::bytes("shared.jpg", bytes.clone()))
        .await
        .unwrap();
    // Node B shares the stores but not the catalog; it gets the record as JSON from a peer.
    let json = serde_json::to_string(&file).unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let node_b = builder_with(&dir_b, &[f.cdn.clone(), f.ipfs.clone(), f.torrent.clone()])
        .build()
        .await
        .unwrap();
    let record: media_core::MediaFile = serde_json::from_str(&json).unwrap();
    let got = node_b
        .open_file(&record, ReadOptions::new())
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(got, bytes);
    node_b.import(&record).await.unwrap();
    assert_eq!(node_b.read_all(&record.id).await.unwrap(), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_catalog_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(MemoryBackend::new("cdn", BackendKind::CDN));
    let bytes = data(MIB + 1, 23);
    let id = {
        let store = MediaStore::builder(dir.path())
            .backend(backend.clone())
            .build()
            .await
            .unwrap();
        store
            .upload(UploadRequest::bytes("x", bytes.clone()))
            .await
            .unwrap()
            .id
    };
    let store = MediaStore::builder(dir.path())
        .backend(backend.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(store.read_all(&id).await.unwrap(), bytes);
    assert_eq!(store.list().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_reader_stops_the_download() {
    let f = fixture(PreferP2p).await;
    let bytes = data(8 * MIB, 24);
    let file = f
        .store
        .upload(UploadRequest::bytes("x", bytes.clone()))
        .await
        .unwrap();
    let mut reader = f.store.open(&file.id, ByteRange::full()).await.unwrap();
    use futures::StreamExt;
    let first = reader.next().await.unwrap().unwrap();
    assert_eq!(&first[..], &bytes[..first.len()]);
    drop(reader);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stats = f.store.stats();
    assert_eq!(stats.active_operations, 0);
    assert!(stats.backends["ipfs"].bytes_served < bytes.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_names_its_hash_is_refused_before_any_store_when_it_lies() {
    let f = fixture(PreferP2p).await;
    let bytes = data(MIB + 9, 41);
    let wrong = MediaId::for_bytes(b"something else");
    let err = f
        .store
        .upload(UploadRequest::bytes("a.bin", bytes.clone()).expect_sha256(wrong))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity, "{err}");
    for b in [&f.cdn, &f.ipfs, &f.torrent] {
        assert_eq!(
            b.puts(),
            0,
            "{} received bytes of a refused upload",
            b.name()
        );
    }
    let err = f
        .store
        .upload(UploadRequest::bytes("a.bin", bytes.clone()).with_max_size(MIB))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput, "{err}");
    let right = MediaId::for_bytes(&bytes);
    let file = f
        .store
        .upload(
            UploadRequest::bytes("a.bin", bytes)
                .expect_sha256(right)
                .with_max_size(2 * MIB),
        )
        .await
        .unwrap();
    assert_eq!(file.id, right);
}

/// A store whose first `get` is cut off after `cut` bytes (a server of a cluster dying
/// mid-read); later reads work.
#[derive(Debug)]
struct CutOnce {
    inner: MemoryBackend,
    cut: u64,
    calls: std::sync::atomic::AtomicU64,
}

#[async_trait::async_trait]
impl Backend for CutOnce {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn kind(&self) -> BackendKind {
        self.inner.kind()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn put(
        &self,
        blob: &media_core::StagedBlob,
        progress: media_core::Progress,
    ) -> media_core::Result<media_core::Location> {
        self.inner.put(blob, progress).await
    }
    async fn get(
        &self,
        location: &media_core::Location,
        range: ByteRange,
    ) -> media_core::Result<media_core::ByteStream> {
        use futures::StreamExt;
        let stream = self.inner.get(location, range).await?;
        if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
            return Ok(stream);
        }
        let cut = self.cut as usize;
        let mut sent = 0usize;
        let stream = stream.map(move |piece| {
            let piece = piece?;
            if sent >= cut {
                return Err(media_core::MediaError::unavailable(
                    media_core::Operation::Get,
                    "connection reset",
                ));
            }
            let keep = piece.len().min(cut - sent);
            sent += keep;
            Ok(piece.slice(..keep))
        });
        Ok(stream.boxed())
    }
    async fn delete(&self, location: &media_core::Location) -> media_core::Result<()> {
        self.inner.delete(location).await
    }
    async fn health(&self) -> media_core::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_store_cut_off_mid_read_is_resumed_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let store = MediaStore::builder(dir.path())
        .catalog(Arc::new(media_core::MemoryCatalog::new()))
        .backend(Arc::new(CutOnce {
            inner: MemoryBackend::new("cdn", BackendKind::CDN),
            cut: 3 * MIB + 5,
            calls: Default::default(),
        }))
        .build()
        .await
        .unwrap();
    let bytes = data(6 * MIB + 1, 11);
    let file = store
        .upload(UploadRequest::bytes("x", bytes.clone()))
        .await
        .unwrap();
    let mut events = store.subscribe();
    assert_eq!(store.read_all(&file.id).await.unwrap(), bytes);
    let attempts: Vec<u64> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            MediaEvent::DownloadAttempt { offset, .. } => Some(offset),
            _ => None,
        })
        .collect();
    // The second attempt starts at the first chunk not verified, not at byte 0.
    assert_eq!(attempts, [0, 3 * MIB]);
}
