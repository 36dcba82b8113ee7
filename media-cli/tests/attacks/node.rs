//! A running `media serve` as a stranger sees it: its URLs, and small clients.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use media_blossom::NostrKeys;

use crate::common::{media_code, Serve};

/// A `media serve` child with its services' URLs.
pub struct Node {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub api: String,
    pub token: String,
    pub blossom: String,
    pub s3: String,
    pub gateway: String,
    _serve: Serve,
}

impl Node {
    /// `media serve` with `config` (TOML, may be empty) on a fresh data directory.
    pub fn start(config: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::write(dir.path().join("media.toml"), replayable(config)).unwrap();
        let mut node = Node {
            api: String::new(),
            blossom: String::new(),
            s3: String::new(),
            gateway: String::new(),
            token: String::new(),
            dir,
            data,
            _serve: crate::common::Serve::none(),
        };
        node.launch();
        node
    }

    /// Start `media serve` on this node's data and configuration; read its services' URLs.
    fn launch(&mut self) {
        let mut cmd = std::process::Command::new(crate::common::media_bin());
        cmd.arg("--data")
            .arg(&self.data)
            .arg("--config")
            .arg(self.dir.path().join("media.toml"))
            .arg("serve");
        let (guard, seen) = crate::common::spawn_serve(cmd);
        let url = |name: &str| {
            seen.iter()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap_or_else(|| panic!("no {name} in {seen:?}"))
                .to_owned()
        };
        self.api = url("api");
        self.blossom = url("blossom");
        self.s3 = url("s3");
        self.gateway = url("gateway");
        let node: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.data.join("node.json")).unwrap()).unwrap();
        self.token = node["token"].as_str().unwrap().to_owned();
        self._serve = guard;
    }

    /// Kill the node (as a crash would: no shutdown) and start it again on the same data
    /// directory and configuration; its services come back on new ports.
    pub fn restart(&mut self) {
        // The old process goes first: the data directory is locked while it runs.
        drop(std::mem::replace(
            &mut self._serve,
            crate::common::Serve::none(),
        ));
        self.launch();
    }

    /// The node process's peak resident memory so far, in MiB (Linux `VmHWM`).
    pub fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self._serve.pid()))
            .expect("the node is running");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmHWM in the node's status")
            / 1024
    }

    /// `GET /api/v1/health` answers 200.
    pub async fn is_up(&self) -> bool {
        client()
            .get(format!("{}/api/v1/health", self.api))
            .bearer_auth(&self.token)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    }

    /// The owner uploads `bytes` through the API: the status and body.
    pub async fn api_put(&self, name: &str, bytes: Vec<u8>) -> (u16, String) {
        let resp = client()
            .put(format!("{}/api/v1/media?name={name}", self.api))
            .bearer_auth(&self.token)
            .body(bytes)
            .send()
            .await
            .expect("the node answered");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    /// `media --data DATA ARGS…` (talks to this running node): exit code, stdout, stderr.
    pub fn media(&self, args: &[&str]) -> (i32, String, String) {
        media_code(&self.data, args)
    }

    /// Write `bytes` to a file in the node's temp folder; its path.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// The owner's upload through the CLI: the record.
    pub fn put(&self, name: &str, bytes: &[u8]) -> media_core::MediaFile {
        let path = self.file(name, bytes);
        let (code, out, err) = self.media(&["put", "--json", path.to_str().unwrap()]);
        assert_eq!(code, 0, "put: {err}");
        serde_json::from_str(out.trim()).unwrap()
    }

    /// The owner's verified read through the API (`Range` if given): status and body.
    pub async fn content(&self, id: &str, range: Option<&str>) -> (u16, Vec<u8>) {
        let mut req = client()
            .get(format!("{}/api/v1/media/{id}/content", self.api))
            .bearer_auth(&self.token);
        if let Some(r) = range {
            req = req.header("range", r);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.bytes().await.unwrap_or_default().to_vec())
    }

    /// The record of `id` through the API.
    pub async fn record(&self, id: &str) -> Option<media_core::MediaFile> {
        let resp = client()
            .get(format!("{}/api/v1/media/{id}", self.api))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        if resp.status() == 404 {
            return None;
        }
        Some(resp.json().await.unwrap())
    }

    /// Import `record` as a stranger handed it over (no reference).
    pub fn import(&self, record: &media_core::MediaFile) {
        let path = self.file(
            &format!("record-{}.json", record.id),
            &serde_json::to_vec(record).unwrap(),
        );
        let (code, _, err) = self.media(&["import", path.to_str().unwrap()]);
        assert_eq!(code, 0, "import: {err}");
    }
}

/// When the suite replays against an older `media` (`MEDIA_BIN`), the settings that build
/// did not know are dropped: it had no `open_writes` because its Blossom writes were open
/// to every signer already.
fn replayable(config: &str) -> String {
    if std::env::var_os("MEDIA_BIN").is_none() {
        return config.to_owned();
    }
    config
        .lines()
        .filter(|l| {
            ![
                "open_writes",
                "max_blobs_per_pubkey",
                "max_bytes_per_pubkey",
            ]
            .iter()
            .any(|k| l.trim_start().starts_with(k))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

/// `Authorization: Nostr …` for `verb` on `sha256`, valid for `secs`.
pub fn nostr_auth(keys: &NostrKeys, verb: &str, sha256: &str, secs: u64) -> String {
    let now = media_blossom::auth::unix_now();
    keys.authorize(verb, &[sha256], "attack", now, secs)
        .unwrap()
        .to_header()
}

/// Distinct bytes for each seed (incompressible enough, deterministic).
pub fn bytes(seed: u32, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 7) as u8
        })
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    media_core::MediaId::for_bytes(bytes).to_string()
}

/// A loopback HTTP server a stranger controls: answers every GET with `body` (honouring a
/// `Range`), and logs each request line. Stops when dropped (its thread ends at the next
/// connection or with the test process).
pub struct StrangerServer {
    pub port: u16,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl StrangerServer {
    pub fn start(body: Vec<u8>) -> StrangerServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&log);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match conn.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                if head.is_empty() {
                    // A connection closed before a byte was sent is not a request (the
                    // node's connector closes what it may not reach before writing).
                    continue;
                }
                seen.lock()
                    .unwrap()
                    .push(head.lines().next().unwrap_or("").to_owned());
                let range = head.lines().find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("range")
                        .then(|| value.trim().trim_start_matches("bytes=").to_owned())
                });
                let (status, part) = match range.and_then(|r| {
                    let (a, b) = r.split_once('-')?;
                    let a: usize = a.parse().ok()?;
                    let b: usize = if b.is_empty() {
                        body.len() - 1
                    } else {
                        b.parse().ok()?
                    };
                    Some((a, b.min(body.len() - 1)))
                }) {
                    Some((a, b)) => (
                        format!(
                            "206 Partial Content\r\nContent-Range: bytes {a}-{b}/{}",
                            body.len()
                        ),
                        &body[a..=b],
                    ),
                    None => ("200 OK".to_owned(), &body[..]),
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    part.len()
                );
                let _ = conn.write_all(part);
            }
        });
        StrangerServer { port, log }
    }

    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// A record for id `claimed` (its size and SHA-256), whose chunk digests are those of
/// `forged`, located at `uri` on a CDN: what a stranger hands over.
pub fn forged_record(genuine: &[u8], forged: &[u8], uri: &str) -> media_core::MediaFile {
    use media_core::{Digests, Location, MediaFile, MediaId, Timestamp};
    assert_eq!(genuine.len(), forged.len());
    let real = Digests::of_bytes(genuine);
    let mut record = MediaFile::new(
        "gift.bin",
        "application/octet-stream",
        &Digests::of_bytes(forged),
        Timestamp::now(),
    );
    record.id = MediaId::from_sha256(real.sha256);
    record.sha256 = real.sha256;
    record.blake3 = real.blake3;
    record.locations = vec![Location::cdn(uri, "")];
    record
}

/// The node's own nostr key (`<data>/secrets/nostr.key`): the owner's writes to Blossom.
pub fn node_keys(node: &Node) -> NostrKeys {
    let key = std::fs::read_to_string(node.data.join("secrets").join("nostr.key")).unwrap();
    NostrKeys::from_hex(key.trim()).unwrap()
}

/// Every way of writing a loopback address in a URL's host that an HTTP client may connect
/// to directly: short, octal, hex, decimal, trailing dot, IPv6 forms (IPv4-mapped and
/// -compatible, NAT64), and local names.
pub const LOOPBACK_SPELLINGS: &[&str] = &[
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "0x7f.0.0.1",
    "0x7f.1",
    "0x7f000001",
    "0177.0.0.1",
    "0177.1",
    "2130706433",
    "017700000001",
    "127.0.0.1.",
    "0.0",
    "0",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:127.0.0.1]",
    "[::127.0.0.1]",
    "[64:ff9b::127.0.0.1]",
    "localhost",
    "localhost.",
    "LOCALHOST",
    "vm.localhost",
];

/// Mode bits of `path`.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

impl Node {
    /// A Blossom `PUT /upload` of `blob` typed `mime`, signed by `keys`: the status.
    pub async fn blossom_upload(&self, keys: &NostrKeys, blob: &[u8], mime: &str) -> u16 {
        let id = sha256_hex(blob);
        let mut req = client()
            .put(format!("{}/upload", self.blossom))
            .header("authorization", nostr_auth(keys, "upload", &id, 300))
            .header("x-sha-256", &id)
            .body(blob.to_vec());
        if !mime.is_empty() {
            req = req.header("content-type", mime);
        }
        req.send().await.unwrap().status().as_u16()
    }

    /// A Blossom `DELETE` of `id` with the authorization `auth`: the status.
    pub async fn blossom_delete(&self, id: &str, auth: &str) -> u16 {
        client()
            .delete(format!("{}/{id}", self.blossom))
            .header("authorization", auth)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// The owner's `media put --json` of a fresh 400 kB file through this running node, within
    /// 60 s (a regression fails instead of hanging): how long it took. Asserts the record's id
    /// is the file's SHA-256.
    pub async fn owners_put(&self, seed: u32) -> std::time::Duration {
        let photo = bytes(seed, 400_000);
        let path = self.file(&format!("owner-{seed}.bin"), &photo);
        let data = self.data.clone();
        let started = std::time::Instant::now();
        let put = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            tokio::task::spawn_blocking(move || {
                crate::common::media_code(&data, &["put", "--json", path.to_str().unwrap()])
            }),
        )
        .await
        .expect("the owner's upload was stalled by strangers")
        .unwrap();
        assert_eq!(put.0, 0, "{}", put.2);
        let record: media_core::MediaFile = serde_json::from_str(put.1.trim()).unwrap();
        assert_eq!(record.id.to_string(), sha256_hex(&photo));
        started.elapsed()
    }

    /// Blossom `GET /list/<pubkey>`.
    pub async fn blossom_list(&self, pubkey: &str) -> Vec<serde_json::Value> {
        client()
            .get(format!("{}/list/{pubkey}", self.blossom))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}
