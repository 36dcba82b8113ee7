//! Issue 28, duty of care: a picture on the node's denylist (by SHA-256 or by PDQ, so a
//! re-encoded, resized copy too) is refused at every way in and nothing of it reaches a store;
//! media stored before its entry was added is taken down from every store within seconds; a
//! takedown leaves a tombstone that refuses the same media again; strangers' reports (BUD-09,
//! signed by nostr-tools) reach the owner's queue, bounded per reporter. Each failed on the
//! code before this change (no gate, no takedown, no `/report`).

use std::time::{Duration, Instant};

use crate::node::{bytes, client, node_keys, sha256_hex, Node, StrangerServer};

/// A photo-like JPEG: shapes, gradients and noise, `w×h`.
fn photo(seed: u32, w: u32, h: u32) -> (Vec<u8>, image::RgbImage) {
    let mut state = seed.wrapping_mul(2654435761).max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let shapes: Vec<(u32, u32, u32, [u8; 3])> = (0..24)
        .map(|_| {
            (
                next() % w,
                next() % h,
                20 + next() % (w / 3),
                [next() as u8, next() as u8, next() as u8],
            )
        })
        .collect();
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let mut px = [(x * 255 / w) as u8, (y * 255 / h) as u8, 128];
        for (cx, cy, r, colour) in &shapes {
            let (dx, dy) = (x.abs_diff(*cx), y.abs_diff(*cy));
            if dx * dx + dy * dy < r * r {
                px = *colour;
            }
        }
        let n = (x.wrapping_mul(7919) ^ y.wrapping_mul(104729) ^ seed) % 9;
        image::Rgb(px.map(|c| c.saturating_add(n as u8)))
    });
    (jpeg(&img, 90), img)
}

fn jpeg(img: &image::RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
    out
}

/// The copy a re-poster makes: half the size, saved at quality 40.
fn reencoded(img: &image::RgbImage) -> Vec<u8> {
    let half = image::imageops::resize(
        img,
        img.width() / 2,
        img.height() / 2,
        image::imageops::FilterType::Triangle,
    );
    jpeg(&half, 40)
}

fn pdq_of(img: &image::RgbImage) -> String {
    media_facade::media_thumb::pdq_of_rgb(img.width(), img.height(), img.as_raw())
        .expect("a photo has a PDQ hash")
        .hash
        .to_string()
}

fn with_list(list: &str) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deny.txt");
    std::fs::write(&path, list).unwrap();
    let config = format!("[safety]\ndenylist = \"{}\"\n", path.display());
    (dir, path, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_picture_is_refused_at_every_door_and_nothing_is_stored() {
    let (listed_jpeg, listed) = photo(1, 640, 480);
    let blob = bytes(77, 50_000);
    let pdq = pdq_of(&listed);
    let (_dir, _path, config) = with_list(&format!(
        "# shared by a partner\npdq:{pdq}\nsha256:{}\n",
        sha256_hex(&blob)
    ));
    let copy = reencoded(&listed);
    assert_ne!(sha256_hex(&copy), sha256_hex(&listed_jpeg));
    // The origin a mirror request names; the node may reach it (it stands for a public host).
    let origin = StrangerServer::start(copy.clone());
    let config = format!("{config}[net]\nallow_private = true\n");
    let node = Node::start(&config);

    // The API: the re-encoded copy, by its picture.
    let (status, body) = node.api_put("copy.jpg", copy.clone()).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("denylist deny.txt"), "{body}");
    assert!(!body.contains(&pdq), "the refusal names the entry: {body}");
    // The CLI through the running node: the original.
    let path = node.file("original.jpg", &listed_jpeg);
    let (code, _, err) = node.media(&["put", path.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("denylist deny.txt"), "{err}");
    // Blossom, signed by a key the node accepts writes from: the copy, and the listed blob.
    let keys = node_keys(&node);
    assert_eq!(node.blossom_upload(&keys, &copy, "image/jpeg").await, 403);
    assert_eq!(node.blossom_upload(&keys, &blob, "").await, 403);
    // BUD-05 /media: decoded and re-encoded by the node, still the same picture.
    let id = sha256_hex(&copy);
    let resp = client()
        .put(format!("{}/media", node.blossom))
        .header(
            "authorization",
            crate::node::nostr_auth(&keys, "media", &id, 300),
        )
        .header("x-sha-256", &id)
        .header("content-type", "image/jpeg")
        .body(copy.clone())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let reason = resp
        .headers()
        .get("x-reason")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(status, 403, "/media: {reason}");
    assert!(reason.contains("denylist"), "{reason}");
    // BUD-04 /mirror of the copy from an origin the node may reach: fetched, then refused.
    let resp = client()
        .put(format!("{}/mirror", node.blossom))
        .header(
            "authorization",
            crate::node::nostr_auth(&keys, "upload", &id, 300),
        )
        .json(&serde_json::json!({ "url": format!("http://127.0.0.1:{}/{id}", origin.port) }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status, 403, "mirror: {text}");
    assert!(
        !origin.requests().is_empty(),
        "the mirror did not fetch (so proves nothing): {text}"
    );
    assert!(text.contains("denylist"), "{text}");
    // A stranger's record of the listed blob is not imported.
    let digests = media_core::Digests::of_bytes(&blob);
    let record = media_core::MediaFile::new(
        "b.bin",
        "application/octet-stream",
        &digests,
        media_core::Timestamp::now(),
    );
    let record_path = node.file("record.json", &serde_json::to_vec(&record).unwrap());
    let (code, _, err) = node.media(&["import", record_path.to_str().unwrap()]);
    assert_ne!(code, 0, "the listed record was imported");
    assert!(err.contains("denylist"), "{err}");

    // Nothing reached the catalog or a store; an unlisted photo still goes in.
    let (code, out, _) = node.media(&["ls", "--json"]);
    assert_eq!(code, 0);
    assert!(
        !out.contains(&sha256_hex(&copy)) && !out.contains(&sha256_hex(&blob)),
        "{out}"
    );
    let (other, _) = photo(2, 640, 480);
    let (status, body) = node.api_put("other.jpg", other).await;
    assert_eq!(status, 201, "{body}");
    let stored: media_core::MediaFile = serde_json::from_str(&body).unwrap();
    let pdq = stored.pdq.expect("the record carries the PDQ hash");
    assert!(pdq.quality > 50, "quality {}", pdq.quality);
}

/// Every store GET of `record` answers 404 (S3 object, IPFS gateway, Blossom, the API).
async fn gone_everywhere(node: &Node, record: &media_core::MediaFile) -> bool {
    let id = record.id.to_string();
    let mut urls = vec![format!("{}/{id}", node.blossom)];
    if let Some(url) = record.cdn_url() {
        urls.push(url.to_owned());
    }
    if let Some(cid) = record.cid() {
        urls.push(format!("{}/ipfs/{cid}", node.gateway));
    }
    urls.extend(torrent_file_url(record));
    for url in urls {
        let status = client().get(&url).send().await.unwrap().status().as_u16();
        if status != 404 {
            return false;
        }
    }
    node.content(&id, None).await.0 == 404
}

/// The `.torrent` file the magnet's `xs=` names (published beside the object).
fn torrent_file_url(record: &media_core::MediaFile) -> Option<String> {
    let magnet = record.magnet()?;
    let encoded = magnet.split('&').find_map(|p| p.strip_prefix("xs="))?;
    let mut out = Vec::new();
    let bytes = encoded.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&encoded[i + 1..i + 3], 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

async fn served_everywhere(node: &Node, record: &media_core::MediaFile) {
    let id = record.id.to_string();
    assert_eq!(node.content(&id, None).await.0, 200);
    let cdn = record.cdn_url().expect("on the CDN");
    assert_eq!(client().get(cdn).send().await.unwrap().status(), 200);
    let cid = record.cid().expect("on IPFS");
    let gateway = format!("{}/ipfs/{cid}", node.gateway);
    assert_eq!(client().get(&gateway).send().await.unwrap().status(), 200);
    let blossom = format!("{}/{id}", node.blossom);
    assert_eq!(client().get(&blossom).send().await.unwrap().status(), 200);
    let torrent = torrent_file_url(record).expect("the magnet names its .torrent (xs=)");
    assert_eq!(client().get(&torrent).send().await.unwrap().status(), 200);
}

async fn within_5s(node: &Node, record: &media_core::MediaFile) -> Duration {
    let started = Instant::now();
    while !gone_everywhere(node, record).await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still served 5 s after the takedown"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_media_is_taken_down_when_listed_and_by_the_owner_and_stays_out() {
    let (_dir, list, config) = with_list("# nothing yet\n");
    let node = Node::start(&config);
    let (first_jpeg, first) = photo(3, 640, 480);
    let record = node.put("first.jpg", &first_jpeg);
    served_everywhere(&node, &record).await;

    // A partner's list gains the picture: the node takes it down on its own.
    std::fs::write(&list, format!("pdq:{}\n", pdq_of(&first))).unwrap();
    let took = within_5s(&node, &record).await;
    eprintln!("listed media gone from every store in {took:?}");
    let (status, body) = node.api_put("again.jpg", reencoded(&first)).await;
    assert_eq!(status, 403, "{body}");

    // The owner takes another photo down.
    let (second_jpeg, _) = photo(4, 640, 480);
    let second_jpeg_copy = second_jpeg.clone();
    let record = node.put("second.jpg", &second_jpeg);
    served_everywhere(&node, &record).await;
    let id = record.id.to_string();
    let (code, out, err) = node.media(&["takedown", &id, "--reason", "reported, reviewed"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("taken down"), "{out}");
    let took = within_5s(&node, &record).await;
    eprintln!("taken-down media gone from every store in {took:?}");
    // The tombstone refuses the same bytes at every door.
    let (status, body) = node.api_put("second.jpg", second_jpeg.clone()).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("taken down"), "{body}");
    let keys = node_keys(&node);
    let resp = client()
        .put(format!("{}/upload", node.blossom))
        .header(
            "authorization",
            crate::node::nostr_auth(&keys, "upload", &id, 300),
        )
        .header("x-sha-256", &id)
        .body(second_jpeg)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().contains_key("x-reason"));
    let tombstones: serde_json::Value = client()
        .get(format!("{}/api/v1/tombstones", node.api))
        .bearer_auth(&node.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(tombstones.to_string().contains(&id), "{tombstones}");

    // Found in review: a file of one block is its own raw leaf on IPFS, so another upload
    // holding the same bytes on a block boundary served the taken-down CID again.
    let mut container = vec![0u8; 1 << 20];
    container.extend_from_slice(&second_jpeg_copy);
    let (status, body) = node.api_put("container.bin", container).await;
    assert_eq!(status, 201, "{body}");
    assert!(
        gone_everywhere(&node, &record).await,
        "the taken-down CID is served again from another file's block"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_signed_by_nostr_tools_reach_the_owners_queue_bounded_per_reporter() {
    let Some(tools) = media_core::testing::browser_tools() else {
        return;
    };
    let node = Node::start("");
    let (jpeg, _) = photo(5, 320, 240);
    let record = node.put("reported.jpg", &jpeg);
    let script = tools.npm_dir.join("report.mjs");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/attacks/js/report.mjs"),
        &script,
    )
    .unwrap();
    let out = tokio::process::Command::new(&tools.node)
        .arg(&script)
        .arg(&node.blossom)
        .arg(record.id.to_string())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "report.mjs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let steps: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .clone()
    };
    assert_eq!(step("report")["status"], 200, "{stdout}");
    assert_ne!(step("forged")["status"], 200, "{stdout}");
    assert_eq!(step("wrong-kind")["status"], 400, "{stdout}");
    assert_eq!(step("unknown-blob")["status"], 404, "{stdout}");
    let flood: Vec<u64> = step("flood")["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    // Ten per reporter per ten minutes (the first report counts).
    assert_eq!(flood.iter().filter(|s| **s == 200).count(), 9, "{flood:?}");
    assert!(flood.iter().skip(9).all(|s| *s == 429), "{flood:?}");

    let (code, out, err) = node.media(&["reports", "--json"]);
    assert_eq!(code, 0, "{err}");
    let reports: Vec<serde_json::Value> = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(reports.len(), 10, "{out}");
    let first = reports
        .iter()
        .find(|r| r["id"] == step("report")["id"])
        .expect("the first report is kept");
    assert_eq!(first["reporter"], step("report")["pubkey"]);
    assert_eq!(first["media"][0]["id"], record.id.to_string());
    assert_eq!(first["media"][0]["kind"], "nudity");
    // The API needs the owner's token.
    let status = client()
        .get(format!("{}/api/v1/reports", node.api))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
}
