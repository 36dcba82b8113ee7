//! End to end on the embedded stack, two nodes on 127.0.0.1: node A uploads; node B, holding
//! only the `MediaFile` records, downloads through each store alone; A's stores die one by
//! one and B falls back; A restarts and keeps seeding and serving.

use std::time::Duration;

use media_core::{BackendKind, ByteRange, Digest32, ErrorKind, MediaFile, PreferCdn, PreferP2p};
use media_facade::{EmbeddedStack, MediaStore, ReadOptions, StackConfig, UploadRequest};

const MIB: usize = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(5);

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1D ^ seed.wrapping_mul(0x9E37_79B9);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

async fn node(dir: &std::path::Path) -> EmbeddedStack {
    EmbeddedStack::start_with(StackConfig::new(dir).with_p2p_timeout(TIMEOUT), |b| {
        b.download_policy(PreferP2p {
            attempt_timeout: TIMEOUT,
        })
    })
    .await
    .unwrap()
}

async fn read(
    store: &MediaStore,
    file: &MediaFile,
    opts: ReadOptions,
) -> Result<Vec<u8>, media_core::MediaError> {
    store.open_file(file, opts).await?.read_to_end().await
}

/// B forgets what it fetched by torrent, so only a seeder can serve it again.
async fn forget_torrent(b: &EmbeddedStack, file: &MediaFile) {
    let loc = file.location(BackendKind::Torrent).unwrap();
    let torrent = b
        .store
        .backends()
        .iter()
        .find(|x| x.name() == "torrent")
        .unwrap();
    let _ = torrent.delete(loc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_b_reads_what_node_a_stored_through_every_store_and_falls_back() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = node(a_dir.path()).await;
    let b = node(b_dir.path()).await;
    let bytes = data(5 * MIB + 4321, 1);
    let file = a
        .store
        .upload(UploadRequest::bytes("clip.mp4", bytes.clone()))
        .await
        .unwrap();
    assert_eq!(file.locations.len(), 3);
    assert!(
        file.magnet().unwrap().contains("ws="),
        "the magnet carries the CDN URL as web seed"
    );
    b.store.import(&file).await.unwrap();

    for backend in ["cdn", "ipfs", "torrent"] {
        let got = read(&b.store, &file, ReadOptions::new().only_backend(backend))
            .await
            .unwrap();
        assert_eq!(Digest32::sha256(&got), file.sha256, "via {backend}");
    }
    let part = read(
        &b.store,
        &file,
        ReadOptions::new().range(ByteRange::new(MIB as u64 + 7, 3 * MIB as u64)),
    )
    .await
    .unwrap();
    assert_eq!(part, bytes[MIB + 7..3 * MIB]);

    // The CDN dies: CDN-first reads fall back to P2P.
    a.s3.take().unwrap().stop();
    let got = read(
        &b.store,
        &file,
        ReadOptions::new().policy(PreferCdn {
            attempt_timeout: TIMEOUT,
        }),
    )
    .await
    .unwrap();
    assert_eq!(got, bytes);
    // The torrent seeder dies too: IPFS serves.
    a.torrent.as_ref().unwrap().shutdown().await;
    forget_torrent(&b, &file).await;
    let got = read(&b.store, &file, ReadOptions::new()).await.unwrap();
    assert_eq!(got, bytes);
    // The last store dies: a clear error, no bytes.
    a.ipfs.as_ref().unwrap().shutdown().await;
    let err = read(&b.store, &file, ReadOptions::new().only_backend("ipfs"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        matches!(
            err.kind,
            ErrorKind::Unavailable
                | ErrorKind::Timeout
                | ErrorKind::NotFound
                | ErrorKind::PolicyUnsatisfied
        ),
        "{err}"
    );
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_keeps_seeding_and_serving() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bytes = data(3 * MIB + 99, 2);
    let file = {
        let a = node(a_dir.path()).await;
        let file = a
            .store
            .upload(UploadRequest::bytes("kept.mp4", bytes.clone()))
            .await
            .unwrap();
        a.shutdown().await;
        file
    };
    // Same data directory: same ports, same iroh identity, same torrents, same catalog.
    let a = node(a_dir.path()).await;
    assert_eq!(a.store.get(&file.id).await.unwrap(), Some(file.clone()));
    let b = node(b_dir.path()).await;
    b.store.import(&file).await.unwrap();
    for backend in ["cdn", "ipfs", "torrent"] {
        let got = read(&b.store, &file, ReadOptions::new().only_backend(backend))
            .await
            .unwrap();
        assert_eq!(got, bytes, "via {backend} after A restarted");
    }
    // Delete on A removes it everywhere A holds it.
    let removed = a.store.delete(&file.id).await.unwrap();
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert_eq!(a.store.get(&file.id).await.unwrap(), None);
    a.shutdown().await;
    b.shutdown().await;
}
