//! [`MediaRef`]: what an app shares so a receiver can verify every byte it releases.
//!
//! A record ([`MediaFile`]) from a peer, a shared bucket or a gateway is untrusted: its id can
//! be real while its chunk digests are forged, and chunk digests are what range reads are
//! checked against. The SHA-256 id alone cannot vouch for a chunk list without reading the
//! whole file. A `MediaRef` adds the *chunk root*, a SHA-256 over the record's size and chunk
//! digests, so a record can be checked against the reference before any byte is trusted.
//! Apps send the reference through the channel they trust (their signed or encrypted
//! messages); the record may then come from anywhere.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::error::{MediaError, Operation};
use crate::id::{Digest32, MediaId};
use crate::media::MediaFile;

/// A verifiable reference to media: its id, its size and the root of its chunk list.
///
/// Text form: `media:<sha256 hex>?size=<bytes>&root=<chunk root hex>`.
///
/// ```
/// use media_core::{Digests, MediaFile, MediaRef, Timestamp};
/// let record = MediaFile::new("a.jpg", "image/jpeg", &Digests::of_bytes(b"photo"), Timestamp(0));
/// let reference = record.reference();
/// let text = reference.to_string();
/// let parsed: MediaRef = text.parse().unwrap();
/// assert!(parsed.check(&record).is_ok());
///
/// let mut forged = record.clone();
/// forged.chunks[0] = media_core::Digest32::sha256(b"something else");
/// assert!(parsed.check(&forged).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MediaRef {
    /// SHA-256 of the bytes.
    pub id: MediaId,
    /// Size in bytes.
    pub size: u64,
    /// [`chunk_root`] of the record's chunk digests.
    pub root: Digest32,
}

/// The chunk root of a file of `size` bytes with chunk digests `chunks`:
/// SHA-256(`"media-chunks-v1"` ‖ size as 8 bytes little-endian ‖ chunk digests in order).
pub fn chunk_root(size: u64, chunks: &[Digest32]) -> Digest32 {
    let mut h = sha2::Sha256::new();
    h.update(b"media-chunks-v1");
    h.update(size.to_le_bytes());
    for c in chunks {
        h.update(c.as_bytes());
    }
    Digest32(h.finalize().into())
}

impl MediaRef {
    /// Check that `record` is the media this reference names, chunk list included. Only
    /// then may its chunk digests verify bytes.
    pub fn check(&self, record: &MediaFile) -> Result<(), MediaError> {
        if !record.is_consistent() {
            return Err(MediaError::integrity(
                Operation::Catalog,
                format!("record {} is inconsistent (digest count or id)", record.id),
            ));
        }
        if record.id != self.id || record.size != self.size {
            return Err(MediaError::integrity(
                Operation::Catalog,
                format!(
                    "record {} ({} bytes) is not the media {} ({} bytes) the reference names",
                    record.id, record.size, self.id, self.size
                ),
            ));
        }
        if chunk_root(record.size, &record.chunks) != self.root {
            return Err(MediaError::integrity(
                Operation::Catalog,
                format!(
                    "the chunk digests of record {} do not match the reference: forged or corrupt",
                    record.id
                ),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for MediaRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "media:{}?size={}&root={}", self.id, self.size, self.root)
    }
}

impl FromStr for MediaRef {
    type Err = MediaError;

    fn from_str(s: &str) -> Result<Self, MediaError> {
        let bad = |why: &str| {
            MediaError::invalid_input(
                Operation::Catalog,
                format!("not a media reference ({why}): media:<sha256>?size=<n>&root=<hex>"),
            )
        };
        let rest = s
            .trim()
            .strip_prefix("media:")
            .ok_or_else(|| bad("no media: scheme"))?;
        let (id, query) = rest
            .split_once('?')
            .ok_or_else(|| bad("no size and root"))?;
        let id: MediaId = id.parse().map_err(|_| bad("bad id"))?;
        let (mut size, mut root) = (None, None);
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("size", v)) => size = Some(v.parse::<u64>().map_err(|_| bad("bad size"))?),
                Some(("root", v)) => {
                    root = Some(Digest32::from_hex(v).map_err(|_| bad("bad root"))?)
                }
                _ => return Err(bad("unknown field")),
            }
        }
        Ok(MediaRef {
            id,
            size: size.ok_or_else(|| bad("no size"))?,
            root: root.ok_or_else(|| bad("no root"))?,
        })
    }
}

impl MediaFile {
    /// The reference to share with this record: id, size and chunk root.
    pub fn reference(&self) -> MediaRef {
        MediaRef {
            id: self.id,
            size: self.size,
            root: chunk_root(self.size, &self.chunks),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Digests, Timestamp, CHUNK_SIZE};

    #[test]
    fn references_bind_size_and_every_chunk() {
        let data = vec![3u8; (2 * CHUNK_SIZE + 9) as usize];
        let record = MediaFile::new("x", "video/mp4", &Digests::of_bytes(&data), Timestamp(0));
        let r = record.reference();
        assert!(r.check(&record).is_ok());
        for i in 0..record.chunks.len() {
            let mut forged = record.clone();
            forged.chunks[i].0[31] ^= 1;
            assert!(r.check(&forged).is_err(), "chunk {i}");
        }
        let mut bigger = record.clone();
        bigger.size += 1;
        assert!(r.check(&bigger).is_err());
        for bad in [
            "",
            "media:",
            "media:abc?size=1&root=00",
            &format!("media:{}?size=x&root={}", r.id, r.root),
            &format!("media:{}?size=1", r.id),
            &format!("media:{}?size=1&root={}&evil=1", r.id, r.root),
        ] {
            assert!(bad.parse::<MediaRef>().is_err(), "{bad:?}");
        }
        assert_eq!(r.to_string().parse::<MediaRef>().unwrap(), r);
    }
}
