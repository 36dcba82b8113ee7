//! Benchmark helper for `cargo xtask bench`: ingests FILE (staged copy + SHA-256 + BLAKE3 +
//! chunk digests), then round-trips it through a `MediaStore` with two folder-backed stores
//! and a verified full download. Prints one JSON line of timings. Run it under
//! `/usr/bin/time -v` to see peak memory stay flat as the file grows.
//!
//! `cargo run --release -p media-facade --features test-support --example ingest_bench -- FILE`

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use media_core::testing::DirBackend;
use media_core::{digest_copy, BackendKind, ByteRange, MediaEvent};
use media_facade::{MediaStore, UploadRequest};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: ingest_bench FILE")?;
    let work = tempfile::Builder::new().prefix("ingest-bench").tempdir_in(
        std::path::Path::new(&path)
            .parent()
            .unwrap_or(std::path::Path::new(".")),
    )?;

    // 1. Ingest alone, first, so it meets the memory state the caller prepared: one pass, staged copy plus every digest.
    let t = Instant::now();
    let staged = std::fs::File::create(work.path().join("staged"))?;
    let digests = digest_copy(std::fs::File::open(&path)?, &staged, None)?;
    let ingest_s = t.elapsed().as_secs_f64();
    drop(staged);
    std::fs::remove_file(work.path().join("staged"))?;

    // 2. Digests alone, no staged copy (what the hashing costs).
    let t = Instant::now();
    digest_copy(std::fs::File::open(&path)?, std::io::sink(), None)?;
    let digest_only_s = t.elapsed().as_secs_f64();

    // 3. Round trip through the store: upload to two stores, then a verified download.
    let store = MediaStore::builder(work.path().join("data"))
        .backend(Arc::new(DirBackend::new(
            "cdn",
            BackendKind::CDN,
            work.path().join("cdn"),
        )?))
        .backend(Arc::new(DirBackend::new(
            "ipfs",
            BackendKind::IPFS,
            work.path().join("ipfs"),
        )?))
        .build()
        .await?;
    let t = Instant::now();
    let mut handle = store.upload(UploadRequest::path(&path));
    let mut store_ingest_s = 0.0;
    while let Some(event) = handle.next_event().await {
        if let MediaEvent::Ingested { .. } = event {
            store_ingest_s = t.elapsed().as_secs_f64();
        }
    }
    let file = handle.await?;
    let upload_s = t.elapsed().as_secs_f64();
    if file.id != digests.id() {
        return Err("store and ingest disagree on the id".into());
    }

    let t = Instant::now();
    let mut reader = store.open(&file.id, ByteRange::full()).await?;
    let mut bytes = 0u64;
    while let Some(piece) = reader.next().await {
        bytes += piece?.len() as u64;
    }
    let download_s = t.elapsed().as_secs_f64();
    if bytes != file.size {
        return Err("download size differs".into());
    }
    println!(
        "{{\"size\":{},\"digest_only_s\":{digest_only_s:.4},\"ingest_s\":{ingest_s:.4},\"store_ingest_s\":{store_ingest_s:.4},\"upload_s\":{upload_s:.4},\"download_s\":{download_s:.4},\"id\":\"{}\"}}",
        file.size, file.id
    );
    Ok(())
}
