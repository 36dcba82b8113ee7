//! Findings 10, 12 and 17 (local users on the same machine): the page's read cookie was the
//! full API token; the data directory and staged plaintext of private uploads were readable
//! by everyone; the CLI trusted any `node.json`. Finding 11 (secrets in errors and `Debug`)
//! is proven beside the code (media-cdn's and media-facade's unit tests).

use crate::node::{bytes, client, mode, Node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_cookie_reads_and_nothing_more() {
    let node = Node::start("");
    let photo = bytes(70, 10_000);
    let put = node.put("p.bin", &photo);
    let id = put.id.to_string();
    let http = client();
    let resp = http
        .post(format!("{}/api/v1/session", node.api))
        .bearer_auth(&node.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    let pair = set.split(';').next().unwrap().to_owned();
    let value = pair.split_once('=').unwrap().1;
    assert!(
        !value.contains(&node.token),
        "the cookie carries the API token"
    );
    assert!(value.len() >= 32, "a guessable cookie: {pair}");
    // It reads…
    let resp = http
        .get(format!("{}/api/v1/media/{id}/content", node.api))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.unwrap() == photo);
    // …and as a bearer token it is worth nothing.
    for (method, path) in [
        (reqwest::Method::DELETE, format!("/api/v1/media/{id}")),
        (reqwest::Method::GET, "/api/v1/media".to_owned()),
    ] {
        let resp = http
            .request(method, format!("{}{path}", node.api))
            .bearer_auth(value)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{path}");
    }
    let resp = http
        .delete(format!("{}/api/v1/media/{id}", node.api))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(node.record(&id).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_the_owners_alone() {
    let node = Node::start("");
    node.put("p.bin", &bytes(71, 10_000));
    assert_eq!(mode(&node.data), 0o700, "data directory");
    assert_eq!(mode(&node.data.join("staging")), 0o700, "staging");
    assert_eq!(mode(&node.data.join("node.json")) & 0o077, 0, "node.json");
    // Every file the node wrote beside its media: nothing readable by others, whatever the
    // folder's own mode (the data directory alone already shuts them out).
    let mut stack = vec![node.data.clone()];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "redb" || e == "key") {
                seen += 1;
                assert_eq!(
                    mode(&path) & 0o077,
                    0,
                    "{} is {:o}",
                    path.display(),
                    mode(&path)
                );
            }
        }
    }
    assert!(seen >= 2, "catalog and keys were checked");
}

#[test]
fn the_cli_ignores_a_node_file_it_does_not_own() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // Another local user's "node": a listener that records what it is sent.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let node = serde_json::json!({
        "api": format!("http://{}", trap.local_addr().unwrap()),
        "token": "x".repeat(48),
        "pid": std::process::id(),
    });
    let file = data.join("node.json");
    std::fs::write(&file, node.to_string()).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (_, _, err) = crate::common::media_code(&data, &["ls"]);
    assert!(
        trap.accept().is_err(),
        "the CLI went to a node.json others may write"
    );
    assert!(err.contains("ignoring"), "{err}");
    // A node.json owned by another user is ignored too (root can make one).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
        let (_, _, err) = crate::common::media_code(&data, &["ls"]);
        assert!(trap.accept().is_err());
        assert!(err.contains("another user"), "{err}");
    }
}
