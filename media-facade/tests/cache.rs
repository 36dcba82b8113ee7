//! The local verified cache: a second read makes no request, cached media reads with every
//! store down and after a restart, and a cached chunk changed on disk is never served.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use media_core::testing::FaultyBackend;
use media_core::{ByteRange, ErrorKind, Fastest, MediaEvent, MediaId, PreferP2p, Swarm};
use media_facade::{MediaStore, ReadOptions, UploadRequest};

const CACHE: u64 = 64 * MIB;

async fn store(dir: &tempfile::TempDir, backends: &[Arc<FaultyBackend>]) -> MediaStore {
    // The default redb catalog, so a second store on the same folder knows the media.
    let mut b = MediaStore::builder(dir.path()).cache_size(CACHE);
    for backend in backends {
        b = b.backend(Arc::clone(backend) as Arc<dyn media_core::Backend>);
    }
    b.download_policy(PreferP2p).build().await.unwrap()
}

/// Cache writes happen in the background: wait until `bytes` are cached.
async fn cached(store: &MediaStore, bytes: u64) {
    for _ in 0..400 {
        if store.cached_bytes() >= bytes {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("only {} of {bytes} bytes cached", store.cached_bytes());
}

fn total_gets(backends: &[Arc<FaultyBackend>]) -> u64 {
    backends.iter().map(|b| b.gets()).sum()
}

async fn upload(store: &MediaStore, bytes: &[u8]) -> MediaId {
    store
        .upload(UploadRequest::bytes("clip.mp4", bytes.to_vec()))
        .await
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_read_makes_no_request_and_reads_with_every_store_down() {
    let dir = tempfile::tempdir().unwrap();
    let (cdn, ipfs, torrent) = three_backends();
    let backends = [cdn, ipfs, torrent];
    let s = store(&dir, &backends).await;
    let bytes = data(6 * MIB + 77, 1);
    let id = upload(&s, &bytes).await;
    assert_eq!(s.cached_bytes(), 0, "uploads do not fill the cache");

    assert_eq!(s.read_all(&id).await.unwrap(), bytes);
    cached(&s, bytes.len() as u64).await;
    let gets = total_gets(&backends);
    let mut events = s.subscribe();
    assert_eq!(s.read_all(&id).await.unwrap(), bytes);
    let range = s
        .open(&id, ByteRange::new(2 * MIB + 1, 5 * MIB))
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(range, &bytes[2 * MIB as usize + 1..5 * MIB as usize]);
    assert_eq!(total_gets(&backends), gets, "no store was asked");
    let events = drain(&mut events);
    assert!(!events
        .iter()
        .any(|e| matches!(e, MediaEvent::DownloadAttempt { .. })));
    assert!(events.iter().any(
        |e| matches!(e, MediaEvent::Verified { backends, .. } if backends == &["cache".to_owned()])
    ));

    // Every store down: cached media still reads; a store named explicitly is asked.
    for b in &backends {
        b.set_faults(|x| x.fail_get = Some(ErrorKind::Unavailable));
    }
    assert_eq!(s.read_all(&id).await.unwrap(), bytes);
    let err = s
        .open_with(&id, ReadOptions::new().only_backend("cdn"))
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable);

    // Deleting the media empties its part of the cache.
    for b in &backends {
        b.heal();
    }
    s.delete(&id).await.unwrap();
    assert_eq!(s.cached_bytes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_survives_a_restart_and_a_chunk_changed_on_disk_is_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let (cdn, ipfs, torrent) = three_backends();
    let backends = [cdn, ipfs, torrent];
    let bytes = data(3 * MIB, 2);
    let id = {
        let s = store(&dir, &backends).await;
        let id = upload(&s, &bytes).await;
        assert_eq!(s.read_all(&id).await.unwrap(), bytes);
        cached(&s, bytes.len() as u64).await;
        id
    };
    let s = store(&dir, &backends).await;
    assert_eq!(s.cached_bytes(), bytes.len() as u64);
    for b in &backends {
        b.set_faults(|x| x.fail_get = Some(ErrorKind::Unavailable));
    }
    assert_eq!(s.read_all(&id).await.unwrap(), bytes);

    // Flip a byte of cached chunk 1: it is not served; with the stores down the read
    // fails, and with them back it is fetched (and cached again).
    let chunk = dir
        .path()
        .join("cache")
        .join(id.sha256().to_hex())
        .join("1");
    let mut on_disk = std::fs::read(&chunk).unwrap();
    on_disk[10] ^= 1;
    std::fs::write(&chunk, &on_disk).unwrap();
    let err = s.read_all(&id).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    for b in &backends {
        b.heal();
    }
    let gets = total_gets(&backends);
    assert_eq!(s.read_all(&id).await.unwrap(), bytes);
    // Only chunk 1 was fetched.
    assert_eq!(total_gets(&backends), gets + 1);
    let asked: Vec<ByteRange> = backends.iter().flat_map(|b| b.requested_ranges()).collect();
    assert_eq!(asked.last(), Some(&ByteRange::new(MIB, 2 * MIB)));
    cached(&s, bytes.len() as u64).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_asks_the_stores_only_for_what_the_cache_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let (cdn, ipfs, torrent) = three_backends();
    let backends = [cdn, ipfs, torrent];
    let s = store(&dir, &backends).await;
    let bytes = data(8 * MIB, 3);
    let id = upload(&s, &bytes).await;
    // Chunks 2..4 cached by a range read.
    let part = s
        .open(&id, ByteRange::new(2 * MIB, 4 * MIB))
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(part, &bytes[2 * MIB as usize..4 * MIB as usize]);
    cached(&s, 2 * MIB).await;
    let before: usize = backends.iter().map(|b| b.requested_ranges().len()).sum();
    assert_eq!(s.read_all(&id).await.unwrap(), bytes);
    let asked: Vec<ByteRange> = backends
        .iter()
        .flat_map(|b| b.requested_ranges())
        .skip(before)
        .collect();
    assert_eq!(
        asked,
        [ByteRange::new(0, 2 * MIB), ByteRange::new(4 * MIB, 8 * MIB)]
    );

    // A swarm read uses the cache too.
    cached(&s, 8 * MIB).await;
    let gets = total_gets(&backends);
    let swarm = s
        .open_with(&id, ReadOptions::new().policy(Swarm::new(Fastest)))
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(swarm, bytes);
    assert_eq!(total_gets(&backends), gets);
}
