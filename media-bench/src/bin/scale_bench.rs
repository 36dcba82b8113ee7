//! `scale_bench single|cluster COUNT`: the same photo workload on one embedded S3 server or
//! on a SeaweedFS cluster, for `cargo xtask bench scale`.
//!
//! Two nodes upload COUNT photos of 1–8 MiB between them at once (four at a time each), into
//! one bucket that is also their shared catalog; then a third node, knowing the photos only
//! from that catalog, reads every one (eight at a time). Prints one JSON line: wall time,
//! throughput, and p50/p99 latency of uploads and of reads.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use media_cdn::seaweed::{weed_binary, SeaweedCluster};
use media_cdn::{EmbeddedS3, S3Backend, S3Config};
use media_core::{Digest32, MediaId};
use media_facade::{MediaStore, UploadRequest};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const MIB: usize = 1 << 20;

async fn node(dir: &std::path::Path, config: &S3Config) -> Res<MediaStore> {
    let backend = S3Backend::new(config.clone())?;
    let catalog = Arc::new(backend.catalog());
    Ok(MediaStore::builder(dir)
        .backend(Arc::new(backend))
        .shared_catalog(catalog)
        .without_thumbnails()
        .build()
        .await?)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

fn summary(name: &str, mut latencies: Vec<f64>, wall: f64, bytes: u64) -> String {
    latencies.sort_by(f64::total_cmp);
    format!(
        "\"{name}_s\":{wall:.3},\"{name}_mb_s\":{:.1},\"{name}_p50_s\":{:.4},\"{name}_p99_s\":{:.4}",
        bytes as f64 / 1e6 / wall,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let mode = args
        .next()
        .ok_or("usage: scale_bench single|cluster COUNT")?;
    let count: usize = args.next().map_or(Ok(200), |c| c.parse())?;
    let dir = tempfile::tempdir()?;
    // Keep whichever server runs alive for the whole run.
    let (_single, _cluster, config) = match mode.as_str() {
        "single" => {
            let s3 = EmbeddedS3::start(dir.path().join("s3"), "media").await?;
            let config = s3.config();
            (Some(s3), None, config)
        }
        "cluster" => {
            let weed = weed_binary().ok_or("set MEDIA_WEED_BIN to SeaweedFS's weed")?;
            let cluster = SeaweedCluster::start(&weed, &dir.path().join("weed"), 3).await?;
            let config = cluster.s3_config();
            (None, Some(cluster), config)
        }
        other => return Err(format!("mode {other:?}: single or cluster").into()),
    };
    let writers = [
        node(&dir.path().join("a"), &config).await?,
        node(&dir.path().join("b"), &config).await?,
    ];
    // Eight base photos of 1..=8 MiB; each upload changes its first bytes so every one is new.
    let bases: Vec<Vec<u8>> = (1..=8)
        .map(|m| media_core::sample_bytes((m * MIB) as u64, m as u64))
        .collect();
    let photo = |i: usize| {
        let mut p = bases[i % 8].clone();
        p[..8].copy_from_slice(&(i as u64).to_le_bytes());
        p
    };
    let total: u64 = (0..count).map(|i| bases[i % 8].len() as u64).sum();

    let start = Instant::now();
    let uploads = (0..count).map(|i| {
        let store = writers[i % 2].clone();
        let bytes = photo(i);
        async move {
            let t = Instant::now();
            let file = store
                .upload(UploadRequest::bytes(format!("photo-{i}.jpg"), bytes))
                .await?;
            Ok::<_, media_core::MediaError>((t.elapsed().as_secs_f64(), file.id, file.sha256))
        }
    });
    let done: Vec<(f64, MediaId, Digest32)> = futures::stream::iter(uploads)
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let upload_wall = start.elapsed().as_secs_f64();

    let reader = node(&dir.path().join("c"), &config).await?;
    let start = Instant::now();
    let reads = done.iter().map(|(_, id, sha)| {
        let reader = reader.clone();
        async move {
            let t = Instant::now();
            let bytes = reader.read_all(id).await?;
            if Digest32::sha256(&bytes) != *sha {
                return Err(format!("{id} read back different bytes").into());
            }
            Ok::<_, Box<dyn std::error::Error>>(t.elapsed().as_secs_f64())
        }
    });
    let read_latencies: Vec<f64> = futures::stream::iter(reads)
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let read_wall = start.elapsed().as_secs_f64();
    println!(
        "{{\"mode\":\"{mode}\",\"count\":{count},\"mib\":{},{},{}}}",
        total >> 20,
        summary(
            "upload",
            done.iter().map(|d| d.0).collect(),
            upload_wall,
            total
        ),
        summary("read", read_latencies, read_wall, total)
    );
    Ok(())
}
