//! Finding 1 (High): one failed read of a stranger's forged record left its chunks in the
//! verified cache; once the genuine media was anchored (the owner uploaded it), the node
//! served the forged bytes under the genuine id with 200, on the API and on Blossom.
//! The cache now returns a chunk only when it was cached as the very digest asked for, and
//! never caches a record nothing vouches for until the whole file hashed to its id.

use crate::node::{bytes, client, forged_record, Node, StrangerServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_read_then_the_genuine_upload_serves_the_genuine_bytes() {
    // The stranger's "CDN" is a loopback server here; in the wild any public server.
    let node = Node::start("[net]\nallow_private = true\n");
    let size = 2 * 1024 * 1024 + 512 * 1024;
    let genuine = bytes(1, size);
    let forged = bytes(2, size);
    let stranger = StrangerServer::start(forged.clone());
    let record = forged_record(
        &genuine,
        &forged,
        &format!("http://127.0.0.1:{}/forged", stranger.port),
    );
    let id = record.id.to_string();
    node.import(&record);

    // The forged read: the chunks verify against the forged record, the whole does not.
    let out = node.dir.path().join("o1.bin");
    let (code, _, err) = node.media(&["get", &id, "--out", out.to_str().unwrap()]);
    assert_ne!(code, 0, "a forged read must fail: {err}");
    assert!(!out.exists(), "nothing may be released");
    assert!(
        !stranger.requests().is_empty(),
        "the stranger's server was read"
    );
    // Nothing of it is kept under the id.
    let cached = node.data.join("cache").join(&id);
    let kept = std::fs::read_dir(&cached).map_or(0, |d| d.count());
    assert_eq!(kept, 0, "chunks of an unproven record were cached");

    // The owner uploads the genuine file: the id is anchored to the genuine chunk list.
    let put = node.put("genuine.bin", &genuine);
    assert_eq!(put.id.to_string(), id);

    // Every door serves the genuine bytes, whole and by range, from now on.
    let (status, body) = node.content(&id, None).await;
    assert_eq!(status, 200);
    assert!(
        body == genuine,
        "the API released other bytes than the id's"
    );
    let (status, body) = node.content(&id, Some("bytes=1048000-1049999")).await;
    assert_eq!(status, 206);
    assert_eq!(body, &genuine[1_048_000..1_050_000]);
    let resp = client()
        .get(format!("{}/{id}", node.blossom))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.bytes().await.unwrap() == genuine,
        "Blossom released other bytes"
    );
    // A second read, now from the cache, is still the genuine file.
    let (_, again) = node.content(&id, None).await;
    assert!(again == genuine);
    let out = node.dir.path().join("o2.bin");
    let (code, _, err) = node.media(&["get", &id, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read(&out).unwrap() == genuine);
}
