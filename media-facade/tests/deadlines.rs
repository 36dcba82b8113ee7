//! Uploads never hang on one store: a put that stalls is cut off by its stall timeout, and
//! once the policy is satisfied a slow store finishes in the background and its location is
//! added to the record later.

mod common;

use std::time::{Duration, Instant};

use common::*;
use media_core::{ErrorKind, MediaEvent, PreferP2p};
use media_facade::{PutLimits, UploadRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_store_fails_by_its_stall_timeout_and_the_upload_completes() {
    let dir = tempfile::tempdir().unwrap();
    let (cdn, ipfs, torrent) = three_backends();
    torrent.set_faults(|f| f.put_delay = Some(Duration::from_secs(3600)));
    let store = builder_with(&dir, &[cdn, ipfs, torrent])
        .download_policy(PreferP2p)
        .put_limits(PutLimits::new(
            Duration::from_secs(600),
            Duration::from_millis(400),
            Duration::from_secs(30),
        ))
        .build()
        .await
        .unwrap();
    let t = Instant::now();
    let mut handle = store.upload(UploadRequest::bytes("x.bin", data(MIB + 1, 9)));
    let mut failed = None;
    while let Some(e) = handle.next_event().await {
        if let MediaEvent::StoreFailed { backend, error, .. } = e {
            failed = Some((backend, error));
        }
    }
    let file = handle.finish().await.unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "took {:?}",
        t.elapsed()
    );
    let (backend, error) = failed.expect("the hung store reported");
    assert_eq!(backend, "torrent");
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert_eq!(file.locations.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_store_lands_in_the_record_after_the_upload_returned() {
    let dir = tempfile::tempdir().unwrap();
    let (cdn, ipfs, torrent) = three_backends();
    torrent.set_faults(|f| f.put_delay = Some(Duration::from_millis(1500)));
    let store = builder_with(&dir, &[cdn, ipfs, torrent])
        .put_limits(PutLimits::new(
            Duration::from_secs(600),
            Duration::from_secs(60),
            Duration::from_millis(50),
        ))
        .build()
        .await
        .unwrap();
    let mut events = store.subscribe();
    let file = store
        .upload(UploadRequest::bytes("y.bin", data(MIB, 10)))
        .await
        .unwrap();
    assert_eq!(file.locations.len(), 2, "returned before the slow store");
    // The slow store still reports, and its location joins the catalogued record.
    let stored = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(MediaEvent::Stored { backend, .. }) = events.recv().await {
                if backend == "torrent" {
                    return;
                }
            }
        }
    })
    .await;
    assert!(stored.is_ok(), "no Stored event from the late store");
    let mut record = None;
    for _ in 0..100 {
        let r = store.get(&file.id).await.unwrap().unwrap();
        if r.locations.len() == 3 {
            record = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        record.is_some(),
        "the late store's location never joined the record"
    );
    for _ in 0..100 {
        if std::fs::read_dir(dir.path().join("staging"))
            .unwrap()
            .next()
            .is_none()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the staged file was never removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_pages_without_thumbnails_and_uploads_have_a_default_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (cdn, _, _) = three_backends();
    // The redb catalog (the default), not the in-memory one: pages seek in the table.
    let store = media_facade::MediaStore::builder(dir.path())
        .backend(cdn as std::sync::Arc<dyn media_core::Backend>)
        .build()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..7u64 {
        let f = store
            .upload(UploadRequest::bytes(format!("{i}.bin"), data(1000 + i, i)))
            .await
            .unwrap();
        ids.push(f.id);
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_page(cursor.as_ref(), 3).await.unwrap();
        assert!(page.len() <= 3);
        assert!(page.iter().all(|f| f.thumbnail.is_none()));
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        seen.extend(page.iter().map(|f| f.id));
    }
    assert_eq!(seen, ids);
    assert_eq!(media_facade::DEFAULT_MAX_UPLOAD, 4 << 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (cdn, _, _) = three_backends();
    {
        let store = builder_with(&dir, std::slice::from_ref(&cdn))
            .build()
            .await
            .unwrap();
        let f = store
            .upload(UploadRequest::bytes("a.bin", data(2000, 1)))
            .await
            .unwrap();
        store.read_all(&f.id).await.unwrap();
        let s = store.stats();
        assert_eq!((s.uploads_completed, s.downloads_completed), (1, 1));
    }
    // A new process (here: a new store over the same data directory) starts from them.
    let store = builder_with(&dir, &[cdn]).build().await.unwrap();
    let s = store.stats();
    assert_eq!(
        (s.uploads_completed, s.downloads_completed),
        (1, 1),
        "{s:?}"
    );
    assert_eq!(s.backends["cdn"].puts_ok, 1);
    assert_eq!(s.active_operations, 0);
}
