//! CORS on every public HTTP service of the embedded stack: the S3 server's public reads, the
//! Trustless Gateway and Blossom answer a page on another origin (with `Range`, preflights
//! included), and `[net] cors_origins` narrows that to the listed origins.

use std::time::Duration;

use media_core::BackendKind;
use media_facade::{EmbeddedStack, StackConfig, UploadRequest};

async fn node(dir: &std::path::Path, toml: &str) -> EmbeddedStack {
    let config = StackConfig::from_toml(&format!("[net]\nallow_private = true\n{toml}"), dir)
        .unwrap()
        .with_p2p_timeout(Duration::from_secs(5));
    EmbeddedStack::start(config).await.unwrap()
}

/// The public URLs of one photo: on the S3 server, through the gateway, on Blossom.
async fn urls(stack: &EmbeddedStack) -> Vec<(&'static str, String)> {
    let bytes = media_core::sample_bytes(300_000, 5);
    let file = stack
        .store
        .upload(UploadRequest::bytes("p.bin", bytes))
        .await
        .unwrap();
    let endpoint = |name: &str| {
        stack
            .endpoints()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, url)| url)
            .unwrap()
    };
    let cdn = file
        .locations
        .iter()
        .find(|l| l.kind == BackendKind::CDN)
        .unwrap()
        .uri
        .clone();
    let cid = file
        .locations
        .iter()
        .find_map(|l| l.cid())
        .unwrap()
        .to_owned();
    vec![
        ("s3", cdn),
        ("gateway", format!("{}/ipfs/{cid}", endpoint("gateway"))),
        (
            "blossom",
            format!("{}/{}", endpoint("blossom"), file.sha256),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_public_service_lets_pages_read_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let stack = node(dir.path(), "").await;
    let http = reqwest::Client::new();
    for (name, url) in urls(&stack).await {
        let got = http
            .get(&url)
            .header("origin", "http://page.test")
            .header("range", "bytes=0-99")
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 206, "{name} {url}");
        let h = got.headers();
        assert_eq!(h["access-control-allow-origin"], "*", "{name}");
        // Header names are case-insensitive (tower-http writes them in lower case).
        let exposed = h["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        for header in ["content-range", "content-length", "etag", "accept-ranges"] {
            assert!(exposed.contains(header), "{name}: {exposed}");
        }
        assert_eq!(got.bytes().await.unwrap().len(), 100, "{name}");

        let preflight = http
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", "http://page.test")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "range")
            .send()
            .await
            .unwrap();
        assert!(
            preflight.status().is_success(),
            "{name}: {}",
            preflight.status()
        );
        let h = preflight.headers();
        assert_eq!(h["access-control-allow-origin"], "*", "{name}");
        assert!(h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("GET"));
        assert!(h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("range"));
    }
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_origin_list_lets_only_those_pages_in() {
    let dir = tempfile::tempdir().unwrap();
    let stack = node(dir.path(), "cors_origins = [\"http://app.test\"]\n").await;
    let http = reqwest::Client::new();
    for (name, url) in urls(&stack).await {
        let ours = http
            .get(&url)
            .header("origin", "http://app.test")
            .send()
            .await
            .unwrap();
        assert_eq!(ours.status(), 200, "{name}");
        assert_eq!(
            ours.headers()["access-control-allow-origin"],
            "http://app.test",
            "{name}"
        );
        assert!(
            ours.headers().get_all("vary").iter().any(|v| v
                .to_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("origin")),
            "{name}"
        );
        let theirs = http
            .get(&url)
            .header("origin", "http://evil.test")
            .send()
            .await
            .unwrap();
        assert!(
            theirs
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{name}: {:?}",
            theirs.headers()
        );
    }
    stack.shutdown().await;
}
