//! # media-blossom
//!
//! [Blossom](https://github.com/hzrd149/blossom) is how nostr apps store media over HTTP:
//! blobs addressed by the SHA-256 of their bytes, writes authorized by signed nostr events.
//! This crate gives the media store both sides of it:
//!
//! - [`BlossomServer`]: a Blossom server over any [`BlobHost`] — BUD-01 `GET`/`HEAD
//!   /<sha256>[.ext]` with Range, ETag and CORS on every response, BUD-02 `PUT /upload`
//!   (streamed, the announced hash checked before anything is stored: 409 otherwise),
//!   `DELETE` by the uploader, `GET /list/<pubkey>` with `cursor` and `limit`, BUD-04
//!   `PUT /mirror` (origins within a [`media_core::Reach`]), BUD-05 `PUT /media` (with a
//!   [`MediaOptimizer`]: images re-encoded without metadata), BUD-06 `HEAD /upload`, BUD-09
//!   `PUT /report` (NIP-56 kind 1984 events, checked and handed to [`BlobHost::report`]). Every
//!   refusal is a JSON `{"message"}` with an `X-Reason` header. Over the media store (feature
//!   `blossom` of `media-facade`) every blob is also on BitTorrent, IPFS and the CDN, and
//!   blobs the node does not hold are read verified from whichever store answers.
//! - [`auth`]: kind-24242 authorization events with BIP-340 Schnorr signatures (`k256`):
//!   parsing, every BUD-01 check, and signing with [`NostrKeys`].
//! - [`BlossomBackend`]: a store on remote Blossom servers; its locations are BUD-10 URIs
//!   `blossom:<sha256>.<ext>?xs=<server>&sz=<size>`.
//! - [`FolderHost`]: blobs in a folder, for a standalone server.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::sync::Arc;
//! use media_blossom::{BlossomServer, BlossomServerConfig, FolderHost};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let host = FolderHost::new(dir.path().join("blobs")).unwrap();
//! let server = BlossomServer::start(BlossomServerConfig::new(dir.path()), Arc::new(host))
//!     .await
//!     .unwrap();
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! # }
//! ```

#![warn(missing_docs)]

pub mod auth;
mod backend;
mod config;
mod host;
mod index;
mod server;

pub use auth::{AuthError, NostrEvent, NostrKeys};
pub use backend::{BlossomBackend, BlossomStoreConfig, BlossomUri, BLOSSOM};
pub use config::{load_or_create_keys, BlossomProvider, BlossomSection};
pub use host::{BlobHost, BlobInfo, FolderHost, IncomingBlob};
pub use index::OwnerIndex;
pub use server::{
    extension_for, BlossomServer, BlossomServerConfig, MediaOptimizer, DEFAULT_MAX_SIZE, MAX_LIST,
    MAX_MEDIA_INPUT,
};
