//! # media-format
//!
//! Every container format the media store reads from strangers, in one place, bounded and
//! fuzzed:
//!
//! - [`Format::sniff`]: the one table of what a file's first bytes say it is;
//! - [`strip`]: lossless removal of location, device and personal metadata, one stripper per
//!   format (`jpeg.rs`, `png.rs`, `webp.rs`, `gif.rs`, and [`isobmff::scrub`] for MP4/MOV with its
//!   timed-metadata tracks);
//! - [`isobmff`]: one box header reader, iterators bounded by their parent, no recursion,
//!   caps on depth, box count and index size; [`isobmff::faststart`] (a delivery rewrite) and
//!   [`isobmff::track`] (the first video track, for posters).
//!
//! Every parser here reads hostile input: memory and time grow with the input, never with
//! what a length field claims, and every error is a [`FormatError`], never a panic.
//! Adding a format's stripper is one file and one arm in [`strip`].
//!
//! ```
//! use media_format::{strip::{inspect, strip_in_place}, Format};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("photo.gif");
//! // A 1×1 GIF with a comment extension.
//! let mut gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
//! gif.extend_from_slice(b"\x21\xFE\x0Bhome: 12 Av\x00");
//! gif.extend_from_slice(b"\x2C\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3B");
//! std::fs::write(&path, &gif).unwrap();
//! assert_eq!(Format::sniff(&gif), Some(Format::Gif));
//! assert_eq!(inspect(&path).unwrap().removed, vec!["comment"]);
//! strip_in_place(&path).unwrap();
//! assert!(!inspect(&path).unwrap().changed());
//! ```

#![warn(missing_docs)]

mod error;
mod exif;
#[doc(hidden)]
pub mod fuzz;
mod gif;
mod io;
pub mod isobmff;
mod jpeg;
mod png;
mod sniff;
pub mod strip;
mod webp;

pub use error::FormatError;
pub use isobmff::faststart::{faststart_in_place, faststart_reader, faststart_to, FaststartError};
pub use sniff::{sniff_file, Format, SNIFF_LEN};
pub use strip::{inspect, strip_in_place, StripReport};
