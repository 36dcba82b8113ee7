//! Findings 6 and 7 (Medium): two trickling uploads held both ingest slots and stalled every
//! upload of the node, the owner's included; one MP4 with 300 000 nested boxes overflowed
//! the stack and took the whole node down. Slots are now taken once a body has arrived, and
//! the MP4 rewrite refuses nesting deeper than any real file.

use std::io::Write;

use media_blossom::NostrKeys;

use crate::node::{bytes, nostr_auth, sha256_hex, Node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_uploads_do_not_stall_the_owners_upload() {
    let node = Node::start("[blossom]\nopen_writes = true\n");
    let addr = node.blossom.trim_start_matches("http://").to_owned();
    let stranger = NostrKeys::generate().unwrap();
    // Four uploads that send their headers and then a byte now and then (bounded: the
    // connections close when the test ends).
    let mut trickles = Vec::new();
    for n in 0..4u32 {
        let body = bytes(50 + n, 100_000);
        let id = sha256_hex(&body);
        let mut conn = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            conn,
            "PUT /upload HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nX-SHA-256: {id}\r\nContent-Length: {}\r\n\r\n",
            nostr_auth(&stranger, "upload", &id, 300),
            body.len()
        )
        .unwrap();
        conn.write_all(&body[..10]).unwrap();
        trickles.push(conn);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for conn in &mut trickles {
        conn.write_all(b"x").unwrap();
    }
    // The owner's upload finishes while they trickle (the old code waited for them forever).
    node.owners_put(60).await;
    drop(trickles);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_nested_mp4_does_not_take_the_node_down() {
    let node = Node::start("");
    let (status, body) = node
        .api_put("clip.mp4", media_core::testing::nested_boxes_mp4(300_000))
        .await;
    assert!((400..500).contains(&status), "{status}: {body}");
    assert!(node.is_up().await, "the node is still up");
}
