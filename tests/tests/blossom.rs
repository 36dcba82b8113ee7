//! Blossom on the embedded stack, two nodes on 127.0.0.1: a plain HTTP client uploads to node
//! A's Blossom server (the blob lands on every store), node B serves the same blob by hash
//! from its own Blossom server, fetched from A's stores and verified; and a third node stores
//! on A's Blossom server as its fourth store.

use std::time::Duration;

use media_core::{ByteRange, MediaId, PreferP2p};
use media_facade::media_blossom::{auth::unix_now, NostrKeys, BLOSSOM};
use media_facade::{EmbeddedStack, ReadOptions, StackConfig, UploadRequest};
use sha2::{Digest, Sha256};

const TIMEOUT: Duration = Duration::from_secs(5);

async fn node(config: StackConfig) -> EmbeddedStack {
    EmbeddedStack::start_with(
        config
            .with_reach(media_core::Reach::public_only().allow_private(true))
            .with_p2p_timeout(TIMEOUT),
        |b| b.download_policy(PreferP2p).attempt_timeout(TIMEOUT),
    )
    .await
    .unwrap()
}

/// The node's nostr key, the one its closed Blossom server takes writes from.
fn own_key(data_dir: &std::path::Path) -> NostrKeys {
    media_facade::media_blossom::load_or_create_keys(&data_dir.join("secrets").join("nostr.key"))
        .unwrap()
}

fn blossom_url(stack: &EmbeddedStack) -> String {
    stack
        .endpoint("blossom")
        .expect("the embedded stack serves Blossom")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_uploaded_to_one_node_is_served_verified_by_another() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(StackConfig::new(a_dir.path())).await;
    let b = node(StackConfig::new(b_dir.path())).await;
    let (a_url, b_url) = (blossom_url(&a), blossom_url(&b));
    let http = reqwest::Client::new();
    // The node's own key: its Blossom server takes writes from it (and listed keys) only.
    let keys = own_key(a_dir.path());
    let bytes = media_core::sample_bytes(4 * 1024 * 1024 + 99, 77);
    let x = hex::encode(Sha256::digest(&bytes));
    let auth = keys
        .authorize("upload", &[&x], "Upload clip", unix_now(), 300)
        .unwrap();
    let created = http
        .put(format!("{a_url}/upload"))
        .header("authorization", auth.to_header())
        .header("x-sha-256", &x)
        .header("content-type", "video/mp4")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let descriptor: serde_json::Value = created.json().await.unwrap();
    assert_eq!(descriptor["sha256"], x.as_str());
    assert!(descriptor["magnet"]
        .as_str()
        .unwrap()
        .starts_with("magnet:?xt=urn:btih:"));
    assert!(descriptor["ipfs"].as_str().unwrap().starts_with("b"));
    assert_eq!(descriptor["infohash"].as_str().unwrap().len(), 40);

    // The blob is a media record on every store of A.
    let id: MediaId = x.parse().unwrap();
    let file = a.store.get(&id).await.unwrap().unwrap();
    assert_eq!(file.locations.len(), 3, "{:?}", file.locations);
    assert_eq!(a.store.read_all(&id).await.unwrap(), bytes);

    // B knows the record (an app handed it the reference) and serves the blob itself,
    // fetched from A's stores and verified.
    assert_eq!(
        http.head(format!("{b_url}/{x}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    b.store.import_ref(&file, &file.reference()).await.unwrap();
    let got = http.get(format!("{b_url}/{x}.mp4")).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "video/mp4");
    let body = got.bytes().await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&body)), x);
    let part = http
        .get(format!("{b_url}/{x}"))
        .header("range", "bytes=3000000-3999999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap(), bytes[3_000_000..4_000_000]);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blossom_servers_are_a_fourth_store() {
    let (a_dir, c_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // A's Blossom server takes C's writes because A's owner listed C's key.
    let c_key = own_key(c_dir.path()).public_key_hex();
    let a = node(
        StackConfig::new(a_dir.path())
            .with_section("blossom", serde_json::json!({"allowed_pubkeys": [c_key]}))
            .unwrap(),
    )
    .await;
    let c = node(
        StackConfig::new(c_dir.path())
            .with_section("blossom", serde_json::json!({"servers": [blossom_url(&a)]}))
            .unwrap(),
    )
    .await;
    let bytes = media_core::sample_bytes(2 * 1024 * 1024 + 5, 78);
    let file = c
        .store
        .upload(UploadRequest::bytes("photo.jpg", bytes.clone()))
        .await
        .unwrap();
    let location = file.location(&BLOSSOM).expect("a blossom location");
    assert!(
        location.uri.starts_with(&format!("blossom:{}", file.id)),
        "{}",
        location.uri
    );
    // The key that signed it was created for this node, owner-only.
    let key = c_dir.path().join("secrets").join("nostr.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let only_blossom = ReadOptions::new().only_backend("blossom");
    let got = c
        .store
        .open_file(&file, only_blossom.clone().range(ByteRange::new(100, 5000)))
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(got, bytes[100..5000]);
    // A holds it as a blob (and as media on its own stores).
    assert_eq!(a.store.read_all(&file.id).await.unwrap(), bytes);
    c.shutdown().await;
    a.shutdown().await;
}

/// A JPEG carrying an EXIF segment and a comment that give away where it was taken.
fn jpeg_with_location(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
    });
    let mut plain = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut plain),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let secret = b"Exif\0\0GPSLatitude 48.8584 N GPSLongitude 2.2945 E SerialNumber 0042";
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((secret.len() + 2) as u16).to_be_bytes());
    app1.extend_from_slice(secret);
    let comment = b"home: 12 Example Street";
    let mut com = vec![0xFF, 0xFE];
    com.extend_from_slice(&((comment.len() + 2) as u16).to_be_bytes());
    com.extend_from_slice(comment);
    let mut out = plain[..2].to_vec();
    out.extend(app1);
    out.extend(com);
    out.extend_from_slice(&plain[2..]);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_media_keeps_only_a_clean_reencoded_image() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(StackConfig::new(dir.path())).await;
    let url = blossom_url(&a);
    let http = reqwest::Client::new();
    let keys = own_key(dir.path());
    let original = jpeg_with_location(640, 480);
    let x = hex::encode(Sha256::digest(&original));
    let check = http
        .head(format!("{url}/media"))
        .header("x-sha-256", &x)
        .header("x-content-length", original.len().to_string())
        .header("x-content-type", "image/jpeg")
        .header(
            "authorization",
            keys.authorize("media", &[&x], "m", unix_now(), 300)
                .unwrap()
                .to_header(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), 200);
    let put = http
        .put(format!("{url}/media"))
        .header("x-sha-256", &x)
        .header("content-type", "image/jpeg")
        .header(
            "authorization",
            keys.authorize("media", &[&x], "m", unix_now(), 300)
                .unwrap()
                .to_header(),
        )
        .body(original.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let descriptor: serde_json::Value = put.json().await.unwrap();
    let served_hash = descriptor["sha256"].as_str().unwrap().to_owned();
    assert_ne!(served_hash, x, "the original's hash is not kept");
    assert_eq!(descriptor["type"], "image/jpeg");
    let served = http
        .get(format!("{url}/{served_hash}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(hex::encode(Sha256::digest(&served)), served_hash);
    let text = String::from_utf8_lossy(&served);
    assert!(
        !text.contains("GPSLatitude") && !text.contains("Example Street") && !text.contains("Exif")
    );
    let decoded = image::load_from_memory(&served).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (640, 480));
    assert_eq!(
        http.head(format!("{url}/{x}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // Not an image: refused, nothing kept.
    let junk = b"not an image at all".to_vec();
    let jx = hex::encode(Sha256::digest(&junk));
    let refused = http
        .put(format!("{url}/media"))
        .header("x-sha-256", &jx)
        .header(
            "authorization",
            keys.authorize("media", &[&jx], "m", unix_now(), 300)
                .unwrap()
                .to_header(),
        )
        .body(junk)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 415);
    assert!(refused.headers().contains_key("x-reason"));
    a.shutdown().await;
}
