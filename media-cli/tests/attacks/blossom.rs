//! Findings 2, 4 and 15: Blossom was an open write endpoint, and any signer who re-uploaded
//! the owner's (public) bytes became an "owner" who could delete them from every store.
//! Writes are now closed unless configured open; the node's own media belongs to the node, so
//! no Blossom `DELETE` removes it; authorizations have a bounded lifetime and a delete
//! authorization works once.

use media_blossom::NostrKeys;

use crate::node::{bytes, client, nostr_auth, sha256_hex, Node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_blossom_delete_of_the_owners_photo_is_refused() {
    let node = Node::start("");
    let photo = bytes(20, 200_000);
    let put = node.put("photo.bin", &photo);
    let id = put.id.to_string();
    let stranger = NostrKeys::generate().unwrap();
    let http = client();

    // The stranger reads the public bytes…
    let resp = http
        .get(format!("{}/{id}", node.blossom))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let public = resp.bytes().await.unwrap();
    // …re-uploads them (refused: writes are closed by default)…
    assert_eq!(
        node.blossom_upload(&stranger, &public, "").await,
        403,
        "a stranger may not write by default"
    );
    // …and deletes (refused).
    let status = node
        .blossom_delete(&id, &nostr_auth(&stranger, "delete", &id, 300))
        .await;
    assert!((400..500).contains(&status), "{status}");
    // Any page may ask a CORS preflight; it gains nothing (writes need a listed key).
    let (status, body) = node.content(&id, None).await;
    assert_eq!(status, 200);
    assert!(body == photo);
    assert!(node.record(&id).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_an_open_server_a_dedup_hit_makes_no_one_an_owner_of_the_nodes_media() {
    let node = Node::start("[blossom]\nopen_writes = true\nmax_blobs_per_pubkey = 2\n");
    let photo = bytes(21, 200_000);
    let put = node.put("photo.bin", &photo);
    let id = put.id.to_string();
    let stranger = NostrKeys::generate().unwrap();

    assert_eq!(
        node.blossom_upload(&stranger, &photo, "").await,
        200,
        "a dedup hit answers with the descriptor"
    );
    assert_eq!(
        node.blossom_delete(&id, &nostr_auth(&stranger, "delete", &id, 300))
            .await,
        403,
        "the node's photo is not the stranger's"
    );
    let (status, body) = node.content(&id, None).await;
    assert_eq!((status, body == photo), (200, true));
    let (code, out, _) = node.media(&["ls"]);
    assert!(code == 0 && out.contains(&id), "{out}");
    // His list does not claim it.
    let list = node.blossom_list(&stranger.public_key_hex()).await;
    assert!(list.is_empty(), "{list:?}");

    // His own blob is his: listed, deletable once, with a one-use authorization.
    let own = bytes(22, 50_000);
    let own_id = sha256_hex(&own);
    assert_eq!(
        node.blossom_upload(&stranger, &own, "image/jpeg").await,
        201
    );
    let second = bytes(23, 1000);
    let second_id = sha256_hex(&second);
    assert_eq!(node.blossom_upload(&stranger, &second, "").await, 201);
    // Newest first, as the list BUD asks.
    let list = node.blossom_list(&stranger.public_key_hex()).await;
    let listed: Vec<&str> = list.iter().map(|d| d["sha256"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 2, "{list:?}");
    assert!(
        list[0]["uploaded"].as_u64() >= list[1]["uploaded"].as_u64(),
        "not newest first: {list:?}"
    );
    // The quota: a third blob is refused.
    let third = bytes(24, 1000);
    assert_eq!(
        node.blossom_upload(&stranger, &third, "").await,
        507,
        "the per-pubkey quota holds"
    );

    let delete = nostr_auth(&stranger, "delete", &own_id, 300);
    assert_eq!(node.blossom_delete(&own_id, &delete).await, 200);
    assert!(node.record(&own_id).await.is_none(), "his blob is gone");
    // He uploads it again; the same delete authorization replayed (a leaked or logged
    // event) is refused.
    assert_eq!(node.blossom_upload(&stranger, &own, "").await, 201);
    assert_eq!(
        node.blossom_delete(&own_id, &delete).await,
        401,
        "a replayed delete was accepted"
    );
    assert!(node.record(&own_id).await.is_some());
    // An authorization valid for a year: refused.
    let status = node
        .blossom_delete(
            &second_id,
            &nostr_auth(&stranger, "delete", &second_id, 365 * 24 * 3600),
        )
        .await;
    assert!(status == 401, "{status}");
    assert!(node.record(&second_id).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_own_key_writes_to_its_closed_server() {
    let node = Node::start("");
    let key = std::fs::read_to_string(node.data.join("secrets").join("nostr.key")).unwrap();
    let own = NostrKeys::from_hex(key.trim()).unwrap();
    let blob = bytes(25, 20_000);
    let id = sha256_hex(&blob);
    let resp = client()
        .put(format!("{}/upload", node.blossom))
        .header("authorization", nostr_auth(&own, "upload", &id, 300))
        .header("x-sha-256", &id)
        .body(blob.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let (status, body) = node.content(&id, None).await;
    assert_eq!((status, body == blob), (200, true));
}

/// The attacker review of this fix (helper run, 2026-12-04) found these on an open server:
/// parallel uploads passed a key's quota; a delete authorization made before a restart could
/// be replayed after it; a stranger's re-upload rewrote the owner's imported record (type,
/// name) and then deleted it; a stranger's upload ahead of the owner's cancelled the owner's
/// expiry; an over-quota key still had its `/media` image decoded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_server_quotas_replays_and_the_owners_records_hold() {
    let node = Node::start(
        "[blossom]\nopen_writes = true\nmax_blobs_per_pubkey = 3\nmax_bytes_per_pubkey = 1000000\n",
    );
    // A delete authorization made before the node started (one replayed after a restart;
    // the clock check allows 60 s of skew).
    let stranger = NostrKeys::generate().unwrap();
    let early_blob = bytes(80, 5000);
    let early_id = sha256_hex(&early_blob);
    let old = {
        let now = media_blossom::auth::unix_now();
        stranger
            .authorize("delete", &[&early_id], "old", now - 120, 3600)
            .unwrap()
            .to_header()
    };
    let http = client();
    assert_eq!(
        node.blossom_upload(&stranger, &early_blob, "image/png")
            .await,
        201
    );
    let status = node.blossom_delete(&early_id, &old).await;
    assert!(status == 401, "{status}");
    assert!(node.record(&early_id).await.is_some());

    // Ten parallel uploads by one key with room for two more: at most two land.
    let racers = NostrKeys::generate().unwrap();
    assert_eq!(
        node.blossom_upload(&racers, &bytes(81, 1000), "image/png")
            .await,
        201
    );
    let blobs: Vec<Vec<u8>> = (0..10).map(|n| bytes(90 + n, 200_000)).collect();
    let statuses = futures::future::join_all(
        blobs
            .iter()
            .map(|blob| node.blossom_upload(&racers, blob, "image/png")),
    )
    .await;
    let created = statuses.iter().filter(|&&s| s == 201).count();
    let list = node.blossom_list(&racers.public_key_hex()).await;
    assert!(list.len() <= 3, "quota of 3 passed: {} blobs", list.len());
    assert!(created <= 2, "{created} parallel uploads passed the quota");
    // Over quota: `/media` refuses before reading (let alone decoding) the image.
    let resp = http
        .put(format!("{}/media", node.blossom))
        .header(
            "authorization",
            nostr_auth(&racers, "media", &early_id, 300),
        )
        .header("x-sha-256", &early_id)
        .body(early_blob.clone())
        .send()
        .await
        .unwrap();
    assert!(
        resp.status() == 507 || resp.status() == 429,
        "{}",
        resp.status()
    );

    // The owner imports a friend's record (a reference shared in a chat); a stranger uploads
    // the same bytes typed as HTML and tries to delete them.
    let friend_bytes = bytes(83, 40_000);
    let mut friend = media_core::MediaFile::new(
        "friend.jpg",
        "image/jpeg",
        &media_core::Digests::of_bytes(&friend_bytes),
        media_core::Timestamp::now(),
    );
    friend.locations = vec![media_core::Location::cdn(
        "https://cdn.friend.example/media/x",
        "media/x",
    )];
    node.import(&friend);
    let friend_id = friend.id.to_string();
    let mallory = NostrKeys::generate().unwrap();
    assert_eq!(
        node.blossom_upload(&mallory, &friend_bytes, "text/html")
            .await,
        200
    );
    let after = node.record(&friend_id).await.unwrap();
    assert_eq!(
        (after.name.as_str(), after.mime.as_str()),
        (friend.name.as_str(), friend.mime.as_str())
    );
    let status = node
        .blossom_delete(&friend_id, &nostr_auth(&mallory, "delete", &friend_id, 300))
        .await;
    assert!(status == 403, "{status}");
    assert!(node.record(&friend_id).await.is_some());

    // A stranger uploads what he expects the owner to post; the owner's disappearing upload
    // of the same bytes still disappears, under the owner's name.
    let story = bytes(84, 30_000);
    assert_eq!(
        node.blossom_upload(&mallory, &story, "image/png").await,
        201
    );
    let resp = http
        .put(format!(
            "{}/api/v1/media?name=story.png&expires_in=3600",
            node.api
        ))
        .bearer_auth(&node.token)
        .body(story.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let record = node.record(&sha256_hex(&story)).await.unwrap();
    assert!(
        record.expires_at.is_some(),
        "the owner's expiry was dropped"
    );
    assert_eq!(record.name, "story.png");
}
