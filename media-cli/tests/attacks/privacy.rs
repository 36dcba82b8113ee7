//! Finding 9 (Medium): location survived "cleaning". EXIF/GPS placed between the scans of a
//! progressive JPEG was copied through with the scans, and bytes after a PNG's end were kept
//! when nothing else was removed. Each is uploaded here through a real `media serve`, and what
//! the node stored is read back.

use crate::node::{bytes, Node};

/// A minimal EXIF APP1 segment with a GPS IFD (latitude 48°), as a phone writes it.
fn exif_with_gps() -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    // IFD0: one entry, GPSInfo (0x8825) → offset 26.
    tiff.extend_from_slice(&[0, 1, 0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0]);
    // GPS IFD: GPSLatitudeRef = "N".
    tiff.extend_from_slice(&[0, 1, 0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0, 0, 0, 0, 0]);
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(tiff);
    let mut segment = vec![0xFF, 0xE1];
    segment.extend(((payload.len() + 2) as u16).to_be_bytes());
    segment.extend(payload);
    segment
}

/// A progressive JPEG (several scans) of a small gradient.
fn progressive_jpeg() -> Vec<u8> {
    let (w, h) = (96u16, 64u16);
    let pixels: Vec<u8> = (0..u32::from(w) * u32::from(h))
        .flat_map(|i| {
            let (x, y) = (i % u32::from(w), i / u32::from(w));
            [(x * 2) as u8, (y * 3) as u8, ((x ^ y) * 5) as u8]
        })
        .collect();
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
    encoder.set_progressive(true);
    encoder
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

/// The owner uploads `file` through the API; the bytes the node stored, read back.
async fn stored(node: &Node, name: &str, file: &[u8]) -> Vec<u8> {
    let record = node.put(name, file);
    let (status, body) = node.content(&record.id.to_string(), None).await;
    assert_eq!(status, 200);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gps_between_the_scans_of_a_progressive_jpeg_is_not_stored() {
    let node = Node::start("");
    let mut jpeg = progressive_jpeg();
    let first = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let second = (first + 2..jpeg.len() - 1)
        .find(|&i| jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA)
        .expect("a progressive JPEG has a second scan");
    jpeg.splice(second..second, exif_with_gps());
    let kept = stored(&node, "between.jpg", &jpeg).await;
    assert!(
        !kept.windows(6).any(|w| w == b"Exif\0\0"),
        "the EXIF between the scans was stored"
    );
    assert!(
        image::load_from_memory(&kept).is_ok(),
        "the stored JPEG decodes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_hidden_after_a_pngs_end_is_not_stored() {
    let node = Node::start("");
    let img = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 90]));
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let clean = png.clone();
    // A whole JPEG with GPS appended after IEND (some apps do; an attacker can).
    let mut tail = progressive_jpeg();
    tail.splice(2..2, exif_with_gps());
    png.extend(&tail);
    png.extend(bytes(9, 100));
    let kept = stored(&node, "tail.png", &png).await;
    assert!(
        kept == clean,
        "{} bytes stored, {} clean",
        kept.len(),
        clean.len()
    );
}

/// GPS in a GoPro `gpmd` timed-metadata track was kept in `mdat` (only `udta`/`meta` boxes
/// were blanked) and `reject` accepted the file. Now its samples are zeroed in place, and a
/// node under `reject` refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gps_in_a_timed_metadata_track_is_not_stored_and_reject_refuses_it() {
    let clip = media_core::testing::gopro_mp4(12);
    let node = Node::start("");
    let record = node.put("gopro.mp4", &clip);
    assert!(
        record.metadata_removed.iter().any(|r| r == "gpmd"),
        "{:?}",
        record.metadata_removed
    );
    let (status, kept) = node.content(&record.id.to_string(), None).await;
    assert_eq!(status, 200);
    assert_eq!(kept.len(), clip.len(), "no byte moved");
    for i in 0..12 {
        let sample = media_core::testing::gpmf_sample(i);
        assert!(
            !kept.windows(sample.len()).any(|w| w == sample.as_slice()),
            "GPS sample {i} was stored"
        );
    }

    let strict = Node::start("[privacy]\nmetadata = \"reject\"\n");
    let (status, body) = strict.api_put("gopro.mp4", clip).await;
    assert!((400..500).contains(&status), "{status}: {body}");
    assert!(body.contains("location"), "{body}");
}
