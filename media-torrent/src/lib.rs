//! # media-torrent
//!
//! BitTorrent for the media store, over `librqbit`, interoperable with WebTorrent and
//! standard clients:
//!
//! - [`Metainfo`] and [`MagnetLink`]: our own torrent and magnet building — a correct info
//!   dict for every size (librqbit's builder adds a spurious piece hash when the size is a
//!   multiple of the piece length), 1 MiB-aligned pieces, `url-list`/`ws=` web seeds (the CDN
//!   URL of the same bytes), `x.pe` with our address, percent-encoded.
//! - [`TorrentNode`]: a librqbit session (no DHT, no LSD, no UPnP unless configured) that
//!   seeds stored files from a hard link of the staged file, persists its torrents under the
//!   data directory and re-seeds them on start, and downloads by magnet with a metadata
//!   timeout, streaming the requested range.
//! - [`TorrentBackend`]: its [`media_core::Backend`]; with
//!   [`TorrentBackend::with_metadata_store`] it also publishes each `.torrent` on the CDN
//!   and adds it to the magnet as `xs=`, the way in for browsers' WebTorrent.
//!
//! ```
//! use media_torrent::{MagnetLink, Metainfo};
//! let meta = Metainfo::from_reader(&mut &b"hello"[..], 5, "hello.txt").unwrap();
//! let magnet = meta.magnet(&["127.0.0.1:6881".parse().unwrap()]);
//! let parsed = MagnetLink::parse(&magnet).unwrap();
//! assert_eq!(parsed.info_hash, meta.info_hash());
//! assert_eq!(parsed.length, Some(5));
//! ```

#![warn(missing_docs)]

mod config;
mod error;
pub mod metainfo;
mod node;

pub use config::{TorrentConfig, TorrentProvider, TorrentSection};
pub use error::TorrentError;
pub use metainfo::{piece_length_for, with_exact_source, MagnetLink, Metainfo};
pub use node::{TorrentBackend, TorrentNode};
