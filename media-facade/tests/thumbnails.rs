//! Thumbnails made at upload (the `thumb` feature): inline in the record, verified on read,
//! never failing an upload.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use media_core::{ErrorKind, MediaError, Operation, Thumbnail, Thumbnailer};
use media_facade::UploadRequest;

fn jpeg_photo(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    // An APP1 segment with a camera make after SOI: it must not reach the thumbnail.
    let tiff = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x0f\0\x02\0\0\0\x04SPY\0\0\0\0\0";
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(tiff);
    out.splice(2..2, app1);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_get_an_inline_thumbnail_available_as_a_verified_blob() {
    let dir = tempfile::tempdir().unwrap();
    let (cdn, ipfs, _) = three_backends();
    let store = builder_with(&dir, &[cdn, ipfs]).build().await.unwrap();
    let photo = jpeg_photo(1200, 900);
    assert!(photo.windows(3).any(|w| w == b"SPY"));
    let file = store
        .upload(UploadRequest::bytes("beach.jpg", photo.clone()))
        .await
        .unwrap();
    assert_eq!(file.mime, "image/jpeg");
    let thumb = file.thumbnail.clone().expect("a JPEG gets a thumbnail");
    assert_eq!(thumb.mime, "image/webp");
    assert_eq!((thumb.width, thumb.height), (256, 192));
    assert_eq!(
        (thumb.source_width, thumb.source_height),
        (Some(1200), Some(900))
    );
    assert!(thumb.blurhash.is_some());
    assert!(!thumb.bytes.windows(3).any(|w| w == b"SPY"));
    let decoded = image::load_from_memory(&thumb.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (256, 192));

    // The record in the catalog holds it, and it reads back verified.
    let again = store.thumbnail(&file.id).await.unwrap();
    assert_eq!(again, thumb);
    // The original was stored without its EXIF (the default privacy policy).
    let stored = store.read_all(&file.id).await.unwrap();
    assert_eq!(media_core::MediaId::for_bytes(&stored), file.id);
    assert!(
        file.metadata_removed.iter().any(|m| m == "EXIF"),
        "{:?}",
        file.metadata_removed
    );
    assert!(!stored.windows(3).any(|w| w == b"SPY"));
    assert_eq!(
        image::load_from_memory(&stored).unwrap().to_rgb8(),
        image::load_from_memory(&photo).unwrap().to_rgb8()
    );

    // A tampered record does not replace the verified one here...
    let mut tampered = file.clone();
    if let Some(t) = tampered.thumbnail.as_mut() {
        t.bytes[20] ^= 0xFF;
    }
    store.import(&tampered).await.unwrap();
    assert_eq!(store.thumbnail(&file.id).await.unwrap(), thumb);
    // ...and where it is the only record, its thumbnail is caught.
    let other_dir = tempfile::tempdir().unwrap();
    let (cdn, _, _) = three_backends();
    let other = builder_with(&other_dir, &[cdn]).build().await.unwrap();
    other.import(&tampered).await.unwrap();
    let err = other.thumbnail(&file.id).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_images_and_broken_images_upload_without_a_thumbnail() {
    let dir = tempfile::tempdir().unwrap();
    let (cdn, _, _) = three_backends();
    let store = builder_with(&dir, &[cdn]).build().await.unwrap();

    let clip = store
        .upload(UploadRequest::bytes("clip.mp4", data(MIB + 3, 4)))
        .await
        .unwrap();
    assert!(clip.thumbnail.is_none());
    assert_eq!(
        store.thumbnail(&clip.id).await.unwrap_err().kind,
        ErrorKind::NotFound
    );

    // A JPEG cut short still uploads, with no thumbnail: as given under `keep`, cleaned of
    // its EXIF by default.
    let mut broken = jpeg_photo(400, 300);
    broken.truncate(broken.len() / 3);
    let file = store
        .upload(
            UploadRequest::bytes("broken.jpg", broken.clone())
                .with_metadata_policy(media_facade::media_privacy::MetadataPolicy::Keep),
        )
        .await
        .unwrap();
    assert!(file.thumbnail.is_none());
    assert_eq!(store.read_all(&file.id).await.unwrap(), broken);
    let cleaned = store
        .upload(UploadRequest::bytes("broken.jpg", broken.clone()))
        .await
        .unwrap();
    assert!(cleaned.thumbnail.is_none());
    assert!(!store
        .read_all(&cleaned.id)
        .await
        .unwrap()
        .windows(3)
        .any(|w| w == b"SPY"));
}

#[derive(Debug, Default)]
struct Counting {
    calls: AtomicUsize,
}

impl Thumbnailer for Counting {
    fn thumbnail(
        &self,
        path: &std::path::Path,
        mime: &str,
    ) -> media_core::Result<Option<Thumbnail>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        // The staged file is complete while the thumbnailer runs.
        let bytes = std::fs::read(path)
            .map_err(|e| MediaError::io(Operation::Thumbnail, "reading staged file", e))?;
        Ok(Some(Thumbnail::new(mime, 1, 1, bytes[..4].to_vec())))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_thumbnailer_runs_once_per_stored_upload_and_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let (cdn, _, _) = three_backends();
    let counting = Arc::new(Counting::default());
    let store = builder_with(&dir, &[cdn])
        .thumbnailer(counting.clone())
        .build()
        .await
        .unwrap();
    let bytes = data(2 * MIB, 9);
    let a = store
        .upload(UploadRequest::bytes("a.bin", bytes.clone()))
        .await
        .unwrap();
    let b = store
        .upload(UploadRequest::bytes("b.bin", bytes.clone()))
        .await
        .unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(
        counting.calls.load(Ordering::SeqCst),
        1,
        "dedup makes no second thumbnail"
    );
    assert_eq!(a.thumbnail.unwrap().bytes, bytes[..4]);

    let dir = tempfile::tempdir().unwrap();
    let (cdn, _, _) = three_backends();
    let store = builder_with(&dir, &[cdn])
        .without_thumbnails()
        .build()
        .await
        .unwrap();
    let file = store
        .upload(UploadRequest::bytes("p.jpg", jpeg_photo(64, 64)))
        .await
        .unwrap();
    assert!(file.thumbnail.is_none());
}
