//! Findings 3 and 13 (High, Low): a delete removed what a stranger's record *named* (an S3 key
//! hint, a CID, an info-hash) — another media's bytes — and a record naming a foreign URL
//! could never be removed. Deletes now come from the node's own index of what it stored for
//! that id; a stranger's record only ever leaves the catalog.

use crate::node::{bytes, client, Node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_strangers_record_removes_only_that_record() {
    let node = Node::start("");
    let victim_bytes = bytes(10, 300_000);
    let victim = node.put("victim.bin", &victim_bytes);
    let victim_id = victim.id.to_string();
    let cdn_url = victim
        .cdn_url()
        .expect("the victim is on the CDN")
        .to_owned();
    assert!(!victim.locations.is_empty());

    // The stranger's record: his own id, the victim's locations and hints, copied from the
    // victim's public record.
    let own = bytes(11, 300_000);
    let digests = media_core::Digests::of_bytes(&own);
    let mut stranger = media_core::MediaFile::new(
        "s.bin",
        "application/octet-stream",
        &digests,
        media_core::Timestamp::now(),
    );
    stranger.locations = victim.locations.clone();
    node.import(&stranger);
    let sid = stranger.id.to_string();
    let (code, out, err) = node.media(&["rm", &sid]);
    assert_eq!(code, 0, "the stranger's record can be removed: {err}");
    for store in ["cdn", "ipfs", "torrent"] {
        assert!(
            !out.contains(store),
            "rm of a stranger's record touched {store}: {out}"
        );
    }
    assert!(
        node.record(&sid).await.is_none(),
        "the record left the catalog"
    );

    // The victim is whole everywhere.
    let resp = client().get(&cdn_url).send().await.unwrap();
    assert_eq!(resp.status(), 200, "the victim's S3 object was deleted");
    assert!(resp.bytes().await.unwrap() == victim_bytes);
    let (status, body) = node.content(&victim_id, None).await;
    assert_eq!(status, 200);
    assert!(body == victim_bytes);
    let out = node.dir.path().join("v.bin");
    for policy in ["cdn", "p2p"] {
        let (code, _, err) = node.media(&[
            "get",
            &victim_id,
            "--out",
            out.to_str().unwrap(),
            "--policy",
            policy,
        ]);
        assert_eq!(code, 0, "{policy}: {err}");
        assert!(std::fs::read(&out).unwrap() == victim_bytes);
    }

    // Finding 13: a record naming a foreign (or unreachable) URL leaves the catalog too.
    let other = bytes(12, 1000);
    let mut foreign = media_core::MediaFile::new(
        "f.bin",
        "application/octet-stream",
        &media_core::Digests::of_bytes(&other),
        media_core::Timestamp::now(),
    );
    foreign.locations = vec![media_core::Location::cdn("http://127.1:9/x", "media/x")];
    node.import(&foreign);
    let fid = foreign.id.to_string();
    let (code, _, err) = node.media(&["rm", &fid]);
    assert_eq!(code, 0, "{err}");
    assert!(node.record(&fid).await.is_none());

    // The owner's own delete still removes the owner's media from every store.
    let (code, out, err) = node.media(&["rm", &victim_id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cdn"), "{out}");
    let resp = client().get(&cdn_url).send().await.unwrap();
    assert_eq!(resp.status(), 404, "the owner's delete left the S3 object");
}
