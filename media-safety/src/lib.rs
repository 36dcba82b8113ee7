//! # media-safety
//!
//! What a dating or social app owes the people in its pictures: a list of media that must not
//! be stored, matched at every way in.
//!
//! - [`Denylist`]: one entry a line, `sha256:<hex>` (exact bytes) or `pdq:<hex>` (Meta's PDQ
//!   perceptual hash, as StopNCII and ThreatExchange share them), `#` comments, and an
//!   optional IPIP-383 header ended by `---`. Parsed with line numbers in its errors.
//! - [`PdqIndex`]: multi-index hashing (16 segments of 16 bits, as Meta's `mih`): a lookup
//!   within distance 31 of a million hashes probes 272 buckets instead of a million hashes.
//! - [`WatchedDenylist`]: the list behind a file, read again when the file changes.
//!
//! ```
//! use media_core::{Digest32, PdqHash};
//! use media_safety::{Denylist, Match};
//!
//! let photo: PdqHash = "f".repeat(64).parse().unwrap();
//! let text = format!("# shared by a partner\npdq:{photo}\nsha256:{}\n", "ab".repeat(32));
//! let list = Denylist::parse("partner.txt", &text, 31).unwrap();
//!
//! let mut near = photo;
//! near.0[0] = 0; // 8 bits away
//! assert_eq!(list.match_pdq(&near), Some(Match::Pdq { distance: 8 }));
//! assert!(list.match_sha256(&Digest32([0xab; 32])));
//! assert!(list.match_sha256(&Digest32([0; 32])) == false);
//! ```

#![warn(missing_docs)]

mod denylist;
mod index;
mod watched;

pub use denylist::{Denylist, DenylistError, Match, DEFAULT_DISTANCE};
pub use index::PdqIndex;
pub use watched::WatchedDenylist;
mod report;
pub use report::{Report, Reported};
