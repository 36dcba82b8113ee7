//! Finding 5 (Medium): `127.1`, `0x7f.0.0.1` and other IPv4 spellings in a stranger's record
//! passed the reach check as "names", and the HTTP client connected to loopback. The check
//! now parses the URL as the client does; nothing reaches the loopback server.

use crate::node::{bytes, forged_record, Node, StrangerServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_spelling_of_a_loopback_address_reaches_it() {
    let node = Node::start("");
    let body = bytes(40, 3000);
    let listener = StrangerServer::start(body.clone());
    let port = listener.port;
    for (n, host) in [
        "127.1",
        "0x7f.0.0.1",
        "0x7f000001",
        "0177.0.0.1",
        "2130706433",
        "017700000001",
        "127.0.0.1.",
        "0.0",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "localhost.",
        "LOCALHOST",
    ]
    .into_iter()
    .enumerate()
    {
        // A self-consistent record of the body, as a stranger would hand it over.
        let mut body = body.clone();
        body[0] = n as u8;
        let record = forged_record(
            &body,
            &body,
            &format!("http://{host}:{port}/ssrf?admin=reboot"),
        );
        node.import(&record);
        let out = node.dir.path().join(format!("out{n}"));
        let (code, _, _) = node.media(&[
            "get",
            &record.id.to_string(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_ne!(code, 0, "{host}: the read succeeded");
        assert!(
            listener.requests().is_empty(),
            "{host} reached loopback: {:?}",
            listener.requests()
        );
    }
}
