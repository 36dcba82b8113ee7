//! # media-privacy
//!
//! What keeps a stranger from learning where a user lives: [`strip`] removes location,
//! device and personal metadata from photo and video originals losslessly (pixels and samples
//! untouched, orientation kept) before they are stored anywhere; [`seal`] encrypts private
//! media to its recipients with age, streamed, and reads ranges of it by age chunk.
//!
//! ```
//! use media_privacy::strip::{inspect, strip_in_place};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("photo.gif");
//! // A 1×1 GIF with a comment extension.
//! let mut gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
//! gif.extend_from_slice(b"\x21\xFE\x0Bhome: 12 Av\x00");
//! gif.extend_from_slice(b"\x2C\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3B");
//! std::fs::write(&path, &gif).unwrap();
//! assert_eq!(inspect(&path).unwrap().removed, vec!["comment"]);
//! strip_in_place(&path).unwrap();
//! assert!(!inspect(&path).unwrap().changed());
//! ```

#![warn(missing_docs)]

pub mod faststart;
pub mod seal;
pub mod strip;

pub use seal::{Identity, Recipient, SealError};
pub use strip::{MetadataPolicy, StripError, StripReport};
