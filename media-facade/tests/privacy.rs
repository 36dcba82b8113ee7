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

/// Per-store policies: a store that asks `strip` never receives media an upload kept with
/// its metadata; one that asks `reject` never receives a location; an upload no store takes
/// fails and names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_gets_only_media_that_meets_its_own_metadata_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (cdn, ipfs, torrent) = three_backends();
    let store = builder_with(&dir, &[cdn.clone(), ipfs.clone(), torrent.clone()])
        .download_policy(PreferP2p)
        .store_metadata_policy("cdn", MetadataPolicy::Strip)
        .store_metadata_policy("ipfs", MetadataPolicy::Reject)
        .build()
        .await
        .unwrap();
    let original = jpeg_with_gps();
    let kept = store
        .upload(
            UploadRequest::bytes("home.jpg", original.clone())
                .with_metadata_policy(MetadataPolicy::Keep),
        )
        .await
        .unwrap();
    assert_eq!(kept.id, MediaId::for_bytes(&original));
    // Only the store with no policy of its own got the original.
    assert_eq!((cdn.puts(), ipfs.puts(), torrent.puts()), (0, 0, 1));
    assert_eq!(kept.locations.len(), 1);

    // Without the location (the GPS pointer renamed) but with its comment: the `reject`
    // store takes it, the `strip` store does not.
    let mut no_gps = jpeg_with_gps();
    let at = no_gps.windows(2).position(|w| w == [0x88, 0x25]).unwrap();
    no_gps[at..at + 2].copy_from_slice(&[0x88, 0x26]);
    store
        .upload(
            UploadRequest::bytes("street.jpg", no_gps).with_metadata_policy(MetadataPolicy::Keep),
        )
        .await
        .unwrap();
    assert_eq!((cdn.puts(), ipfs.puts(), torrent.puts()), (0, 1, 2));

    // The default upload cleans it: every store takes it.
    store
        .upload(UploadRequest::bytes("home.jpg", original.clone()))
        .await
        .unwrap();
    assert_eq!((cdn.puts(), ipfs.puts(), torrent.puts()), (1, 2, 3));

    // No store takes a kept location: a clear error naming them, nothing stored.
    let strict_dir = tempfile::tempdir().unwrap();
    let strict = builder_with(&strict_dir, std::slice::from_ref(&cdn))
        .store_metadata_policy("cdn", MetadataPolicy::Strip)
        .build()
        .await
        .unwrap();
    let err = strict
        .upload(
            UploadRequest::bytes("home2.jpg", original).with_metadata_policy(MetadataPolicy::Keep),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, media_core::ErrorKind::InvalidInput, "{err}");
    assert!(
        err.to_string().contains("cdn") && err.to_string().contains("strip"),
        "{err}"
    );
    assert_eq!(cdn.puts(), 1);
}

/// Consent holds whatever order the stores were registered in: a peer-to-peer store first
/// gets nothing under `download`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_does_not_depend_on_the_order_of_the_stores() {
    let dir = tempfile::tempdir().unwrap();
    let (cdn, _, torrent) = three_backends();
    let store = builder_with(&dir, &[torrent.clone(), cdn.clone()])
        .p2p(media_facade::P2pMode::Download)
        .build()
        .await
        .unwrap();
    let file = store
        .upload(UploadRequest::bytes(
            "a.bin",
            media_core::sample_bytes(10_000, 4),
        ))
        .await
        .unwrap();
    assert_eq!((torrent.puts(), cdn.puts()), (0, 1));
    assert_eq!(file.locations.len(), 1);
    assert_eq!(file.locations[0].kind(), &media_core::BackendKind::CDN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heic_is_cleaned_under_the_default_policy_and_refused_only_when_it_does_not_parse() {
    let f = fixture(PreferP2p).await;
    // A HEIC from heif-enc with GPS, Make and XMP written by exiftool (the fuzz seed).
    let heic = include_bytes!("../../fuzz/seeds/s.heic").to_vec();
    let file = f
        .store
        .upload(UploadRequest::bytes("IMG_0001.HEIC", heic.clone()))
        .await
        .unwrap();
    assert_eq!(file.mime, "image/heic");
    assert_eq!(file.metadata_removed, ["EXIF", "XMP"]);
    assert_eq!(file.size, heic.len() as u64, "cleaned in place");
    assert_ne!(file.id, media_core::MediaId::for_bytes(&heic));

    let mut cut = 24u32.to_be_bytes().to_vec();
    cut.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    cut.extend_from_slice(&[0, 0, 0, 40]);
    cut.extend_from_slice(b"meta\0\0\0\0\0\0\0\x40iinf");
    cut.extend_from_slice(&[0u8; 20]);
    let err = f
        .store
        .upload(UploadRequest::bytes("IMG_0002.HEIC", cut))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("malformed"), "{err}");
}

mod consent {
    use std::sync::Arc;

    use media_core::testing::{FaultyBackend, MemoryBackend};
    use media_core::{Backend, BackendKind, Capabilities, MemoryCatalog};
    use media_facade::media_privacy::Identity;
    use media_facade::{MediaStore, P2pMode, UploadRequest};

    struct Node {
        store: MediaStore,
        cdn: Arc<FaultyBackend>,
        swarm: Arc<FaultyBackend>,
        _dir: tempfile::TempDir,
    }

    /// A CDN and a store that declares itself peer-to-peer.
    async fn node(mode: P2pMode) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let cdn = Arc::new(FaultyBackend::memory("cdn", BackendKind::CDN));
        let swarm = Arc::new(FaultyBackend::new(Arc::new(
            MemoryBackend::new("torrent", BackendKind::TORRENT)
                .with_capabilities(Capabilities::full().with_peer_to_peer(true)),
        )));
        let store = MediaStore::builder(dir.path())
            .catalog(Arc::new(MemoryCatalog::new()))
            .backend(cdn.clone() as Arc<dyn Backend>)
            .backend(swarm.clone() as Arc<dyn Backend>)
            .p2p(mode)
            .build()
            .await
            .unwrap();
        Node {
            store,
            cdn,
            swarm,
            _dir: dir,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn peer_to_peer_stores_get_only_what_consent_allows() {
        let bytes = media_core::sample_bytes(300_000, 1);
        // On: public media goes to the swarm too; private media does not unless asked.
        let on = node(P2pMode::On).await;
        let public = on
            .store
            .upload(UploadRequest::bytes("a", bytes.clone()))
            .await
            .unwrap();
        assert_eq!(public.locations.len(), 2);
        assert_eq!(on.swarm.puts(), 1);
        let friend = Identity::generate();
        let private = on
            .store
            .upload(UploadRequest::bytes("b", bytes.clone()).encrypt_to(vec![friend.recipient()]))
            .await
            .unwrap();
        assert_eq!(private.locations.len(), 1, "{:?}", private.locations);
        assert_eq!(on.swarm.puts(), 1);
        on.store
            .upload(
                UploadRequest::bytes("c", bytes.clone())
                    .encrypt_to(vec![friend.recipient()])
                    .share_p2p(true),
            )
            .await
            .unwrap();
        assert_eq!(on.swarm.puts(), 2);
        // A single upload can keep public media off the swarm.
        on.store
            .upload(UploadRequest::bytes("d", media_core::sample_bytes(1000, 2)).share_p2p(false))
            .await
            .unwrap();
        assert_eq!(on.swarm.puts(), 2);

        // Download: uploads never reach the swarm (even when asked); reads may use it.
        let download = node(P2pMode::Download).await;
        let file = download
            .store
            .upload(UploadRequest::bytes("a", bytes.clone()).share_p2p(true))
            .await
            .unwrap();
        assert_eq!(download.swarm.puts(), 0);
        assert_eq!(file.locations.len(), 1);

        // Off: the swarm is neither written nor read, even for a record that names it.
        let off = node(P2pMode::Off).await;
        off.store
            .import_ref(&public, &public.reference())
            .await
            .unwrap();
        // (Its own CDN does not hold the bytes: only the swarm could have served them.)
        let err = off.store.read_all(&public.id).await.unwrap_err();
        assert_eq!(err.kind, media_core::ErrorKind::NotFound, "{err}");
        assert_eq!(off.swarm.gets(), 0, "a peer was contacted without consent");
        assert_eq!(off.cdn.gets(), 1);
    }
}

/// A box of `kind` around `payload`.
fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(payload);
    b
}

/// ftyp, mdat (samples), then moov with a chunk offset table pointing at the samples: the
/// layout phones write.
fn mp4_moov_last() -> (Vec<u8>, usize) {
    let ftyp = mp4_box(b"ftyp", b"isom\0\0\0\0isom");
    let mdat = mp4_box(b"mdat", &media_core::sample_bytes(100_000, 3));
    let mut stco = vec![0, 0, 0, 0, 0, 0, 0, 1];
    stco.extend_from_slice(&((ftyp.len() + 8) as u32).to_be_bytes());
    let moov = mp4_box(
        b"moov",
        &mp4_box(
            b"trak",
            &mp4_box(
                b"mdia",
                &mp4_box(b"minf", &mp4_box(b"stbl", &mp4_box(b"stco", &stco))),
            ),
        ),
    );
    let moov_len = moov.len();
    ([ftyp, mdat, moov].concat(), moov_len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_is_stored_faststart_with_the_original_digest_in_the_record() {
    let f = fixture(PreferP2p).await;
    let (original, moov_len) = mp4_moov_last();
    let file = f
        .store
        .upload(UploadRequest::bytes("clip.mp4", original.clone()))
        .await
        .unwrap();
    let stored = f.store.read_all(&file.id).await.unwrap();
    assert_eq!(stored.len(), original.len());
    assert_eq!(&stored[20 + 4..20 + 8], b"moov", "moov right after ftyp");
    assert_eq!(
        file.remuxed_from,
        Some(MediaId::for_bytes(&original).sha256())
    );
    // The samples are the same bytes, after the moved index.
    assert_eq!(
        &stored[20 + moov_len..],
        &original[20..original.len() - moov_len]
    );

    // `keep` is about metadata only: the remux has its own switch.
    let kept = f
        .store
        .upload(
            UploadRequest::bytes("clip2.mp4", original.clone())
                .with_metadata_policy(MetadataPolicy::Keep),
        )
        .await
        .unwrap();
    assert_eq!(kept.id, file.id);
    let not_remuxed = f
        .store
        .upload(UploadRequest::bytes("clip3.mp4", original.clone()).with_faststart(false))
        .await
        .unwrap();
    assert_eq!(not_remuxed.id, MediaId::for_bytes(&original));
    assert_eq!(not_remuxed.remuxed_from, None);
    // `as_given`: the bytes exactly as they came.
    let given = f
        .store
        .upload(UploadRequest::bytes("clip4.mp4", original.clone()).as_given())
        .await
        .unwrap();
    assert_eq!(given.id, MediaId::for_bytes(&original));
}
