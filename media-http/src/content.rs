//! The one rule for serving bytes a stranger may have uploaded, with the type he claimed:
//! nothing of it may run as a page on the server's origin.
//!
//! Every response carrying stored bytes gets `X-Content-Type-Options: nosniff`. Only a raster
//! image, audio or video keeps its type without more; anything else (HTML, SVG, XML, PDF, a
//! type we do not know) is also sent with `Content-Security-Policy: sandbox` (no script, no
//! same-origin access even if a browser renders it) and `Content-Disposition: attachment`.
//! Types are compared without case and parameters: `image/SVG+xml;x=1` is SVG.

use http::header::{HeaderName, HeaderValue};

/// Raster image types a browser only ever draws (SVG is a document, not among them).
const RASTER_IMAGES: &[&str] = &[
    "image/jpeg",
    "image/jpg",
    "image/pjpeg",
    "image/png",
    "image/apng",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/heic",
    "image/heif",
    "image/heic-sequence",
    "image/heif-sequence",
    "image/bmp",
    "image/tiff",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "image/jxl",
];

/// `type/subtype` of a `Content-Type`, lowercased, parameters and spaces dropped.
pub fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether bytes of type `mime` can only be shown, never run: a raster image, audio or video.
///
/// ```
/// use media_http::is_passive_media;
/// assert!(is_passive_media("image/JPEG"));
/// assert!(is_passive_media("video/mp4; codecs=avc1"));
/// assert!(!is_passive_media("image/SVG+xml;x=1"));
/// assert!(!is_passive_media("text/html"));
/// ```
pub fn is_passive_media(mime: &str) -> bool {
    let essence = essence(mime);
    RASTER_IMAGES.contains(&essence.as_str())
        || essence
            .strip_prefix("video/")
            .or_else(|| essence.strip_prefix("audio/"))
            .is_some_and(|sub| {
                !sub.is_empty()
                    && sub
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                    // A document dressed as media (`video/x+xml`, `audio/html`): not passive.
                    && !["xml", "html", "svg", "script", "xsl"]
                        .iter()
                        .any(|active| sub.contains(active))
            })
}

/// The headers every response of stored bytes of claimed type `mime` carries (see the module
/// documentation).
pub fn stored_bytes_headers(mime: &str) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = vec![(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    )];
    if !is_passive_media(mime) {
        headers.push((
            http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        ));
        headers.push((
            http::header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        ));
    }
    headers
}

/// Add [`stored_bytes_headers`] to `headers`.
pub fn protect_stored_bytes(headers: &mut http::HeaderMap, mime: &str) {
    for (name, value) in stored_bytes_headers(mime) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_types_are_sandboxed_whatever_their_spelling() {
        for active in [
            "text/html",
            "TEXT/HTML; charset=utf-8",
            "image/svg+xml",
            "image/SVG+xml",
            "image/svg+xml;x=1",
            " image/svg+xml ",
            "application/xhtml+xml",
            "application/pdf",
            "application/octet-stream",
            "",
            "video/",
            "video/<script>",
            "video/x+xml",
            "audio/HTML",
            "video/vnd.svg",
        ] {
            let h = stored_bytes_headers(active);
            assert!(
                h.iter()
                    .any(|(n, v)| n == http::header::CONTENT_SECURITY_POLICY
                        && v.to_str().unwrap().contains("sandbox")),
                "{active:?} is not sandboxed"
            );
            assert!(h
                .iter()
                .any(|(n, _)| n == http::header::CONTENT_DISPOSITION));
        }
        for passive in [
            "image/jpeg",
            "IMAGE/PNG",
            "video/mp4",
            "audio/ogg; codecs=opus",
        ] {
            let h = stored_bytes_headers(passive);
            assert_eq!(h.len(), 1, "{passive}");
            assert_eq!(h[0].0, http::header::X_CONTENT_TYPE_OPTIONS);
        }
    }
}
