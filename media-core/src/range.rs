//! Byte ranges for partial reads (video seeking).

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::error::{MediaError, Operation};

/// A half-open byte range `start..end`; `end: None` means "to the end of the blob".
///
/// ```
/// use media_core::ByteRange;
/// let r: ByteRange = "100-199".parse().unwrap(); // HTTP style, inclusive
/// assert_eq!(r.resolve(1000).unwrap(), 100..200);
/// assert_eq!(ByteRange::from(10).resolve(15).unwrap(), 10..15);
/// assert!(ByteRange::new(5, 20).resolve(10).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte, or `None` for "to the end".
    pub end: Option<u64>,
}

impl ByteRange {
    /// The whole blob.
    pub const fn full() -> Self {
        ByteRange {
            start: 0,
            end: None,
        }
    }

    /// Bytes `start..end`.
    pub const fn new(start: u64, end: u64) -> Self {
        ByteRange {
            start,
            end: Some(end),
        }
    }

    /// From `start` to the end.
    pub const fn from(start: u64) -> Self {
        ByteRange { start, end: None }
    }

    /// Whether this is the whole blob, whatever its size.
    pub fn is_full(&self) -> bool {
        self.start == 0 && self.end.is_none()
    }

    /// The concrete range within a blob of `size` bytes. A range past the end or reversed is
    /// an [`crate::ErrorKind::InvalidInput`] error.
    pub fn resolve(&self, size: u64) -> Result<Range<u64>, MediaError> {
        let end = self.end.unwrap_or(size);
        if self.start > end || end > size {
            return Err(MediaError::invalid_input(
                Operation::Get,
                format!("range {self} is outside a blob of {size} bytes"),
            ));
        }
        Ok(self.start..end)
    }
}

impl From<Range<u64>> for ByteRange {
    fn from(r: Range<u64>) -> Self {
        ByteRange::new(r.start, r.end)
    }
}

impl fmt::Display for ByteRange {
    /// HTTP style, inclusive end: `0-99`, `100-`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.end {
            Some(end) if end > self.start => write!(f, "{}-{}", self.start, end - 1),
            Some(_) => write!(f, "{}-(empty)", self.start),
            None => write!(f, "{}-", self.start),
        }
    }
}

impl std::str::FromStr for ByteRange {
    type Err = MediaError;

    /// Parses HTTP style `A-B` (inclusive), `A-` (to the end).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            MediaError::invalid_input(
                Operation::Get,
                format!("invalid range {s:?}: expected A-B (inclusive) or A-"),
            )
        };
        let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
        let start: u64 = a.parse().map_err(|_| bad())?;
        if b.is_empty() {
            return Ok(ByteRange::from(start));
        }
        let last: u64 = b.parse().map_err(|_| bad())?;
        if last < start {
            return Err(bad());
        }
        Ok(ByteRange::new(start, last + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_roundtrip() {
        for s in ["0-0", "5-99", "7-"] {
            assert_eq!(s.parse::<ByteRange>().unwrap().to_string(), s);
        }
        for s in ["", "-5", "9-3", "a-b", "1"] {
            assert!(s.parse::<ByteRange>().is_err(), "{s} should not parse");
        }
    }

    #[test]
    fn resolve_checks_bounds() {
        assert_eq!(ByteRange::full().resolve(0).unwrap(), 0..0);
        assert_eq!(ByteRange::new(3, 3).resolve(3).unwrap(), 3..3);
        assert!(ByteRange::from(4).resolve(3).is_err());
        assert!(ByteRange::new(4, 2).resolve(9).is_err());
    }
}
