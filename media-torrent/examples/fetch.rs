//! `cargo run -p media-torrent --example fetch -- MAGNET [--peer ADDR]... --out DIR`
//!
//! Downloads the magnet's file into DIR (named after `dn`) and prints its size and SHA-256.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use futures::StreamExt;
use media_core::ByteRange;
use media_torrent::{MagnetLink, TorrentConfig, TorrentNode};
use sha2::Digest as _;
use tokio::io::AsyncWriteExt;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fetch: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let usage = "usage: fetch MAGNET [--peer ADDR]... --out DIR";
    let mut args = std::env::args().skip(1);
    let (mut magnet, mut peers, mut out) = (None, Vec::<SocketAddr>::new(), None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--peer" => peers.push(args.next().and_then(|v| v.parse().ok()).ok_or(usage)?),
            "--out" => out = Some(args.next().ok_or(usage)?),
            _ => magnet = Some(arg),
        }
    }
    let (Some(magnet), Some(out)) = (magnet, out) else {
        return Err(usage.into());
    };
    let link = MagnetLink::parse(&magnet).map_err(|e| e.to_string())?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let node = TorrentNode::start(
        TorrentConfig::new(work.path())
            // This example fetches from seeders on the same machine (benchmarks, interop).
            .with_reach(media_core::Reach::public_only().allow_private(true))
            .with_peers(peers)
            .with_timeouts(Duration::from_secs(60), Duration::from_secs(60)),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut stream = node
        .read(&magnet, ByteRange::full())
        .await
        .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let name = media_torrent::metainfo::torrent_name(link.name.as_deref().unwrap_or("download"));
    let path = std::path::Path::new(&out).join(name);
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| e.to_string())?;
    let mut sha = sha2::Sha256::new();
    let mut total = 0u64;
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| e.to_string())?;
        sha.update(&piece);
        total += piece.len() as u64;
        file.write_all(&piece).await.map_err(|e| e.to_string())?;
    }
    file.flush().await.map_err(|e| e.to_string())?;
    node.shutdown().await;
    let digest: Vec<u8> = sha.finalize().to_vec();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    println!("{}: {total} bytes, sha256 {hex}", path.display());
    Ok(())
}
