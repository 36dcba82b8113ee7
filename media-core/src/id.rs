//! Content addresses: [`Digest32`] and [`MediaId`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{MediaError, Operation};

/// A 32-byte digest (SHA-256 or BLAKE3), shown and serialised as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Digest32(pub [u8; 32]);

impl Digest32 {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parse 64 hex characters (either case).
    pub fn from_hex(s: &str) -> Result<Self, MediaError> {
        let mut out = [0u8; 32];
        if s.len() != 64 {
            return Err(MediaError::invalid_input(
                Operation::Configure,
                format!("a digest is 64 hex characters, got {} characters", s.len()),
            ));
        }
        hex::decode_to_slice(s, &mut out).map_err(|e| {
            MediaError::invalid_input(Operation::Configure, format!("invalid hex digest: {e}"))
        })?;
        Ok(Digest32(out))
    }

    /// SHA-256 of `data`.
    pub fn sha256(data: &[u8]) -> Self {
        use sha2::Digest;
        Digest32(sha2::Sha256::digest(data).into())
    }
}

impl fmt::Debug for Digest32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest32({})", self.to_hex())
    }
}

impl fmt::Display for Digest32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Digest32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest32::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// The identity of a piece of media: the SHA-256 of its bytes, as lowercase hex.
///
/// Content addressing gives dedup for free and matches Blossom and the S3 object key.
///
/// ```
/// use media_core::MediaId;
/// let id = MediaId::for_bytes(b"hello world\n");
/// assert_eq!(
///     id.to_string(),
///     "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"
/// );
/// assert_eq!(id.to_string().parse::<MediaId>().unwrap(), id);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MediaId(Digest32);

impl MediaId {
    /// The id of bytes whose SHA-256 is `sha256`.
    pub fn from_sha256(sha256: Digest32) -> Self {
        MediaId(sha256)
    }

    /// Hash `data` and return its id (for small inputs; large ones go through ingest).
    pub fn for_bytes(data: &[u8]) -> Self {
        MediaId(Digest32::sha256(data))
    }

    /// The SHA-256 digest this id is.
    pub fn sha256(&self) -> Digest32 {
        self.0
    }
}

impl fmt::Debug for MediaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MediaId({})", self.0.to_hex())
    }
}

impl fmt::Display for MediaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for MediaId {
    type Err = MediaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(MediaError::invalid_input(
                Operation::Configure,
                "a media id is lowercase hex",
            ));
        }
        Digest32::from_hex(s).map(MediaId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_bad_ids() {
        assert!("abc".parse::<MediaId>().is_err());
        assert!("zz".repeat(32).parse::<MediaId>().is_err());
        assert!("AA".repeat(32).parse::<MediaId>().is_err());
        assert!("aa".repeat(32).parse::<MediaId>().is_ok());
    }

    #[test]
    fn serde_roundtrip_is_hex_string() {
        let id = MediaId::for_bytes(b"");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(
            json,
            "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\""
        );
        assert_eq!(serde_json::from_str::<MediaId>(&json).unwrap(), id);
    }
}
