//! BlossomBackend against a Blossom server nobody here wrote: `blossom-rs` (crates.io), its
//! axum router over its filesystem backend, with signed uploads required. The conformance
//! suite runs against it (it serves whole blobs only: range reads are cut from them).

use std::sync::Arc;

use media_blossom::{BlossomBackend, BlossomStoreConfig, BlossomUri, NostrKeys, BLOSSOM};
use media_core::conformance::{run_all, Suite};
use media_core::{Backend, ByteRange, Location, MediaId};

async fn foreign_server(dir: &std::path::Path) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let storage = blossom_rs::FilesystemBackend::new(dir.to_str().unwrap()).unwrap();
    let server = blossom_rs::server::BlobServer::new_with_auth(storage, &url);
    let app = server.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_against_blossom_rs() {
    let dir = tempfile::tempdir().unwrap();
    let url = foreign_server(dir.path()).await;
    let backend = BlossomBackend::new(
        "blossom",
        BlossomStoreConfig::new(vec![url.clone()], NostrKeys::generate().unwrap()),
    )
    .unwrap();
    backend.health().await.unwrap();
    let missing = BlossomUri {
        sha256: MediaId::for_bytes(b"never stored"),
        ext: String::new(),
        servers: vec![url],
        size: None,
    };
    let backend = Arc::new(backend);
    run_all(&Suite::new(
        backend.clone(),
        Location::new(BLOSSOM, missing.to_uri()),
    ))
    .await;
    // A range from a server that answers with the whole blob.
    let bytes = media_core::sample_bytes(300_000, 3);
    let path = dir.path().join("staged");
    std::fs::write(&path, &bytes).unwrap();
    let blob = media_core::StagedBlob::new(
        &path,
        "b.bin",
        "application/octet-stream",
        Arc::new(media_core::Digests::of_bytes(&bytes)),
    );
    let location = backend
        .put(&blob, media_core::Progress::none())
        .await
        .unwrap();
    let mut stream = backend
        .get(&location, ByteRange::new(70_000, 200_001))
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(piece) = futures::StreamExt::next(&mut stream).await {
        got.extend_from_slice(&piece.unwrap());
    }
    assert_eq!(got, bytes[70_000..200_001]);
}
