//! Takedowns reach the nodes sharing a catalog: each removes its own copies (from its own
//! index) within seconds and refuses the media afterwards. Two stores on one shared catalog
//! (the in-memory one here; `media_cdn::S3Catalog` keeps its tombstones under
//! `<prefix>/tombstones/`, exercised by the attack suite's node).

use std::sync::Arc;
use std::time::{Duration, Instant};

use media_core::testing::MemoryBackend;
use media_core::{BackendKind, Catalog, ErrorKind, MemoryCatalog};
use media_facade::{MediaStore, UploadRequest};

fn photo(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(200, 150, |x, y| {
        let ring = ((x as i32 - 100).pow(2) + (y as i32 - 75).pow(2)) / (40 + i32::from(seed));
        image::Rgb([
            (ring * 37) as u8,
            (x as u8).wrapping_mul(seed),
            (y * 2) as u8,
        ])
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

async fn node(dir: &std::path::Path, shared: Arc<dyn Catalog>) -> (MediaStore, Arc<MemoryBackend>) {
    let cdn = Arc::new(MemoryBackend::new("cdn", BackendKind::CDN));
    let store = MediaStore::builder(dir)
        .backend(cdn.clone())
        .shared_catalog(shared)
        .build()
        .await
        .unwrap();
    (store, cdn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takedown_on_one_node_removes_the_copies_of_every_node_sharing_the_catalog() {
    let shared: Arc<dyn Catalog> = Arc::new(MemoryCatalog::new());
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, a_cdn) = node(a_dir.path(), Arc::clone(&shared)).await;
    let (b, b_cdn) = node(b_dir.path(), Arc::clone(&shared)).await;
    let bytes = photo(3);
    let on_a = a
        .upload(UploadRequest::bytes("p.png", bytes.clone()))
        .await
        .unwrap();
    let on_b = b
        .upload(UploadRequest::bytes("p.png", bytes.clone()))
        .await
        .unwrap();
    assert_eq!(on_a.id, on_b.id);
    assert!(on_a.pdq.is_some());
    assert_eq!((a_cdn.len(), b_cdn.len()), (1, 1));

    let done = a.takedown(&on_a.id, "reviewed").await.unwrap();
    assert_eq!(done.removed_from, vec!["cdn".to_owned()]);
    assert!(done.published);
    assert_eq!(a_cdn.len(), 0);
    assert_eq!(shared.tombstone_ids().await.unwrap(), vec![on_a.id]);

    let started = Instant::now();
    while !b_cdn.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "B still holds it after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "B removed its copy {:?} after A's takedown",
        started.elapsed()
    );
    let err = b.read_all(&on_b.id).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    for store in [&a, &b] {
        let err = store
            .upload(UploadRequest::bytes("again.png", bytes.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Refused, "{err}");
    }
    assert!(b.tombstones().iter().any(|t| t.id == on_b.id));
    // An unrelated picture still goes in.
    b.upload(UploadRequest::bytes("other.png", photo(9)))
        .await
        .unwrap();
}

/// A HEIC's display rendition (media of its own, derived at upload) goes with it, and both
/// are refused afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takedown_takes_the_heic_rendition_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("p.png");
    std::fs::write(&png, photo(5)).unwrap();
    let heic = dir.path().join("p.heic");
    media_core::testing::heif_enc(&png, &heic, 60, false);
    let (store, cdn) = node(
        dir.path().join("node").as_path(),
        Arc::new(MemoryCatalog::new()),
    )
    .await;
    let file = store
        .upload(UploadRequest::bytes(
            "p.heic",
            std::fs::read(&heic).unwrap(),
        ))
        .await
        .unwrap();
    let display = file
        .display
        .clone()
        .expect("a HEIC gets a display rendition");
    assert_eq!(cdn.len(), 2);
    let done = store.takedown(&file.id, "reviewed").await.unwrap();
    assert_eq!(done.derived, vec![display.id]);
    assert!(cdn.is_empty(), "the rendition stayed on the store");
    assert!(store.get(&display.id).await.unwrap().is_none());
    let err = store.read_all(&display.id).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    let err = store
        .upload(UploadRequest::bytes(
            "p.heic",
            std::fs::read(&heic).unwrap(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Refused, "{err}");
}

/// Found in review: the gate ran before the stores, so a takedown (or a list entry) that
/// landed while an upload was still storing left its copies up. The upload now checks again
/// when it finishes: refused, and nothing stays on the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_taken_down_while_its_upload_is_storing_is_refused_and_removed() {
    use media_core::testing::FaultyBackend;
    let dir = tempfile::tempdir().unwrap();
    let memory = Arc::new(MemoryBackend::new("cdn", BackendKind::CDN));
    let slow = Arc::new(FaultyBackend::new(memory.clone()));
    slow.set_faults(|f| f.put_delay = Some(Duration::from_millis(600)));
    let store = MediaStore::builder(dir.path())
        .backend(slow.clone())
        .build()
        .await
        .unwrap();
    let bytes = photo(11);
    let id = media_core::MediaId::for_bytes(&bytes);
    let upload = store.upload(UploadRequest::bytes("p.png", bytes.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let done = store.takedown(&id, "reviewed").await.unwrap();
    assert!(done.removed_from.is_empty(), "nothing was stored yet");
    let err = upload.await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Refused, "{err}");
    assert!(
        memory.is_empty(),
        "the copy stored after the takedown stayed"
    );
    assert!(store.get(&id).await.unwrap().is_none());
}

/// Found in review: concurrent takedowns lost tombstones (each replaced the set it had read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_takedowns_each_keep_their_tombstone() {
    let dir = tempfile::tempdir().unwrap();
    let (store, cdn) = node(dir.path(), Arc::new(MemoryCatalog::new())).await;
    let mut ids = Vec::new();
    for seed in 20..44u8 {
        let file = store
            .upload(UploadRequest::bytes(format!("{seed}.png"), photo(seed)))
            .await
            .unwrap();
        ids.push(file.id);
    }
    let takedowns: Vec<_> = ids
        .iter()
        .map(|id| {
            let (store, id) = (store.clone(), *id);
            tokio::spawn(async move { store.takedown(&id, "bulk").await })
        })
        .collect();
    for t in takedowns {
        t.await.unwrap().unwrap();
    }
    assert!(cdn.is_empty());
    let kept: std::collections::HashSet<_> = store.tombstones().iter().map(|t| t.id).collect();
    for id in &ids {
        assert!(kept.contains(id), "the tombstone of {id} was lost");
    }
    for seed in 20..44u8 {
        let err = store
            .upload(UploadRequest::bytes("again.png", photo(seed)))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Refused, "{err}");
    }
}
