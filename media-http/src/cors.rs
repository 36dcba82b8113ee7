//! [`Cors`]: the headers that let a page on another origin read a server's responses, and
//! [`WithCors`], which adds them to any hyper service and answers preflights itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};

/// Which origins may read responses from a browser.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AllowOrigins {
    /// Any origin (`Access-Control-Allow-Origin: *`): right for public, content-addressed
    /// reads, which carry no credentials.
    #[default]
    Any,
    /// Only these origins (`https://app.example`), echoed back with `Vary: Origin`.
    List(Vec<String>),
}

impl AllowOrigins {
    /// `None` or an empty list: any origin; otherwise those origins.
    pub fn from_list(origins: Option<Vec<String>>) -> Self {
        match origins {
            Some(list) if !list.is_empty() && !list.iter().any(|o| o == "*") => {
                AllowOrigins::List(list)
            }
            _ => AllowOrigins::Any,
        }
    }
}

/// CORS headers for one server: allowed origins, methods and request headers, and the
/// response headers a page may read (by default those a media player needs for Range reads).
///
/// ```
/// use media_http::{AllowOrigins, Cors};
/// let cors = Cors::public_reads().with_origins(AllowOrigins::List(vec!["https://app.example".into()]));
/// let mut headers = http::HeaderMap::new();
/// cors.apply(Some(&http::HeaderValue::from_static("https://app.example")), &mut headers);
/// assert_eq!(headers["access-control-allow-origin"], "https://app.example");
/// let mut other = http::HeaderMap::new();
/// cors.apply(Some(&http::HeaderValue::from_static("https://evil.example")), &mut other);
/// assert!(other.get("access-control-allow-origin").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cors {
    origins: AllowOrigins,
    methods: &'static str,
    allow_headers: &'static str,
    expose_headers: &'static str,
}

impl Default for Cors {
    fn default() -> Self {
        Self::public_reads()
    }
}

impl Cors {
    /// `GET` and `HEAD` from any origin, `Range` allowed, and `Content-Range`,
    /// `Content-Length`, `ETag`, `Accept-Ranges` and `Content-Type` readable.
    pub fn public_reads() -> Self {
        Cors {
            origins: AllowOrigins::Any,
            methods: "GET, HEAD, OPTIONS",
            // Players and WebTorrent's web seeds send `Cache-Control`; any other header a public read
            // carries is harmless too (`*` covers all but `Authorization`).
            allow_headers:
                "Range, Cache-Control, If-None-Match, If-Match, If-Modified-Since, Accept, *",
            expose_headers:
                "Content-Length, Content-Range, Content-Type, ETag, Accept-Ranges, Last-Modified",
        }
    }

    /// Allow `origins` instead of any origin.
    #[must_use]
    pub fn with_origins(mut self, origins: AllowOrigins) -> Self {
        self.origins = origins;
        self
    }

    /// The methods preflights allow.
    #[must_use]
    pub fn with_methods(mut self, methods: &'static str) -> Self {
        self.methods = methods;
        self
    }

    /// The request headers preflights allow.
    #[must_use]
    pub fn with_allow_headers(mut self, headers: &'static str) -> Self {
        self.allow_headers = headers;
        self
    }

    /// The response headers a page may read.
    #[must_use]
    pub fn with_expose_headers(mut self, headers: &'static str) -> Self {
        self.expose_headers = headers;
        self
    }

    /// The allowed origins.
    pub fn origins(&self) -> &AllowOrigins {
        &self.origins
    }

    /// Add the CORS headers of a response to a request from `origin`. An origin not on the
    /// list gets none, so the browser keeps the response from the page.
    pub fn apply(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        let allowed = match &self.origins {
            AllowOrigins::Any => HeaderValue::from_static("*"),
            AllowOrigins::List(list) => {
                headers.append(header::VARY, HeaderValue::from_static("Origin"));
                match origin {
                    Some(o) if list.iter().any(|l| l.as_bytes() == o.as_bytes()) => o.clone(),
                    _ => return,
                }
            }
        };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(self.expose_headers),
        );
    }

    /// The answer to a preflight request from `origin`.
    pub fn preflight(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        self.apply(origin, headers);
        if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
            return;
        }
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(self.methods),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(self.allow_headers),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }

    /// Whether `request` is a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`).
    pub fn is_preflight<B>(request: &Request<B>) -> bool {
        request.method() == Method::OPTIONS
            && request
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// `service` with these CORS headers on every response, preflights answered here.
    pub fn wrap<S>(self, service: S) -> WithCors<S> {
        WithCors {
            inner: service,
            cors: Arc::new(self),
        }
    }
}

/// A hyper service with CORS: see [`Cors::wrap`].
#[derive(Debug, Clone)]
pub struct WithCors<S> {
    inner: S,
    cors: Arc<Cors>,
}

impl<S, ReqBody, B> hyper::service::Service<Request<ReqBody>> for WithCors<S>
where
    S: hyper::service::Service<Request<ReqBody>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Default + Send + 'static,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, S::Error>> + Send>>;

    fn call(&self, request: Request<ReqBody>) -> Self::Future {
        let origin = request.headers().get(header::ORIGIN).cloned();
        let cors = Arc::clone(&self.cors);
        if Cors::is_preflight(&request) {
            let mut response = Response::new(B::default());
            *response.status_mut() = StatusCode::NO_CONTENT;
            cors.preflight(origin.as_ref(), response.headers_mut());
            return Box::pin(async move { Ok(response) });
        }
        let future = self.inner.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            cors.apply(origin.as_ref(), response.headers_mut());
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_from_a_list() {
        assert_eq!(AllowOrigins::from_list(None), AllowOrigins::Any);
        assert_eq!(AllowOrigins::from_list(Some(vec![])), AllowOrigins::Any);
        assert_eq!(
            AllowOrigins::from_list(Some(vec!["*".into()])),
            AllowOrigins::Any
        );
        let list = AllowOrigins::from_list(Some(vec!["https://a.example".into()]));
        assert_eq!(list, AllowOrigins::List(vec!["https://a.example".into()]));
    }

    #[test]
    fn preflights_allow_range_for_allowed_origins_only() {
        let cors =
            Cors::public_reads().with_origins(AllowOrigins::List(vec!["https://a.example".into()]));
        let mut ok = HeaderMap::new();
        cors.preflight(
            Some(&HeaderValue::from_static("https://a.example")),
            &mut ok,
        );
        assert_eq!(ok[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.example");
        assert!(ok[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("Range"));
        let mut refused = HeaderMap::new();
        cors.preflight(
            Some(&HeaderValue::from_static("https://b.example")),
            &mut refused,
        );
        assert!(refused.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert!(refused.get(header::ACCESS_CONTROL_ALLOW_METHODS).is_none());
        let mut any = HeaderMap::new();
        Cors::public_reads().apply(None, &mut any);
        assert_eq!(any[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(any.get(header::VARY).is_none());
    }
}
