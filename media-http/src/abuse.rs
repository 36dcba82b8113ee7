//! Abusive clients for tests of servers on loopback: bounded in count, and they stop by
//! themselves (every request ends; idle connections close when dropped).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Open `n` connections that send half a request line and then nothing (slowloris). They
/// stay open until the server closes them or they are dropped.
pub async fn idle_connections(addr: SocketAddr, n: usize) -> std::io::Result<Vec<TcpStream>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(b"GET / HTTP/1.1\r\nHost: slow\r\n").await?;
        out.push(s);
    }
    Ok(out)
}

/// Start `n` concurrent `GET path` requests, each for a different `Range` of a resource of
/// `size` bytes, each read to its end. The set yields how many bytes each one received.
pub fn range_readers(
    addr: SocketAddr,
    path: &str,
    size: u64,
    n: usize,
) -> JoinSet<std::io::Result<u64>> {
    let mut set = JoinSet::new();
    for i in 0..n as u64 {
        let path = path.to_owned();
        let start = (i * 7919 * 4096) % size.max(1);
        let end = (start + 256 * 1024).min(size).saturating_sub(1);
        set.spawn(async move {
            let mut s = TcpStream::connect(addr).await?;
            let request = format!(
                "GET {path} HTTP/1.1\r\nHost: reader\r\nRange: bytes={start}-{end}\r\nConnection: close\r\n\r\n"
            );
            s.write_all(request.as_bytes()).await?;
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0u64;
            loop {
                let n = s.read(&mut buf).await?;
                if n == 0 {
                    return Ok(total);
                }
                total += n as u64;
            }
        });
    }
    set
}
