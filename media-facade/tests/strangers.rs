//! Records from strangers: a forged record (a real id with forged chunk digests, and a store
//! serving bytes that match the forged chunks) never gets a forged byte released, never
//! replaces a record this node verified, and never answers an upload by dedup.

mod common;

use std::sync::Arc;

use common::*;
use futures::StreamExt;
use media_core::testing::MemoryBackend;
use media_core::{
    Backend, BackendKind, ByteRange, Digests, ErrorKind, MediaFile, MediaId, Progress, StagedBlob,
    Timestamp,
};
use media_facade::{MediaStore, ReadOptions, UploadRequest};

/// The honest bytes, and a forged record of the same id whose chunks describe other bytes,
/// which `store` holds at the record's location.
async fn forge(store: &Arc<MemoryBackend>, dir: &std::path::Path) -> (Vec<u8>, MediaFile) {
    let honest = data(3 * MIB + 123, 1);
    let mut forged_bytes = honest.clone();
    forged_bytes[MIB as usize + 10] ^= 0xFF; // one byte of chunk 1 differs
    let forged_digests = Digests::of_bytes(&forged_bytes);
    let staged = dir.join("forged.bin");
    std::fs::write(&staged, &forged_bytes).unwrap();
    let blob = StagedBlob::new(
        &staged,
        "x.mp4",
        "video/mp4",
        Arc::new(forged_digests.clone()),
    );
    let location = store.put(&blob, Progress::none()).await.unwrap();

    let mut record = MediaFile::new("x.mp4", "video/mp4", &forged_digests, Timestamp::now());
    let real = Digests::of_bytes(&honest);
    record.id = real.id();
    record.sha256 = real.sha256;
    record.locations.push(location);
    assert!(
        record.is_consistent(),
        "the forgery passes the old consistency check"
    );
    (honest, record)
}

async fn store_over(dir: &tempfile::TempDir, backend: &Arc<MemoryBackend>) -> MediaStore {
    MediaStore::builder(dir.path())
        .backend(Arc::clone(backend) as Arc<dyn Backend>)
        .without_thumbnails()
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_forged_record_releases_no_forged_byte() {
    let dir = tempfile::tempdir().unwrap();
    let cdn = Arc::new(MemoryBackend::new("cdn", BackendKind::CDN));
    let (_, forged) = forge(&cdn, dir.path()).await;
    let store = store_over(&dir, &cdn).await;
    store.import(&forged).await.unwrap();

    // A range read has nothing to verify the forged chunk list against: refused.
    let err = store
        .open(&forged.id, ByteRange::new(MIB, MIB + 100))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity, "{err}");
    assert!(err.to_string().contains("not anchored"), "{err}");

    // A whole read: every chunk matches the forged list, the whole does not match the id,
    // and not one byte reaches the caller.
    let mut reader = store.open(&forged.id, ByteRange::full()).await.unwrap();
    let mut released = 0usize;
    let mut error = None;
    while let Some(piece) = reader.next().await {
        match piece {
            Ok(b) => released += b.len(),
            Err(e) => error = Some(e),
        }
    }
    assert_eq!(released, 0, "forged bytes were released");
    assert_eq!(error.unwrap().kind, ErrorKind::Integrity);
    // Still unanchored: a range read is still refused.
    assert!(store.open(&forged.id, ByteRange::new(0, 1)).await.is_err());
    // No spool file is left behind.
    let staging: Vec<_> = std::fs::read_dir(dir.path().join("staging"))
        .unwrap()
        .collect();
    assert!(staging.is_empty(), "{staging:?}");
}

#[tokio::test]
async fn a_forged_record_never_replaces_a_verified_one_nor_answers_dedup() {
    let dir = tempfile::tempdir().unwrap();
    let cdn = Arc::new(MemoryBackend::new("cdn", BackendKind::CDN));
    let (honest, forged) = forge(&cdn, dir.path()).await;
    let store = store_over(&dir, &cdn).await;

    // The stranger's record arrives first; then the owner uploads the real bytes. Dedup must
    // not answer with the forged record.
    store.import(&forged).await.unwrap();
    let real = store
        .upload(UploadRequest::bytes("real.mp4", honest.clone()))
        .await
        .unwrap();
    assert_eq!(real.id, forged.id);
    assert_eq!(real.chunks, Digests::of_bytes(&honest).chunks);
    assert_eq!(
        store.get(&real.id).await.unwrap().unwrap().chunks,
        real.chunks
    );

    // Now the verified record stays: the forgery is refused, typed.
    let err = store.import(&forged).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity, "{err}");
    assert_eq!(store.get(&real.id).await.unwrap().unwrap(), real);
    let err = store
        .open_file(&forged, ReadOptions::new().range(ByteRange::new(0, 10)))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity);
    let err = store
        .import_ref(&forged, &real.reference())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity);

    // The honest record reads, ranges included.
    let part = store
        .open(&real.id, ByteRange::new(MIB, MIB + 100))
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(part, honest[MIB as usize..MIB as usize + 100]);
}

#[tokio::test]
async fn a_reference_or_one_whole_read_anchors_a_peers_record() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cdn = Arc::new(MemoryBackend::new("cdn", BackendKind::CDN));
    let a = store_over(&a_dir, &cdn).await;
    let bytes = data(2 * MIB + 5, 2);
    let file = a
        .upload(UploadRequest::bytes("clip.mp4", bytes.clone()))
        .await
        .unwrap();
    let reference = file.reference();
    assert_eq!(
        reference
            .to_string()
            .parse::<media_core::MediaRef>()
            .unwrap(),
        reference
    );

    // B with the record alone: ranges refused until a whole read proved the chunk list.
    let b = store_over(&b_dir, &cdn).await;
    b.import(&file).await.unwrap();
    assert!(b.open(&file.id, ByteRange::new(0, 10)).await.is_err());
    assert_eq!(b.read_all(&file.id).await.unwrap(), bytes);
    let part = b
        .open(&file.id, ByteRange::new(MIB - 5, MIB + 5))
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(part, bytes[MIB as usize - 5..MIB as usize + 5]);

    // C with the reference: ranges verified from the first byte.
    let c_dir = tempfile::tempdir().unwrap();
    let c = store_over(&c_dir, &cdn).await;
    c.import(&file).await.unwrap();
    let part = c
        .open_ref(&reference, ReadOptions::new().range(ByteRange::new(7, 17)))
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(part, bytes[7..17]);

    // A reference naming other bytes is refused.
    let other = MediaId::for_bytes(b"other");
    let mut wrong = reference;
    wrong.id = other;
    assert!(c.open_ref(&wrong, ReadOptions::new()).await.is_err());
}

/// Security review finding 3, the expiry variant: a stranger's record that names the
/// victim's locations and has already expired is swept without touching the victim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_a_strangers_record_removes_only_that_record() {
    let f = fixture(media_core::PreferCdn).await;
    let victim_bytes = data(2 * MIB + 7, 40);
    let victim = f
        .store
        .upload(UploadRequest::bytes("victim", victim_bytes.clone()))
        .await
        .unwrap();
    let own = data(1000, 41);
    let mut stranger = MediaFile::new(
        "s",
        "application/octet-stream",
        &Digests::of_bytes(&own),
        Timestamp::now(),
    );
    stranger.locations = victim.locations.clone();
    stranger.expires_at = Some(Timestamp(1));
    f.store.import(&stranger).await.unwrap();
    assert_eq!(f.store.purge_expired().await.unwrap(), [stranger.id]);
    assert!(f.store.get(&stranger.id).await.unwrap().is_none());
    for backend in [&f.cdn, &f.ipfs, &f.torrent] {
        assert_eq!(
            backend
                .counts()
                .deletes
                .load(std::sync::atomic::Ordering::SeqCst),
            0,
            "{}: a stranger's record deleted stored bytes",
            backend.name()
        );
    }
    assert_eq!(f.store.read_all(&victim.id).await.unwrap(), victim_bytes);
}

/// Finding 1 at the library's door: chunks a forged record verified are never returned for
/// the genuine record of the same id, whole or by range, whatever the cache holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_read_leaves_nothing_the_genuine_record_would_read() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(MemoryBackend::new("cdn", BackendKind::CDN));
    let (honest, forged) = forge(&backend, dir.path()).await;
    let store = MediaStore::builder(dir.path().join("node"))
        .catalog(Arc::new(media_core::MemoryCatalog::new()))
        .backend(Arc::clone(&backend) as Arc<dyn Backend>)
        .cache_size(64 << 20)
        .without_thumbnails()
        .build()
        .await
        .unwrap();
    store.import(&forged).await.unwrap();
    let err = store.read_all(&forged.id).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity);
    assert_eq!(
        store.cached_bytes(),
        0,
        "an unproven record's chunks were cached"
    );
    // The owner uploads the genuine bytes (the forged record is replaced and the id anchored).
    let put = store
        .upload(UploadRequest::bytes("x.mp4", honest.clone()))
        .await
        .unwrap();
    assert_eq!(put.id, forged.id);
    assert_eq!(store.read_all(&put.id).await.unwrap(), honest);
    let range = store
        .open(&put.id, ByteRange::new(MIB, MIB + 100))
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(range, &honest[MIB as usize..MIB as usize + 100]);
    // Read again, now from the cache: still the honest bytes.
    assert_eq!(store.read_all(&put.id).await.unwrap(), honest);
}
