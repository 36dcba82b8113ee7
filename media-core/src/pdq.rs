//! [`PdqHash`]: Meta's 256-bit PDQ perceptual hash of a picture, in the record as
//! [`crate::MediaFile::pdq`]. Near-identical pictures (re-encoded, resized, lightly cropped)
//! have hashes a small Hamming distance apart; unrelated ones about 128 bits apart.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 256-bit PDQ hash.
///
/// Bit `k` (`k = 16·row + column` of the reference's 16×16 DCT output) is bit `k % 8` of byte
/// `31 − k / 8`, so the hex form is the reference's own (`Hash256::format`: word 15 first),
/// and hashes from ThreatExchange or StopNCII lists compare as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PdqHash(pub [u8; 32]);

impl PdqHash {
    /// The number of bits in which two hashes differ (0 identical, 256 opposite).
    pub fn distance(&self, other: &PdqHash) -> u32 {
        self.words()
            .iter()
            .zip(other.words())
            .map(|(a, b)| (a ^ b).count_ones())
            .sum()
    }

    /// Set bit `k` (0..256) in the reference's numbering.
    pub fn set_bit(&mut self, k: usize) {
        self.0[31 - k / 8] |= 1 << (k % 8);
    }

    /// Bit `k` (0..256) in the reference's numbering.
    pub fn bit(&self, k: usize) -> bool {
        self.0[31 - k / 8] & (1 << (k % 8)) != 0
    }

    /// The hash as four 64-bit words (for fast distances).
    pub fn words(&self) -> [u64; 4] {
        let mut w = [0u64; 4];
        for (i, word) in w.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.0[i * 8..i * 8 + 8]);
            *word = u64::from_be_bytes(b);
        }
        w
    }

    /// The 16-bit word `i` (0..16) of the reference's layout (bits `16·i .. 16·i+16`).
    pub fn word16(&self, i: usize) -> u16 {
        let at = 30 - 2 * i;
        u16::from_be_bytes([self.0[at], self.0[at + 1]])
    }
}

impl fmt::Display for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for PdqHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PdqHash({self})")
    }
}

/// Not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a PDQ hash is 64 hex digits")]
pub struct InvalidPdq;

impl FromStr for PdqHash {
    type Err = InvalidPdq;
    fn from_str(s: &str) -> Result<Self, InvalidPdq> {
        let mut out = [0u8; 32];
        if s.len() != 64 {
            return Err(InvalidPdq);
        }
        hex::decode_to_slice(s, &mut out).map_err(|_| InvalidPdq)?;
        Ok(PdqHash(out))
    }
}

impl Serialize for PdqHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for PdqHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A picture's PDQ hash with the reference's quality score (0–100: below about 50 the
/// picture is too flat for the hash to mean much).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Pdq {
    /// The hash, 64 hex digits in the record.
    pub hash: PdqHash,
    /// The quality score, 0–100.
    pub quality: u8,
}

impl Pdq {
    /// A hash with its quality.
    pub fn new(hash: PdqHash, quality: u8) -> Self {
        Pdq { hash, quality }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_the_references_word_order() {
        let mut h = PdqHash::default();
        h.set_bit(0);
        h.set_bit(255);
        let s = h.to_string();
        assert!(s.starts_with('8') && s.ends_with('1'), "{s}");
        assert_eq!(s.parse::<PdqHash>().unwrap(), h);
        assert_eq!(h.word16(0), 1);
        assert_eq!(h.word16(15), 0x8000);
        assert!(h.bit(0) && h.bit(255) && !h.bit(1));
        assert_eq!(h.distance(&PdqHash::default()), 2);
        assert!("xyz".parse::<PdqHash>().is_err());
        assert!("g".repeat(64).parse::<PdqHash>().is_err());
    }
}
