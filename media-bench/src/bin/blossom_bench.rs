//! Benchmark helper for `cargo xtask bench blossom`: FILE is uploaded with `curl -T` to the
//! Blossom server of an embedded stack (every store), and each store alone takes the same file
//! in a second stack; then `curl` fetches the blob from the Blossom server and the same bytes
//! from the S3 URL, alternating which goes first. Prints one JSON line of timings.

use media_bench::{curl, median};
use std::sync::Arc;
use std::time::Instant;

use media_core::{digest_copy, Progress, StagedBlob};
use media_facade::media_blossom::auth::unix_now;
use media_facade::{EmbeddedStack, StackConfig};

fn loopback(dir: &std::path::Path) -> StackConfig {
    StackConfig::new(dir).with_reach(media_core::Reach::public_only().allow_private(true))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = std::env::args().nth(1).ok_or("usage: blossom_bench FILE")?;
    let parent = std::path::Path::new(&file)
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let work = tempfile::tempdir_in(&parent)?;
    let staged = work.path().join("staged");
    let digests = digest_copy(
        std::fs::File::open(&file)?,
        std::fs::File::create(&staged)?,
        None,
    )?;
    let id = digests.id();
    let size = digests.size;

    // Each store alone, in a stack of its own.
    let alone = EmbeddedStack::start(loopback(&work.path().join("alone"))).await?;
    let blob = StagedBlob::new(
        &staged,
        "bench.bin",
        "application/octet-stream",
        Arc::new(digests),
    );
    let mut per_store = Vec::new();
    for backend in alone.store.backends() {
        let t = Instant::now();
        backend.put(&blob, Progress::none()).await?;
        per_store.push((backend.name().to_owned(), t.elapsed().as_secs_f64()));
    }
    alone.shutdown().await;

    let stack = EmbeddedStack::start(loopback(&work.path().join("node"))).await?;
    let blossom = stack.endpoint("blossom").ok_or("no Blossom server")?;
    // The node's own key: its Blossom server takes writes from it (and listed keys) only.
    let keys = media_facade::media_blossom::load_or_create_keys(
        &work.path().join("node").join("secrets").join("nostr.key"),
    )?;
    let auth = keys
        .authorize("upload", &[&id.to_string()], "bench", unix_now(), 3600)
        .map_err(|e| e.to_string())?
        .to_header();
    let upload_s = curl(&[
        "-T",
        &file,
        "-H",
        &format!("Authorization: {auth}"),
        "-H",
        &format!("X-SHA-256: {id}"),
        "-H",
        "Content-Type: application/octet-stream",
        &format!("{blossom}/upload"),
    ])?;
    let record = stack
        .store
        .get(&id)
        .await?
        .ok_or("no record after the upload")?;
    let s3_url = record.cdn_url().ok_or("no CDN URL")?.to_owned();
    let blob_url = format!("{blossom}/{id}");

    let (mut ours, mut s3) = (Vec::new(), Vec::new());
    for round in 0..5 {
        if round % 2 == 0 {
            ours.push(curl(&[&blob_url])?);
            s3.push(curl(&[&s3_url])?);
        } else {
            s3.push(curl(&[&s3_url])?);
            ours.push(curl(&[&blob_url])?);
        }
    }
    stack.shutdown().await;
    let slowest = per_store.iter().map(|(_, s)| *s).fold(0.0f64, f64::max);
    let stores: Vec<String> = per_store
        .iter()
        .map(|(name, s)| format!("\"{name}_s\":{s:.4}"))
        .collect();
    println!(
        "{{\"size\":{size},\"upload_s\":{upload_s:.4},\"slowest_store_s\":{slowest:.4},{},\"get_s\":{:.4},\"curl_s3_s\":{:.4}}}",
        stores.join(","),
        median(ours),
        median(s3)
    );
    Ok(())
}
