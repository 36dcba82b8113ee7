//! `cargo run -p media-torrent --example seed -- FILE [--listen 127.0.0.1:PORT] [--tracker URL]
//! [--web-seed URL] [--data DIR]`
//!
//! Seeds FILE, prints its magnet (and writes `<info hash>.torrent` next to the data), and
//! keeps seeding until interrupted.

use std::net::SocketAddr;
use std::process::ExitCode;

use media_torrent::{TorrentConfig, TorrentNode};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let usage =
        "usage: seed FILE [--listen 127.0.0.1:PORT] [--tracker URL] [--web-seed URL] [--data DIR]";
    let mut args = std::env::args().skip(1);
    let (mut file, mut listen, mut trackers, mut web_seed, mut data) =
        (None, None::<SocketAddr>, Vec::new(), None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = Some(args.next().and_then(|v| v.parse().ok()).ok_or(usage)?),
            "--tracker" => trackers.push(args.next().ok_or(usage)?),
            "--web-seed" => web_seed = Some(args.next().ok_or(usage)?),
            "--data" => data = Some(args.next().ok_or(usage)?),
            _ => file = Some(arg),
        }
    }
    let file = file.ok_or(usage)?;
    let temp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = data.map_or_else(|| temp.path().to_path_buf(), Into::into);
    let mut config = TorrentConfig::new(&dir).with_trackers(trackers);
    if let Some(addr) = listen {
        config = config.with_listen(addr);
    }
    let node = TorrentNode::start(config)
        .await
        .map_err(|e| e.to_string())?;
    let name = std::path::Path::new(&file)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("media")
        .to_owned();
    let mut meta = node
        .seed_file(file.as_ref(), &name, None)
        .await
        .map_err(|e| format!("{file}: {e}"))?;
    let hex = meta.info_hash_hex();
    if let Some(url) = web_seed {
        meta.web_seeds = vec![url];
    }
    let torrent_path = dir.join(format!("{hex}.torrent"));
    std::fs::write(&torrent_path, meta.to_torrent_bytes()).map_err(|e| e.to_string())?;
    println!("{}", node.magnet(&meta));
    println!("torrent {}", torrent_path.display());
    println!("peer {}", node.peer_addr());
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    node.shutdown().await;
    Ok(())
}
