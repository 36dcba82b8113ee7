//! Findings 4 and 14: a stranger's HTML (or `image/SVG+xml`) was served with its own type and
//! no `nosniff`/CSP by Blossom and by the S3 server: stored XSS on the node's origins.
//! Every server of stored bytes now sends `nosniff`, and for anything but a raster image,
//! audio or video a `sandbox` CSP and `Content-Disposition: attachment`, whatever the
//! type's spelling.

use media_blossom::NostrKeys;

use crate::node::{bytes, client, nostr_auth, sha256_hex, Node};

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn assert_inert(resp: &reqwest::Response, door: &str) {
    assert_eq!(header(resp, "x-content-type-options"), "nosniff", "{door}");
    assert!(
        header(resp, "content-security-policy").contains("sandbox"),
        "{door}: no sandbox CSP"
    );
    assert!(
        header(resp, "content-disposition").starts_with("attachment")
            || header(resp, "content-type") == "application/octet-stream",
        "{door}: served inline as {}",
        header(resp, "content-type")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_markup_never_runs_as_a_page_on_any_origin() {
    let node = Node::start("[blossom]\nopen_writes = true\n");
    let stranger = NostrKeys::generate().unwrap();
    let http = client();
    for (n, mime) in [
        "text/html",
        "image/SVG+xml",
        "image/svg+xml;x=1",
        "TEXT/HTML; charset=utf-8",
    ]
    .into_iter()
    .enumerate()
    {
        let mut page = b"<html><script>fetch('/api/v1/media')</script>".to_vec();
        page.extend_from_slice(&bytes(30 + n as u32, 64));
        let id = sha256_hex(&page);
        let resp = http
            .put(format!("{}/upload", node.blossom))
            .header("authorization", nostr_auth(&stranger, "upload", &id, 300))
            .header("x-sha-256", &id)
            .header("content-type", mime)
            .body(page.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "{mime}");
        let resp = http
            .get(format!("{}/{id}", node.blossom))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_inert(&resp, &format!("Blossom, {mime}"));
        // The same bytes on the node's S3 origin.
        let record = node.record(&id).await.unwrap();
        let url = record.cdn_url().unwrap().to_owned();
        let resp = http.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        assert_inert(&resp, &format!("S3, {mime}"));
        // And on the gateway, and the node API.
        let cid = record.cid().expect("the blob is on IPFS too").to_owned();
        let resp = http
            .get(format!("{}/ipfs/{cid}", node.gateway))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "gateway");
        assert_inert(&resp, &format!("gateway, {mime}"));
        let resp = http
            .get(format!("{}/api/v1/media/{id}/content", node.api))
            .bearer_auth(&node.token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_inert(&resp, &format!("API, {mime}"));
    }

    // A photo stays a photo (and still is not sniffed).
    let jpeg = {
        let img =
            image::RgbImage::from_fn(32, 32, |x, y| image::Rgb([x as u8 * 8, y as u8 * 8, 90]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    };
    let put = node.put("p.jpg", &jpeg);
    let resp = http
        .get(format!("{}/{}", node.blossom, put.id))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&resp, "content-type"), "image/jpeg");
    assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
    assert_eq!(header(&resp, "content-disposition"), "");
}
