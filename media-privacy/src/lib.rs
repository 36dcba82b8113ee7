//! # media-privacy
//!
//! What keeps a stranger from learning where a user lives: the [`MetadataPolicy`] an upload
//! is made under (its strippers, one per format, are in `media-format`), and [`seal`], which
//! encrypts private media to its recipients with age, streamed, and reads ranges of it by
//! age chunk.
//!
//! ```
//! use media_privacy::MetadataPolicy;
//!
//! assert_eq!("Reject".parse::<MetadataPolicy>(), Ok(MetadataPolicy::Reject));
//! assert!("scramble".parse::<MetadataPolicy>().is_err());
//! ```

#![warn(missing_docs)]

pub mod policy;
pub mod seal;

pub use policy::{MetadataPolicy, UnknownPolicy};
pub use seal::{Identity, Recipient, SealError};
