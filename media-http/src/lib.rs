//! # media-http
//!
//! The HTTP edge of a media node whose clients, and whose records' URLs, are strangers'. Every
//! server of the node and every request it makes on a stranger's word goes through here, so
//! each promise below is kept in one place.
//!
//! **Inbound.** [`Server::start`] runs any `tower` service (an axum `Router`, a `tower-http` stack) on
//! a listener with the limits such a server needs:
//!
//! - at most [`ServeLimits::max_connections`] connections at once (more wait in the kernel's
//!   backlog instead of costing memory), and [`ServeLimits::max_connections_per_peer`] from
//!   one peer;
//! - a request's headers must arrive within [`ServeLimits::header_timeout`] (slowloris);
//! - a connection that moves no byte either way for [`ServeLimits::idle_timeout`] is closed;
//! - at most [`ServeLimits::max_uploads_per_peer`] request bodies of one peer arrive at once,
//!   and each must keep [`ServeLimits::min_body_rate`] (a trickling upload fails, see
//!   [`Body`]).
//!
//! [`Cors`] is the CORS policy as data, turned into `tower-http`'s `CorsLayer`: reads from
//! any origin (or a list), writes only from the origins configured for them. [`Ranged`] builds
//! every 200/206/416 of stored bytes, with the content-type rule of [`stored_bytes_headers`].
//!
//! **Outbound.** [`Client`] (built from [`ClientOptions`]) is the one client for URLs a
//! stranger named: the URL checked as the client parses it, a resolver that keeps only
//! addresses within the node's `Reach`, a connector that checks the peer of every connection
//! before a byte is sent, no redirects, deadlines on every phase.
//!
//! Feature `test-support`: [`abuse`], bounded abusive clients (slowloris, range floods,
//! trickling uploads) for servers' tests on loopback.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::convert::Infallible;
//! use http::{Request, Response};
//! use tower_layer::Layer;
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let hello = tower::service_fn(|_req: Request<media_http::Body>| async {
//!     Ok::<_, Infallible>(Response::new(String::from("hello")))
//! });
//! let app = media_http::Cors::public_reads().layer().layer(hello);
//! let server = media_http::Server::start(listener, app, media_http::ServeLimits::default(), "hello").unwrap();
//! server.shutdown();
//! # }
//! ```

#![warn(missing_docs)]

#[cfg(feature = "test-support")]
pub mod abuse;
mod body;
mod client;
mod content;
mod cors;
mod peers;
mod range;
mod serve;

pub use body::{Body, BodyError};
pub use client::{check_host, client_error, Client, ClientOptions};
pub use content::{essence, is_passive_media, protect_stored_bytes, stored_bytes_headers};
pub use cors::{AllowOrigins, Cors};
pub use peers::Peer;
pub use range::{parse_range, RangeRequest, Ranged};
pub use serve::{Informational, ServeLimits, Server};
