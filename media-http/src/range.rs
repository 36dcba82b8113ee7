//! The `Range` request header (RFC 9110 §14.2), single ranges of bytes.

use std::ops::Range;

/// What a `Range` header asks of a representation of `size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// No header, or one that does not parse or uses another unit, or several ranges: the
    /// header is ignored and the whole representation is served (200).
    Whole,
    /// These bytes (206).
    Bytes(Range<u64>),
    /// A valid range that selects nothing of this representation (416).
    Unsatisfiable,
}

/// Read `value` (the header's value, if any) against a representation of `size` bytes:
/// `bytes=a-b`, `bytes=a-`, `bytes=-n`.
///
/// ```
/// use media_http::{parse_range, RangeRequest};
/// assert_eq!(parse_range(Some("bytes=0-9"), 100), RangeRequest::Bytes(0..10));
/// assert_eq!(parse_range(Some("bytes=-5"), 100), RangeRequest::Bytes(95..100));
/// assert_eq!(parse_range(Some("bytes=100-"), 100), RangeRequest::Unsatisfiable);
/// assert_eq!(parse_range(Some("bytes=oops"), 100), RangeRequest::Whole);
/// ```
pub fn parse_range(value: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        // Several ranges: serving the whole is allowed, and simpler than multipart.
        return RangeRequest::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            None
        } else {
            // Too many digits: larger than any representation.
            Some(s.parse::<u64>().unwrap_or(u64::MAX))
        }
    };
    if a.is_empty() {
        // A suffix: the last n bytes.
        return match number(b) {
            None => RangeRequest::Whole,
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if size == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Bytes(size.saturating_sub(n)..size),
        };
    }
    let Some(first) = number(a) else {
        return RangeRequest::Whole;
    };
    let last = if b.is_empty() {
        None
    } else {
        match number(b) {
            Some(last) if last >= first => Some(last),
            // `bytes=5-2` or garbage: invalid, so ignored.
            _ => return RangeRequest::Whole,
        }
    };
    if first >= size {
        return RangeRequest::Unsatisfiable;
    }
    let end = last.map_or(size, |l| l.saturating_add(1).min(size));
    RangeRequest::Bytes(first..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_9110_cases() {
        use RangeRequest::*;
        let cases: &[(Option<&str>, u64, RangeRequest)] = &[
            (None, 10, Whole),
            (Some("bytes=0-0"), 10, Bytes(0..1)),
            (Some("bytes=2-"), 10, Bytes(2..10)),
            (Some("bytes=2-999999999999999999999999"), 10, Bytes(2..10)),
            (Some("bytes=-3"), 10, Bytes(7..10)),
            (Some("bytes=-30"), 10, Bytes(0..10)),
            (Some("bytes=10-"), 10, Unsatisfiable),
            (Some("bytes=-0"), 10, Unsatisfiable),
            (Some("bytes=0-"), 0, Unsatisfiable),
            (Some("bytes=5-2"), 10, Whole),
            (Some("bytes=a-b"), 10, Whole),
            (Some("bytes="), 10, Whole),
            (Some("bytes=-"), 10, Whole),
            (Some("items=0-1"), 10, Whole),
            (Some("bytes=0-1,4-5"), 10, Whole),
            (Some("bytes=+1-2"), 10, Whole),
            (Some("garbage"), 10, Whole),
        ];
        for (value, size, want) in cases {
            assert_eq!(&parse_range(*value, *size), want, "{value:?} of {size}");
        }
    }
}
