//! `e2e_bench FILE`: the embedded stack end to end, for `cargo xtask bench e2e`.
//!
//! 1. Upload FILE to all three stores at once, then to each store alone (fresh stacks), and
//!    compare the all-stores time with the slowest single store.
//! 2. Time to the first verified byte on a second node, CDN first, hedged after 200 ms: with
//!    every store up, and with the CDN dead.
//!
//! Prints one JSON line.

use std::time::{Duration, Instant};

use futures::StreamExt;
use media_core::{Hedged, MediaFile, PreferCdn};
use media_facade::{EmbeddedStack, MediaStore, ReadOptions, StackConfig, UploadRequest};

async fn upload_with(
    dir: &std::path::Path,
    file: &str,
    stores: (bool, bool, bool),
) -> Result<(f64, MediaFile, EmbeddedStack), Box<dyn std::error::Error>> {
    let stack = EmbeddedStack::start_with(
        StackConfig::new(dir).with_stores(stores.0, stores.1, stores.2),
        |b| b.without_thumbnails(),
    )
    .await?;
    let t = Instant::now();
    let media = stack.store.upload(UploadRequest::path(file)).await?;
    Ok((t.elapsed().as_secs_f64(), media, stack))
}

async fn first_byte(
    store: &MediaStore,
    file: &MediaFile,
    opts: ReadOptions,
) -> Result<f64, Box<dyn std::error::Error>> {
    let t = Instant::now();
    let mut reader = store.open_file(file, opts).await?;
    match reader.next().await {
        Some(Ok(_)) => Ok(t.elapsed().as_secs_f64()),
        Some(Err(e)) => Err(e.into()),
        None => Err("no bytes".into()),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = std::env::args().nth(1).ok_or("usage: e2e_bench FILE")?;
    let dir = tempfile::tempdir()?;
    let mut singles = Vec::new();
    for (name, stores) in [
        ("cdn", (true, false, false)),
        ("ipfs", (false, true, false)),
        ("torrent", (false, false, true)),
    ] {
        let (secs, _, stack) = upload_with(&dir.path().join(name), &file, stores).await?;
        stack.shutdown().await;
        singles.push((name, secs));
    }
    let (all, media, mut a) =
        upload_with(&dir.path().join("all"), &file, (true, true, true)).await?;

    let b = EmbeddedStack::start(StackConfig::new(dir.path().join("b"))).await?;
    b.store.import(&media).await?;
    let hedged = Hedged {
        after: Duration::from_millis(200),
        cdn_first: true,
        attempt_timeout: Duration::from_secs(10),
    };
    let alive = first_byte(&b.store, &media, ReadOptions::new().policy(hedged)).await?;
    if let Some(s3) = a.s3.take() {
        s3.stop();
    }
    let dead_hedged = first_byte(&b.store, &media, ReadOptions::new().policy(hedged)).await?;
    let dead_plain = first_byte(
        &b.store,
        &media,
        ReadOptions::new().policy(PreferCdn {
            attempt_timeout: Duration::from_secs(10),
        }),
    )
    .await?;
    b.shutdown().await;
    a.shutdown().await;
    let slowest = singles.iter().map(|(_, s)| *s).fold(0.0, f64::max);
    let singles_json: Vec<String> = singles
        .iter()
        .map(|(n, s)| format!("\"{n}_s\":{s:.4}"))
        .collect();
    println!(
        "{{\"all_s\":{all:.4},{},\"slowest_single_s\":{slowest:.4},\"ttfb_alive_s\":{alive:.4},\"ttfb_cdn_dead_hedged_s\":{dead_hedged:.4},\"ttfb_cdn_dead_prefer_cdn_s\":{dead_plain:.4}}}",
        singles_json.join(",")
    );
    Ok(())
}
