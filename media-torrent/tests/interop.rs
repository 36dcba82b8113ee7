//! Interop with other BitTorrent implementations on 127.0.0.1: WebTorrent (npm) both ways and
//! through a local `bittorrent-tracker`, libtorrent (pip) for every size class, and a stock
//! WebTorrent client that reaches the file only through the `ws=` web seed (the CDN URL on the
//! embedded S3 server). `cargo xtask test` installs Node 22, the npm packages and libtorrent.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use media_core::conformance::{json_field as field, test_bytes as data};
use media_core::{Backend, ByteRange, Digest32, Digests, Location, Progress, StagedBlob};
use media_torrent::{MagnetLink, TorrentConfig, TorrentNode};

const MIB: u64 = 1 << 20;

struct Tools {
    npm_dir: PathBuf,
    node: PathBuf,
    python_path: PathBuf,
}

fn tools() -> Option<Tools> {
    let var = |k: &str| std::env::var_os(k).map(PathBuf::from);
    match (
        var("MEDIA_NODE_DIR"),
        var("MEDIA_NODE_BIN"),
        var("MEDIA_PY_LIBTORRENT"),
    ) {
        (Some(npm_dir), Some(node), Some(python_path))
            if npm_dir.join("node_modules/webtorrent").is_dir() =>
        {
            Some(Tools {
                npm_dir,
                node,
                python_path,
            })
        }
        // Skipping is a decision someone makes, never a silent default.
        _ if std::env::var_os("MEDIA_SKIP_INTEROP").is_some() => None,
        _ => panic!("WebTorrent and libtorrent are required: run the tests with `cargo xtask test` (it installs them), set MEDIA_NODE_DIR, MEDIA_NODE_BIN and MEDIA_PY_LIBTORRENT, or set MEDIA_SKIP_INTEROP=1 to skip the interop tests on purpose"),
    }
}

impl Tools {
    /// `node --import no-webrtc.mjs SCRIPT args...`, run from the npm folder.
    fn node(&self, script: &str) -> Command {
        for s in [script, "no-webrtc.mjs"] {
            std::fs::copy(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/js")
                    .join(s),
                self.npm_dir.join(s),
            )
            .unwrap();
        }
        let mut c = Command::new(&self.node);
        c.current_dir(&self.npm_dir)
            .arg("--import")
            .arg("./no-webrtc.mjs")
            .arg(script);
        c
    }
}

/// A child that is killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start a long-running node script and read its first JSON line.
fn spawn_json(mut cmd: Command) -> (Guard, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(line.starts_with('{'), "script printed {line:?}");
    (Guard(child), line)
}

async fn seed(node: &TorrentNode, dir: &Path, name: &str, bytes: &[u8]) -> (String, String) {
    let digests = Digests::of_bytes(bytes);
    let path = dir.join(format!("staged-{}", digests.id()));
    std::fs::write(&path, bytes).unwrap();
    let blob = StagedBlob::new(&path, name, "video/mp4", Arc::new(digests));
    let location = node
        .backend("torrent")
        .put(&blob, Progress::none())
        .await
        .unwrap();
    let (Some(magnet), Some(info_hash)) = (location.magnet(), location.info_hash()) else {
        panic!()
    };
    (magnet.to_owned(), info_hash.to_owned())
}

fn webtorrent_download(tools: &Tools, magnet: &str, out: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = tools.node("webtorrent.mjs");
    cmd.arg("download").arg(magnet).arg(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "webtorrent failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().last().unwrap_or_default().to_owned()
}

fn node_config(dir: &Path) -> TorrentConfig {
    TorrentConfig::new(dir)
        .with_timeouts(Duration::from_secs(20), Duration::from_secs(20))
        .with_reach(media_core::Reach::public_only().allow_private(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webtorrent_downloads_from_our_seeder() {
    let Some(tools) = tools() else { return };
    let (dir, staging, out) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let node = TorrentNode::start(node_config(dir.path())).await.unwrap();
    for (i, size) in [1, MIB, 2 * MIB + 77].into_iter().enumerate() {
        let bytes = data(size, i as u64);
        let (magnet, _) = seed(&node, staging.path(), &format!("wt {i}.bin"), &bytes).await;
        let line = webtorrent_download(&tools, &magnet, out.path(), &[]);
        assert_eq!(
            field(&line, "sha256"),
            Digest32::sha256(&bytes).to_hex(),
            "size {size}: {line}"
        );
        assert_eq!(field(&line, "length"), size.to_string());
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_download_from_a_webtorrent_seeder() {
    let Some(tools) = tools() else { return };
    let (dir, files) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bytes = data(3 * MIB + 1234, 5);
    let file = files.path().join("from-webtorrent.bin");
    std::fs::write(&file, &bytes).unwrap();
    let mut cmd = tools.node("webtorrent.mjs");
    cmd.arg("seed").arg(&file);
    let (_seeder, line) = spawn_json(cmd);
    let magnet = format!(
        "{}&x.pe=127.0.0.1:{}",
        field(&line, "magnet"),
        field(&line, "port")
    );
    let node = TorrentNode::start(node_config(dir.path())).await.unwrap();
    let location = Location::torrent(&magnet, MagnetLink::parse(&magnet).unwrap().info_hash_hex());
    let mut stream = node
        .backend("torrent")
        .get(&location, ByteRange::full())
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(piece) = stream.next().await {
        got.extend_from_slice(&piece.unwrap());
    }
    assert_eq!(Digest32::sha256(&got), Digest32::sha256(&bytes));
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webtorrent_finds_us_through_a_local_tracker() {
    let Some(tools) = tools() else { return };
    let (dir, staging, out) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let (_tracker, line) = spawn_json(tools.node("tracker.mjs"));
    let announce = field(&line, "announce");
    let node = TorrentNode::start(node_config(dir.path()).with_trackers([announce.clone()]))
        .await
        .unwrap();
    let bytes = data(2 * MIB + 3, 8);
    let (magnet, _) = seed(&node, staging.path(), "tracked.bin", &bytes).await;
    let parsed = MagnetLink::parse(&magnet).unwrap();
    assert_eq!(parsed.trackers, vec![announce]);
    // Without x.pe: the tracker is the only way to find us.
    let without_peer = magnet.split("&x.pe=").next().unwrap().to_owned();
    // Give our announce a moment to reach the tracker.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let line = webtorrent_download(&tools, &without_peer, out.path(), &[]);
    assert_eq!(
        field(&line, "sha256"),
        Digest32::sha256(&bytes).to_hex(),
        "{line}"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_accepts_our_torrents_for_every_size_class() {
    let Some(tools) = tools() else { return };
    let (dir, staging, out) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let node = TorrentNode::start(node_config(dir.path())).await.unwrap();
    let sizes = [1, MIB - 1, MIB, MIB + 1, 2 * MIB, 3 * MIB, 7 * MIB + 123];
    let mut torrents = Vec::new();
    let mut expected = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let bytes = data(size, 100 + i as u64);
        let (_, hex) = seed(&node, staging.path(), &format!("lt-{i}.bin"), &bytes).await;
        let path = staging.path().join(format!("{hex}.torrent"));
        std::fs::write(&path, node.torrent_file(&hex).unwrap()).unwrap();
        torrents.push(path);
        expected.push(Digest32::sha256(&bytes).to_hex());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lt_fetch.py");
    let output = tokio::process::Command::new("python3")
        .env("PYTHONPATH", &tools.python_path)
        .arg(&script)
        .arg(out.path())
        .arg(node.peer_addr().to_string())
        .args(&torrents)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "libtorrent failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), sizes.len(), "{stdout}");
    for ((line, sha), size) in lines.iter().zip(&expected).zip(sizes) {
        assert_eq!(&field(line, "sha256"), sha, "size {size}: {line}");
        assert_eq!(field(line, "length"), size.to_string());
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_webtorrent_gets_the_file_through_the_cdn_web_seed() {
    let Some(tools) = tools() else { return };
    let (dir, s3_dir, staging, out) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let server = media_cdn::EmbeddedS3::start(s3_dir.path(), "media")
        .await
        .unwrap();
    let s3_config = server.config();
    let cdn: Arc<dyn Backend> = Arc::new(media_cdn::S3Backend::new(s3_config.clone()).unwrap());
    let bytes = data(3 * MIB + 99, 21);
    let digests = Digests::of_bytes(&bytes);
    let staged = staging.path().join("staged");
    std::fs::write(&staged, &bytes).unwrap();
    let blob = StagedBlob::new(
        &staged,
        "seeded by the CDN.mp4",
        "video/mp4",
        Arc::new(digests.clone()),
    );
    let Some(url) = cdn
        .put(&blob, Progress::none())
        .await
        .unwrap()
        .cdn_url()
        .map(str::to_owned)
    else {
        panic!()
    };

    let base = s3_config.object_url(&s3_config.prefix);
    assert_eq!(url, format!("{base}/{}", digests.id()));
    let node = TorrentNode::start(node_config(dir.path()).with_web_seed_base(base.clone()))
        .await
        .unwrap();
    // The backend publishes the .torrent on the CDN (content addressed like any blob) and
    // adds it as `xs=`: a client that reaches no peer gets the metadata over HTTP.
    let backend = node
        .backend("torrent")
        .with_metadata_store(Arc::clone(&cdn));
    let location = backend.put(&blob, Progress::none()).await.unwrap();
    let (Some(magnet), Some(info_hash)) = (location.magnet(), location.info_hash()) else {
        panic!()
    };
    let link = MagnetLink::parse(magnet).unwrap();
    assert_eq!(link.web_seeds, vec![url.clone()]);
    let torrent = node.torrent_file(info_hash).unwrap();
    assert!(
        torrent.windows(url.len()).any(|w| w == url.as_bytes()),
        "url-list in the .torrent"
    );
    let torrent_id = Digests::of_bytes(&torrent).id().to_string();
    assert_eq!(link.exact_sources, vec![format!("{base}/{torrent_id}")]);
    let published = Location::cdn(
        link.exact_sources[0].clone(),
        s3_config.key_for(&torrent_id),
    );
    let mut served = Vec::new();
    let mut stream = cdn.get(&published, ByteRange::full()).await.unwrap();
    while let Some(piece) = stream.next().await {
        served.extend_from_slice(&piece.unwrap());
    }
    assert_eq!(served, torrent, "the CDN serves the .torrent at xs=");

    // Our seeder is gone: its x.pe address refuses connections. Only HTTP is left.
    node.shutdown().await;
    let line = webtorrent_download(&tools, magnet, out.path(), &[]);
    assert_eq!(field(&line, "sha256"), digests.id().to_string(), "{line}");
    assert_eq!(
        field(&line, "webSeedBytes"),
        bytes.len().to_string(),
        "{line}"
    );

    // After a restart, deleting the torrent deletes the published .torrent too: a deleted
    // photo's name and hashes do not stay public.
    let node = TorrentNode::start(node_config(dir.path()).with_web_seed_base(base))
        .await
        .unwrap();
    let backend = node
        .backend("torrent")
        .with_metadata_store(Arc::clone(&cdn));
    backend.delete(&location).await.unwrap();
    let gone = cdn.get(&published, ByteRange::full()).await.err();
    assert_eq!(gone.map(|e| e.kind), Some(media_core::ErrorKind::NotFound));
    node.shutdown().await;
}
