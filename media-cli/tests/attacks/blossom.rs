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
    let resp = http
        .put(format!("{}/upload", node.blossom))
        .header("authorization", nostr_auth(&stranger, "upload", &id, 300))
        .header("x-sha-256", &id)
        .body(public.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "a stranger may not write by default");
    // …and deletes (refused).
    let resp = http
        .delete(format!("{}/{id}", node.blossom))
        .header("authorization", nostr_auth(&stranger, "delete", &id, 300))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
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
    let http = client();

    let resp = http
        .put(format!("{}/upload", node.blossom))
        .header("authorization", nostr_auth(&stranger, "upload", &id, 300))
        .header("x-sha-256", &id)
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "a dedup hit answers with the descriptor"
    );
    let resp = http
        .delete(format!("{}/{id}", node.blossom))
        .header("authorization", nostr_auth(&stranger, "delete", &id, 300))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "the node's photo is not the stranger's");
    let (status, body) = node.content(&id, None).await;
    assert_eq!((status, body == photo), (200, true));
    let (code, out, _) = node.media(&["ls"]);
    assert!(code == 0 && out.contains(&id), "{out}");
    // His list does not claim it.
    let list: Vec<serde_json::Value> = http
        .get(format!(
            "{}/list/{}",
            node.blossom,
            stranger.public_key_hex()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.is_empty(), "{list:?}");

    // His own blob is his: listed, deletable once, with a one-use authorization.
    let own = bytes(22, 50_000);
    let own_id = sha256_hex(&own);
    let resp = http
        .put(format!("{}/upload", node.blossom))
        .header(
            "authorization",
            nostr_auth(&stranger, "upload", &own_id, 300),
        )
        .header("x-sha-256", &own_id)
        .header("content-type", "image/jpeg")
        .body(own.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let second = bytes(23, 1000);
    let second_id = sha256_hex(&second);
    let resp = http
        .put(format!("{}/upload", node.blossom))
        .header(
            "authorization",
            nostr_auth(&stranger, "upload", &second_id, 300),
        )
        .header("x-sha-256", &second_id)
        .body(second)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    // Newest first, as the list BUD asks.
    let list: Vec<serde_json::Value> = http
        .get(format!(
            "{}/list/{}",
            node.blossom,
            stranger.public_key_hex()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Vec<&str> = list.iter().map(|d| d["sha256"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 2, "{list:?}");
    assert!(
        list[0]["uploaded"].as_u64() >= list[1]["uploaded"].as_u64(),
        "not newest first: {list:?}"
    );
    // The quota: a third blob is refused.
    let third = bytes(24, 1000);
    let third_id = sha256_hex(&third);
    let resp = http
        .put(format!("{}/upload", node.blossom))
        .header(
            "authorization",
            nostr_auth(&stranger, "upload", &third_id, 300),
        )
        .header("x-sha-256", &third_id)
        .body(third)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 507, "the per-pubkey quota holds");

    let delete = nostr_auth(&stranger, "delete", &own_id, 300);
    let resp = http
        .delete(format!("{}/{own_id}", node.blossom))
        .header("authorization", &delete)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(node.record(&own_id).await.is_none(), "his blob is gone");
    // He uploads it again; the same delete authorization replayed (a leaked or logged
    // event) is refused.
    let resp = http
        .put(format!("{}/upload", node.blossom))
        .header(
            "authorization",
            nostr_auth(&stranger, "upload", &own_id, 300),
        )
        .header("x-sha-256", &own_id)
        .body(own.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = http
        .delete(format!("{}/{own_id}", node.blossom))
        .header("authorization", &delete)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "a replayed delete was accepted");
    assert!(node.record(&own_id).await.is_some());
    // An authorization valid for a year: refused.
    let resp = http
        .delete(format!("{}/{second_id}", node.blossom))
        .header(
            "authorization",
            nostr_auth(&stranger, "delete", &second_id, 365 * 24 * 3600),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
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
