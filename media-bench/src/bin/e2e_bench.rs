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
use media_core::{Hedge, MediaEvent, MediaFile, PreferCdn};
use media_facade::{EmbeddedStack, MediaStore, ReadOptions, StackConfig, UploadRequest};

/// CPU seconds (user + system) this process has used so far, from /proc (0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; the clock
    // tick is 100 Hz on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// Upload FILE on a fresh stack with the chosen stores; returns wall and CPU seconds.
async fn upload_with(
    dir: &std::path::Path,
    file: &str,
    stores: (bool, bool, bool),
) -> Result<((f64, f64), MediaFile, EmbeddedStack), Box<dyn std::error::Error>> {
    let stack = EmbeddedStack::start_with(
        StackConfig::new(dir)
            .with_reach(media_core::Reach::public_only().allow_private(true))
            .with_store_enabled("cdn", stores.0)
            .with_store_enabled("ipfs", stores.1)
            .with_store_enabled("torrent", stores.2),
        |b| b.without_thumbnails(),
    )
    .await?;
    // Each upload starts from the same state: the earlier uploads' dirty pages written back,
    // rather than the kernel's writeback of them competing with this one for the two cores.
    let _ = std::process::Command::new("sync").status();
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let mut handle = stack.store.upload(UploadRequest::path(file));
    // When each step ended, to stderr: where the time of the all-stores upload goes.
    let mut timeline = Vec::new();
    while let Some(event) = handle.next_event().await {
        match event {
            MediaEvent::Ingested { .. } => {
                timeline.push(format!("ingested {:.3}", t.elapsed().as_secs_f64()))
            }
            MediaEvent::Stored { backend, .. } => {
                timeline.push(format!("{backend} {:.3}", t.elapsed().as_secs_f64()))
            }
            _ => {}
        }
    }
    let media = handle.await?;
    let times = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    eprintln!("timeline: {}", timeline.join(", "));
    Ok((times, media, stack))
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
    let file = std::env::args()
        .nth(1)
        .ok_or("usage: e2e_bench FILE [ROTATION]")?;
    // Which upload goes first: on a VM the cost of writing into the page cache depends on the
    // memory's recent history, which differs by position, so rounds rotate the order.
    let rotation: usize = match std::env::args().nth(2) {
        Some(r) => r.parse()?,
        None => 0,
    };
    let dir = tempfile::tempdir()?;
    let mut singles = Vec::new();
    let mut cpu_singles = Vec::new();
    let mut configs = vec![
        ("cdn", (true, false, false)),
        ("ipfs", (false, true, false)),
        ("torrent", (false, false, true)),
        ("all", (true, true, true)),
    ];
    let first = rotation % configs.len();
    configs.rotate_left(first);
    let mut all_run = None;
    for (name, stores) in configs {
        let ((secs, cpu), media, stack) =
            upload_with(&dir.path().join(name), &file, stores).await?;
        if name == "all" {
            all_run = Some(((secs, cpu), media, stack));
        } else {
            cpu_singles.push(format!("\"{name}_cpu_s\":{cpu:.2}"));
            stack.shutdown().await;
            singles.push((name, secs));
        }
    }
    let ((all, all_cpu), media, a) = all_run.ok_or("the all-stores upload did not run")?;

    let b = EmbeddedStack::start(
        StackConfig::new(dir.path().join("b"))
            .with_reach(media_core::Reach::public_only().allow_private(true)),
    )
    .await?;
    b.store.import_ref(&media, &media.reference()).await?;
    let hedged = Hedge::new(PreferCdn, Duration::from_millis(200));
    let read = |policy| {
        ReadOptions::new()
            .policy_arc(policy)
            .attempt_timeout(Duration::from_secs(10))
    };
    let alive = first_byte(&b.store, &media, read(std::sync::Arc::new(hedged))).await?;
    if let Some(s3) = a.service::<media_facade::media_cdn::EmbeddedS3>() {
        media_core::Service::shutdown(s3).await;
    }
    let dead_hedged = first_byte(&b.store, &media, read(std::sync::Arc::new(hedged))).await?;
    let dead_plain = first_byte(&b.store, &media, read(std::sync::Arc::new(PreferCdn))).await?;
    b.shutdown().await;
    a.shutdown().await;
    let slowest = singles.iter().map(|(_, s)| *s).fold(0.0, f64::max);
    let singles_json: Vec<String> = singles
        .iter()
        .map(|(n, s)| format!("\"{n}_s\":{s:.4}"))
        .collect();
    println!(
        "{{\"all_s\":{all:.4},\"all_cpu_s\":{all_cpu:.2},{},{},\"slowest_single_s\":{slowest:.4},\"ttfb_alive_s\":{alive:.4},\"ttfb_cdn_dead_hedged_s\":{dead_hedged:.4},\"ttfb_cdn_dead_prefer_cdn_s\":{dead_plain:.4}}}",
        singles_json.join(","),
        cpu_singles.join(",")
    );
    Ok(())
}
