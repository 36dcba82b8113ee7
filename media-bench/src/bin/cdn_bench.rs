//! Benchmark helper for `cargo xtask bench cdn`: uploads FILE to the embedded S3 server, then
//! downloads it with our streaming GET and with `curl` from the same URL, side by side. Prints
//! one JSON line of timings.

use std::time::Instant;

use futures::StreamExt;
use media_cdn::{EmbeddedS3, S3Backend};
use media_core::{digest_copy, Backend, ByteRange, Progress, StagedBlob};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = std::env::args().nth(1).ok_or("usage: cdn_bench FILE")?;
    let work = tempfile::tempdir_in(
        std::path::Path::new(&file)
            .parent()
            .unwrap_or(std::path::Path::new(".")),
    )?;
    let server = EmbeddedS3::start(work.path().join("s3"), "media").await?;
    let backend = S3Backend::new(server.config())?;
    let staged = work.path().join("staged");
    let digests = digest_copy(
        std::fs::File::open(&file)?,
        std::fs::File::create(&staged)?,
        None,
    )?;
    let size = digests.size;
    let blob = StagedBlob::new(
        &staged,
        "bench.bin",
        "application/octet-stream",
        digests.into(),
    );

    let t = Instant::now();
    let location = backend.put(&blob, Progress::none()).await?;
    let upload_s = t.elapsed().as_secs_f64();
    let Some(url) = location.cdn_url() else {
        return Err("not a CDN location".into());
    };

    let mut ours = Vec::new();
    let mut curl = Vec::new();
    // Five rounds; every other round curl goes first, so neither always meets a cold server.
    for round in 0..5 {
        let ours_first = round % 2 == 0;
        if ours_first {
            ours.push(our_get(&backend, &location, size).await?);
        }
        let t = Instant::now();
        let status = std::process::Command::new("curl")
            .args(["-sS", "-f", "-o", "/dev/null"])
            .arg(url)
            .status()?;
        curl.push(t.elapsed().as_secs_f64());
        if !status.success() {
            return Err("curl failed".into());
        }
        if !ours_first {
            ours.push(our_get(&backend, &location, size).await?);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "{{\"size\":{size},\"upload_s\":{upload_s:.4},\"get_s\":{:.4},\"curl_s\":{:.4}}}",
        median(ours),
        median(curl)
    );
    Ok(())
}

/// Seconds for our streaming GET of the whole object; fails on a short download.
async fn our_get(
    backend: &S3Backend,
    location: &media_core::Location,
    size: u64,
) -> Result<f64, Box<dyn std::error::Error>> {
    let t = Instant::now();
    let mut stream = backend.get(location, ByteRange::full()).await?;
    let mut n = 0u64;
    while let Some(piece) = stream.next().await {
        n += piece?.len() as u64;
    }
    if n != size {
        return Err("short download".into());
    }
    Ok(t.elapsed().as_secs_f64())
}
