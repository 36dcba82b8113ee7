//! `swarm_bench FILE MB_PER_S`: one read from every store at once against each store alone,
//! for `cargo xtask bench swarm`.
//!
//! An embedded stack stores FILE on the CDN, IPFS and BitTorrent. A second `MediaStore` reads
//! it back through the same three backends (cache off, so every byte comes from a store):
//! 1. capped: each backend behind its own token bucket of MB_PER_S (a simulated WAN link);
//! 2. uncapped, on loopback.
//!
//! In each, every store alone (`only_backend`) and the swarm over all three, with the time to
//! the first verified byte. Then the local cache: a store with the cache on reads CLIP (a
//! 24 MiB clip) twice, and `cat` reads CLIP from disk. Prints one JSON line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use media_bench::throttle::Throttled;
use media_core::{Backend, Fastest, MediaFile, PreferP2p, Swarm};
use media_facade::{EmbeddedStack, MediaStore, ReadOptions, StackConfig, UploadRequest};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Read `file` whole with `options`: (seconds to the first verified byte, seconds in all).
async fn read(store: &MediaStore, file: &MediaFile, options: ReadOptions) -> Res<(f64, f64)> {
    let t = Instant::now();
    let mut reader = store
        .open_file(file, options.attempt_timeout(Duration::from_secs(60)))
        .await?;
    let mut first = None;
    let mut n = 0u64;
    while let Some(piece) = reader.next().await {
        n += piece?.len() as u64;
        first.get_or_insert_with(|| t.elapsed().as_secs_f64());
    }
    if n != file.size {
        return Err(format!("read {n} of {} bytes", file.size).into());
    }
    Ok((first.unwrap_or_default(), t.elapsed().as_secs_f64()))
}

/// A reader over `backends`, each capped at `cap` bytes/s if given.
async fn reader(
    dir: &std::path::Path,
    backends: &[Arc<dyn Backend>],
    cap: Option<f64>,
    file: &MediaFile,
) -> Res<MediaStore> {
    let mut b = MediaStore::builder(dir)
        .without_thumbnails()
        .download_policy(PreferP2p);
    for backend in backends {
        b = b.backend(match cap {
            Some(rate) => Arc::new(Throttled::new(Arc::clone(backend), rate)),
            None => Arc::clone(backend),
        });
    }
    let store = b.build().await?;
    store.import_ref(file, &file.reference()).await?;
    Ok(store)
}

/// Each store alone, then the swarm; JSON fields prefixed with `prefix`.
async fn round(store: &MediaStore, file: &MediaFile, prefix: &str) -> Res<Vec<String>> {
    let mut fields = Vec::new();
    let mut best = f64::INFINITY;
    let mut best_first = f64::INFINITY;
    for name in ["cdn", "ipfs", "torrent"] {
        let (first, all) = read(store, file, ReadOptions::new().only_backend(name)).await?;
        eprintln!("  {prefix} {name}: first byte {first:.4} s, all {all:.3} s");
        fields.push(format!("\"{prefix}_{name}_s\":{all:.4}"));
        if all < best {
            best = all;
            best_first = first;
        }
    }
    let (first, all) = read(store, file, ReadOptions::new().policy(Swarm::new(Fastest))).await?;
    eprintln!("  {prefix} swarm: first byte {first:.4} s, all {all:.3} s");
    fields.push(format!("\"{prefix}_swarm_s\":{all:.4}"));
    fields.push(format!("\"{prefix}_swarm_first_s\":{first:.4}"));
    fields.push(format!("\"{prefix}_fastest_s\":{best:.4}"));
    fields.push(format!("\"{prefix}_fastest_first_s\":{best_first:.4}"));
    Ok(fields)
}

/// A store with the cache on reads the clip twice (the first read fills the cache); `cat`
/// reads the same file from disk, page cache warm, as the anchor.
async fn cache(dir: &std::path::Path, stack: &EmbeddedStack, clip: &str) -> Res<Vec<String>> {
    let clip_file = stack.store.upload(UploadRequest::path(clip)).await?;
    let mut b = MediaStore::builder(dir)
        .without_thumbnails()
        .cache_size(1 << 30);
    for backend in stack.store.backends() {
        b = b.backend(Arc::clone(backend));
    }
    let store = b.build().await?;
    store.import_ref(&clip_file, &clip_file.reference()).await?;
    let (_, first) = read(&store, &clip_file, ReadOptions::new()).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.cached_bytes() < clip_file.size {
        if Instant::now() > deadline {
            return Err("the cache did not fill".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut seconds = Vec::new();
    let mut cats = Vec::new();
    for _ in 0..5 {
        seconds.push(read(&store, &clip_file, ReadOptions::new()).await?.1);
        let t = Instant::now();
        let status = std::process::Command::new("cat")
            .arg(clip)
            .stdout(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            return Err("cat failed".into());
        }
        cats.push(t.elapsed().as_secs_f64());
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (second, cat) = (median(seconds), median(cats));
    eprintln!("  cache: first read {first:.4} s, second {second:.4} s, cat {cat:.4} s");
    Ok(vec![
        format!("\"cache_first_s\":{first:.5}"),
        format!("\"cache_second_s\":{second:.5}"),
        format!("\"cat_s\":{cat:.5}"),
    ])
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    const USAGE: &str = "usage: swarm_bench FILE MB_PER_S CLIP";
    let path = args.next().ok_or(USAGE)?;
    let mb_per_s: f64 = args.next().ok_or(USAGE)?.parse()?;
    let clip_path = args.next().ok_or(USAGE)?;
    let dir = tempfile::tempdir()?;
    let stack = EmbeddedStack::start_with(
        StackConfig::new(dir.path().join("a"))
            .with_reach(media_core::Reach::public_only().allow_private(true)),
        |b| b.without_thumbnails(),
    )
    .await?;
    let file = stack.store.upload(UploadRequest::path(&path)).await?;
    if file.locations.len() != 3 {
        return Err(format!("stored on {} stores, not 3", file.locations.len()).into());
    }
    let backends = stack.store.backends().to_vec();
    let capped = reader(
        &dir.path().join("capped"),
        &backends,
        Some(mb_per_s * 1e6),
        &file,
    )
    .await?;
    let mut fields = round(&capped, &file, "capped").await?;
    let open = reader(&dir.path().join("open"), &backends, None, &file).await?;
    // Once to warm the page cache and each store's connections, then measured.
    round(&open, &file, "warmup").await?;
    fields.extend(round(&open, &file, "loopback").await?);
    fields.extend(cache(&dir.path().join("cached"), &stack, &clip_path).await?);
    stack.shutdown().await;
    println!("{{\"mb_per_s\":{mb_per_s},{}}}", fields.join(","));
    Ok(())
}
