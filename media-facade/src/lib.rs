//! # media-facade
//!
//! [`MediaStore`] composes storage backends (CDN over S3, IPFS, BitTorrent — or any
//! [`media_core::Backend`]) with small policy values:
//!
//! - **upload**: one read pass stages the input under the data directory and computes the
//!   SHA-256, BLAKE3 and 1 MiB chunk digests on both cores; then every backend the
//!   [`UploadPolicy`](media_core::UploadPolicy) names gets the blob in parallel, and the record
//!   goes into a durable catalog ([`RedbCatalog`] by default) only when enough succeeded;
//! - **download**: the [`DownloadPolicy`](media_core::DownloadPolicy) orders the backends
//!   (P2P first, CDN first, hedged, fastest); every chunk is verified before it is released;
//!   a failing, stalled or corrupt backend is replaced by the next one, which resumes at the
//!   first unverified chunk; range reads are verified the same way;
//! - **dedup**: an id already stored is returned without uploading; concurrent uploads of the
//!   same bytes share one operation (one put per backend);
//! - **events** on a broadcast channel, per-operation [`UploadHandle`]s, [`StatsSnapshot`]s,
//!   expiry and delete;
//! - **privacy**: before any store receives a byte, photo and video originals are cleaned of
//!   location and device metadata (`[privacy] metadata`, per upload `with_metadata_policy`),
//!   private media is encrypted with age to its recipients (`encrypt_to`, read back with
//!   `MediaStore::open_private`), and P2P stores get only what the node's consent allows
//!   (`[privacy] p2p`, per upload `share_p2p`);
//! - **Blossom** (feature `blossom`): the embedded stack serves the store to apps over the
//!   nostr media protocol, and Blossom servers can be a store (`[blossom] servers`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> media_core::Result<()> {
//! use std::sync::Arc;
//! use media_core::{testing::MemoryBackend, BackendKind, ByteRange};
//! use media_facade::{MediaStore, UploadRequest};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = MediaStore::builder(dir.path())
//!     .backend(Arc::new(MemoryBackend::new("cdn", BackendKind::CDN)))
//!     .backend(Arc::new(MemoryBackend::new("torrent", BackendKind::TORRENT)))
//!     .build()
//!     .await?;
//! let file = store
//!     .upload(UploadRequest::bytes("clip.mp4", vec![7u8; 3 << 20]))
//!     .await?;
//! let part = store.open(&file.id, ByteRange::new(10, 20)).await?.read_to_end().await?;
//! assert_eq!(part, vec![7u8; 10]);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

// The layout is the architecture: the front door and its request/answer types at the top,
// then one directory per pipeline (`upload/`, `read/`), the state they share (`state/`), and
// how a node is assembled from configuration (`node/`). The trust boundary lives in three
// files: `read/mod.rs` (the release point), `state/ownership.rs` (what a delete may remove)
// and, for Blossom writes, media-blossom's server.
mod builder;
mod handle;
mod node;
mod options;
mod output;
mod read;
mod reader;
mod safety;
mod settings;
mod state;
mod store;
mod upload;

pub use builder::{MediaStoreBuilder, DEFAULT_MAX_UPLOAD};
pub use handle::UploadHandle;
#[cfg(feature = "api")]
pub use node::api;
pub use node::config::StackConfig;
pub use node::embedded::EmbeddedStack;
pub use node::providers::providers;
pub use options::{P2pMode, ReadOptions};
pub use output::write_file;
pub use reader::MediaReader;
pub use safety::takedown::{Takedown, SAFETY_WATCH_INTERVAL};
pub use state::cache::DEFAULT_CACHE_BYTES;
pub use state::catalog::RedbCatalog;
pub use state::stats::{BackendStats, StatsSnapshot};
pub use store::{MediaStore, MAX_PAGE};
pub use upload::ingest::{Input, UploadRequest};
pub use upload::sessions::{
    Append, Appended, NewSession, ResumableLimits, SessionStatus, CHECKPOINT_EVERY,
};
pub use upload::PutLimits;

#[cfg(feature = "blossom")]
pub use media_blossom;
#[cfg(feature = "cdn")]
pub use media_cdn;
pub use media_core;
#[cfg(feature = "ipfs")]
pub use media_ipfs;
pub use media_privacy;
pub use media_safety;
#[cfg(feature = "thumb")]
pub use media_thumb;
#[cfg(feature = "torrent")]
pub use media_torrent;
