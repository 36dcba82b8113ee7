//! # media-thumb
//!
//! Fast, safe, private thumbnails with shrink-on-load decoding.
//!
//! **Status: not built yet.** This crate is a placeholder in the workspace so that the layout,
//! features and dependency direction are fixed; its adapter arrives with its own issue. It
//! only re-exports the core types it will implement against.
//!
//! ```
//! let _kind = media_thumb::BackendKind::Cdn;
//! ```

pub use media_core::{Backend, BackendKind};
