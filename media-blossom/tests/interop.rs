//! blossom-client-sdk (npm), with events signed by nostr-tools, against two of our Blossom
//! servers on 127.0.0.1: upload, download, Range, list, mirror, delete, and the refusals of
//! forged, expired, wrong-verb, wrong-x and wrong-server events. Node and the npm packages
//! come from `cargo xtask test`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use media_blossom::{BlossomServer, BlossomServerConfig, FolderHost};
use media_core::Reach;

/// The npm folder and Node, from `MEDIA_NODE_DIR` / `MEDIA_NODE_BIN`; their absence fails the
/// test with the install hint unless `MEDIA_SKIP_INTEROP` is set.
fn node_tools() -> Option<(PathBuf, PathBuf)> {
    let dir = std::env::var_os("MEDIA_NODE_DIR").map(PathBuf::from);
    let node = std::env::var_os("MEDIA_NODE_BIN").map(PathBuf::from);
    match (dir, node) {
        (Some(dir), Some(node)) if dir.join("node_modules/blossom-client-sdk").is_dir() => {
            Some((dir, node))
        }
        // Skipping is a decision someone makes, never a silent default.
        _ if std::env::var_os("MEDIA_SKIP_INTEROP").is_some() => None,
        _ => panic!("blossom-client-sdk is required: run the tests with `cargo xtask test` (it installs it and nostr-tools with npm), set MEDIA_NODE_DIR and MEDIA_NODE_BIN, or set MEDIA_SKIP_INTEROP=1 to skip the interop tests on purpose"),
    }
}

async fn server(dir: &Path) -> BlossomServer {
    let host = FolderHost::new(dir.join("blobs")).unwrap();
    let config = BlossomServerConfig::new(dir)
        .with_reach(Reach::public_only().allow_private(true))
        .with_open_writes(true);
    BlossomServer::start(config, Arc::new(host)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blossom_client_sdk_uploads_reads_lists_mirrors_and_deletes() {
    let Some((npm_dir, node_bin)) = node_tools() else {
        return;
    };
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (server(a_dir.path()).await, server(b_dir.path()).await);
    // ESM resolves packages next to the script.
    let script = npm_dir.join("blossom_client.mjs");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/blossom_client.mjs"),
        &script,
    )
    .unwrap();
    let out = tokio::process::Command::new(&node_bin)
        .arg(&script)
        .arg(a.url())
        .arg(b.url())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "blossom-client-sdk failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let step = |name: &str| -> Vec<&serde_json::Value> {
        lines.iter().filter(|l| l["step"] == name).collect()
    };
    let upload = step("upload")[0];
    let hash = upload["expected"].as_str().unwrap();
    assert_eq!(upload["sha256"], hash);
    assert_eq!(upload["size"], 700_000);
    assert_eq!(upload["type"], "image/png");
    assert_eq!(upload["url"], format!("{}/{hash}.png", a.url()).as_str());
    assert_eq!(step("download")[0]["sha256"], hash);
    let range = step("range")[0];
    assert_eq!(range["status"], 206);
    assert_eq!(range["sha256"], range["expected"]);
    assert_eq!(range["contentRange"], "bytes 1000-1999/700000");
    assert_eq!(step("list")[0]["sha256s"], serde_json::json!([hash]));
    let mirror = step("mirror")[0];
    assert_eq!(mirror["sha256"], hash);
    assert_eq!(mirror["fetched"], hash);
    let refused = step("refused");
    assert_eq!(refused.len(), 5, "{stdout}");
    for r in refused {
        assert_eq!(r["status"], 401, "{}: {r}", r["label"]);
        assert!(
            r["reason"].as_str().is_some_and(|s| !s.is_empty()),
            "{} without X-Reason",
            r["label"]
        );
    }
    let delete = step("delete")[0];
    assert_eq!(delete["deleted"], true);
    assert_eq!(delete["status"], 404);
}
