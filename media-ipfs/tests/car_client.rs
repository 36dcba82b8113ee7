//! The gateway client's CAR reads against our gateway and a proxy that tampers with the CAR:
//! one request per read, each block verified as it arrives, lies refused, a gateway that
//! omits duplicate blocks still read whole.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use media_core::{Digests, ErrorKind, Progress, StagedBlob};
use media_ipfs::{car, Cid, FileDag, GatewayClient, IpfsConfig, IpfsNode};

const MIB: u64 = 1 << 20;

use media_core::conformance::test_bytes as data;

#[derive(Clone, Copy, Debug)]
enum Tamper {
    None,
    /// Flip a byte of the nth block.
    Corrupt(usize),
    /// Swap blocks 1 and 2.
    Swap,
    /// Send a block once even where the DAG repeats it (a `dups=n` gateway).
    Dedup,
    /// Declare another root.
    WrongRoot,
    /// Stop after the nth block.
    Truncate(usize),
}

/// A gateway in front of `honest` that rewrites its CARs with `tamper` and counts requests.
async fn proxy(honest: String, tamper: Tamper, requests: Arc<AtomicUsize>) -> String {
    use axum::extract::{Path, RawQuery};
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/ipfs/{cid}",
        get(move |Path(cid): Path<String>, RawQuery(query): RawQuery| {
            let honest = honest.clone();
            let requests = Arc::clone(&requests);
            async move {
                requests.fetch_add(1, Ordering::SeqCst);
                let query = query.unwrap_or_default();
                let body = reqwest::get(format!("{honest}/ipfs/{cid}?{query}"))
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                if !query.contains("format=car") {
                    return ([("content-type", "application/vnd.ipld.raw")], body);
                }
                let parsed = car::parse(&body).unwrap();
                let mut blocks = parsed.blocks;
                let mut root = parsed.roots[0];
                match tamper {
                    Tamper::None => {}
                    Tamper::Corrupt(n) => blocks[n].1[100] ^= 1,
                    Tamper::Swap => blocks.swap(1, 2),
                    Tamper::Dedup => {
                        let mut seen = std::collections::HashSet::new();
                        blocks.retain(|(cid, _)| seen.insert(*cid));
                    }
                    Tamper::WrongRoot => root = FileDag::of_bytes(b"another file").root,
                    Tamper::Truncate(n) => blocks.truncate(n),
                }
                let mut out = car::header(&root);
                for (cid, block) in &blocks {
                    out.extend(car::block_prefix(cid, block.len()));
                    out.extend_from_slice(block);
                }
                ([("content-type", car::CAR_CONTENT_TYPE)], Bytes::from(out))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn read_all(
    client: &GatewayClient,
    root: &Cid,
    range: Option<std::ops::Range<u64>>,
) -> (Vec<u8>, Option<media_core::MediaError>) {
    let mut stream = client.read(&root.to_string(), range).unwrap();
    let mut got = Vec::new();
    while let Some(piece) = stream.next().await {
        match piece {
            Ok(b) => got.extend_from_slice(&b),
            Err(e) => return (got, Some(e)),
        }
    }
    (got, None)
}

async fn stored(node: &IpfsNode, dir: &std::path::Path, bytes: &[u8]) {
    let digests = Digests::of_bytes(bytes);
    let path = dir.join("staged");
    std::fs::write(&path, bytes).unwrap();
    let blob = StagedBlob::new(&path, "f", "application/octet-stream", Arc::new(digests));
    media_core::Backend::put(&node.backend("ipfs"), &blob, Progress::none())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_car_read_is_one_request_and_every_lie_is_refused() {
    let (dir, staging) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node = IpfsNode::start(
        IpfsConfig::new(dir.path())
            .with_reach(media_core::Reach::public_only().allow_private(true)),
    )
    .await
    .unwrap();
    let bytes = data(5 * MIB + 321, 9);
    stored(&node, staging.path(), &bytes).await;
    let dag = FileDag::of_bytes(&bytes);
    let honest = node.gateway_url().unwrap();

    // Straight from our gateway: the whole file and ranges.
    let client = GatewayClient::new(&honest, Duration::from_secs(10)).unwrap();
    let (got, err) = read_all(&client, &dag.root, None).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, bytes);
    let (got, err) = read_all(&client, &dag.root, Some(MIB + 7..3 * MIB + 1)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, &bytes[(MIB + 7) as usize..(3 * MIB + 1) as usize]);
    let (got, _) = read_all(&client, &dag.root, Some(5 * MIB..5 * MIB + 321)).await;
    assert_eq!(got, &bytes[5 * MIB as usize..]);

    // Through a counting proxy: one request for the whole file.
    let requests = Arc::new(AtomicUsize::new(0));
    let plain = proxy(honest.clone(), Tamper::None, Arc::clone(&requests)).await;
    let client = GatewayClient::new(&plain, Duration::from_secs(10)).unwrap();
    assert_eq!(read_all(&client, &dag.root, None).await.0, bytes);
    assert_eq!(requests.load(Ordering::SeqCst), 1);

    // Lies: bytes up to the bad block arrive, then a typed error; nothing after it.
    for (tamper, kind, good) in [
        (Tamper::Corrupt(3), ErrorKind::Integrity, 2 * MIB),
        (Tamper::Swap, ErrorKind::Integrity, 0),
        (Tamper::WrongRoot, ErrorKind::Integrity, 0),
        (Tamper::Truncate(3), ErrorKind::Unavailable, 2 * MIB),
    ] {
        let url = proxy(honest.clone(), tamper, Arc::new(AtomicUsize::new(0))).await;
        let client = GatewayClient::new(&url, Duration::from_secs(10)).unwrap();
        let (got, err) = read_all(&client, &dag.root, None).await;
        let err = err.unwrap_or_else(|| panic!("{tamper:?} accepted"));
        // A malformed CAR (out of order, wrong root) is an integrity failure of the source,
        // like a corrupt block.
        assert_eq!(err.kind, kind, "{tamper:?}: {err}");
        assert_eq!(got, &bytes[..good as usize], "{tamper:?}");
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_a_gateway_sends_only_once_are_fetched_alone() {
    let (dir, staging) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node = IpfsNode::start(
        IpfsConfig::new(dir.path())
            .with_reach(media_core::Reach::public_only().allow_private(true)),
    )
    .await
    .unwrap();
    // Three identical 1 MiB leaves and a short one.
    let mut bytes = vec![7u8; 3 * MIB as usize];
    bytes.extend_from_slice(b"tail");
    stored(&node, staging.path(), &bytes).await;
    let dag = FileDag::of_bytes(&bytes);
    let requests = Arc::new(AtomicUsize::new(0));
    let url = proxy(
        node.gateway_url().unwrap(),
        Tamper::Dedup,
        Arc::clone(&requests),
    )
    .await;
    let client = GatewayClient::new(&url, Duration::from_secs(10)).unwrap();
    let (got, err) = read_all(&client, &dag.root, None).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, bytes);
    // The CAR, then the repeated leaf twice on its own.
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    node.shutdown().await;
}
