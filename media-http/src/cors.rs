//! [`Cors`]: which pages on other origins may read a server's responses and which may write,
//! as data; [`Cors::layer`] turns it into `tower-http`'s [`CorsLayer`], the one CORS
//! implementation every server of the node uses.

use http::header::{self, HeaderName, HeaderValue};
use http::{request::Parts, Method};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer, ExposeHeaders};

/// Which origins a policy lets in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AllowOrigins {
    /// Any origin: right for public, content-addressed reads, which carry no credentials.
    #[default]
    Any,
    /// Only these origins (`https://app.example`), echoed back with `Vary: Origin`.
    List(Vec<String>),
}

impl AllowOrigins {
    /// `None` or an empty list: any origin; otherwise those origins (`"*"` in the list: any).
    pub fn from_list(origins: Option<Vec<String>>) -> Self {
        match origins {
            Some(list) if !list.is_empty() && !list.iter().any(|o| o == "*") => {
                AllowOrigins::List(list)
            }
            _ => AllowOrigins::Any,
        }
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        match self {
            AllowOrigins::Any => true,
            AllowOrigins::List(list) => list.iter().any(|l| l.as_bytes() == origin.as_bytes()),
        }
    }
}

/// The CORS policy of one server: reads (`GET`, `HEAD`, with `Range`) from
/// [`Cors::with_origins`], and writes (`PUT`, `POST`, `PATCH`, `DELETE`, with
/// `Authorization`) only from the origins [`Cors::with_writes`] names — none by default, so a
/// page on any origin cannot make a browser send the node a write unless the configuration
/// says that origin may.
///
/// ```
/// use media_http::{AllowOrigins, Cors};
/// let reads_any_writes_one = Cors::public_reads()
///     .with_writes(AllowOrigins::List(vec!["https://app.example".into()]));
/// let _layer = reads_any_writes_one.layer(); // a tower-http CorsLayer
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cors {
    reads: AllowOrigins,
    writes: Option<AllowOrigins>,
    expose_headers: Vec<&'static str>,
}

impl Default for Cors {
    fn default() -> Self {
        Self::public_reads()
    }
}

/// Response headers a media player (and a Blossom client) needs to read.
const EXPOSE: &[&str] = &[
    "content-length",
    "content-range",
    "content-type",
    "etag",
    "accept-ranges",
    "last-modified",
    "x-reason",
];

impl Cors {
    /// `GET` and `HEAD` from any origin, the request headers a preflight asks for, and
    /// `Content-Range`, `Content-Length`, `ETag`, `Accept-Ranges`, `Content-Type`,
    /// `Last-Modified` and `X-Reason` readable; no cross-origin writes.
    pub fn public_reads() -> Self {
        Cors {
            reads: AllowOrigins::Any,
            writes: None,
            expose_headers: EXPOSE.to_vec(),
        }
    }

    /// Reads from `origins` instead of any origin.
    #[must_use]
    pub fn with_origins(mut self, origins: AllowOrigins) -> Self {
        self.reads = origins;
        self
    }

    /// Writes (with `Authorization`) from `origins` too.
    #[must_use]
    pub fn with_writes(mut self, origins: AllowOrigins) -> Self {
        self.writes = Some(origins);
        self
    }

    /// The origins reads are allowed from.
    pub fn origins(&self) -> &AllowOrigins {
        &self.reads
    }

    /// The origins writes are allowed from, if any.
    pub fn writes(&self) -> Option<&AllowOrigins> {
        self.writes.as_ref()
    }

    /// The policy as `tower-http`'s layer: CORS headers on every response, preflights
    /// answered by the layer.
    pub fn layer(&self) -> CorsLayer {
        let expose: Vec<HeaderName> = self
            .expose_headers
            .iter()
            .map(|h| HeaderName::from_static(h))
            .collect();
        let reads_only = [Method::GET, Method::HEAD, Method::OPTIONS];
        let layer = CorsLayer::new()
            .expose_headers(ExposeHeaders::list(expose))
            .max_age(std::time::Duration::from_secs(86400));
        let Some(writes) = self.writes.clone() else {
            // The headers a preflight asks for are allowed (`Range`, `Cache-Control`, …): a
            // read carries no credentials the page does not already hold.
            let layer = layer
                .allow_methods(AllowMethods::list(reads_only))
                .allow_headers(AllowHeaders::mirror_request());
            return match &self.reads {
                AllowOrigins::Any => layer.allow_origin(AllowOrigin::any()),
                AllowOrigins::List(_) => {
                    let reads = self.reads.clone();
                    layer.allow_origin(AllowOrigin::predicate(move |origin, _| {
                        reads.allows(origin)
                    }))
                }
            };
        };
        let layer = layer
            .allow_methods(AllowMethods::list([
                Method::GET,
                Method::HEAD,
                Method::OPTIONS,
                Method::PUT,
                Method::POST,
                Method::PATCH,
                Method::DELETE,
            ]))
            // `Authorization` must be named (a `*` does not cover it): the headers a
            // preflight asks for are allowed, for the origins the predicate lets in.
            .allow_headers(AllowHeaders::mirror_request());
        if self.reads == AllowOrigins::Any && writes == AllowOrigins::Any {
            return layer.allow_origin(AllowOrigin::any());
        }
        let reads = self.reads.clone();
        layer.allow_origin(AllowOrigin::predicate(
            move |origin: &HeaderValue, request: &Parts| {
                if is_read(request) {
                    reads.allows(origin)
                } else {
                    writes.allows(origin)
                }
            },
        ))
    }
}

impl Cors {
    /// `service` inside [`Cors::layer`].
    pub fn wrap<S>(&self, service: S) -> tower_http::cors::Cors<S> {
        tower_layer::Layer::layer(&self.layer(), service)
    }
}

/// Whether a request (or the request a preflight announces) is a read.
fn is_read(request: &Parts) -> bool {
    let method = if request.method == Method::OPTIONS {
        match request
            .headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        {
            Some(announced) => announced,
            None => return true,
        }
    } else {
        request.method.clone()
    };
    matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::{Request, Response};
    use tower_layer::Layer;
    use tower_service::Service;

    use super::*;

    async fn ask(
        cors: &Cors,
        method: &str,
        origin: &str,
        preflight_for: Option<&str>,
    ) -> http::HeaderMap {
        let mut service = cors.layer().layer(tower_service_fn());
        let mut request = Request::builder().uri("/x").header(header::ORIGIN, origin);
        request = match preflight_for {
            Some(m) => request
                .method(Method::OPTIONS)
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, m)
                .header(
                    header::ACCESS_CONTROL_REQUEST_HEADERS,
                    "authorization, range",
                ),
            None => request.method(method),
        };
        let response = service
            .call(request.body(String::new()).unwrap())
            .await
            .unwrap();
        response.headers().clone()
    }

    fn tower_service_fn() -> impl Service<
        Request<String>,
        Response = Response<String>,
        Error = Infallible,
        Future = std::future::Ready<Result<Response<String>, Infallible>>,
    > + Clone {
        #[derive(Clone)]
        struct Ok200;
        impl Service<Request<String>> for Ok200 {
            type Response = Response<String>;
            type Error = Infallible;
            type Future = std::future::Ready<Result<Response<String>, Infallible>>;
            fn poll_ready(
                &mut self,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Infallible>> {
                std::task::Poll::Ready(Ok(()))
            }
            fn call(&mut self, _: Request<String>) -> Self::Future {
                std::future::ready(Ok(Response::new("ok".into())))
            }
        }
        Ok200
    }

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

    #[tokio::test]
    async fn public_reads_any_origin_no_writes() {
        let cors = Cors::public_reads();
        let h = ask(&cors, "GET", "https://any.example", None).await;
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(h[header::ACCESS_CONTROL_EXPOSE_HEADERS]
            .to_str()
            .unwrap()
            .contains("content-range"));
        let h = ask(&cors, "", "https://any.example", Some("GET")).await;
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        let methods = h[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap();
        assert!(
            !methods.contains("PUT") && !methods.contains("DELETE"),
            "{methods}"
        );
        assert!(h[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("range"));
    }

    #[tokio::test]
    async fn writes_only_from_the_listed_origins() {
        let cors = Cors::public_reads()
            .with_writes(AllowOrigins::List(vec!["https://app.example".into()]));
        // Anyone reads.
        let h = ask(&cors, "GET", "https://evil.example", None).await;
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://evil.example"
        );
        let h = ask(&cors, "", "https://evil.example", Some("GET")).await;
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://evil.example"
        );
        // Only the app writes.
        for method in ["PUT", "DELETE"] {
            let h = ask(&cors, "", "https://evil.example", Some(method)).await;
            assert!(
                h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
                "{method}"
            );
            let h = ask(&cors, method, "https://evil.example", None).await;
            assert!(
                h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
                "{method}"
            );
            let h = ask(&cors, "", "https://app.example", Some(method)).await;
            assert_eq!(
                h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
                "https://app.example"
            );
            let allowed = h[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap();
            assert!(allowed.contains("authorization"), "{allowed}");
        }
        // An open server lets every origin write.
        let open = Cors::public_reads().with_writes(AllowOrigins::Any);
        let h = ask(&open, "", "https://any.example", Some("PUT")).await;
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }

    #[tokio::test]
    async fn a_read_list_keeps_other_pages_out() {
        let cors =
            Cors::public_reads().with_origins(AllowOrigins::List(vec!["https://a.example".into()]));
        let h = ask(&cors, "GET", "https://a.example", None).await;
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.example");
        let h = ask(&cors, "GET", "https://b.example", None).await;
        assert!(h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    }
}
