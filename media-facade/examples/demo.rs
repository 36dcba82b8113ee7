//! The demo `cargo xtask demo` runs: a sample photo and a video-sized file go to three stores,
//! come back through every store alone and through every policy, then failures are drilled:
//! a dead store, a corrupt store, a stalled store. Exits non-zero if anything did not verify.
//!
//! At this stage the three stores are local test doubles (in-memory and folder backends with
//! fault injection) acting as CDN, IPFS and BitTorrent; the real adapters replace them as they
//! land.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use media_core::testing::{DirBackend, FaultyBackend, MemoryBackend};
use media_core::{
    BackendKind, ByteRange, DownloadPolicy, ErrorKind, Fastest, Hedged, MediaEvent, MediaFile,
    MediaId, PreferCdn, PreferP2p,
};
use media_facade::{MediaStore, ReadOptions, UploadRequest};

struct Row {
    step: String,
    ok: bool,
    detail: String,
}

fn sample(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 32) as u8
        })
        .collect()
}

/// A tiny JPEG-looking sample (JPEG magic, then noise): enough for MIME sniffing.
fn sample_photo() -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0];
    b.extend(sample(2_400_000, 7));
    b
}

async fn read(
    store: &MediaStore,
    file: &MediaFile,
    opts: ReadOptions,
) -> Result<(Vec<u8>, Duration), String> {
    let t = Instant::now();
    let reader = store
        .open_file(file, opts)
        .await
        .map_err(|e| e.to_string())?;
    let bytes = reader.read_to_end().await.map_err(|e| e.to_string())?;
    Ok((bytes, t.elapsed()))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    match run().await {
        Ok(rows) => {
            println!("\n{:<48} {:<6} detail", "step", "result");
            println!("{}", "-".repeat(100));
            for r in &rows {
                println!(
                    "{:<48} {:<6} {}",
                    r.step,
                    if r.ok { "ok" } else { "FAILED" },
                    r.detail
                );
            }
            let failed = rows.iter().filter(|r| !r.ok).count();
            println!("\n{} steps, {} failed", rows.len(), failed);
            if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<Vec<Row>, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let cdn = Arc::new(FaultyBackend::new(Arc::new(DirBackend::new(
        "cdn",
        BackendKind::Cdn,
        dir.path().join("cdn"),
    )?)));
    let ipfs = Arc::new(FaultyBackend::new(Arc::new(MemoryBackend::new(
        "ipfs",
        BackendKind::Ipfs,
    ))));
    let torrent = Arc::new(FaultyBackend::new(Arc::new(MemoryBackend::new(
        "torrent",
        BackendKind::Torrent,
    ))));
    let store = MediaStore::builder(dir.path().join("data"))
        .backend(cdn.clone())
        .backend(ipfs.clone())
        .backend(torrent.clone())
        .build()
        .await?;
    let mut events = store.subscribe();
    let printer = tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            match e {
                MediaEvent::UploadProgress {
                    backend,
                    bytes,
                    total,
                    ..
                } => {
                    println!(
                        "  upload {backend:<8} {:>5.1}%",
                        100.0 * bytes as f64 / total.max(1) as f64
                    )
                }
                MediaEvent::Fallback {
                    from, to, reason, ..
                } => {
                    println!(
                        "  fallback {from} -> {}: {}",
                        to.unwrap_or_else(|| "none".into()),
                        reason.message
                    )
                }
                MediaEvent::IntegrityFailure { backend, chunk, .. } => {
                    println!("  integrity failure from {backend} at chunk {chunk}")
                }
                _ => {}
            }
        }
    });

    let mut rows = Vec::new();
    let photo = sample_photo();
    let video = sample(24 * 1024 * 1024 + 12_345, 99);
    let mut files = Vec::new();
    for (name, bytes) in [("photo.jpg", &photo), ("clip.mp4", &video)] {
        println!(
            "uploading {name} ({} bytes) to cdn, ipfs, torrent",
            bytes.len()
        );
        let t = Instant::now();
        let file = store
            .upload(UploadRequest::bytes(name, bytes.clone()))
            .await?;
        println!("{}", serde_json::to_string_pretty(&summary(&file))?);
        rows.push(Row {
            step: format!("upload {name}"),
            ok: file.locations.len() == 3 && file.id == MediaId::for_bytes(bytes),
            detail: format!("{} stores in {:?}", file.locations.len(), t.elapsed()),
        });
        files.push((file, bytes.clone()));
    }

    let policies: Vec<(&str, Arc<dyn DownloadPolicy>)> = vec![
        ("prefer-p2p", Arc::new(PreferP2p::default())),
        ("prefer-cdn", Arc::new(PreferCdn::default())),
        (
            "hedged",
            Arc::new(Hedged::after(Duration::from_millis(100))),
        ),
        ("fastest", Arc::new(Fastest::default())),
    ];
    for (file, bytes) in &files {
        for backend in ["cdn", "ipfs", "torrent"] {
            let r = read(&store, file, ReadOptions::new().only_backend(backend)).await;
            rows.push(check(
                format!("get {} via {backend} alone", file.name),
                r,
                bytes,
            ));
        }
        for (pname, policy) in &policies {
            let opts = ReadOptions::new().policy(Arc::clone(policy));
            let r = read(&store, file, opts).await;
            rows.push(check(format!("get {} with {pname}", file.name), r, bytes));
        }
    }
    let (video_file, video_bytes) = &files[1];
    let seek = ByteRange::new(5_000_000, 9_000_000);
    let r = read(&store, video_file, ReadOptions::new().range(seek)).await;
    rows.push(check(
        "seek clip.mp4 5 MB..9 MB".into(),
        r,
        &video_bytes[5_000_000..9_000_000],
    ));

    println!("drill: the CDN dies");
    cdn.set_faults(|f| f.fail_get = Some(ErrorKind::Unavailable));
    let r = read(
        &store,
        video_file,
        ReadOptions::new().policy(PreferCdn::default()),
    )
    .await;
    rows.push(check("CDN dead -> P2P serves".into(), r, video_bytes));
    cdn.heal();

    println!("drill: the CDN serves a corrupt byte");
    cdn.set_faults(|f| f.corrupt_at = Some(7_777_777));
    let before = store.stats().integrity_failures;
    let r = read(
        &store,
        video_file,
        ReadOptions::new().policy(PreferCdn::default()),
    )
    .await;
    let detected = store.stats().integrity_failures > before;
    let mut row = check("corrupt CDN -> detected, fallback".into(), r, video_bytes);
    row.ok &= detected;
    rows.push(row);
    cdn.heal();

    println!("drill: the torrent seeder is gone, IPFS stalls");
    torrent.set_faults(|f| f.fail_get = Some(ErrorKind::Unavailable));
    ipfs.set_faults(|f| f.stall = true);
    let policy = PreferP2p {
        attempt_timeout: Duration::from_millis(500),
    };
    let r = read(&store, video_file, ReadOptions::new().policy(policy)).await;
    rows.push(check(
        "seeder gone, IPFS stalled -> CDN serves".into(),
        r,
        video_bytes,
    ));
    torrent.heal();
    ipfs.heal();

    let stats = store.stats();
    println!("\nstatistics:\n{}", serde_json::to_string_pretty(&stats)?);
    printer.abort();
    Ok(rows)
}

fn check(step: String, r: Result<(Vec<u8>, Duration), String>, expected: &[u8]) -> Row {
    match r {
        Ok((bytes, took)) => {
            let ok = bytes == expected;
            Row {
                step,
                ok,
                detail: if ok {
                    format!("{} bytes verified in {took:?}", bytes.len())
                } else {
                    "bytes differ".into()
                },
            }
        }
        Err(e) => Row {
            step,
            ok: false,
            detail: e,
        },
    }
}

fn summary(file: &MediaFile) -> serde_json::Value {
    serde_json::json!({
        "id": file.id,
        "name": file.name,
        "size": file.size,
        "mime": file.mime,
        "url": file.cdn_url(),
        "cid": file.cid(),
        "magnet": file.magnet(),
        "chunks": file.chunks.len(),
        "thumbnail_bytes": file.thumbnail.as_ref().map(|t| t.bytes.len()),
    })
}
