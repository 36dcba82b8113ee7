//! A real Blossom server on 127.0.0.1 (over a folder), driven over HTTP: every endpoint, every
//! refusal with its `X-Reason`, CORS, and the conformance suite for [`BlossomBackend`]
//! against a second server.

use std::sync::Arc;

use media_blossom::auth::unix_now;
use media_blossom::{
    BlossomBackend, BlossomServer, BlossomServerConfig, BlossomStoreConfig, BlossomUri, FolderHost,
    NostrKeys, BLOSSOM,
};
use media_core::conformance::{run_all, Suite};
use media_core::{Location, MediaId, Reach};
use sha2::{Digest, Sha256};

struct Node {
    server: BlossomServer,
    _dir: tempfile::TempDir,
}

async fn node(config: impl FnOnce(BlossomServerConfig) -> BlossomServerConfig) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let host = FolderHost::new(dir.path().join("blobs")).unwrap();
    // Mirrors fetch from other servers on loopback in these tests.
    let base = BlossomServerConfig::new(dir.path())
        .with_reach(Reach::public_only().allow_private(true))
        .with_open_writes(true);
    let server = BlossomServer::start(config(base), Arc::new(host))
        .await
        .unwrap();
    Node { server, _dir: dir }
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn auth(keys: &NostrKeys, verb: &str, x: &[&str]) -> String {
    keys.authorize(verb, x, verb, unix_now(), 300)
        .unwrap()
        .to_header()
}

fn reason(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-reason")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_get_range_list_mirror_delete_with_signed_events() {
    let a = node(|c| c).await;
    let b = node(|c| c).await;
    let http = reqwest::Client::new();
    let alice = NostrKeys::generate().unwrap();
    let bob = NostrKeys::generate().unwrap();
    let bytes = media_core::sample_bytes(3 * 1024 * 1024 + 17, 5);
    let x = sha(&bytes);

    // BUD-06 preflight, then the upload: 201, a descriptor, then 200 for the same blob.
    let check = http
        .head(format!("{}/upload", a.server.url()))
        .header("x-sha-256", &x)
        .header("x-content-length", bytes.len().to_string())
        .header("x-content-type", "video/mp4")
        .header("authorization", auth(&alice, "upload", &[&x]))
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), 200, "{}", reason(&check));
    let put = |keys: &NostrKeys| {
        http.put(format!("{}/upload", a.server.url()))
            .header("x-sha-256", &x)
            .header("content-type", "video/mp4")
            .header("authorization", auth(keys, "upload", &[&x]))
            .body(bytes.clone())
            .send()
    };
    let created = put(&alice).await.unwrap();
    assert_eq!(created.status(), 201, "{}", reason(&created));
    assert_eq!(created.headers()["access-control-allow-origin"], "*");
    let descriptor: serde_json::Value = created.json().await.unwrap();
    assert_eq!(descriptor["sha256"], x.as_str());
    assert_eq!(descriptor["size"], bytes.len() as u64);
    assert_eq!(descriptor["type"], "video/mp4");
    let url = descriptor["url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("{}/{x}.mp4", a.server.url()));
    assert!(descriptor["nip94"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t[0] == "x" && t[1] == x.as_str()));
    let again = put(&bob).await.unwrap();
    assert_eq!(again.status(), 200);

    // GET whole, HEAD, Range, an unsatisfiable range, a bad Range ignored.
    let got = http.get(&url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "video/mp4");
    assert_eq!(got.headers()["etag"], format!("\"{x}\"").as_str());
    assert_eq!(got.headers()["accept-ranges"], "bytes");
    assert_eq!(sha(&got.bytes().await.unwrap()), x);
    let head = http
        .head(format!("{}/{x}", a.server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    let part = http
        .get(&url)
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 1000-1999/{}", bytes.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap(), bytes[1000..2000]);
    let tail = http
        .get(&url)
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.bytes().await.unwrap(), bytes[bytes.len() - 10..]);
    let past = http
        .get(&url)
        .header("range", format!("bytes={}-", bytes.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), 416);
    let junk = http
        .get(&url)
        .header("range", "bytes=zz")
        .send()
        .await
        .unwrap();
    assert_eq!(junk.status(), 200);
    let missing = http
        .get(format!("{}/{}", a.server.url(), "0".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(!reason(&missing).is_empty());

    // List: both uploaders own it; paging by cursor.
    let small: Vec<Vec<u8>> = (0..3)
        .map(|i| media_core::sample_bytes(1000 + i, 40 + i))
        .collect();
    for blob in &small {
        let x = sha(blob);
        let r = http
            .put(format!("{}/upload", a.server.url()))
            .header("x-sha-256", &x)
            .header("authorization", auth(&alice, "upload", &[&x]))
            .body(blob.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let list: Vec<serde_json::Value> = http
        .get(format!(
            "{}/list/{}",
            a.server.url(),
            alice.public_key_hex()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut uploaded: Vec<String> = small.iter().map(|b| sha(b)).chain([x.clone()]).collect();
    uploaded.sort();
    let listed: Vec<String> = list
        .iter()
        .map(|d| d["sha256"].as_str().unwrap().to_owned())
        .collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(listed_sorted, uploaded);
    // Newest first (ties by sha256), as the list BUD asks.
    let order: Vec<(u64, &str)> = list
        .iter()
        .map(|d| {
            (
                d["uploaded"].as_u64().unwrap(),
                d["sha256"].as_str().unwrap(),
            )
        })
        .collect();
    let mut by_rule = order.clone();
    by_rule.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    assert_eq!(order, by_rule);
    let expected = listed;
    let page: Vec<serde_json::Value> = http
        .get(format!(
            "{}/list/{}?cursor={}&limit=2",
            a.server.url(),
            alice.public_key_hex(),
            expected[0]
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paged: Vec<&str> = page.iter().map(|d| d["sha256"].as_str().unwrap()).collect();
    assert_eq!(paged, vec![expected[1].as_str(), expected[2].as_str()]);

    // Mirror from A to B: the signed x must match what the origin serves.
    let mirrored = http
        .put(format!("{}/mirror", b.server.url()))
        .header("authorization", auth(&bob, "upload", &[&x]))
        .json(&serde_json::json!({"url": url}))
        .send()
        .await
        .unwrap();
    assert_eq!(mirrored.status(), 201, "{}", reason(&mirrored));
    let from_b = http
        .get(format!("{}/{x}", b.server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(sha(&from_b.bytes().await.unwrap()), x);
    let other = sha(b"other");
    let lying = http
        .put(format!("{}/mirror", b.server.url()))
        .header("authorization", auth(&bob, "upload", &[&other]))
        .json(&serde_json::json!({"url": url}))
        .send()
        .await
        .unwrap();
    assert_eq!(lying.status(), 409, "{}", reason(&lying));
    let dead = http
        .put(format!("{}/mirror", b.server.url()))
        .header("authorization", auth(&bob, "upload", &[&other]))
        .json(&serde_json::json!({"url": format!("{}/{other}", a.server.url())}))
        .send()
        .await
        .unwrap();
    assert_eq!(dead.status(), 502, "{}", reason(&dead));

    // Delete: not by a stranger; by each owner, the blob goes when the last one deletes.
    let carol = NostrKeys::generate().unwrap();
    let delete = |keys: &NostrKeys| {
        http.delete(format!("{}/{x}", a.server.url()))
            .header("authorization", auth(keys, "delete", &[&x]))
            .send()
    };
    let stranger = delete(&carol).await.unwrap();
    assert_eq!(stranger.status(), 403, "{}", reason(&stranger));
    assert_eq!(delete(&alice).await.unwrap().status(), 200);
    assert_eq!(
        http.head(&url).send().await.unwrap().status(),
        200,
        "bob still owns it"
    );
    assert_eq!(delete(&bob).await.unwrap().status(), 200);
    assert_eq!(http.head(&url).send().await.unwrap().status(), 404);
    assert_eq!(delete(&bob).await.unwrap().status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_a_status_and_a_reason() {
    let allowed = NostrKeys::generate().unwrap();
    let a = node(|c| {
        c.with_max_size(4096)
            .with_mime_allow(vec!["image/*".into()])
            .with_allowed_pubkeys(vec![allowed.public_key_hex()])
            .with_open_writes(false)
    })
    .await;
    let http = reqwest::Client::new();
    let bytes = vec![7u8; 1000];
    let x = sha(&bytes);
    let upload = |auth_header: Option<String>, x_header: &str, mime: &str, body: Vec<u8>| {
        let mut r = http
            .put(format!("{}/upload", a.server.url()))
            .header("x-sha-256", x_header)
            .header("content-type", mime)
            .body(body);
        if let Some(h) = auth_header {
            r = r.header("authorization", h);
        }
        r.send()
    };
    let cases: Vec<(u16, reqwest::Response)> = vec![
        (
            401,
            upload(None, &x, "image/png", bytes.clone()).await.unwrap(),
        ),
        (
            401,
            upload(
                Some(auth(&allowed, "delete", &[&x])),
                &x,
                "image/png",
                bytes.clone(),
            )
            .await
            .unwrap(),
        ),
        (
            401,
            upload(
                Some(auth(&allowed, "upload", &[&sha(b"no")])),
                &x,
                "image/png",
                bytes.clone(),
            )
            .await
            .unwrap(),
        ),
        (
            403,
            upload(
                Some(auth(&NostrKeys::generate().unwrap(), "upload", &[&x])),
                &x,
                "image/png",
                bytes.clone(),
            )
            .await
            .unwrap(),
        ),
        (
            415,
            upload(
                Some(auth(&allowed, "upload", &[&x])),
                &x,
                "video/mp4",
                bytes.clone(),
            )
            .await
            .unwrap(),
        ),
        (
            413,
            upload(
                Some(auth(&allowed, "upload", &[&sha(&[1u8; 5000])])),
                &sha(&[1u8; 5000]),
                "image/png",
                vec![1u8; 5000],
            )
            .await
            .unwrap(),
        ),
        // The body is not what X-SHA-256 (and the signature) said: 409, nothing stored.
        (
            409,
            upload(
                Some(auth(&allowed, "upload", &[&x])),
                &x,
                "image/png",
                vec![8u8; 1000],
            )
            .await
            .unwrap(),
        ),
    ];
    for (status, response) in cases {
        assert_eq!(response.status(), status, "{}", reason(&response));
        assert!(!reason(&response).is_empty(), "{status} without X-Reason");
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["message"].is_string());
    }
    assert_eq!(
        http.head(format!("{}/{x}", a.server.url()))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Expired, from the future, forged signature.
    let now = unix_now();
    let expired = allowed
        .authorize("upload", &[&x], "up", now - 600, 60)
        .unwrap();
    let future = allowed
        .authorize("upload", &[&x], "up", now + 600, 60)
        .unwrap();
    let mut forged = allowed.authorize("upload", &[&x], "up", now, 60).unwrap();
    forged.sig = format!("{}00", &forged.sig[..126]);
    for event in [expired, future, forged] {
        let r = upload(Some(event.to_header()), &x, "image/png", bytes.clone())
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{}", reason(&r));
    }
    // BUD-06 preflight answers without the body.
    let head = |len: &str, mime: &str| {
        http.head(format!("{}/upload", a.server.url()))
            .header("x-sha-256", &x)
            .header("x-content-length", len)
            .header("x-content-type", mime)
            .header("authorization", auth(&allowed, "upload", &[&x]))
            .send()
    };
    assert_eq!(head("1000", "image/png").await.unwrap().status(), 200);
    assert_eq!(head("5000", "image/png").await.unwrap().status(), 413);
    assert_eq!(head("1000", "video/mp4").await.unwrap().status(), 415);
    let no_length = http
        .head(format!("{}/upload", a.server.url()))
        .header("x-sha-256", &x)
        .send()
        .await
        .unwrap();
    assert_eq!(no_length.status(), 411);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_allows_authorization_and_range_from_any_origin() {
    let a = node(|c| c).await;
    let http = reqwest::Client::new();
    for path in ["/upload", &format!("/{}", "a".repeat(64)), "/list/x", "/"] {
        let r = http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}{path}", a.server.url()),
            )
            .header("origin", "http://app.example")
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "authorization, range")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], "*");
        let allowed = h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(
            allowed.contains("authorization") && allowed.contains("range"),
            "{allowed}"
        );
        let methods = h["access-control-allow-methods"].to_str().unwrap();
        assert!(["GET", "HEAD", "PUT", "DELETE"]
            .iter()
            .all(|m| methods.contains(m)));
        // Exposed headers are announced on responses, not preflights.
        let got = http
            .get(format!("{}{path}", a.server.url()))
            .header("origin", "http://app.example")
            .send()
            .await
            .unwrap();
        assert!(got.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("content-range"));
    }
    let root = http.get(a.server.url()).send().await.unwrap();
    assert_eq!(root.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_on_the_blossom_backend() {
    let remote = node(|c| c).await;
    let keys = NostrKeys::generate().unwrap();
    let backend = BlossomBackend::new(
        "blossom",
        BlossomStoreConfig::new(vec![remote.server.url().to_owned()], keys),
    )
    .unwrap();
    let missing = BlossomUri {
        sha256: MediaId::for_bytes(b"never stored"),
        ext: String::new(),
        servers: vec![remote.server.url().to_owned()],
        size: None,
    };
    run_all(&Suite::new(
        Arc::new(backend),
        Location::new(BLOSSOM, missing.to_uri()),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_can_require_a_get_authorization() {
    let a = node(|c| c.with_auth_on_get(true)).await;
    let http = reqwest::Client::new();
    let keys = NostrKeys::generate().unwrap();
    let bytes = b"private-ish".to_vec();
    let x = sha(&bytes);
    let put = http
        .put(format!("{}/upload", a.server.url()))
        .header("x-sha-256", &x)
        .header("authorization", auth(&keys, "upload", &[&x]))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let url = format!("{}/{x}", a.server.url());
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(!reason(&anonymous).is_empty());
    let wrong_blob = http
        .get(&url)
        .header("authorization", auth(&keys, "get", &[&sha(b"other")]))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_blob.status(), 401);
    let allowed = http
        .get(&url)
        .header("authorization", auth(&keys, "get", &[&x]))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.bytes().await.unwrap(), bytes);
}
