//! Resumable uploads (tus 1.0 and the IETF draft) against a real `media serve`: clients no
//! one here wrote, through a proxy that cuts their connections, with a node restart midway;
//! curl following the URLSession sequence; and what a stranger or a broken client tries.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::node::{self, client, sha256_hex, Node};

const MIB: u64 = 1 << 20;

/// A loopback proxy in front of the node's API that counts the bytes clients send and cuts
/// every connection when the count crosses each of `cuts`, telling the test which cut it was.
struct CuttingProxy {
    url: String,
    upstream: Arc<Mutex<SocketAddr>>,
    forwarded: Arc<AtomicU64>,
    /// Per cut: where the client was in the file when its link dropped, and the offset it
    /// resumed from (its next `Upload-Offset`).
    resumes: Arc<Mutex<Vec<Resume>>>,
    task: tokio::task::JoinHandle<()>,
}

/// One cut: where the client was in the file when its link dropped, and the offset it
/// resumed from (its next `Upload-Offset`).
type Resume = (u64, Option<u64>);

/// Where a client is in its upload, read from the requests it sends on one connection:
/// each request head's `Upload-Offset` and `Content-Length`, and the body bytes since.
#[derive(Default)]
struct RequestTracker {
    head: Vec<u8>,
    in_body: bool,
    body_left: u64,
    offset: Option<u64>,
    body_seen: u64,
}

impl RequestTracker {
    /// Account for `data` sent upstream; the `Upload-Offset` of each request head completed.
    fn feed(&mut self, mut data: &[u8], mut on_offset: impl FnMut(u64)) {
        while !data.is_empty() {
            if self.in_body {
                let n = (self.body_left as usize).min(data.len());
                self.body_seen += n as u64;
                self.body_left -= n as u64;
                data = &data[n..];
                if self.body_left == 0 {
                    self.in_body = false;
                }
                continue;
            }
            self.head.push(data[0]);
            data = &data[1..];
            if self.head.ends_with(b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.head).to_ascii_lowercase();
                let value = |name: &str| {
                    head.lines()
                        .find_map(|l| l.strip_prefix(name))
                        .and_then(|v| v.trim().parse::<u64>().ok())
                };
                self.offset = value("upload-offset:");
                if let Some(offset) = self.offset {
                    on_offset(offset);
                }
                self.body_left = value("content-length:").unwrap_or(0);
                self.body_seen = 0;
                self.in_body = self.body_left > 0;
                self.head.clear();
            }
        }
    }

    /// The byte of the file this client had reached.
    fn position(&self) -> Option<u64> {
        self.offset.map(|o| o + self.body_seen)
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CuttingProxy {
    async fn start(
        upstream: SocketAddr,
        cuts: Vec<u64>,
        events: tokio::sync::mpsc::UnboundedSender<usize>,
    ) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = Arc::new(Mutex::new(upstream));
        let forwarded = Arc::new(AtomicU64::new(0));
        let resumes = Arc::new(Mutex::new(Vec::<Resume>::new()));
        let cuts = Arc::new(Mutex::new((0..cuts.len()).zip(cuts).collect::<Vec<_>>()));
        let (up, fw, rs) = (
            Arc::clone(&upstream),
            Arc::clone(&forwarded),
            Arc::clone(&resumes),
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let target = *up.lock().unwrap();
                let (fw, cuts, events, rs) = (
                    Arc::clone(&fw),
                    Arc::clone(&cuts),
                    events.clone(),
                    Arc::clone(&rs),
                );
                tokio::spawn(async move {
                    // The node may be down (restarting): the client sees a dropped connection.
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let down = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                        let _ = cw.shutdown().await;
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut tracker = RequestTracker::default();
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n as u64,
                        };
                        let before = fw.load(Ordering::SeqCst);
                        let cut = {
                            let mut cuts = cuts.lock().unwrap();
                            match cuts.first() {
                                Some(&(i, at)) if before + n >= at => {
                                    cuts.remove(0);
                                    Some((i, at - before))
                                }
                                _ => None,
                            }
                        };
                        let send = cut.map_or(n, |(_, upto)| upto.min(n));
                        if sw.write_all(&buf[..send as usize]).await.is_err() {
                            break;
                        }
                        fw.fetch_add(send, Ordering::SeqCst);
                        tracker.feed(&buf[..send as usize], |offset| {
                            // The first offset a client sends after a cut is where it resumed.
                            let mut resumes = rs.lock().unwrap();
                            if let Some(last) = resumes.last_mut() {
                                if last.1.is_none() {
                                    last.1 = Some(offset);
                                }
                            }
                        });
                        if let Some((i, _)) = cut {
                            rs.lock()
                                .unwrap()
                                .push((tracker.position().unwrap_or(0), None));
                            // The link drops: both sides see their connection end.
                            down.abort();
                            let _ = events.send(i);
                            return;
                        }
                    }
                    let _ = sw.shutdown().await;
                    let _ = down.await;
                });
            }
        });
        CuttingProxy {
            url,
            upstream,
            forwarded,
            resumes,
            task,
        }
    }

    fn point_at(&self, upstream: SocketAddr) {
        *self.upstream.lock().unwrap() = upstream;
    }
}

fn api_addr(node: &Node) -> SocketAddr {
    node.api.trim_start_matches("http://").parse().unwrap()
}

/// A file of `mib` MiB of pseudo-random bytes (a phone video, as far as hashing goes).
fn big_file(dir: &Path, name: &str, mib: u64, seed: u64) -> (PathBuf, String) {
    use sha2::Digest;
    let path = dir.join(name);
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut hasher = sha2::Sha256::new();
    let mut x = seed | 1;
    let mut block = vec![0u8; MIB as usize];
    for _ in 0..mib {
        for word in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        hasher.update(&block);
        std::io::Write::write_all(&mut file, &block).unwrap();
    }
    std::io::Write::flush(&mut file).unwrap();
    (path, hex::encode(hasher.finalize()))
}

/// Runs `client` (a command that uploads through `proxy.url`) while the proxy cuts at 25 %,
/// 50 % and 75 % of `size` and the node restarts at the 50 % cut; the client's JSON line and
/// the bytes re-sent beyond the file.
async fn upload_through_cuts(
    node: &mut Node,
    size: u64,
    client: impl FnOnce(&str) -> tokio::process::Command,
) -> (serde_json::Value, u64, Vec<u64>) {
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let proxy = CuttingProxy::start(
        api_addr(node),
        vec![size / 4, size / 2, size * 3 / 4],
        events_tx,
    )
    .await;
    let endpoint = format!("{}/api/v1/uploads", proxy.url);
    let mut child = client(&endpoint)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let output = tokio::spawn(async move {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out).await;
        out
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    let status = loop {
        tokio::select! {
            Some(cut) = events.recv() => {
                if cut == 1 {
                    // The node goes down with the link, and comes back on another port.
                    node.restart();
                    proxy.point_at(api_addr(node));
                }
            }
            status = child.wait() => break status.unwrap(),
            () = tokio::time::sleep_until(deadline) => panic!("the upload did not finish in 300 s"),
        }
    };
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await;
    let out = output.await.unwrap();
    assert!(status.success(), "client failed: {stderr}\n{out}");
    let line: serde_json::Value = serde_json::from_str(out.trim().lines().last().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {out}"));
    let resent = proxy.forwarded.load(Ordering::SeqCst).saturating_sub(size);
    let per_cut: Vec<u64> = proxy
        .resumes
        .lock()
        .unwrap()
        .iter()
        .map(|&(at, from)| at.saturating_sub(from.expect("the client resumed after each cut")))
        .collect();
    (line, resent, per_cut)
}

/// What each client must leave: a record whose id is the file's SHA-256, its bytes served
/// back whole, and no staged data.
async fn assert_stored(node: &Node, line: &serde_json::Value, sha: &str, size: u64) {
    assert_eq!(
        line["mediaId"], sha,
        "the client's last response names the media: {line}"
    );
    let record = node.record(sha).await.expect("the upload's record");
    assert_eq!(record.size, size);
    assert_eq!(record.sha256.to_string(), sha);
    let (status, bytes) = node.content(sha, None).await;
    assert_eq!(status, 200);
    assert_eq!(bytes.len() as u64, size);
    assert_eq!(
        sha256_hex(&bytes),
        sha,
        "the bytes served back are the file's"
    );
    let staged: Vec<String> = std::fs::read_dir(node.data.join("uploads"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(staged.is_empty(), "staged data left: {staged:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tus_js_client_tuspy_and_the_ietf_mode_resume_through_three_cuts_and_a_restart() {
    let Some(tools) = media_core::testing::browser_tools() else {
        return;
    };
    let Some(tuspy) = media_core::testing::tuspy_path() else {
        return;
    };
    let mut node = Node::start("");
    let size = 200 * MIB;
    let script = tools.npm_dir.join("tus-upload.mjs");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/resumable/tus.mjs"),
        &script,
    )
    .unwrap();
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/resumable/tus.py");
    let mut figures = Vec::new();
    for (seed, who) in [
        (11u64, "tus-js-client tus-v1"),
        (12, "tus-js-client ietf-draft-05"),
        (13, "tuspy"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (path, sha) = big_file(dir.path(), "video.bin", size / MIB, seed);
        let token = node.token.clone();
        let (line, resent, per_cut) = upload_through_cuts(&mut node, size, |endpoint| {
            if who == "tuspy" {
                let mut cmd = tokio::process::Command::new("python3");
                cmd.env("PYTHONPATH", &tuspy)
                    .arg(&py)
                    .arg(endpoint)
                    .arg(&token)
                    .arg(&path);
                cmd
            } else {
                let mut cmd = tokio::process::Command::new(&tools.node);
                cmd.arg(&script)
                    .arg(endpoint)
                    .arg(&token)
                    .arg(&path)
                    .arg(who.rsplit(' ').next().unwrap());
                cmd
            }
        })
        .await;
        assert_stored(&node, &line, &sha, size).await;
        // Three interruptions (one with a restart), each re-sending at most one 8 MiB part.
        assert_eq!(per_cut.len(), 3, "{who}: {per_cut:?}");
        assert!(
            per_cut.iter().all(|&r| r <= 8 * MIB),
            "{who} re-sent {per_cut:?} bytes at its three interruptions"
        );
        assert!(
            resent <= 3 * 8 * MIB,
            "{who} re-sent {resent} bytes over three interruptions"
        );
        figures.push(format!(
            "{who}: {resent} bytes re-sent in all, per interruption {per_cut:?}"
        ));
    }
    eprintln!("re-sent beyond 200 MiB, 3 cuts (restart at the 2nd): {figures:?}");
}

/// The IETF draft as iOS 17+ `URLSession` runs it, by curl: the whole file in one `POST`
/// with `Upload-Complete: ?1` (interop 6) or `Upload-Incomplete: ?0` (interop 3), the
/// `104` with the `Location` read from the interim response, the link cut, `HEAD` for the
/// offset, `PATCH` with the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_follows_the_urlsession_sequence_of_the_ietf_draft() {
    if !media_core::testing::require_tool("curl", "--version", "apt-get install curl") {
        return;
    }
    let node = Node::start("");
    let dir = tempfile::tempdir().unwrap();
    for (version, seed) in [("6", 21u64), ("3", 22)] {
        let (path, sha) = big_file(dir.path(), &format!("clip-{version}.bin"), 24, seed);
        let out = tokio::process::Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/resumable/urlsession.sh"))
            .arg(&node.api)
            .arg(&node.token)
            .arg(&path)
            .arg(version)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "urlsession.sh: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        let value = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("no {key} in {stdout}"))
                .trim()
                .to_owned()
        };
        assert_eq!(value("interim_status"), "104", "{stdout}");
        assert!(
            value("interim_location").starts_with("/api/v1/uploads/"),
            "{stdout}"
        );
        let offset: u64 = value("offset").parse().unwrap();
        assert!(offset > 0 && offset < 24 * MIB, "{stdout}");
        assert_eq!(
            value("head_complete"),
            if version == "6" { "?0" } else { "?1" },
            "{stdout}"
        );
        assert!(
            matches!(value("final_status").as_str(), "200" | "201" | "204"),
            "{stdout}"
        );
        assert_eq!(value("media_id"), sha, "{stdout}");
        let record = node.record(&sha).await.expect("the record");
        assert_eq!(record.size, 24 * MIB);
    }
}

/// A tus request to the node: method, path (or full URL), headers; status, headers, body.
async fn tus(
    node: &Node,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let url = if path.starts_with("http") {
        path.to_owned()
    } else {
        format!("{}{path}", node.api)
    };
    let mut req = client()
        .request(method.parse().unwrap(), url)
        .header("Tus-Resumable", "1.0.0");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    if !body.is_empty() {
        req = req
            .header("Content-Type", "application/offset+octet-stream")
            .body(body);
    }
    // A refusal sent before the body was read may reach the client as a reset while it is
    // still sending: status 0, no headers.
    let Ok(resp) = req.send().await else {
        return (0, reqwest::header::HeaderMap::new(), String::new());
    };
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap_or_default())
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// An IETF draft (interop 6) request as the owner.
async fn ietf(
    node: &Node,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = client()
        .request(method.parse().unwrap(), format!("{}{path}", node.api))
        .bearer_auth(&node.token)
        .header("Upload-Draft-Interop-Version", "6");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let Ok(resp) = req.body(body).send().await else {
        return (0, reqwest::header::HeaderMap::new(), String::new());
    };
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap_or_default())
}

/// Open a session of `length` bytes as the owner; its path.
async fn open_session(node: &Node, length: u64, extra: &[(&str, String)]) -> String {
    let mut headers = vec![("Upload-Length", length.to_string())];
    headers.extend(extra.iter().cloned());
    let (status, h, body) = tus(
        node,
        "POST",
        "/api/v1/uploads",
        Some(&node.token),
        &headers,
        vec![],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    header(&h, "location")
}

fn session_files(node: &Node) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(node.data.join("uploads"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_can_neither_open_write_read_nor_cancel_an_upload_session() {
    let node = Node::start("");
    // No token, a wrong one: nothing opens.
    for token in [None, Some("0".repeat(48))] {
        let (status, _, _) = tus(
            &node,
            "POST",
            "/api/v1/uploads",
            token.as_deref(),
            &[("Upload-Length", "10".into())],
            vec![],
        )
        .await;
        assert_eq!(status, 401);
    }
    assert!(session_files(&node).is_empty());
    let path = open_session(&node, 2 * MIB, &[]).await;
    let forged = node::bytes(1, 4096);
    for (method, body) in [
        ("PATCH", forged.clone()),
        ("HEAD", vec![]),
        ("GET", vec![]),
        ("DELETE", vec![]),
    ] {
        let (status, _, _) = tus(
            &node,
            method,
            &path,
            None,
            &[("Upload-Offset", "0".into())],
            body,
        )
        .await;
        assert_eq!(status, 401, "{method} without the token");
    }
    let (status, h, _) = tus(&node, "HEAD", &path, Some(&node.token), &[], vec![]).await;
    assert_eq!(
        (status, header(&h, "upload-offset").as_str()),
        (200, "0"),
        "the stranger wrote nothing"
    );
    // Guessed or crafted ids name nothing.
    for id in [
        "00000000000000000000000000000000",
        "..%2F..%2Fnode.json",
        "ABCDEF",
        "x",
    ] {
        let (status, _, _) = tus(
            &node,
            "HEAD",
            &format!("/api/v1/uploads/{id}"),
            Some(&node.token),
            &[],
            vec![],
        )
        .await;
        assert_eq!(status, 404, "{id}");
    }
    // The session's files are the owner's alone.
    assert_eq!(crate::node::mode(&node.data.join("uploads")), 0o700);
    for name in session_files(&node) {
        assert_eq!(
            crate::node::mode(&node.data.join("uploads").join(&name)),
            0o600,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cannot_overrun_its_length_rewrite_sent_bytes_or_slip_in_other_bytes() {
    let node = Node::start("");
    let genuine = node::bytes(7, 2 * MIB as usize);
    let path = open_session(&node, 2 * MIB, &[]).await;
    let (status, h, _) = tus(
        &node,
        "PATCH",
        &path,
        Some(&node.token),
        &[("Upload-Offset", "0".into())],
        genuine[..MIB as usize].to_vec(),
    )
    .await;
    assert_eq!(
        (status, header(&h, "upload-offset")),
        (204, MIB.to_string())
    );
    // Rewriting what was acknowledged: 409, the node's offset in the answer.
    let other = node::bytes(8, MIB as usize);
    let (status, h, _) = tus(
        &node,
        "PATCH",
        &path,
        Some(&node.token),
        &[("Upload-Offset", "0".into())],
        other.clone(),
    )
    .await;
    assert_eq!(
        (status, header(&h, "upload-offset")),
        (409, MIB.to_string())
    );
    // Past the declared length: 413 (the part is read and dropped, never written).
    let (status, _, _) = tus(
        &node,
        "PATCH",
        &path,
        Some(&node.token),
        &[("Upload-Offset", MIB.to_string())],
        node::bytes(9, MIB as usize + 1),
    )
    .await;
    assert_eq!(status, 413);
    let (_, h, _) = tus(&node, "HEAD", &path, Some(&node.token), &[], vec![]).await;
    assert_eq!(header(&h, "upload-offset"), MIB.to_string());
    // A length declared late is held to the same bounds as at creation (it once overflowed
    // the staging sum and panicked every later creation).
    let (status, h, _) = ietf(
        &node,
        "POST",
        "/api/v1/uploads",
        &[("Upload-Complete", "?0".into())],
        b"ten bytes!".to_vec(),
    )
    .await;
    assert_eq!(status, 201);
    let late = header(&h, "location");
    let (status, _, _) = ietf(
        &node,
        "PATCH",
        &late,
        &[
            ("Upload-Offset", "10".into()),
            ("Upload-Complete", "?0".into()),
            ("Upload-Length", u64::MAX.to_string()),
        ],
        vec![],
    )
    .await;
    assert!(matches!(status, 400 | 413), "{status}");
    let (status, _, _) = tus(
        &node,
        "POST",
        "/api/v1/uploads",
        Some(&node.token),
        &[("Upload-Length", "1".into())],
        vec![],
    )
    .await;
    assert_eq!(status, 201, "creations go on");
    // A creation-with-upload whose bytes are refused leaves no session behind.
    let before = session_files(&node);
    let (status, _, _) = tus(
        &node,
        "POST",
        "/api/v1/uploads",
        Some(&node.token),
        &[
            ("Upload-Length", "4".into()),
            (
                "Upload-Checksum",
                "sha256 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
            ),
        ],
        b"four".to_vec(),
    )
    .await;
    assert_eq!(status, 460);
    assert_eq!(
        session_files(&node),
        before,
        "the refused creation left files"
    );
    // A part that is not what its checksum says: 460, and it is not kept.
    let sum = |b: &[u8]| {
        use base64::Engine;
        use sha2::Digest;
        format!(
            "sha256 {}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(b))
        )
    };
    let (status, _, _) = tus(
        &node,
        "PATCH",
        &path,
        Some(&node.token),
        &[
            ("Upload-Offset", MIB.to_string()),
            ("Upload-Checksum", sum(&other)),
        ],
        genuine[MIB as usize..].to_vec(),
    )
    .await;
    assert_eq!(status, 460);
    let (_, h, _) = tus(&node, "HEAD", &path, Some(&node.token), &[], vec![]).await;
    assert_eq!(
        header(&h, "upload-offset"),
        MIB.to_string(),
        "the mismatching part was dropped"
    );
    let (status, h, _) = tus(
        &node,
        "PATCH",
        &path,
        Some(&node.token),
        &[
            ("Upload-Offset", MIB.to_string()),
            ("Upload-Checksum", sum(&genuine[MIB as usize..])),
        ],
        genuine[MIB as usize..].to_vec(),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        header(&h, "media-id"),
        sha256_hex(&genuine),
        "the record is the genuine bytes'"
    );
    let (_, bytes) = node.content(&sha256_hex(&genuine), None).await;
    assert_eq!(sha256_hex(&bytes), sha256_hex(&genuine));

    // A declared SHA-256 that the bytes do not have: refused before any store, nothing kept.
    let declared = sha256_hex(&other);
    let path = open_session(&node, MIB, &[("X-SHA-256", declared.clone())]).await;
    let liar = node::bytes(10, MIB as usize);
    let (status, _, body) = tus(
        &node,
        "PATCH",
        &path,
        Some(&node.token),
        &[("Upload-Offset", "0".into())],
        liar.clone(),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(node.record(&sha256_hex(&liar)).await.is_none());
    assert!(node.record(&declared).await.is_none());
    let (status, _, _) = tus(&node, "HEAD", &path, Some(&node.token), &[], vec![]).await;
    assert_eq!(status, 404, "a refused session is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_bounded_a_silent_client_holds_nothing_and_abandoned_ones_leave_nothing() {
    let node = Node::start(
        "[upload]\nsessions = 2\nsession_staging_bytes = 8388608\nsession_idle_secs = 3\nsession_read_timeout_secs = 2\n",
    );
    // More than the staging space: refused.
    let (status, _, _) = tus(
        &node,
        "POST",
        "/api/v1/uploads",
        Some(&node.token),
        &[("Upload-Length", (9 * MIB).to_string())],
        vec![],
    )
    .await;
    assert_eq!(status, 503);
    let first = open_session(&node, MIB, &[]).await;
    let second = open_session(&node, MIB, &[]).await;
    let first_id = first.rsplit('/').next().unwrap().to_owned();
    let (status, _, _) = tus(
        &node,
        "POST",
        "/api/v1/uploads",
        Some(&node.token),
        &[("Upload-Length", "10".into())],
        vec![],
    )
    .await;
    assert_eq!(status, 503, "a third session while two are open");

    // A client that sends 100 bytes of a 1 MiB part, then nothing: the node ends its request
    // and keeps the 100 bytes; another request takes over at once meanwhile.
    let addr = api_addr(&node);
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PATCH {second} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {MIB}\r\n\r\n",
        node.token
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let data = node::bytes(3, MIB as usize);
    slow.write_all(&data[..100]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The reconnecting client is told where the session really is, and goes on from there.
    let (status, h, _) = tus(
        &node,
        "PATCH",
        &second,
        Some(&node.token),
        &[("Upload-Offset", "0".into())],
        data.clone(),
    )
    .await;
    assert_eq!((status, header(&h, "upload-offset").as_str()), (409, "100"));
    let (status, h, _) = tus(
        &node,
        "PATCH",
        &second,
        Some(&node.token),
        &[("Upload-Offset", "100".into())],
        data[100..].to_vec(),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(header(&h, "media-id"), sha256_hex(&data));
    drop(slow);
    // Finished uploads hold no slot: three more, one after the other, with two slots.
    for seed in 30..33 {
        let data = node::bytes(seed, 1000);
        let (status, h, _) = tus(
            &node,
            "POST",
            "/api/v1/uploads",
            Some(&node.token),
            &[("Upload-Length", "1000".into())],
            data.clone(),
        )
        .await;
        assert_eq!(
            (status, header(&h, "media-id")),
            (201, sha256_hex(&data)),
            "finished upload {seed}"
        );
    }
    // A cancel while a request writes: the writer stops, the files go and stay gone.
    let cancelled = open_session(&node, MIB, &[]).await;
    let cancelled_id = cancelled.rsplit('/').next().unwrap().to_owned();
    let mut writer = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PATCH {cancelled} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {MIB}\r\n\r\n",
        node.token
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    writer.write_all(&data[..300_000]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, _) = tus(&node, "DELETE", &cancelled, Some(&node.token), &[], vec![]).await;
    assert_eq!(status, 204);
    let _ = writer.write_all(&data[300_000..600_000]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        session_files(&node)
            .iter()
            .all(|n| !n.starts_with(&cancelled_id)),
        "a cancelled session's files came back: {:?}",
        session_files(&node)
    );
    drop(writer);

    // The first session never got a byte: after session_idle_secs it is gone with its files.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, _, _) = tus(&node, "HEAD", &first, Some(&node.token), &[], vec![]).await;
    assert!(matches!(status, 404 | 410), "{status}");
    let third = open_session(&node, 10, &[]).await;
    let id = third.rsplit('/').next().unwrap();
    assert!(
        session_files(&node)
            .iter()
            .all(|n| !n.starts_with(&first_id)),
        "files of the abandoned session remain: {:?}",
        session_files(&node)
    );
    // Cancelled: nothing left of it either.
    let (status, _, _) = tus(&node, "DELETE", &third, Some(&node.token), &[], vec![]).await;
    assert_eq!(status, 204);
    assert!(session_files(&node).iter().all(|n| !n.starts_with(id)));
}

/// `media put` through a running node is a tus upload: when the node dies midway and comes
/// back (on another port, as `node.json` then says), the put goes on from the node's
/// checkpoint and ends with the file's record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_put_through_a_running_node_goes_on_after_the_node_restarts() {
    let mut node = Node::start("");
    let dir = tempfile::tempdir().unwrap();
    let (path, sha) = big_file(dir.path(), "video.bin", 160, 41);
    let put = std::process::Command::new(crate::common::media_bin())
        .arg("--data")
        .arg(&node.data)
        .args(["put", "--json"])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once 16 MiB of it are staged on the node, the node is killed and started again.
    let uploads = node.data.join("uploads");
    let staged = || {
        std::fs::read_dir(&uploads)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .max()
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while staged() < 16 * MIB {
        assert!(
            std::time::Instant::now() < deadline,
            "the put never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    node.restart();
    let out = tokio::task::spawn_blocking(move || put.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "put failed: {stderr}");
    let record: media_core::MediaFile = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record.id.to_string(), sha, "{stderr}");
    let (status, bytes) = node.content(&sha, None).await;
    assert_eq!((status, sha256_hex(&bytes)), (200, sha));
}
