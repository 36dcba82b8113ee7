//! # media-http
//!
//! Serving HTTP from a media node whose clients are strangers. [`serve`] runs any hyper
//! service on a listener with the limits such a server needs:
//!
//! - at most [`ServeLimits::max_connections`] connections at once (more wait in the kernel's
//!   backlog instead of costing memory);
//! - a request's headers must arrive within [`ServeLimits::header_timeout`] (slowloris);
//! - a connection that moves no byte either way for [`ServeLimits::idle_timeout`] is closed
//!   (idle keep-alive connections, stalled readers and writers).
//!
//! [`parse_range`] reads a `Range` header as RFC 9110 says: a header that does not parse is
//! ignored (the whole representation is served), an unsatisfiable one is a 416.
//!
//! Feature `test-support`: [`abuse`], bounded abusive clients (slowloris, range floods) for
//! servers' tests on loopback.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::convert::Infallible;
//! use hyper::{Request, Response, body::Incoming, service::service_fn};
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let hello = service_fn(|_req: Request<Incoming>| async {
//!     Ok::<_, Infallible>(Response::new(String::from("hello")))
//! });
//! let server = media_http::serve(listener, hello, media_http::ServeLimits::default(), "hello");
//! server.abort();
//! # }
//! ```

#![warn(missing_docs)]

#[cfg(feature = "test-support")]
pub mod abuse;
mod client;
mod content;
mod cors;
mod range;
mod serve;

pub use client::{check_host, client_error, Client, ClientOptions};
pub use content::{essence, is_passive_media, protect_stored_bytes, stored_bytes_headers};
pub use cors::{AllowOrigins, Cors, WithCors};
pub use range::{parse_range, RangeRequest};
pub use serve::{serve, ServeLimits};
