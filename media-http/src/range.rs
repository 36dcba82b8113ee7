//! The `Range` request header (RFC 9110 §14.2), single ranges of bytes, and [`Ranged`], the
//! one place a server of the node builds a 200, 206 or 416 for stored bytes.

use std::ops::Range;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};

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

/// The answer to a `GET` or `HEAD` of stored bytes: status (200, 206 or 416), `Content-Length`,
/// `Content-Range`, `Accept-Ranges`, and the stored-bytes headers of
/// [`crate::stored_bytes_headers`] for the type the bytes are served as. Every server of the
/// node (API, Blossom, gateway) answers through it.
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use media_http::Ranged;
///
/// let mut request = HeaderMap::new();
/// request.insert("range", "bytes=10-19".parse().unwrap());
/// let ranged = Ranged::new(&request, 100).stored_bytes("image/png");
/// assert_eq!(ranged.range(), Some(10..20));
/// let response = ranged.into_response(String::from("0123456789"));
/// assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
/// assert_eq!(response.headers()["content-range"], "bytes 10-19/100");
/// assert_eq!(response.headers()["x-content-type-options"], "nosniff");
///
/// let mut past = HeaderMap::new();
/// past.insert("range", "bytes=100-".parse().unwrap());
/// let ranged = Ranged::new(&past, 100);
/// assert_eq!(ranged.range(), None);
/// let response = ranged.into_response(String::new());
/// assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
/// assert_eq!(response.headers()["content-range"], "bytes */100");
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Ranged {
    status: StatusCode,
    range: Option<Range<u64>>,
    headers: HeaderMap,
}

impl Ranged {
    /// Plan the answer to a request with `request` headers for a representation of `size`
    /// bytes.
    pub fn new(request: &HeaderMap, size: u64) -> Self {
        let value = request.get(header::RANGE).and_then(|v| v.to_str().ok());
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        let (status, range) = match parse_range(value, size) {
            RangeRequest::Whole => (StatusCode::OK, Some(0..size)),
            RangeRequest::Bytes(r) => {
                if let Ok(v) = HeaderValue::from_str(&format!(
                    "bytes {}-{}/{size}",
                    r.start,
                    r.end.saturating_sub(1)
                )) {
                    headers.insert(header::CONTENT_RANGE, v);
                }
                (StatusCode::PARTIAL_CONTENT, Some(r))
            }
            RangeRequest::Unsatisfiable => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    headers.insert(header::CONTENT_RANGE, v);
                }
                (StatusCode::RANGE_NOT_SATISFIABLE, None)
            }
        };
        let length = range.as_ref().map_or(0, |r| r.end - r.start);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        Ranged {
            status,
            range,
            headers,
        }
    }

    /// Served as `mime`, with the headers stored bytes of that type get (`nosniff` always;
    /// a sandbox and `attachment` for anything but raster images, audio and video). A type
    /// that is not a valid header value is served as `application/octet-stream`.
    pub fn stored_bytes(mut self, mime: &str) -> Self {
        let value = HeaderValue::from_str(mime.trim())
            .ok()
            .filter(|_| !mime.trim().is_empty())
            .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
        let served = value
            .to_str()
            .unwrap_or("application/octet-stream")
            .to_owned();
        self.headers.insert(header::CONTENT_TYPE, value);
        crate::protect_stored_bytes(&mut self.headers, &served);
        self
    }

    /// A strong `ETag` of `tag` (quoted here).
    pub fn etag(self, tag: &str) -> Self {
        match HeaderValue::from_str(&format!("\"{tag}\"")) {
            Ok(v) => self.header(header::ETAG, v),
            Err(_) => self,
        }
    }

    /// One more response header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The bytes to send (`None`: a 416, nothing to read). A `HEAD` sends none of them but
    /// announces their length all the same.
    pub fn range(&self) -> Option<Range<u64>> {
        self.range.clone()
    }

    /// The status the answer will have.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response, with `body` (the bytes of [`Ranged::range`], or empty).
    pub fn into_response<B>(self, body: B) -> Response<B> {
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_types_are_sandboxed_where_ranges_are_answered() {
        let response = Ranged::new(&HeaderMap::new(), 5)
            .stored_bytes("image/SVG+xml;x=1")
            .into_response(());
        let h = response.headers();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(h[header::CONTENT_LENGTH], "5");
        assert!(h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("sandbox"));
        assert_eq!(h[header::CONTENT_DISPOSITION], "attachment");
        let odd = Ranged::new(&HeaderMap::new(), 5)
            .stored_bytes("bad\nvalue")
            .into_response(());
        assert_eq!(
            odd.headers()[header::CONTENT_TYPE],
            "application/octet-stream"
        );
    }

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
