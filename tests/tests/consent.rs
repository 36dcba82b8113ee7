//! P2P consent on the embedded stack: with `p2p = "off"` no BitTorrent or iroh store starts
//! (nothing listens for peers) and uploads land on the CDN alone; the TOML key reaches it.

use std::time::Duration;

use media_facade::{EmbeddedStack, P2pMode, StackConfig, UploadRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_p2p_off_no_peer_to_peer_store_starts() {
    let dir = tempfile::tempdir().unwrap();
    let config = StackConfig::from_toml(
        "[privacy]\np2p = \"off\"\n\n[net]\nallow_private = true\n",
        dir.path(),
    )
    .unwrap();
    assert_eq!(config.p2p, P2pMode::Off);
    let stack = EmbeddedStack::start(config.with_p2p_timeout(Duration::from_secs(5)))
        .await
        .unwrap();
    let names: Vec<String> = stack.endpoints().into_iter().map(|(n, _)| n).collect();
    assert!(names.iter().any(|n| n == "s3"), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n == "gateway" || n == "torrent" || n == "iroh"),
        "{names:?}"
    );
    assert!(stack
        .service::<media_facade::media_torrent::TorrentNode>()
        .is_none());
    assert!(stack
        .service::<media_facade::media_ipfs::IpfsNode>()
        .is_none());
    let backends: Vec<&str> = stack.store.backends().iter().map(|b| b.name()).collect();
    assert_eq!(backends, vec!["cdn"]);
    let bytes = media_core::sample_bytes(200_000, 4);
    let file = stack
        .store
        .upload(UploadRequest::bytes("a.bin", bytes.clone()))
        .await
        .unwrap();
    assert_eq!(file.locations.len(), 1);
    assert!(file.magnet().is_none() && file.cid().is_none());
    assert_eq!(stack.store.read_all(&file.id).await.unwrap(), bytes);
    stack.shutdown().await;
}
