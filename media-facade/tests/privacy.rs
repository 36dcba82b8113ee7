//! The privacy step of uploads: metadata is stripped (by default) before any store receives a
//! byte, uploads with a location are refused under `reject`, and `keep` stores the bytes as
//! given. (The exiftool checks of each container are in media-privacy's tests.)

mod common;

use common::*;
use media_core::{MediaId, PreferP2p};
use media_facade::media_privacy::MetadataPolicy;
use media_facade::UploadRequest;

/// A JPEG (SOI, APP1 EXIF with Orientation 6 and a GPS pointer, COM, a fake scan, EOI).
fn jpeg_with_gps() -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x02".to_vec();
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]); // Orientation 6
    tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0x26]); // GPS IFD
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(b"\0\x01\0\x02\0\x02\0\0\0\x02N\0\0\0\0\0\0\0"); // GPSLatitudeRef N
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend(tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend(exif);
    let comment = b"home: 12 Example Street";
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&((comment.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(comment);
    out.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 0x3F, 0]);
    out.extend((0..50_000u32).map(|i| (i % 200) as u8)); // "entropy-coded data", no 0xFF
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_strip_metadata_before_any_store_sees_it() {
    let f = fixture(PreferP2p).await;
    let original = jpeg_with_gps();
    let file = f
        .store
        .upload(UploadRequest::bytes("home.jpg", original.clone()))
        .await
        .unwrap();
    assert_ne!(file.id, MediaId::for_bytes(&original));
    assert_eq!(file.metadata_removed, vec!["EXIF", "COM"]);
    let stored = f.store.read_all(&file.id).await.unwrap();
    assert_eq!(MediaId::for_bytes(&stored), file.id);
    assert!(!contains(&stored, b"Example Street"));
    assert!(
        !contains(&stored, &[0x88, 0x25]),
        "the GPS pointer survived"
    );
    // The orientation survives as a minimal EXIF; the scan is byte for byte the same.
    assert!(contains(&stored, &[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6]));
    let scan = &original[original.len() - 50_012..];
    assert!(stored.ends_with(scan));
    // The record travels with what was removed.
    let json = serde_json::to_string(&file).unwrap();
    assert!(
        json.contains("\"metadata_removed\":[\"EXIF\",\"COM\"]"),
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_refuses_a_location_and_keep_stores_bytes_as_given() {
    let f = fixture(PreferP2p).await;
    let original = jpeg_with_gps();
    let err = f
        .store
        .upload(
            UploadRequest::bytes("home.jpg", original.clone())
                .with_metadata_policy(MetadataPolicy::Reject),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, media_core::ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("location"), "{err}");
    for b in [&f.cdn, &f.ipfs, &f.torrent] {
        assert_eq!(b.puts(), 0);
    }
    let kept = f
        .store
        .upload(
            UploadRequest::bytes("home.jpg", original.clone())
                .with_metadata_policy(MetadataPolicy::Keep),
        )
        .await
        .unwrap();
    assert_eq!(kept.id, MediaId::for_bytes(&original));
    assert!(kept.metadata_removed.is_empty());
    // Media without metadata (or not a known container) is stored as is.
    let plain = media_core::sample_bytes(100_000, 3);
    let file = f
        .store
        .upload(UploadRequest::bytes("a.bin", plain.clone()))
        .await
        .unwrap();
    assert_eq!(file.id, MediaId::for_bytes(&plain));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heic_is_refused_under_the_default_policy() {
    let f = fixture(PreferP2p).await;
    let mut heic = 24u32.to_be_bytes().to_vec();
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    heic.extend_from_slice(&[0u8; 100]);
    let err = f
        .store
        .upload(UploadRequest::bytes("IMG_0001.HEIC", heic))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HEIC"), "{err}");
}
