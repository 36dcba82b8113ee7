//! # media-cdn
//!
//! S3 storage with CDN URLs (aws-sdk-s3) and an embedded S3 server.
//!
//! **Status: not built yet.** This crate is a placeholder in the workspace so that the layout,
//! features and dependency direction are fixed; its adapter arrives with its own issue. It
//! only re-exports the core types it will implement against.
//!
//! ```
//! let _kind = media_cdn::BackendKind::Cdn;
//! ```

pub use media_core::{Backend, BackendKind};
