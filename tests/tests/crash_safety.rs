//! A process killed at any point leaves the catalog with whole records only and loses no
//! record it reported as committed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use media_core::testing::DirBackend;
use media_core::{BackendKind, Catalog, MediaId};
use media_facade::{MediaStore, RedbCatalog};

/// Run the writer until it reported `commits` ids, let it go on for `extra_ms`, then kill it.
fn run_and_kill(
    mode: &str,
    target: &std::path::Path,
    commits: usize,
    extra_ms: u64,
) -> Vec<MediaId> {
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
        .arg(mode)
        .arg(target)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start crash_writer");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut ids = Vec::new();
    while ids.len() < commits {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("crash_writer stopped reporting");
        ids.push(line.parse::<MediaId>().expect("an id"));
    }
    std::thread::sleep(Duration::from_millis(extra_ms));
    child.kill().expect("kill");
    child.wait().expect("wait");
    reader.join().unwrap();
    // Lines printed before the kill are committed too.
    ids.extend(rx.try_iter().filter_map(|l| l.parse::<MediaId>().ok()));
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_killed_mid_write_keeps_every_committed_record_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.redb");
    // Each run starts again from record 0, so later runs overwrite earlier records.
    let mut committed = std::collections::BTreeSet::new();
    for (commits, extra_ms) in [(5, 0), (12, 3), (20, 17)] {
        committed.extend(run_and_kill("catalog", &path, commits, extra_ms));
        let catalog = RedbCatalog::open(&path).expect("catalog reopens after a kill");
        let records = catalog.list().await.expect("every record decodes");
        for id in &committed {
            let record = catalog
                .get(id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("lost committed {id}"));
            let thumb = record.thumbnail.clone().expect("thumbnail kept");
            assert_eq!(
                media_core::Digest32::sha256(&thumb.bytes),
                thumb.sha256,
                "half-written record"
            );
            assert!(record.is_consistent());
        }
        assert!(records.len() >= committed.len());
        assert!(records.iter().all(|r| r.is_consistent()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_killed_mid_upload_keeps_finished_media_and_no_half_record() {
    let dir = tempfile::tempdir().unwrap();
    let committed = run_and_kill("store", dir.path(), 6, 5);
    let backend = DirBackend::new("cdn", BackendKind::CDN, dir.path().join("blobs")).unwrap();
    let store = MediaStore::builder(dir.path().join("data"))
        .backend(Arc::new(backend))
        .build()
        .await
        .expect("store reopens after a kill");
    // Staged leftovers of the killed upload are cleared at start.
    assert_eq!(
        std::fs::read_dir(dir.path().join("data/staging"))
            .unwrap()
            .count(),
        0
    );
    let records = store.list().await.unwrap();
    assert!(records.len() >= committed.len());
    for record in &records {
        // Every record in the catalog is complete: its bytes are all there and verify.
        let bytes = store
            .read_all(&record.id)
            .await
            .expect("recorded media is readable");
        assert_eq!(MediaId::for_bytes(&bytes), record.id);
    }
    for id in &committed {
        assert!(
            records.iter().any(|r| r.id == *id),
            "lost finished upload {id}"
        );
    }
}
