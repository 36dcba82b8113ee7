//! # media-cdn
//!
//! The CDN store of the media library: content-addressed objects in any S3-compatible bucket
//! (`aws-sdk-s3`, lean features, static credentials, never reading `~/.aws`), published under a
//! CDN or presigned URL and read back over HTTP with ranges, streaming and resume.
//!
//! - [`S3Backend`] implements [`media_core::Backend`]: objects at `<prefix>/<sha256 hex>`,
//!   uploaded from the staged file with our own `x-amz-checksum-sha256` (the server checks it),
//!   single PUT below the multipart threshold, parts of 8 MiB, 4 in flight, above it; a HEAD
//!   first and `If-None-Match: *` so an existing object is never uploaded again; retries with
//!   backoff and jitter; aborted multipart uploads cleaned up.
//! - [`S3Catalog`] implements [`media_core::Catalog`] with records at
//!   `<prefix>/<sha256>.json`, so nodes sharing a bucket resolve each other's ids.
//! - [`EmbeddedS3`] (feature `server`, default) runs an S3 server on 127.0.0.1 over a folder:
//!   signed writes, unsigned public GET/HEAD with ranges.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread")] async fn main() -> media_core::Result<()> {
//! use media_core::{Backend, ByteRange, Digests, Progress, StagedBlob};
//! use futures::StreamExt;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let server = media_cdn::EmbeddedS3::start(dir.path().join("s3"), "media").await?;
//! let backend = media_cdn::S3Backend::new(server.config())?;
//!
//! let bytes = b"hello world\n";
//! let path = dir.path().join("staged");
//! std::fs::write(&path, bytes).unwrap();
//! let blob = StagedBlob::new(&path, "hello.txt", "text/plain", Digests::of_bytes(bytes).into());
//! let location = backend.put(&blob, Progress::none()).await?;
//!
//! let mut stream = backend.get(&location, ByteRange::new(6, 11)).await?;
//! let mut got = Vec::new();
//! while let Some(piece) = stream.next().await {
//!     got.extend_from_slice(&piece?);
//! }
//! assert_eq!(got, b"world");
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod backend;
mod bucket;
mod catalog;
mod config;
mod error;
mod http;
#[cfg(feature = "test-support")]
pub mod seaweed;
#[cfg(feature = "server")]
mod server;

pub use backend::S3Backend;
pub use catalog::S3Catalog;
pub use config::{CdnProvider, CdnSection, S3Config, MIN_PART_SIZE};
pub use http::get_url;
#[cfg(feature = "server")]
pub use server::{EmbeddedS3, ServerOptions};
