//! Abusive clients for tests of servers on loopback: bounded in count, and they stop by
//! themselves (every request ends; idle connections close when dropped).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

/// A connection to `addr` from the loopback address `from` (any of 127.0.0.0/8 on Linux), so
/// that one test plays several peers.
pub async fn connect_from(from: IpAddr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = match from {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(addr).await
}

/// How one trickling upload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trickled {
    /// Body bytes written before the server cut the connection or answered.
    pub sent: u64,
    /// The status line the server answered with, if it did.
    pub answer: Option<String>,
    /// How long the server kept it.
    pub held: Duration,
}

/// Start `n` uploads from `from`: `head` (the request line and headers, without the blank
/// line; a `Content-Length` of 1 MiB is added) then one body byte every `every`, for at most
/// `give_up` each. Each ends when the server answers, closes, or `give_up` passes.
pub fn trickling_uploads(
    from: IpAddr,
    addr: SocketAddr,
    head: &str,
    n: usize,
    every: Duration,
    give_up: Duration,
) -> JoinSet<std::io::Result<Trickled>> {
    let mut set = JoinSet::new();
    for _ in 0..n {
        let head = head.trim_end().to_owned();
        set.spawn(async move {
            let started = tokio::time::Instant::now();
            let mut s = connect_from(from, addr).await?;
            s.write_all(format!("{head}\r\nContent-Length: 1048576\r\n\r\n").as_bytes())
                .await?;
            let mut sent = 0u64;
            let mut buf = [0u8; 512];
            loop {
                if started.elapsed() >= give_up {
                    return Ok(Trickled {
                        sent,
                        answer: None,
                        held: started.elapsed(),
                    });
                }
                tokio::select! {
                    read = s.read(&mut buf) => {
                        let answer = match read {
                            Ok(n) if n > 0 => String::from_utf8_lossy(&buf[..n])
                                .lines()
                                .next()
                                .map(str::to_owned),
                            _ => None,
                        };
                        return Ok(Trickled { sent, answer, held: started.elapsed() });
                    }
                    () = tokio::time::sleep(every) => {
                        if s.write_all(b"x").await.is_err() {
                            return Ok(Trickled { sent, answer: None, held: started.elapsed() });
                        }
                        sent += 1;
                    }
                }
            }
        });
    }
    set
}

/// The `i`th of many strangers: a loopback address of its own (127.0.x.y, never 127.0.0.1)
/// when `addr` is IPv4 loopback, so a flood models many peers (what a global cap is for),
/// not one (which the per-peer caps cut off).
fn stranger(i: usize, addr: SocketAddr) -> Option<IpAddr> {
    match addr.ip() {
        IpAddr::V4(v4) if v4.is_loopback() => {
            let i = i % (250 * 250);
            Some(IpAddr::V4(std::net::Ipv4Addr::new(
                127,
                1 + (i / 250) as u8,
                0,
                2 + (i % 250) as u8,
            )))
        }
        _ => None,
    }
}

async fn connect_as(i: usize, addr: SocketAddr) -> std::io::Result<TcpStream> {
    match stranger(i, addr) {
        Some(from) => connect_from(from, addr).await,
        None => TcpStream::connect(addr).await,
    }
}

/// Open `n` connections, each from a peer of its own (see `stranger`), that send half a
/// request line and then nothing (slowloris). They stay open until the server closes them
/// or they are dropped.
pub async fn idle_connections(addr: SocketAddr, n: usize) -> std::io::Result<Vec<TcpStream>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = connect_as(i, addr).await?;
        s.write_all(b"GET / HTTP/1.1\r\nHost: slow\r\n").await?;
        out.push(s);
    }
    Ok(out)
}

/// Start `n` concurrent `GET path` requests, each from a peer of its own and for a different
/// `Range` of a resource of `size` bytes, each read to its end. The set yields how many bytes
/// each one received.
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
            let mut s = connect_as(i as usize + 1000, addr).await?;
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
