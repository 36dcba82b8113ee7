//! # media-torrent
//!
//! BitTorrent seeding and magnet download over librqbit, WebTorrent-compatible.
//!
//! **Status: not built yet.** This crate is a placeholder in the workspace so that the layout,
//! features and dependency direction are fixed; its adapter arrives with its own issue. It
//! only re-exports the core types it will implement against.
//!
//! ```
//! let _kind = media_torrent::BackendKind::Cdn;
//! ```

pub use media_core::{Backend, BackendKind};
