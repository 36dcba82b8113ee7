//! The limits hold on loopback: a slowloris client is cut off by the header timeout, an idle
//! keep-alive connection by the idle timeout, and the connection limit queues the rest while
//! a normal request is still served.

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use media_http::{serve, ServeLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn hello_server(limits: ServeLimits) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = service_fn(|_req: Request<Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(bytes::Bytes::from_static(
            b"hello",
        ))))
    });
    (addr, serve(listener, service, limits, "test"))
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

    assert!(get(addr).await.ends_with("hello"));
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_leaves_a_normal_request_working() {
    // 200 idle connections against a limit of 256: a normal request still gets through.
    let limits = ServeLimits::new(256, Duration::from_secs(5), Duration::from_secs(5));
    let (addr, server) = hello_server(limits).await;
    let mut flood = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        flood.push(s);
    }
    let answer = tokio::time::timeout(Duration::from_secs(10), get(addr)).await;
    assert!(answer.is_ok_and(|a| a.ends_with("hello")));

    // Over the limit: the extra client waits for a slot, and is served when one frees.
    let limits = ServeLimits::new(4, Duration::from_millis(400), Duration::from_millis(400));
    let (small, small_server) = hello_server(limits).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(small).await.unwrap());
    }
    let answer = tokio::time::timeout(Duration::from_secs(10), get(small)).await;
    assert!(
        answer.is_ok_and(|a| a.ends_with("hello")),
        "never served after the idle ones were cut"
    );
    drop(flood);
    server.abort();
    small_server.abort();
}
