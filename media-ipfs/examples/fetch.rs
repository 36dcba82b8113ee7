//! `cargo run -p media-ipfs --example fetch -- CID --gateway URL --out FILE [--range A-B]`
//!
//! Fetches a UnixFS file from a trustless gateway, verifying every block against its CID.

use std::process::ExitCode;
use std::time::Duration;

use futures::StreamExt;
use media_ipfs::GatewayClient;
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
    let usage = "usage: fetch CID --gateway URL --out FILE [--range A-B]";
    let mut args = std::env::args().skip(1);
    let (mut cid, mut gateway, mut out, mut range) = (None, None, None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--gateway" => gateway = args.next(),
            "--out" => out = args.next(),
            "--range" => {
                let spec = args.next().ok_or(usage)?;
                let (a, b) = spec.split_once('-').ok_or("--range A-B (inclusive)")?;
                let a: u64 = a.parse().map_err(|_| "--range A-B (inclusive)")?;
                let b: u64 = b.parse().map_err(|_| "--range A-B (inclusive)")?;
                range = Some(a..b + 1);
            }
            _ => cid = Some(arg),
        }
    }
    let (Some(cid), Some(gateway), Some(out)) = (cid, gateway, out) else {
        return Err(usage.into());
    };
    let client =
        GatewayClient::new(&gateway, Duration::from_secs(60)).map_err(|e| e.to_string())?;
    let mut stream = client.read(&cid, range).map_err(|e| e.to_string())?;
    let mut file = tokio::fs::File::create(&out)
        .await
        .map_err(|e| format!("{out}: {e}"))?;
    let mut total = 0u64;
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| e.to_string())?;
        total += piece.len() as u64;
        file.write_all(&piece)
            .await
            .map_err(|e| format!("{out}: {e}"))?;
    }
    file.flush().await.map_err(|e| e.to_string())?;
    println!("{out}: {total} bytes of {cid}, every block verified");
    Ok(())
}
