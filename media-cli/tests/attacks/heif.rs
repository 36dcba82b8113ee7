//! iPhone-native media at the node's doors (issue 27). A HEIC carrying GPS is taken and
//! stored without it (the node used to refuse HEIC outright, or, under `keep`, store the
//! location); a HEIC that lies about its size, or makes the decoder fail, costs its preview
//! and nothing else: the node stays up and the upload is stored.

use crate::node::Node;

/// A HEIC from Debian's `heif-enc`, with GPS, camera and owner written by `exiftool`.
fn heic_with_gps(dir: &std::path::Path) -> Vec<u8> {
    let png = dir.join("in.png");
    image::RgbImage::from_fn(200, 150, |x, y| image::Rgb([x as u8, y as u8, 120]))
        .save(&png)
        .unwrap();
    let heic = dir.join("photo.heic");
    media_core::testing::heif_enc(&png, &heic, 60, false);
    media_core::testing::exiftool(
        &[
            "-overwrite_original",
            "-GPSLatitude=48.8584",
            "-GPSLatitudeRef=N",
            "-GPSLongitude=2.2945",
            "-GPSLongitudeRef=E",
            "-Make=Apple",
            "-Model=iPhone 15 Pro",
            "-XMP-dc:Creator=Jane Doe",
        ],
        &heic,
    );
    std::fs::read(&heic).unwrap()
}

/// What exiftool reads in `bytes` that tells where, with what, or by whom.
fn revealing(dir: &std::path::Path, bytes: &[u8]) -> Vec<String> {
    let path = dir.join("check.heic");
    std::fs::write(&path, bytes).unwrap();
    let out = media_core::testing::exiftool(
        &["-a", "-G1", "-s", "-GPS*", "-Make", "-Model", "-XMP:all"],
        &path,
    );
    out.lines().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heic_with_gps_is_taken_stored_without_it_and_shown_through_a_verified_jpeg() {
    let node = Node::start("");
    let dir = tempfile::tempdir().unwrap();
    let heic = heic_with_gps(dir.path());
    assert!(revealing(dir.path(), &heic).len() >= 4);
    let (status, body) = node.api_put("photo.heic", heic.clone()).await;
    assert_eq!(status, 201, "{body}");
    let record: media_core::MediaFile = serde_json::from_str(&body).unwrap();
    assert_eq!(record.mime, "image/heic");
    assert!(
        record.metadata_removed.contains(&"EXIF".to_owned()),
        "{record:?}"
    );
    let (status, kept) = node.content(&record.id.to_string(), None).await;
    assert_eq!(status, 200);
    assert_eq!(kept.len(), heic.len(), "cleaned in place, nothing moved");
    assert_eq!(
        revealing(dir.path(), &kept),
        Vec::<String>::new(),
        "the stored HEIC still tells"
    );
    assert!(record.thumbnail.is_some(), "a HEIC gets a thumbnail");
    let display = record.display.expect("a HEIC gets a display rendition");
    assert_eq!(
        (display.mime.as_str(), display.width, display.height),
        ("image/jpeg", 200, 150)
    );
    let (status, jpeg) = node.content(&display.id.to_string(), None).await;
    assert_eq!(status, 200);
    assert_eq!(crate::node::sha256_hex(&jpeg), display.id.to_string());
    assert!(jpeg.starts_with(&[0xFF, 0xD8]));
    assert!(revealing(dir.path(), &jpeg).is_empty());

    // Deleting the photo deletes what the node derived from it: no JPEG of it stays behind.
    let cdn = display_cdn_url(&node, &display.id.to_string()).await;
    let (code, _, err) = node.media(&["rm", &record.id.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        node.record(&display.id.to_string()).await.is_none(),
        "the rendition's record stays"
    );
    let (status, _) = node.content(&display.id.to_string(), None).await;
    assert_eq!(status, 404, "the rendition is still served");
    let resp = crate::node::client().get(&cdn).send().await.unwrap();
    assert_eq!(resp.status(), 404, "the rendition's S3 object stays");
}

/// The public CDN URL of `id` as its record names it.
async fn display_cdn_url(node: &Node, id: &str) -> String {
    let record = node.record(id).await.expect("the rendition has a record");
    record
        .cdn_url()
        .expect("the rendition is on the CDN")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heic_that_lies_about_its_size_or_breaks_the_decoder_costs_only_its_preview() {
    let node = Node::start("");
    let dir = tempfile::tempdir().unwrap();
    let heic = heic_with_gps(dir.path());
    let ispe = heic.windows(4).position(|w| w == b"ispe").unwrap() + 8;

    // A 60 000 × 60 000 canvas claimed: not handed to any decoder.
    let mut giant = heic.clone();
    giant[ispe..ispe + 8].copy_from_slice(&[0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60]);
    let (status, body) = node.api_put("giant.heic", giant).await;
    assert_eq!(status, 201, "{body}");
    let record: media_core::MediaFile = serde_json::from_str(&body).unwrap();
    assert!(record.thumbnail.is_none() && record.display.is_none());

    // The coded picture garbled: libheif fails in its child process.
    let mut garbled = heic.clone();
    let mdat = garbled.windows(4).rposition(|w| w == b"mdat").unwrap() + 4;
    for b in &mut garbled[mdat + 16..] {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    let (status, body) = node.api_put("garbled.heic", garbled).await;
    assert_eq!(status, 201, "{body}");

    // A cut index: refused, as any file that does not parse.
    let (status, _) = node.api_put("cut.heic", heic[..ispe].to_vec()).await;
    assert!((400..500).contains(&status), "{status}");

    assert!(node.is_up().await, "the node went down");
    let (status, _) = node.api_put("photo.heic", heic).await;
    assert_eq!(status, 201);
}

/// The review's hole 1: renditions are content-addressed, so a stranger's HEIC with the same
/// pixels (the owner's file with 8 bytes of `free` after it) shares the owner's rendition. His
/// Blossom delete of his own upload used to delete it for the owner too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_delete_of_a_heic_with_the_same_pixels_leaves_the_owners_rendition() {
    let node = Node::start("[blossom]\nopen_writes = true\n");
    let dir = tempfile::tempdir().unwrap();
    let heic = heic_with_gps(dir.path());
    let (status, body) = node.api_put("photo.heic", heic.clone()).await;
    assert_eq!(status, 201, "{body}");
    let owners: media_core::MediaFile = serde_json::from_str(&body).unwrap();
    let display = owners.display.expect("a rendition").id.to_string();

    // The stranger's copy: the owner's public (cleaned) bytes and an empty `free` box.
    let (_, public) = node.content(&owners.id.to_string(), None).await;
    let mut twin = public.clone();
    twin.extend_from_slice(b"\0\0\0\x08free");
    let stranger = media_blossom::NostrKeys::generate().unwrap();
    let status = node.blossom_upload(&stranger, &twin, "image/heic").await;
    assert!(matches!(status, 200 | 201), "{status}");
    let twin_id = crate::node::sha256_hex(&twin);
    let twins = node.record(&twin_id).await.expect("the stranger's record");
    assert_eq!(
        twins.display.map(|d| d.id.to_string()).as_deref(),
        Some(display.as_str()),
        "the same pixels give the same rendition"
    );
    let auth = crate::node::nostr_auth(&stranger, "delete", &twin_id, 300);
    assert_eq!(node.blossom_delete(&twin_id, &auth).await, 200);
    assert!(node.record(&twin_id).await.is_none());
    let (status, _) = node.content(&display, None).await;
    assert_eq!(
        status, 200,
        "the stranger's delete took the owner's rendition"
    );

    // The owner's delete, the last one deriving it, removes it.
    let (code, _, err) = node.media(&["rm", &owners.id.to_string()]);
    assert_eq!(code, 0, "{err}");
    let (status, _) = node.content(&display, None).await;
    assert_eq!(status, 404);
}
