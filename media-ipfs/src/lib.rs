//! # media-ipfs
//!
//! Helia-compatible UnixFS CIDs, iroh-blobs transport and a Trustless Gateway.
//!
//! **Status: not built yet.** This crate is a placeholder in the workspace so that the layout,
//! features and dependency direction are fixed; its adapter arrives with its own issue. It
//! only re-exports the core types it will implement against.
//!
//! ```
//! let _kind = media_ipfs::BackendKind::Cdn;
//! ```

pub use media_core::{Backend, BackendKind};
