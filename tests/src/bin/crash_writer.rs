//! Helper for the crash tests: writes to a catalog or a store in a loop, printing each id once
//! it is durable, until it is killed.
//!
//! `crash_writer catalog FILE` puts catalog records; `crash_writer store DIR` uploads media
//! through a `MediaStore` with a folder backend.

use std::io::Write;
use std::sync::Arc;

use media_core::testing::DirBackend;
use media_core::{BackendKind, Catalog, Digests, MediaFile, Thumbnail, Timestamp};
use media_facade::{MediaStore, RedbCatalog, UploadRequest};

/// Bytes of record `i`: distinct per record, large enough that writes take a while.
fn payload(i: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| (j as u64 ^ i.wrapping_mul(2_654_435_761)) as u8)
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (mode, target) = match args.as_slice() {
        [_, mode, target] => (mode.as_str(), target.as_str()),
        _ => return Err("usage: crash_writer catalog FILE | store DIR".into()),
    };
    let mut out = std::io::stdout().lock();
    match mode {
        "catalog" => {
            let catalog = RedbCatalog::open(target)?;
            for i in 0u64.. {
                let bytes = payload(i, 64);
                let mut file = MediaFile::new(
                    format!("r{i}"),
                    "image/jpeg",
                    &Digests::of_bytes(&bytes),
                    Timestamp::now(),
                );
                file.thumbnail = Some(Thumbnail::new("image/webp", 8, 8, payload(i, 48 * 1024)));
                catalog.put(&file).await?;
                writeln!(out, "{}", file.id)?;
                out.flush()?;
            }
        }
        "store" => {
            let dir = std::path::Path::new(target);
            let backend = DirBackend::new("cdn", BackendKind::CDN, dir.join("blobs"))?;
            let store = MediaStore::builder(dir.join("data"))
                .backend(Arc::new(backend))
                .build()
                .await?;
            for i in 0u64.. {
                let file = store
                    .upload(UploadRequest::bytes(format!("m{i}"), payload(i, 700_000)))
                    .await?;
                writeln!(out, "{}", file.id)?;
                out.flush()?;
            }
        }
        other => return Err(format!("unknown mode {other}").into()),
    }
    Ok(())
}
