//! The limits hold on loopback: a slowloris client is cut off by the header timeout, an idle
//! keep-alive connection by the idle timeout, and the connection limit queues the rest while
//! a normal request is still served.

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use media_http::{abuse, ServeLimits, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn hello_server(limits: ServeLimits) -> (std::net::SocketAddr, Server) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Reads any body to its end (or its error), then says hello or why not.
    let service = tower::service_fn(|req: Request<media_http::Body>| async move {
        let answer = match req.into_body().collect().await {
            Ok(body) => format!("hello {}", body.to_bytes().len()),
            Err(e) => format!("body failed: {e}"),
        };
        Ok::<_, Infallible>(Response::new(Full::new(bytes::Bytes::from(answer))))
    });
    (
        addr,
        Server::start(listener, service, limits, "test").unwrap(),
    )
}

async fn get(addr: std::net::SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// Read until the server closes; returns how long that took.
async fn time_to_close(mut s: TcpStream) -> Duration {
    let t = tokio::time::Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return t.elapsed(),
            Ok(_) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_and_idle_connections_are_closed() {
    let limits = ServeLimits::new(64, Duration::from_millis(300), Duration::from_millis(600));
    let (addr, server) = hello_server(limits).await;

    // Headers that never finish.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), time_to_close(slow)).await;
    assert!(closed.is_ok(), "a slowloris connection stayed open");

    // A connection that says nothing at all.
    let silent = TcpStream::connect(addr).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), time_to_close(silent)).await;
    assert!(closed.is_ok(), "a silent connection stayed open");

    // A keep-alive connection left idle after one request.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), time_to_close(idle)).await;
    assert!(closed.is_ok(), "an idle keep-alive connection stayed open");

    assert!(get(addr).await.ends_with("hello 0"));
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_leaves_a_normal_request_working() {
    // 200 idle connections against a limit of 256: a normal request still gets through.
    let limits = ServeLimits::new(256, Duration::from_secs(5), Duration::from_secs(5))
        .with_per_peer(1024, 4);
    let (addr, server) = hello_server(limits).await;
    let mut flood = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        flood.push(s);
    }
    let answer = tokio::time::timeout(Duration::from_secs(10), get(addr)).await;
    assert!(answer.is_ok_and(|a| a.ends_with("hello 0")));

    // Over the limit: the extra client waits for a slot, and is served when one frees.
    let limits = ServeLimits::new(4, Duration::from_millis(400), Duration::from_millis(400));
    let (small, small_server) = hello_server(limits).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(small).await.unwrap());
    }
    let answer = tokio::time::timeout(Duration::from_secs(10), get(small)).await;
    assert!(
        answer.is_ok_and(|a| a.ends_with("hello 0")),
        "never served after the idle ones were cut"
    );
    drop(flood);
    server.shutdown();
    small_server.shutdown();
}

fn loopback(n: u8) -> std::net::IpAddr {
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, n))
}

/// An upload from `from` of `len` bytes at full speed: the answer's last line.
async fn upload_from(from: std::net::IpAddr, addr: std::net::SocketAddr, len: usize) -> String {
    let mut s = abuse::connect_from(from, addr).await.unwrap();
    let head = format!(
        "PUT /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![7u8; len]).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out.lines().last().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_peer_cannot_take_every_connection() {
    let limits =
        ServeLimits::new(64, Duration::from_secs(5), Duration::from_secs(5)).with_per_peer(8, 4);
    let (addr, server) = hello_server(limits).await;
    let mut greedy = Vec::new();
    for _ in 0..8 {
        greedy.push(abuse::connect_from(loopback(2), addr).await.unwrap());
    }
    // The ninth from the same peer is closed at once, without a byte.
    let ninth = abuse::connect_from(loopback(2), addr).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), time_to_close(ninth)).await;
    assert!(closed.is_ok(), "a peer over its cap was kept");
    // Another peer is served.
    let mut other = abuse::connect_from(loopback(3), addr).await.unwrap();
    other
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    other.read_to_string(&mut out).await.unwrap();
    assert!(out.ends_with("hello 0"), "{out}");
    drop(greedy);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_uploads_are_cut_and_hold_no_one_else_up() {
    // 1 KiB/s over 1 s windows; two uploads at a time per peer.
    let limits = ServeLimits::new(64, Duration::from_secs(5), Duration::from_secs(30))
        .with_per_peer(64, 2)
        .with_min_body_rate(1024, Duration::from_secs(1));
    let (addr, server) = hello_server(limits).await;
    let head = "PUT /up HTTP/1.1\r\nHost: x";
    // Two trickle (a byte every 100 ms), a third from the same peer is turned away at once.
    let mut trickles = abuse::trickling_uploads(
        loopback(4),
        addr,
        head,
        2,
        Duration::from_millis(100),
        Duration::from_secs(20),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut third = abuse::trickling_uploads(
        loopback(4),
        addr,
        head,
        1,
        Duration::from_millis(100),
        Duration::from_secs(20),
    );
    let third = third.join_next().await.unwrap().unwrap().unwrap();
    assert!(
        third.answer.as_deref().is_some_and(|a| a.contains("429")),
        "{third:?}"
    );
    // Meanwhile another peer's upload is served at once, whole.
    let owner = tokio::time::timeout(
        Duration::from_secs(10),
        upload_from(loopback(5), addr, 300_000),
    )
    .await;
    assert_eq!(owner.as_deref().ok(), Some("hello 300000"));
    // The trickles are cut within a window or two (the service saw the body fail): 408.
    while let Some(done) = trickles.join_next().await {
        let done = done.unwrap().unwrap();
        assert!(
            done.answer.as_deref().is_some_and(|a| a.contains(" 408 ")),
            "{done:?}"
        );
        assert!(done.held < Duration::from_secs(10), "{done:?}");
        assert!(done.sent < 100, "{done:?}");
    }
    // And the peer's slots are back.
    let again = upload_from(loopback(4), addr, 10_000).await;
    assert_eq!(again, "hello 10000");
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_few_peers_holding_every_connection_do_not_keep_a_newcomer_out() {
    // 4 peers × 16 keep-alive connections fill a server of 64; each connection has answered a
    // request and is kept alive. A newcomer is still served: it takes the place of the oldest
    // connection of the heaviest peer.
    let limits =
        ServeLimits::new(64, Duration::from_secs(5), Duration::from_secs(30)).with_per_peer(16, 4);
    let (addr, server) = hello_server(limits).await;
    let mut held = Vec::new();
    for p in 0..4u8 {
        for _ in 0..16 {
            let mut s = abuse::connect_from(loopback(20 + p), addr).await.unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf).await.unwrap();
            held.push(s);
        }
    }
    for newcomer in 30..34u8 {
        let mut s = abuse::connect_from(loopback(newcomer), addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out)).await;
        assert!(read.is_ok(), "newcomer {newcomer} was kept out");
        assert!(out.ends_with("hello 0"), "{out}");
    }
    drop(held);
    server.shutdown();
}
