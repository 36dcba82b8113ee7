//! `cargo run -p media-ipfs --example serve -- FILE... [--listen 127.0.0.1:PORT] [--data DIR]`
//!
//! Imports the files into a node (data in DIR, default a temporary folder), serves the
//! Trustless Gateway on the listen address and iroh on 127.0.0.1, prints one line per file
//! (`CID TICKET`) and the gateway URL, then serves until interrupted.

use std::net::SocketAddr;
use std::process::ExitCode;

use media_ipfs::{IpfsConfig, IpfsNode};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut files = Vec::new();
    let mut listen: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut data = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                listen = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--listen needs HOST:PORT")?
            }
            "--data" => data = Some(args.next().ok_or("--data needs a folder")?),
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        return Err("usage: serve FILE... [--listen 127.0.0.1:PORT] [--data DIR]".into());
    }
    let temp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = data.map_or_else(|| temp.path().to_path_buf(), Into::into);
    let node = IpfsNode::start(IpfsConfig::new(dir).with_gateway_listen(Some(listen)))
        .await
        .map_err(|e| e.to_string())?;
    for path in &files {
        let file = node
            .store()
            .add_path(path.as_ref())
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        println!("{} {}", file.dag.root, node.ticket(&file));
    }
    println!("gateway {}", node.gateway_url().unwrap_or_default());
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    node.shutdown().await;
    Ok(())
}
