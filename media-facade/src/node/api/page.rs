//! The node's web page, served by `media serve` at `/`: the media as a grid (BlurHash
//! placeholders replaced by thumbnails whose SHA-256 the page checks against the record),
//! upload with a progress bar, a viewer for photos and videos, and each item's links (CDN URL,
//! CID, magnet, Blossom) to copy.
//!
//! The assets are compiled into the binary and load nothing from elsewhere, so the page works
//! offline. The page gets the API token from its URL's fragment (`/#token=…`, printed at
//! start; never sent to the server), keeps it in `sessionStorage` for uploads and deletes, and
//! trades it once for the read cookie that lets `<img>` and `<video>` load content.
//! Record fields are shown as text only: a stranger's record cannot inject markup.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/app.css");

/// Same-origin everything; media from the API (and `blob:` for checked thumbnails).
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; media-src 'self'; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(mime: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// The page's routes, merged into the API's router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}
