//! # media-node: the media store for Node.js and Electron
//!
//! A napi-rs addon that puts the Rust engine ([`media_facade::MediaStore`] over the embedded
//! stack: CDN over S3, IPFS, BitTorrent, Blossom) behind the npm package `media-store`, whose
//! `MediaStorageManager extends EventEmitter` is the shape the TypeScript app was designed
//! around. The addon holds no second engine: verification, read policies, events and errors
//! all come from the Rust side; this crate only converts between the engine's types and
//! JavaScript values, and the package's TypeScript wraps the native class in an
//! `EventEmitter` and Node streams.
//!
//! The TypeScript declarations of everything here are generated from these definitions by
//! `napi build` (`@napi-rs/cli`), so the `.d.ts` cannot drift from the Rust side.
//!
//! Layout: [`manager`] the native manager (open, upload, download, stats, delete, events),
//! [`shapes`] the JavaScript shapes (`MediaFile`, options, stats, events), [`transfer`] the
//! two stream directions, [`errors`] engine errors as JavaScript errors that carry their kind.
//!
//! ```no_run
//! // From Rust the same conversions are plain functions (the addon's tests are the
//! // package's TypeScript tests):
//! let record = media_facade::media_core::MediaFile::new(
//!     "a.jpg",
//!     "image/jpeg",
//!     &media_facade::media_core::Digests::of_bytes(b"bytes"),
//!     media_facade::media_core::Timestamp::now(),
//! );
//! let shape = media_node::shapes::MediaFile::from(&record);
//! assert_eq!(shape.hash, record.id.to_string());
//! ```

#![deny(clippy::unwrap_used)]

#[macro_use]
extern crate napi_derive;

pub mod errors;
pub mod manager;
pub mod shapes;
pub mod transfer;
