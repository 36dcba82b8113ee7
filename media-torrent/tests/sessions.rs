//! Real librqbit sessions on 127.0.0.1: seed and fetch every size class, conformance,
//! restart, bad magnets, unknown torrents, a seeder that vanishes mid-transfer.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use media_core::conformance::{run_all, Suite};
use media_core::{
    Backend, ByteRange, Digest32, Digests, ErrorKind, Location, MediaError, Progress, StagedBlob,
};
use media_torrent::{MagnetLink, TorrentConfig, TorrentNode};

const MIB: u64 = 1 << 20;

use media_core::conformance::test_bytes as data;

fn config(dir: &std::path::Path) -> TorrentConfig {
    TorrentConfig::new(dir)
        .with_timeouts(Duration::from_secs(10), Duration::from_secs(10))
        // Peers on loopback: tests reach them on purpose.
        .with_reach(media_core::Reach::public_only().allow_private(true))
}

async fn put(backend: &dyn Backend, dir: &std::path::Path, name: &str, bytes: &[u8]) -> Location {
    let digests = Digests::of_bytes(bytes);
    let path = dir.join(format!("staged-{}", digests.id()));
    std::fs::write(&path, bytes).unwrap();
    let blob = StagedBlob::new(&path, name, "video/mp4", Arc::new(digests));
    let location = backend.put(&blob, Progress::none()).await.unwrap();
    std::fs::remove_file(&path).unwrap();
    location
}

async fn read(
    backend: &dyn Backend,
    location: &Location,
    range: ByteRange,
) -> Result<Vec<u8>, MediaError> {
    let mut stream = backend.get(location, range).await?;
    let mut out = Vec::new();
    while let Some(piece) = stream.next().await {
        out.extend_from_slice(&piece?);
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_seed_and_fetch_every_size_class() {
    let (a_dir, b_dir, staging) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = TorrentNode::start(config(a_dir.path())).await.unwrap();
    let b = TorrentNode::start(config(b_dir.path())).await.unwrap();
    let (seeder, leecher) = (a.backend("torrent"), b.backend("torrent"));
    let piece = MIB;
    let sizes = [
        1,
        piece - 1,
        piece,
        piece + 1,
        2 * piece,
        3 * piece,
        13 * piece + 12_345,
    ];
    for (i, &size) in sizes.iter().enumerate() {
        let bytes = data(size, i as u64);
        let location = put(&seeder, staging.path(), &format!("clip {i}.mp4"), &bytes).await;
        let (Some(magnet), Some(info_hash)) = (location.magnet(), location.info_hash()) else {
            panic!()
        };
        let parsed = MagnetLink::parse(magnet).unwrap();
        assert_eq!(&parsed.info_hash_hex(), info_hash);
        assert_eq!(parsed.length, Some(size));
        assert_eq!(parsed.peers, vec![a.peer_addr()]);
        let got = read(&leecher, &location, ByteRange::full()).await.unwrap();
        assert_eq!(got.len() as u64, size, "size {size}");
        assert_eq!(
            Digest32::sha256(&got),
            Digest32::sha256(&bytes),
            "size {size}"
        );
        if size > 10 {
            let (s, e) = (size / 3, size - 3);
            let part = read(&leecher, &location, ByteRange::new(s, e))
                .await
                .unwrap();
            assert_eq!(part, bytes[s as usize..e as usize], "range of size {size}");
        }
    }
    // Empty files have no torrent: a clear error.
    let digests = Digests::of_bytes(b"");
    let empty = staging.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let err = seeder
        .put(
            &StagedBlob::new(&empty, "e", "text/plain", Arc::new(digests)),
            Progress::none(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_on_the_torrent_backend() {
    let dir = tempfile::tempdir().unwrap();
    let node = TorrentNode::start(
        TorrentConfig::new(dir.path())
            .with_timeouts(Duration::from_secs(2), Duration::from_secs(5)),
    )
    .await
    .unwrap();
    let missing = Location::torrent(
        "magnet:?xt=urn:btih:00112233445566778899aabbccddeeff00112233",
        "00112233445566778899aabbccddeeff00112233",
    );
    run_all(&Suite::new(Arc::new(node.backend("torrent")), missing)).await;
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_survives_a_restart_and_delete_removes_everything() {
    let (a_dir, b_dir, staging) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let bytes = data(3 * MIB + 5, 9);
    let listen: std::net::SocketAddr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let location = {
        let a = TorrentNode::start(config(a_dir.path()).with_listen(listen))
            .await
            .unwrap();
        let location = put(&a.backend("torrent"), staging.path(), "a.mp4", &bytes).await;
        a.shutdown().await;
        location
    };
    let Some(info_hash) = location.info_hash() else {
        panic!()
    };
    // Fast resume: librqbit's bitfield of verified pieces is kept for the next start; the
    // session's own list of torrents (and anything else in its folder) is not.
    let session = a_dir.path().join("session");
    let bitfield = session.join(format!("{info_hash}.bitv"));
    assert!(
        bitfield.exists(),
        "no bitfield kept under {}",
        session.display()
    );
    let stray = session.join(format!("{}.bitv", "ab".repeat(20)));
    std::fs::write(&stray, [0xff]).unwrap();
    let a = TorrentNode::start(config(a_dir.path()).with_listen(listen))
        .await
        .unwrap();
    assert!(
        !stray.exists(),
        "a bitfield of no torrent we seed survived the start"
    );
    assert_eq!(a.seeding(), vec![info_hash.to_owned()]);
    let b = TorrentNode::start(config(b_dir.path())).await.unwrap();
    assert_eq!(
        read(&b.backend("torrent"), &location, ByteRange::full())
            .await
            .unwrap(),
        bytes
    );

    a.backend("torrent").delete(&location).await.unwrap();
    assert!(a.seeding().is_empty());
    assert!(!a_dir.path().join("seed").join(info_hash).exists());
    assert!(!a_dir
        .path()
        .join("torrents")
        .join(format!("{info_hash}.torrent"))
        .exists());
    assert!(!bitfield.exists());
    let err = a.backend("torrent").delete(&location).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_data_changed_on_disk_is_not_seeded_after_a_restart() {
    let (dir, staging) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (kept, changed) = (data(2 * MIB + 1, 21), data(3 * MIB, 22));
    let (kept_at, changed_at) = {
        let node = TorrentNode::start(config(dir.path())).await.unwrap();
        let backend = node.backend("torrent");
        let kept_at = put(&backend, staging.path(), "kept.mp4", &kept).await;
        let changed_at = put(&backend, staging.path(), "changed.mp4", &changed).await;
        node.shutdown().await;
        (kept_at, changed_at)
    };
    let (Some(kept_hash), Some(changed_hash)) = (kept_at.info_hash(), changed_at.info_hash())
    else {
        panic!()
    };
    // Same size, one byte changed in every piece: whichever pieces the restart samples, it
    // finds the change.
    let file = dir
        .path()
        .join("seed")
        .join(changed_hash)
        .join("changed.mp4");
    let mut bytes = std::fs::read(&file).unwrap();
    for piece in 0..3 {
        bytes[(piece * MIB + 100) as usize] ^= 0x5a;
    }
    std::fs::write(&file, &bytes).unwrap();

    let node = tokio::time::timeout(
        Duration::from_secs(60),
        TorrentNode::start(config(dir.path())),
    )
    .await
    .expect("a restart over changed data must not wait for pieces nobody has")
    .unwrap();
    assert_eq!(node.seeding(), vec![kept_hash.to_owned()]);
    let backend = node.backend("torrent");
    assert_eq!(
        read(&backend, &kept_at, ByteRange::full()).await.unwrap(),
        kept
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_magnets_unknown_torrents_and_vanishing_seeders_give_typed_errors() {
    let (a_dir, b_dir, staging) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let b = TorrentNode::start(
        TorrentConfig::new(b_dir.path())
            .with_reach(media_core::Reach::public_only().allow_private(true))
            .with_timeouts(Duration::from_secs(2), Duration::from_secs(3))
            .with_download_limit(1 << 20),
    )
    .await
    .unwrap();
    let leecher = b.backend("torrent");
    for bad in [
        "",
        "magnet:?dn=x",
        "http://x/y.torrent",
        "magnet:?xt=urn:btih:nothex",
    ] {
        let location = Location::torrent(bad, String::new());
        let err = read(&leecher, &location, ByteRange::full())
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput, "{bad:?}");
    }
    let unknown = Location::torrent(
        "magnet:?xt=urn:btih:ffeeddccbbaa99887766554433221100ffeeddcc&x.pe=127.0.0.1:9",
        "ffeeddccbbaa99887766554433221100ffeeddcc",
    );
    let err = read(&leecher, &unknown, ByteRange::full())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.is_retryable());

    // The seeder goes away after the first bytes of a download limited to 1 MiB/s.
    let a = TorrentNode::start(config(a_dir.path())).await.unwrap();
    let bytes = data(24 * MIB, 11);
    let location = put(&a.backend("torrent"), staging.path(), "big.mp4", &bytes).await;
    let mut stream = leecher.get(&location, ByteRange::full()).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first, bytes[..first.len()]);
    a.shutdown().await;
    let mut received = first.len();
    let err = loop {
        match stream.next().await {
            Some(Ok(piece)) => {
                assert_eq!(piece, bytes[received..received + piece.len()]);
                received += piece.len();
            }
            Some(Err(e)) => break e,
            None => panic!("all {received} bytes arrived although the seeder left"),
        }
    };
    assert!(
        matches!(err.kind, ErrorKind::Timeout | ErrorKind::Unavailable),
        "{err}"
    );
    assert!(err.is_retryable());
    assert!((received as u64) < 24 * MIB);
    b.shutdown().await;
}

/// A magnet is a stranger's input: its peers must be within the node's reach, and the
/// torrent it leads to must be the one file of `xl` bytes it announces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnets_from_strangers_are_bounded_by_reach_and_their_metadata() {
    let (a_dir, b_dir, c_dir, staging) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = TorrentNode::start(config(a_dir.path())).await.unwrap();
    let bytes = data(3 * MIB + 5, 12);
    let location = put(&a.backend("torrent"), staging.path(), "clip.mp4", &bytes).await;
    let magnet = location.magnet().unwrap().to_owned();
    let size = bytes.len() as u64;
    assert!(magnet.contains(&format!("xl={size}")), "{magnet}");

    // A node with the default reach does not dial a peer on loopback named by a magnet.
    let strict = TorrentNode::start(
        TorrentConfig::new(c_dir.path())
            .with_timeouts(Duration::from_secs(2), Duration::from_secs(3)),
    )
    .await
    .unwrap();
    let t = std::time::Instant::now();
    let err = read(&strict.backend("torrent"), &location, ByteRange::full())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("may reach"), "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "it waited for a peer it may not dial"
    );
    strict.shutdown().await;

    // A magnet whose size is not the torrent's: refused as an integrity failure, nothing kept.
    let b = TorrentNode::start(config(b_dir.path())).await.unwrap();
    let lying = Location::torrent(
        magnet.replace(&format!("xl={size}"), &format!("xl={}", size + 1)),
        location.info_hash().unwrap(),
    );
    let err = read(&b.backend("torrent"), &lying, ByteRange::full())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity, "{err}");
    // The honest magnet still reads; once the reader is done, nothing fetched stays behind.
    assert!(
        read(&b.backend("torrent"), &location, ByteRange::full())
            .await
            .unwrap()
            == bytes
    );
    let files_in = |dir: &std::path::Path| -> usize {
        let mut n = 0;
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    n += 1;
                }
            }
        }
        n
    };
    let fetched = b_dir.path().join("fetch");
    let mut left = files_in(&fetched);
    for _ in 0..100 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = files_in(&fetched);
    }
    assert_eq!(left, 0, "fetched data stayed after the read");
    b.shutdown().await;
    a.shutdown().await;

    // Fetched data of an earlier run is not kept around: a restart starts with none.
    std::fs::create_dir_all(fetched.join("leftover")).unwrap();
    let b = TorrentNode::start(config(b_dir.path())).await.unwrap();
    assert!(!fetched.join("leftover").exists());
    b.shutdown().await;
}

/// P2P consent `download`: a node that fetches a torrent serves none of it, even while the
/// torrent is live; the same node with uploads on does (so the check can fail).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_only_node_serves_no_piece_of_what_it_fetches() {
    let staging = tempfile::tempdir().unwrap();
    let bytes = data(8 * MIB, 21);
    for upload in [true, false] {
        let (a_dir, b_dir, c_dir) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        let a = TorrentNode::start(config(a_dir.path())).await.unwrap();
        let location = put(&a.backend("torrent"), staging.path(), "clip.mp4", &bytes).await;
        // B fetches slowly and keeps the torrent live, holding the first piece.
        let b = TorrentNode::start(
            config(b_dir.path())
                .with_download_limit(256 * 1024)
                .with_upload(upload),
        )
        .await
        .unwrap();
        let mut live = b
            .backend("torrent")
            .get(&location, ByteRange::full())
            .await
            .unwrap();
        let first = live.next().await.unwrap().unwrap();
        assert_eq!(first, bytes[..first.len()]);
        // The only other copy leaves: whatever C gets now, it gets from B.
        a.shutdown().await;

        let hash = location.info_hash().unwrap().to_owned();
        let only_b = Location::torrent(
            format!("magnet:?xt=urn:btih:{hash}&x.pe={}", b.peer_addr()),
            hash,
        );
        let c = TorrentNode::start(
            config(c_dir.path()).with_timeouts(Duration::from_secs(4), Duration::from_secs(4)),
        )
        .await
        .unwrap();
        let got = read(&c.backend("torrent"), &only_b, ByteRange::new(0, 1000)).await;
        if upload {
            assert_eq!(
                got.unwrap(),
                bytes[..1000],
                "B with uploads on serves its pieces"
            );
        } else {
            let err = got.expect_err("a download-only node served a piece");
            assert!(
                matches!(
                    err.kind,
                    ErrorKind::Timeout | ErrorKind::NotFound | ErrorKind::Unavailable
                ),
                "{err}"
            );
        }
        drop(live);
        c.shutdown().await;
        b.shutdown().await;
    }
}
