//! Finding 5 (Medium): `127.1`, `0x7f.0.0.1` and other IPv4 spellings in a stranger's record
//! passed the reach check as "names", and the HTTP client connected to loopback. Finding 16
//! (Low): the Blossom store read a stranger's server hints (`xs=`) after a URL check only, with
//! the same gap and no rebinding-safe resolver; the Blossom `/mirror` fetched with its own
//! resolver. Every outbound request on a stranger's word now goes through `media_http`'s one
//! client (URL parsed as the client parses it, every resolved address and every connected
//! peer checked); nothing reaches the loopback server below, whatever the spelling.

use media_core::{Location, MediaFile};

use crate::node::{
    bytes, client, forged_record, node_keys, nostr_auth, sha256_hex, Node, StrangerServer,
    LOOPBACK_SPELLINGS,
};

/// `record` imported, then `media get` of it must fail without a request reaching `server`.
fn read_must_not_reach(node: &Node, server: &StrangerServer, record: &MediaFile, what: &str) {
    node.import(record);
    let out = node.dir.path().join(format!("out-{}", record.id));
    let (code, _, _) = node.media(&[
        "get",
        &record.id.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ne!(code, 0, "{what}: the read succeeded");
    assert!(
        server.requests().is_empty(),
        "{what} reached loopback: {:?}",
        server.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_spelling_of_a_loopback_address_reaches_it() {
    let node = Node::start("");
    let body = bytes(40, 3000);
    let listener = StrangerServer::start(body.clone());
    let port = listener.port;
    for (n, host) in LOOPBACK_SPELLINGS.iter().enumerate() {
        // A self-consistent record of the body, as a stranger would hand it over.
        let mut body = body.clone();
        body[0] = n as u8;
        let record = forged_record(
            &body,
            &body,
            &format!("http://{host}:{port}/ssrf?admin=reboot"),
        );
        read_must_not_reach(&node, &listener, &record, host);
    }
}

/// Finding 16: a node that stores on a Blossom server reads a stranger's record whose
/// location hints at loopback servers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_blossom_hints_do_not_reach_loopback() {
    // The configured server is trusted (nothing listens on port 9); the hints are not.
    let node = Node::start("[blossom]\nservers = [\"http://127.0.0.1:9\"]\n");
    let body = bytes(41, 3000);
    let listener = StrangerServer::start(body.clone());
    let port = listener.port;
    for (n, host) in LOOPBACK_SPELLINGS.iter().enumerate() {
        let mut body = body.clone();
        body[0] = n as u8;
        let mut record = forged_record(&body, &body, "http://unused.invalid/");
        let uri = media_blossom::BlossomUri {
            sha256: record.id,
            ext: String::new(),
            servers: vec![format!("http://{host}:{port}")],
            size: Some(body.len() as u64),
        };
        record.locations = vec![Location::new(media_blossom::BLOSSOM, uri.to_uri())];
        read_must_not_reach(&node, &listener, &record, &format!("blossom hint {host}"));
    }
}

/// The owner's app asked to mirror a URL a stranger sent: the node must not fetch loopback
/// for it, under any spelling (403, nothing logged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_of_a_loopback_url_is_refused() {
    let node = Node::start("");
    let keys = node_keys(&node);
    let body = bytes(42, 3000);
    let id = sha256_hex(&body);
    let listener = StrangerServer::start(body.clone());
    let port = listener.port;
    for host in LOOPBACK_SPELLINGS {
        let answer = client()
            .put(format!("{}/mirror", node.blossom))
            .header("authorization", nostr_auth(&keys, "upload", &id, 300))
            .json(&serde_json::json!({ "url": format!("http://{host}:{port}/{id}") }))
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        assert!(
            status == 403 || status == 400,
            "mirror of {host}: {status} {:?}",
            answer.text().await
        );
        assert!(
            listener.requests().is_empty(),
            "mirror of {host} reached loopback: {:?}",
            listener.requests()
        );
    }
}

/// Found in review: a stranger's magnet named a tracker the node's reach allowed; librqbit
/// contacted it with its own client, followed its redirect to a loopback URL and dialed the
/// loopback peers it returned. A stranger's trackers are now not used at all unless the
/// owner sets `[torrent] magnet_trackers = true`; configured trackers are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_magnet_tracker_is_not_contacted() {
    let body = bytes(43, 3000);
    let tracker = StrangerServer::start(body.clone());
    let port = tracker.port;
    // The tracker's address stands for a public one: the node's reach allows it.
    let node = Node::start(&format!("[net]\nallow = [\"127.0.0.1:{port}\"]\n"));
    let mut record = forged_record(&body, &body, "http://unused.invalid/");
    let info_hash = "cefa0a5c5c9f58f3e1e3b0e4d2b5d6c3a1f2e4d7";
    record.locations = vec![Location::torrent(
        format!("magnet:?xt=urn:btih:{info_hash}&tr=http%3A%2F%2F127.0.0.1%3A{port}%2Fannounce"),
        info_hash,
    )];
    read_must_not_reach(&node, &tracker, &record, "a stranger's magnet tracker");
}
