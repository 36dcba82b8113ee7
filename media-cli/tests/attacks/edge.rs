//! Findings 6 and 18 at the HTTP edge: trickling uploads kept their connections (any byte
//! reset the idle timer) and nothing bounded what one peer could hold; the node API had no
//! connection limits of its own. Every server now runs through `media_http::Server`: a body
//! slower than the minimum rate fails, one peer has a bounded number of connections and of
//! uploads under way, and the owner's requests go through while strangers hold theirs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use media_blossom::NostrKeys;
use media_http::abuse;

use crate::node::{bytes, nostr_auth, sha256_hex, Node};

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

fn stranger(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_strangers_are_cut_off_and_turned_away() {
    let node = Node::start("[blossom]\nopen_writes = true\n");
    let blossom = addr_of(&node.blossom);
    let keys = NostrKeys::generate().unwrap();
    let body = bytes(70, 1 << 20);
    let id = sha256_hex(&body);
    let head = format!(
        "PUT /upload HTTP/1.1\r\nHost: {blossom}\r\nAuthorization: {}\r\nX-SHA-256: {id}",
        nostr_auth(&keys, "upload", &id, 300)
    );
    // One stranger starts 24 uploads that send a byte every 500 ms (2 B/s, far below the
    // minimum rate). 16 may be under way at once (its share); the rest are turned away.
    let mut trickles = abuse::trickling_uploads(
        stranger(7),
        blossom,
        &head,
        24,
        Duration::from_millis(500),
        Duration::from_secs(60),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Meanwhile the owner's upload goes through, as fast as it would alone.
    let took = node.owners_put(71).await;
    eprintln!("owner's 400 kB put under 16 trickling uploads: {took:?}");
    let (mut refused, mut cut) = (0, 0);
    while let Some(done) = trickles.join_next().await {
        let done = done.unwrap().unwrap();
        match done.answer.as_deref() {
            Some(a) if a.contains(" 429 ") => refused += 1,
            // Cut by the minimum rate (408) well before the client would have given up.
            Some(a) if a.contains(" 408 ") => {
                assert!(done.held < Duration::from_secs(40), "{done:?}");
                cut += 1;
            }
            _ => panic!("a trickle was neither cut nor turned away: {done:?}"),
        }
    }
    assert_eq!(
        (refused, cut),
        (8, 16),
        "the stranger's uploads under way were not bounded"
    );
    // Nothing of the trickles was stored.
    let files: Vec<media_core::MediaFile> =
        serde_json::from_str(&node.media(&["ls", "--json"]).1).unwrap();
    assert!(files.iter().all(|f| f.id.to_string() != id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_peer_cannot_take_the_node_apis_connections() {
    let node = Node::start("");
    let api = addr_of(&node.api);
    // A stranger on the machine (or a page the browser lets through) opens 100 connections
    // and sends nothing: the API keeps 64 of them and closes the rest at once.
    let mut held = Vec::new();
    for _ in 0..100 {
        if let Ok(s) = abuse::connect_from(stranger(8), api).await {
            held.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut open = 0;
    for s in &held {
        let mut probe = [0u8; 1];
        match s.try_read(&mut probe) {
            // Would block: the server keeps it open.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => open += 1,
            _ => {}
        }
    }
    assert!(open <= 64, "{open} connections of one peer kept");
    // The owner is served meanwhile.
    let (code, out, err) = node.media(&["ls", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.trim_start().starts_with('['));
    node.owners_put(72).await;
    drop(held);
}

/// Found in review: `POST /api/v1/import` read the whole body into memory (no limit) before
/// it checked the token, so any page or local process could grow the node by hundreds of
/// megabytes. The token is checked first now, and a record is at most 1 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthorized_import_is_refused_before_its_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let node = Node::start("");
    let api = addr_of(&node.api);
    let mut s = tokio::net::TcpStream::connect(api).await.unwrap();
    s.write_all(
        b"POST /api/v1/import HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 400000000\r\n\r\n",
    )
    .await
    .unwrap();
    s.write_all(&[b'x'; 64 * 1024]).await.unwrap();
    // The answer comes without the other 399.9 MB.
    let mut answer = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut answer))
        .await
        .expect("the node waited for the whole body before refusing")
        .unwrap();
    let head = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    // With the token, a record over 1 MiB is refused too.
    let big = vec![b' '; 2 << 20];
    let status = crate::node::client()
        .post(format!("{}/api/v1/import", node.api))
        .bearer_auth(&node.token)
        .body(big)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 400);
}

/// A page on another origin asks the node's Blossom server (closed by default) whether it
/// may send a `PUT` or a `DELETE` with `Authorization`: before, any origin was told yes
/// (`Access-Control-Allow-Origin: *`, `PUT, DELETE` allowed). Reads stay open to any page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_origin_cannot_send_writes() {
    let node = Node::start("");
    for method in ["PUT", "DELETE"] {
        let answer = crate::node::client()
            .request(reqwest::Method::OPTIONS, format!("{}/upload", node.blossom))
            .header("origin", "https://evil.example")
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .unwrap();
        let h = answer.headers();
        let methods = h
            .get("access-control-allow-methods")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert!(
            !methods.contains(method) || h.get("access-control-allow-origin").is_none(),
            "{method} from another origin allowed: {h:?}"
        );
    }
    let read = crate::node::client()
        .request(reqwest::Method::OPTIONS, format!("{}/upload", node.blossom))
        .header("origin", "https://any.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(read.headers()["access-control-allow-origin"], "*");
}
