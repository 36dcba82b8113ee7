//! A real Helia node, offline, fetches files from our Trustless Gateway through its
//! trustless-gateway block broker (`unixfs.cat`), and `@helia/verified-fetch` reads them as
//! file bytes, as a raw block and as a CAR. Node and the npm packages come from
//! `cargo xtask test`.

mod common;

use std::process::Command;

use media_core::conformance::json_field as field;
use media_core::Digest32;
use media_ipfs::{FileDag, IpfsConfig, IpfsNode};

fn data(len: usize, seed: u64) -> Vec<u8> {
    media_core::conformance::test_bytes(len as u64, seed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helia_fetches_and_verifies_from_our_gateway() {
    let Some((npm_dir, node_bin)) = common::helia("helia") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files_dir = tempfile::tempdir().unwrap();
    let node = IpfsNode::start(
        IpfsConfig::new(dir.path())
            .with_reach(media_core::Reach::public_only().allow_private(true)),
    )
    .await
    .unwrap();
    let contents = vec![
        b"hello world\n".to_vec(),
        data(5_000_000, 1),
        data(1 << 20, 2),
        Vec::new(),
    ];
    let mut cids = Vec::new();
    for (i, bytes) in contents.iter().enumerate() {
        let path = files_dir.path().join(format!("f{i}"));
        std::fs::write(&path, bytes).unwrap();
        let file = node.store().add_path(&path).await.unwrap();
        assert_eq!(file.dag.root, FileDag::of_bytes(bytes).root);
        cids.push(file.dag.clone());
    }
    let script = common::script(&npm_dir, "helia_fetch.mjs");
    let gateway = node.gateway_url().unwrap();
    let out = tokio::process::Command::from(Command::new(&node_bin))
        .arg(&script)
        .arg(&gateway)
        .args(cids.iter().map(|d| d.root.to_string()))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "helia failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(lines.len(), contents.len(), "{stdout}");
    for ((line, bytes), dag) in lines.iter().zip(&contents).zip(&cids) {
        let sha = Digest32::sha256(bytes).to_hex();
        assert_eq!(field(line, "cid"), dag.root.to_string());
        assert_eq!(field(line, "size"), bytes.len().to_string(), "{line}");
        assert_eq!(
            field(line, "cat_sha256"),
            sha,
            "unixfs.cat via the block broker: {line}"
        );
        assert_eq!(field(line, "fetch_status"), "200");
        assert_eq!(
            field(line, "fetch_sha256"),
            sha,
            "verified-fetch file bytes: {line}"
        );
        assert_eq!(field(line, "raw_status"), "200");
        // The raw block of the root hashes to the root CID's own digest.
        assert_eq!(
            field(line, "raw_sha256"),
            Digest32(dag.root.hash().digest().try_into().unwrap()).to_hex(),
            "{line}"
        );
        assert_eq!(field(line, "car_status"), "200");
        assert!(field(line, "car_content_type").starts_with("application/vnd.ipld.car"));
        let car_bytes: usize = field(line, "car_bytes").parse().unwrap();
        assert!(car_bytes > bytes.len(), "{line}");
    }
    node.shutdown().await;
}
