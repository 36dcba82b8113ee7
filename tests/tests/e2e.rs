//! End to end on the embedded stack, two nodes on 127.0.0.1: node A uploads; node B, holding
//! only the `MediaFile` records, downloads through each store alone; A's stores die one by
//! one and B falls back; A restarts and keeps seeding and serving.

use std::time::Duration;

use media_core::Service as _;
use media_core::{BackendKind, ByteRange, Digest32, ErrorKind, MediaFile, PreferCdn, PreferP2p};
use media_facade::media_cdn::{CdnSection, EmbeddedS3};
use media_facade::media_ipfs::IpfsNode;
use media_facade::media_torrent::TorrentNode;
use media_facade::{EmbeddedStack, MediaStore, ReadOptions, StackConfig, UploadRequest};

const MIB: usize = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(5);
/// Every node of these tests is on 127.0.0.1: they reach each other's loopback addresses.
static LOOPBACK: std::sync::LazyLock<media_core::Reach> =
    std::sync::LazyLock::new(|| media_core::Reach::public_only().allow_private(true));

fn data(len: usize, seed: u64) -> Vec<u8> {
    media_core::conformance::test_bytes(len as u64, seed)
}

async fn node(dir: &std::path::Path) -> EmbeddedStack {
    EmbeddedStack::start_with(
        StackConfig::new(dir)
            .with_reach(LOOPBACK.clone())
            .with_p2p_timeout(TIMEOUT),
        |b| b.download_policy(PreferP2p).attempt_timeout(TIMEOUT),
    )
    .await
    .unwrap()
}

async fn read(
    store: &MediaStore,
    file: &MediaFile,
    opts: ReadOptions,
) -> Result<Vec<u8>, media_core::MediaError> {
    store.open_file(file, opts).await?.read_to_end().await
}

/// B forgets what it fetched by torrent, so only a seeder can serve it again.
async fn forget_torrent(b: &EmbeddedStack, file: &MediaFile) {
    let loc = file.location(&BackendKind::TORRENT).unwrap();
    let torrent = b
        .store
        .backends()
        .iter()
        .find(|x| x.name() == "torrent")
        .unwrap();
    let _ = torrent.delete(loc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_b_reads_what_node_a_stored_through_every_store_and_falls_back() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(a_dir.path()).await;
    let b = node(b_dir.path()).await;
    let bytes = data(5 * MIB + 4321, 1);
    let file = a
        .store
        .upload(UploadRequest::bytes("clip.mp4", bytes.clone()))
        .await
        .unwrap();
    assert_eq!(file.locations.len(), 3);
    let magnet = file.magnet().unwrap();
    // Magnet parameters are percent-encoded.
    let encoded = |url: &str| url.replace(':', "%3A").replace('/', "%2F");
    assert!(
        magnet.contains(&format!("ws={}", encoded(file.cdn_url().unwrap()))),
        "the magnet carries the CDN URL as web seed: {magnet}"
    );
    let (cdn_base, _) = file.cdn_url().unwrap().rsplit_once('/').unwrap();
    assert!(
        magnet.contains(&format!("xs={}", encoded(&format!("{cdn_base}/")))),
        "the .torrent is published on the CDN as the magnet's exact source: {magnet}"
    );
    b.store.import_ref(&file, &file.reference()).await.unwrap();

    for backend in ["cdn", "ipfs", "torrent"] {
        let got = read(&b.store, &file, ReadOptions::new().only_backend(backend))
            .await
            .unwrap();
        assert_eq!(Digest32::sha256(&got), file.sha256, "via {backend}");
    }
    let part = read(
        &b.store,
        &file,
        ReadOptions::new().range(ByteRange::new(MIB as u64 + 7, 3 * MIB as u64)),
    )
    .await
    .unwrap();
    assert_eq!(part, bytes[MIB + 7..3 * MIB]);

    // The CDN dies: CDN-first reads fall back to P2P.
    a.service::<EmbeddedS3>().unwrap().shutdown().await;
    let got = read(&b.store, &file, ReadOptions::new().policy(PreferCdn))
        .await
        .unwrap();
    assert_eq!(got, bytes);
    // The torrent seeder dies too: IPFS serves.
    a.service::<TorrentNode>().unwrap().shutdown().await;
    forget_torrent(&b, &file).await;
    let got = read(&b.store, &file, ReadOptions::new()).await.unwrap();
    assert_eq!(got, bytes);
    // The last store dies: a clear error, no bytes.
    a.service::<IpfsNode>().unwrap().shutdown().await;
    let err = read(&b.store, &file, ReadOptions::new().only_backend("ipfs"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        matches!(
            err.kind,
            ErrorKind::Unavailable
                | ErrorKind::Timeout
                | ErrorKind::NotFound
                | ErrorKind::PolicyUnsatisfied
        ),
        "{err}"
    );
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_keeps_seeding_and_serving() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bytes = data(3 * MIB + 99, 2);
    let file = {
        let a = node(a_dir.path()).await;
        let file = a
            .store
            .upload(UploadRequest::bytes("kept.mp4", bytes.clone()))
            .await
            .unwrap();
        a.shutdown().await;
        file
    };
    // Same data directory: same ports, same iroh identity, same torrents, same catalog.
    let a = node(a_dir.path()).await;
    assert_eq!(a.store.get(&file.id).await.unwrap(), Some(file.clone()));
    let b = node(b_dir.path()).await;
    b.store.import_ref(&file, &file.reference()).await.unwrap();
    for backend in ["cdn", "ipfs", "torrent"] {
        let got = read(&b.store, &file, ReadOptions::new().only_backend(backend))
            .await
            .unwrap();
        assert_eq!(got, bytes, "via {backend} after A restarted");
    }
    // Delete on A removes it everywhere A holds it.
    let removed = a.store.delete(&file.id).await.unwrap();
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert_eq!(a.store.get(&file.id).await.unwrap(), None);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_out_is_configuration_only_an_external_s3_from_a_toml_file() {
    // A "remote" S3 service (here another S3 server on loopback) behind a "CDN" base URL.
    let (remote_dir, data_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let remote = media_facade::media_cdn::EmbeddedS3::start(remote_dir.path(), "shared")
        .await
        .unwrap();
    let r = remote.config();
    let toml = format!(
        r#"
        p2p_timeout_secs = 5
        [download]
        policy = "cdn"
        [cdn]
        endpoint = "{endpoint}"
        bucket = "shared"
        access_key = "{key}"
        secret_key = "{secret}"
        public_base_url = "{endpoint}/shared"
        [ipfs]
        enabled = false
        [torrent]
        enabled = true
        "#,
        endpoint = r.endpoint.clone().unwrap(),
        key = r.access_key,
        secret = r.secret_key,
    );
    let config_path = data_dir.path().join("media.toml");
    std::fs::write(&config_path, toml).unwrap();
    let config = StackConfig::from_file(&config_path, data_dir.path()).unwrap();
    let node = EmbeddedStack::start(config).await.unwrap();
    assert!(
        node.service::<EmbeddedS3>().is_none(),
        "no embedded S3 server when an external one is configured"
    );
    let bytes = data(2 * MIB + 1, 3);
    let file = node
        .store
        .upload(UploadRequest::bytes("remote.bin", bytes.clone()))
        .await
        .unwrap();
    let url = file.cdn_url().unwrap().to_owned();
    assert_eq!(
        url,
        format!("{}/shared/media/{}", r.endpoint.clone().unwrap(), file.id)
    );
    // The object is on the remote service, served to anyone at its public URL...
    let got = read(&node.store, &file, ReadOptions::new().only_backend("cdn"))
        .await
        .unwrap();
    assert_eq!(got, bytes);
    // ...and the torrent's web seed is that public URL.
    assert!(file.magnet().unwrap().contains("ws=http"));
    // The remote folder holds it.
    assert!(remote_dir
        .path()
        .join("shared/media")
        .join(file.id.to_string())
        .exists());
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_sharing_the_bucket_resolves_an_id_it_never_saw() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(a_dir.path()).await;
    let bytes = data(2 * MIB + 17, 4);
    let file = a
        .store
        .upload(UploadRequest::bytes("shared.mp4", bytes.clone()))
        .await
        .unwrap();

    // B uses A's bucket as its CDN store (as nodes behind one S3/CDN do) and knows only the id.
    let s3 = a.service::<EmbeddedS3>().unwrap().config();
    let b = node_sharing_bucket_of(&a, b_dir.path()).await;
    let resolved = b
        .store
        .get(&file.id)
        .await
        .unwrap()
        .expect("resolved through the shared bucket");
    assert_eq!(resolved, file);
    for backend in ["cdn", "ipfs", "torrent"] {
        let got = read(
            &b.store,
            &resolved,
            ReadOptions::new().only_backend(backend),
        )
        .await
        .unwrap();
        assert_eq!(got, bytes, "via {backend}");
    }
    assert_eq!(
        b.store
            .open(&file.id, ByteRange::new(5, 10))
            .await
            .unwrap()
            .read_to_end()
            .await
            .unwrap(),
        bytes[5..10]
    );
    // Unknown ids stay unknown.
    let unknown = media_core::MediaId::for_bytes(b"never stored");
    assert_eq!(b.store.get(&unknown).await.unwrap(), None);
    // A deletes: the record leaves the bucket too.
    a.store.delete(&file.id).await.unwrap();
    let c_dir = tempfile::tempdir().unwrap();
    let c = EmbeddedStack::start(
        StackConfig::new(c_dir.path())
            .with_reach(LOOPBACK.clone())
            .with_section(
                "cdn",
                CdnSection::external(
                    s3.endpoint.clone().unwrap(),
                    &s3.bucket,
                    &s3.access_key,
                    &s3.secret_key,
                ),
            )
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(c.store.get(&file.id).await.unwrap(), None);
    c.shutdown().await;
    b.shutdown().await;
    a.shutdown().await;
}

/// A node in `dir` whose CDN store is `a`'s bucket (records included: the shared catalog), with
/// IPFS and BitTorrent of its own.
async fn node_sharing_bucket_of(a: &EmbeddedStack, dir: &std::path::Path) -> EmbeddedStack {
    let s3 = a.service::<EmbeddedS3>().unwrap().config();
    let shared = CdnSection::external(
        s3.endpoint.clone().unwrap(),
        &s3.bucket,
        &s3.access_key,
        &s3.secret_key,
    )
    .with_public_base_url(format!("{}/{}", s3.endpoint.clone().unwrap(), s3.bucket));
    EmbeddedStack::start(
        StackConfig::new(dir)
            .with_reach(LOOPBACK.clone())
            .with_p2p_timeout(TIMEOUT)
            .with_section("cdn", shared)
            .unwrap(),
    )
    .await
    .unwrap()
}

/// A photo-like PNG (a PDQ hash of good quality).
fn photo(seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(320, 240, |x, y| {
        let ring = ((x as i64 - 160).pow(2) + (y as i64 - 120).pow(2)) / (30 + i64::from(seed));
        image::Rgb([(ring * 41) as u8, (x * seed) as u8, (y * 2 + x / 3) as u8])
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

/// Issue 28: node A takes down a photo that node B (sharing A's bucket, with IPFS and
/// BitTorrent of its own) also stored. The tombstone reaches B through the bucket; within 5 s
/// B has removed its own copies (its IPFS gateway answers 404, its torrent is no longer
/// seeded), every store GET of the id answers 404, and both refuse the photo again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takedown_reaches_the_nodes_sharing_the_bucket() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(a_dir.path()).await;
    let b = node_sharing_bucket_of(&a, b_dir.path()).await;
    let bytes = photo(3);
    let on_a = a
        .store
        .upload(UploadRequest::bytes("p.png", bytes.clone()))
        .await
        .unwrap();
    let on_b = b
        .store
        .upload(UploadRequest::bytes("p.png", bytes.clone()))
        .await
        .unwrap();
    assert_eq!(on_a.id, on_b.id);
    assert!(on_b.pdq.is_some(), "the record carries a PDQ hash");
    let http = reqwest::Client::new();
    let status = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    let cdn_url = on_a.cdn_url().unwrap().to_owned();
    let b_gateway = format!(
        "{}/ipfs/{}",
        b.service::<IpfsNode>().unwrap().gateway_url().unwrap(),
        on_b.cid().unwrap()
    );
    let b_torrent = b.service::<TorrentNode>().unwrap();
    let info_hash = on_b
        .location(&BackendKind::TORRENT)
        .and_then(|l| l.info_hash())
        .unwrap()
        .to_owned();
    assert_eq!(status(cdn_url.clone()).await, 200);
    assert_eq!(status(b_gateway.clone()).await, 200);
    assert!(b_torrent.seeding().contains(&info_hash));

    let done = a.store.takedown(&on_a.id, "reviewed").await.unwrap();
    assert!(done.published, "the tombstone reached the bucket");
    let started = std::time::Instant::now();
    loop {
        let gone = status(cdn_url.clone()).await == 404
            && status(b_gateway.clone()).await == 404
            && !b_torrent.seeding().contains(&info_hash)
            && b.store.get(&on_b.id).await.unwrap().is_none();
        if gone {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "B still serves the photo 5 s after A's takedown"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("B took its copies down {:?} after A", started.elapsed());
    let err = b.store.read_all(&on_b.id).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    for stack in [&a, &b] {
        let err = stack
            .store
            .upload(UploadRequest::bytes("again.png", bytes.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Refused, "{err}");
    }
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stack_on_the_same_data_dir_fails_before_touching_anything() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path()).await;
    // Something the first one is working on.
    let marker = dir.path().join("staging").join("in-progress.part");
    std::fs::write(&marker, b"half an upload").unwrap();
    let err = EmbeddedStack::start(StackConfig::new(dir.path()).with_reach(LOOPBACK.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("another process"), "{err}");
    assert!(
        marker.exists(),
        "the second stack cleared the first one's staging"
    );
    let file = a
        .store
        .upload(UploadRequest::bytes("still.bin", data(1000, 5)))
        .await
        .unwrap();
    assert_eq!(file.locations.len(), 3);
    a.shutdown().await;
    // Released with the first stack: a new one starts.
    let again = node(dir.path()).await;
    again.shutdown().await;
}

/// A crash between the stores' puts and the catalog write leaves data no record names; the
/// next start removes it from the node's own stores (and keeps what records name).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_removes_store_data_no_record_names() {
    use media_core::Catalog as _;
    let dir = tempfile::tempdir().unwrap();
    let a = node(dir.path()).await;
    let kept = a
        .store
        .upload(UploadRequest::bytes("kept.bin", data(MIB + 3, 21)))
        .await
        .unwrap();
    let orphan = a
        .store
        .upload(UploadRequest::bytes("orphan.bin", data(MIB + 5, 22)))
        .await
        .unwrap();
    a.shutdown().await;
    // The crash: the record of `orphan` never reached the catalog.
    {
        let catalog = media_facade::RedbCatalog::open(dir.path().join("catalog.redb")).unwrap();
        assert!(catalog.delete(&orphan.id).await.unwrap());
    }
    let a = node(dir.path()).await;
    let torrent = a.service::<TorrentNode>().unwrap();
    let seeding = torrent.seeding();
    assert!(seeding.contains(
        &kept
            .location(&BackendKind::TORRENT)
            .unwrap()
            .info_hash()
            .unwrap()
            .to_owned()
    ));
    assert!(!seeding.contains(
        &orphan
            .location(&BackendKind::TORRENT)
            .unwrap()
            .info_hash()
            .unwrap()
            .to_owned()
    ));
    let ipfs = a.service::<IpfsNode>().unwrap();
    let roots: Vec<String> = ipfs.store().roots().iter().map(|c| c.to_string()).collect();
    assert!(roots.contains(&kept.cid().unwrap().to_owned()));
    assert!(!roots.contains(&orphan.cid().unwrap().to_owned()));
    // What records name still reads.
    let got = a.store.read_all(&kept.id).await.unwrap();
    assert_eq!(got, data(MIB + 3, 21));
    a.shutdown().await;
}
