//! Benchmark helper for `cargo xtask bench edge`: the owner's upload while strangers trickle.
//!
//! An embedded stack with an open Blossom server (any signer may write: the worst case). The
//! owner uploads FILE with `curl -T` to `PUT /upload`, signed with the node's key, three times
//! alone; then STRANGERS uploads from as many loopback addresses (one peer each, so no
//! per-peer cap helps) each send their headers and then a byte every 200 ms, and the owner
//! uploads the same way three more times while they trickle. Prints one JSON line: the
//! median times, how many trickles the server cut, and how long it held them.

use media_bench::{curl, median};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use media_facade::media_blossom::auth::unix_now;
use media_facade::{EmbeddedStack, StackConfig};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args.next().ok_or("usage: edge_bench FILE [STRANGERS]")?;
    let strangers: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(64);
    let work = tempfile::tempdir()?;
    let node = work.path().join("node");
    let config = StackConfig::from_toml("[blossom]\nopen_writes = true\n", &node)?
        .with_reach(media_core::Reach::public_only().allow_private(true));
    let stack = EmbeddedStack::start(config).await?;
    let blossom = stack.endpoint("blossom").ok_or("no Blossom server")?;
    let addr: SocketAddr = blossom
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()?;
    let keys =
        media_facade::media_blossom::load_or_create_keys(&node.join("secrets").join("nostr.key"))?;
    let original = std::fs::read(&file)?;
    let size = original.len();

    // Each of the owner's uploads is a fresh file (one byte differs), as new photos are.
    let mut round = 0u8;
    let dir = work.path().to_path_buf();
    let url = blossom.clone();
    let mut owners_upload = move || -> Result<f64, Box<dyn std::error::Error>> {
        round += 1;
        let mut bytes = original.clone();
        bytes[0] = round;
        let path = dir.join(format!("owner-{round}.bin"));
        std::fs::write(&path, &bytes)?;
        let id = media_core::MediaId::for_bytes(&bytes).to_string();
        let auth = keys
            .authorize("upload", &[&id], "bench", unix_now(), 3600)
            .map_err(|e| e.to_string())?
            .to_header();
        let took = curl(&[
            "-T",
            path.to_str().ok_or("path")?,
            "-H",
            &format!("Authorization: {auth}"),
            "-H",
            &format!("X-SHA-256: {id}"),
            &format!("{url}/upload"),
        ])?;
        std::fs::remove_file(&path)?;
        Ok(took)
    };

    let quiet: Vec<f64> = (0..3).map(|_| owners_upload()).collect::<Result<_, _>>()?;

    // Each stranger has a key of his own (one key may have only 16 uploads under way) and an
    // address of his own (one peer may have only a few).
    let junk = vec![7u8; 1 << 20];
    let junk_id = media_core::MediaId::for_bytes(&junk).to_string();
    let mut trickles = tokio::task::JoinSet::new();
    for n in 0..strangers {
        let stranger =
            media_facade::media_blossom::NostrKeys::generate().map_err(|e| e.to_string())?;
        let head = format!(
            "PUT /upload HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nX-SHA-256: {junk_id}",
            stranger
                .authorize("upload", &[&junk_id], "bench", unix_now(), 3600)
                .map_err(|e| e.to_string())?
                .to_header()
        );
        let from = IpAddr::V4(Ipv4Addr::new(127, 3, (n / 250) as u8, 2 + (n % 250) as u8));
        let mut one = media_http::abuse::trickling_uploads(
            from,
            addr,
            &head,
            1,
            Duration::from_millis(200),
            Duration::from_secs(120),
        );
        trickles.spawn(async move { one.join_next().await });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded: Vec<f64> = tokio::task::spawn_blocking(move || {
        (0..3)
            .map(|_| owners_upload().map_err(|e| e.to_string()))
            .collect::<Result<Vec<f64>, String>>()
    })
    .await??;
    let (mut cut, mut held, mut answers) = (0usize, Vec::new(), Vec::new());
    while let Some(done) = trickles.join_next().await {
        if let Some(Ok(Ok(t))) = done? {
            if t.held < Duration::from_secs(120) {
                cut += 1;
            }
            held.push(t.held.as_secs_f64());
            answers.push(t.answer.unwrap_or_else(|| "closed".into()));
        }
    }
    answers.sort();
    answers.dedup();
    stack.shutdown().await;
    println!(
        "{{\"size\":{size},\"strangers\":{strangers},\"quiet_s\":{:.4},\"loaded_s\":{:.4},\"trickles_cut\":{cut},\"trickle_held_s\":{:.2},\"answers\":{:?}}}",
        median(quiet),
        median(loaded),
        median(held),
        answers.join(" | ")
    );
    Ok(())
}
