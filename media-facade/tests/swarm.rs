//! The swarm policy with fault-injecting stores: chunks from every store at once, verified,
//! in order; a store that lies, dies or hangs is dropped for the read and the others finish.

mod common;

use std::time::Duration;

use common::*;
use media_core::{ByteRange, ErrorKind, Fastest, Hedge, MediaEvent, PreferP2p, Swarm};
use media_facade::{ReadOptions, UploadRequest};

/// A deadline for reads that would otherwise wait for the (long) stall timeout.
const DEADLINE: Duration = Duration::from_secs(20);

async fn read(f: &Fixture, id: &media_core::MediaId, options: ReadOptions) -> Vec<u8> {
    let reader = f.store.open_with(id, options).await.unwrap();
    tokio::time::timeout(DEADLINE, reader.read_to_end())
        .await
        .expect("the swarm read finished")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_store_serves_chunks_of_one_read() {
    let f = fixture(Swarm::new(Fastest)).await;
    let bytes = data(24 * MIB + 17, 1);
    let file = f
        .store
        .upload(UploadRequest::bytes("v", bytes.clone()))
        .await
        .unwrap();
    let mut events = f.store.subscribe();
    assert_eq!(read(&f, &file.id, ReadOptions::new()).await, bytes);
    // Every store was asked for single chunks, and each for some of them.
    for store in [&f.cdn, &f.ipfs, &f.torrent] {
        let ranges = store.requested_ranges();
        assert!(!ranges.is_empty());
        assert!(
            ranges.iter().all(|r| r.end.unwrap() - r.start <= MIB),
            "{ranges:?}"
        );
    }
    let total: usize = [&f.cdn, &f.ipfs, &f.torrent]
        .iter()
        .map(|s| s.requested_ranges().len())
        .sum();
    assert!(total >= 25, "{total} requests for 25 chunks");
    let events = drain(&mut events);
    let verified = events
        .iter()
        .find_map(|e| match e {
            MediaEvent::Verified {
                backends, bytes, ..
            } => Some((backends.clone(), *bytes)),
            _ => None,
        })
        .unwrap();
    assert_eq!(verified.0.len(), 3, "{:?}", verified.0);
    assert_eq!(verified.1, bytes.len() as u64);
    let served: u64 = f
        .store
        .stats()
        .backends
        .values()
        .map(|b| b.bytes_served)
        .sum();
    assert!(served >= bytes.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_store_and_a_dying_store_are_dropped_and_the_read_completes() {
    let f = fixture(Swarm::new(Fastest).window(2)).await;
    let bytes = data(16 * MIB, 2);
    let file = f
        .store
        .upload(UploadRequest::bytes("v", bytes.clone()))
        .await
        .unwrap();
    // Every chunk ipfs sends is corrupt; torrent dies at 3 MiB.
    f.ipfs.set_faults(|x| x.corrupt_at = Some(0));
    f.torrent.set_faults(|x| x.die_at = Some(3 * MIB));
    let mut events = f.store.subscribe();
    assert_eq!(read(&f, &file.id, ReadOptions::new()).await, bytes);
    let events = drain(&mut events);
    assert!(events
        .iter()
        .any(|e| matches!(e, MediaEvent::IntegrityFailure { backend, .. } if backend == "ipfs")));
    assert!(events
        .iter()
        .any(|e| matches!(e, MediaEvent::Fallback { from, .. } if from == "ipfs")));
    // Nothing ipfs sent was released.
    assert_eq!(f.store.stats().backends["ipfs"].bytes_served, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_store_is_worked_around_before_its_stall_timeout() {
    // The stall timeout is far beyond the deadline: only stealing finishes in time.
    let f = fixture_with_timeout(Swarm::new(Fastest), Duration::from_secs(600)).await;
    let bytes = data(12 * MIB, 3);
    let file = f
        .store
        .upload(UploadRequest::bytes("v", bytes.clone()))
        .await
        .unwrap();
    f.torrent.set_faults(|x| x.stall = true);
    assert_eq!(read(&f, &file.id, ReadOptions::new()).await, bytes);
    assert!(f.torrent.gets() > 0, "the hung store was asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_are_cut_from_verified_chunks() {
    let f = fixture(Swarm::new(Fastest)).await;
    let bytes = data(9 * MIB + 5, 4);
    let file = f
        .store
        .upload(UploadRequest::bytes("v", bytes.clone()))
        .await
        .unwrap();
    let (a, b) = (MIB + 3, 7 * MIB + 11);
    let got = read(&f, &file.id, ReadOptions::new().range(ByteRange::new(a, b))).await;
    assert_eq!(got, &bytes[a as usize..b as usize]);
    // Only chunks 1..=7 were asked for.
    for store in [&f.cdn, &f.ipfs, &f.torrent] {
        for r in store.requested_ranges() {
            assert!(r.start >= MIB && r.end.unwrap() <= 8 * MIB, "{r:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_store_lying_is_an_integrity_error() {
    let f = fixture(Swarm::new(Fastest)).await;
    let bytes = data(4 * MIB, 5);
    let file = f
        .store
        .upload(UploadRequest::bytes("v", bytes.clone()))
        .await
        .unwrap();
    for s in [&f.cdn, &f.ipfs, &f.torrent] {
        s.set_faults(|x| x.corrupt_at = Some(0));
    }
    let reader = f
        .store
        .open_with(&file.id, ReadOptions::new())
        .await
        .unwrap();
    let err = tokio::time::timeout(DEADLINE, reader.read_to_end())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cdn_joins_a_p2p_swarm_that_is_slow_to_start() {
    let policy = Hedge::new(
        Swarm::new(PreferP2p).peer_to_peer_only(),
        Duration::from_millis(100),
    );
    let f = fixture_with_timeout(policy, Duration::from_secs(600)).await;
    let bytes = data(6 * MIB, 6);
    let file = f
        .store
        .upload(UploadRequest::bytes("v", bytes.clone()))
        .await
        .unwrap();
    f.ipfs.set_faults(|x| x.stall = true);
    f.torrent.set_faults(|x| x.stall = true);
    assert_eq!(read(&f, &file.id, ReadOptions::new()).await, bytes);
    assert!(f.cdn.gets() > 0);

    // Healthy peers: the CDN in reserve is never asked.
    f.ipfs.heal();
    f.torrent.heal();
    let before = f.cdn.gets();
    assert_eq!(
        read(&f, &file.id, ReadOptions::new().bypass_cache()).await,
        bytes
    );
    assert_eq!(f.cdn.gets(), before);
}
