//! A Trustless Gateway (IPFS HTTP gateway spec) over a [`BlockStore`]:
//!
//! - `GET`/`HEAD /ipfs/{cid}?format=raw` (or `Accept: application/vnd.ipld.raw`): one block;
//! - `?format=car` (or `Accept: application/vnd.ipld.car`): CAR v1 with `dag-scope`
//!   (`all`, `entity`, `block`) and `entity-bytes=from:to`, blocks in depth-first order,
//!   streamed;
//! - no format: the deserialized file bytes with HTTP `Range`, for browsers and CDNs;
//! - `400` for malformed CIDs and unknown formats, `404` for content not held, an `Etag`, an
//!   immutable `Cache-Control`, and the `bafkqaaa` probe answering `200`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use cid::Cid;
use futures::{StreamExt, TryStreamExt};
use media_http::{Cors, ServeLimits};
use tokio::net::TcpListener;
use tracing::debug;

use crate::car;
use crate::error::IpfsError;
use crate::store::BlockStore;
use crate::unixfs::{decode_file_node, DAG_PB, IDENTITY, RAW};

const RAW_CONTENT_TYPE: &str = "application/vnd.ipld.raw";
const IMMUTABLE: &str = "public, max-age=29030400, immutable";

/// The gateway's routes over `store`, to serve with axum or nest in a larger app.
pub fn router(store: Arc<BlockStore>) -> Router {
    Router::new()
        .route("/ipfs/{cid}", get(serve))
        .with_state(store)
}

/// A gateway listening on a TCP socket until dropped or [`Gateway::shutdown`].
#[derive(Debug)]
pub struct Gateway {
    server: media_http::Server,
}

impl Gateway {
    /// Serve `store` on `listen` (e.g. `127.0.0.1:0` for a port the OS picks).
    pub async fn start(store: Arc<BlockStore>, listen: SocketAddr) -> Result<Self, IpfsError> {
        Self::start_with_limits(store, listen, ServeLimits::default()).await
    }

    /// Like [`Gateway::start`], with explicit connection limits and timeouts.
    pub async fn start_with_limits(
        store: Arc<BlockStore>,
        listen: SocketAddr,
        limits: ServeLimits,
    ) -> Result<Self, IpfsError> {
        Self::start_with(store, listen, limits, Cors::public_reads()).await
    }

    /// Like [`Gateway::start_with_limits`], with the origins whose pages may read it
    /// (default: any; CORS on every response, preflights for `Range` answered).
    pub async fn start_with(
        store: Arc<BlockStore>,
        listen: SocketAddr,
        limits: ServeLimits,
        cors: Cors,
    ) -> Result<Self, IpfsError> {
        let listener = TcpListener::bind(listen).await.map_err(IpfsError::Io)?;
        let app = cors.wrap(router(store));
        let server =
            media_http::Server::start(listener, app, limits, "gateway").map_err(IpfsError::Io)?;
        debug!(addr = %server.addr(), "trustless gateway listening");
        Ok(Gateway { server })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://ADDR`, the base URL clients use.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Stop serving (also on drop).
    pub fn shutdown(&self) {
        self.server.shutdown();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Raw,
    Car,
    Deserialized,
}

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    (status, message.into()).into_response()
}

fn from_error(e: IpfsError) -> Response {
    let status = match &e {
        IpfsError::InvalidInput(_) | IpfsError::Unsupported(_) => StatusCode::BAD_REQUEST,
        IpfsError::NotFound(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    text(status, e.to_string())
}

/// The response format, or why the request is refused (a 400 message).
fn pick_format(query: &HashMap<String, String>, headers: &HeaderMap) -> Result<Format, String> {
    if let Some(f) = query.get("format") {
        return match f.as_str() {
            "raw" => Ok(Format::Raw),
            "car" => Ok(Format::Car),
            other => Err(format!("unsupported format {other:?} (raw or car)")),
        };
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains(RAW_CONTENT_TYPE) {
        Ok(Format::Raw)
    } else if accept.contains("application/vnd.ipld.car") {
        if accept.contains("version=2") {
            return Err("only CAR version 1".into());
        }
        Ok(Format::Car)
    } else {
        Ok(Format::Deserialized)
    }
}

fn common_headers(response: &mut Response, cid: &Cid, etag: String, content_type: &str) {
    let h = response.headers_mut();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set(header::CONTENT_TYPE, content_type.to_owned());
    set(header::ETAG, format!("\"{etag}\""));
    set(header::CACHE_CONTROL, IMMUTABLE.to_owned());
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned());
    set(
        header::HeaderName::from_static("x-ipfs-path"),
        format!("/ipfs/{cid}"),
    );
    set(header::VARY, "Accept".to_owned());
    // Blocks and CARs are bytes, never a page of this origin (media_http's one rule).
    media_http::protect_stored_bytes(response.headers_mut(), content_type);
}

async fn serve(
    State(store): State<Arc<BlockStore>>,
    UrlPath(cid_text): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let cid = match Cid::try_from(cid_text.as_str()) {
        Ok(cid) => cid,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("invalid CID {cid_text:?}: {e}"),
            )
        }
    };
    let format = match pick_format(&query, &headers) {
        Ok(f) => f,
        Err(why) => return text(StatusCode::BAD_REQUEST, why),
    };
    if cid.hash().code() == IDENTITY {
        // The data is in the CID itself (`bafkqaaa` is the empty identity block: the probe).
        let data = Bytes::copy_from_slice(cid.hash().digest());
        return match format {
            Format::Car => car_response(&store, cid, Vec::new(), Some(data), "car".into()).await,
            _ => {
                let mut r = data.into_response();
                common_headers(&mut r, &cid, format!("{cid}.raw"), RAW_CONTENT_TYPE);
                r
            }
        };
    }
    if cid.codec() != RAW && cid.codec() != DAG_PB {
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "codec 0x{:x} is not served (raw and dag-pb only)",
                cid.codec()
            ),
        );
    }
    match format {
        Format::Raw => match store.block(&cid).await {
            Ok(Some(block)) => {
                let mut r = block.into_response();
                common_headers(&mut r, &cid, format!("{cid}.raw"), RAW_CONTENT_TYPE);
                r
            }
            Ok(None) => text(StatusCode::NOT_FOUND, format!("{cid} is not held here")),
            Err(e) => from_error(e),
        },
        Format::Car => {
            let scope = query.get("dag-scope").map(String::as_str).unwrap_or("all");
            let bytes = query.get("entity-bytes").map(String::as_str);
            match car_plan(&store, &cid, scope, bytes).await {
                Ok(plan) => {
                    let etag = format!("{cid}.car.{scope}.{}", bytes.unwrap_or("all"));
                    car_response(&store, cid, plan, None, etag).await
                }
                Err(e) => from_error(e),
            }
        }
        Format::Deserialized => deserialized(&store, cid, &headers).await,
    }
}

/// The blocks of a CAR response in depth-first order: for `entity-bytes`, only those on the
/// way to the requested bytes.
async fn car_plan(
    store: &BlockStore,
    root: &Cid,
    scope: &str,
    entity_bytes: Option<&str>,
) -> Result<Vec<Cid>, IpfsError> {
    if !store.has_block(root) {
        return Err(IpfsError::NotFound(format!("{root} is not held here")));
    }
    let size = file_size(store, root).await?;
    let wanted = match (scope, entity_bytes) {
        ("block", _) => return Ok(vec![*root]),
        ("all" | "entity", None) => 0..size,
        ("all" | "entity", Some(spec)) => parse_entity_bytes(spec, size)?,
        (other, _) => {
            return Err(IpfsError::InvalidInput(format!(
                "dag-scope {other:?} (all, entity or block)"
            )))
        }
    };
    let mut plan = Vec::new();
    // Depth-first, children in order: (cid, offset of its first byte in the file).
    let mut stack = vec![(*root, 0u64)];
    while let Some((cid, start)) = stack.pop() {
        plan.push(cid);
        if cid.codec() != DAG_PB {
            continue;
        }
        let block = store
            .block(&cid)
            .await?
            .ok_or_else(|| IpfsError::NotFound(format!("block {cid} is missing")))?;
        let node = decode_file_node(&block)?;
        let mut at = start + node.data.len() as u64;
        let mut children = Vec::new();
        for (link, size) in node.links.iter().zip(&node.blocksizes) {
            let child = at..at + size;
            // An empty range still walks to the first leaf, as the spec's examples do.
            if overlaps(&child, &wanted) || (wanted.is_empty() && children.is_empty()) {
                children.push((link.cid, at));
            }
            at += size;
        }
        stack.extend(children.into_iter().rev());
    }
    Ok(plan)
}

fn overlaps(a: &Range<u64>, b: &Range<u64>) -> bool {
    a.start < b.end && b.start < a.end
}

async fn file_size(store: &BlockStore, cid: &Cid) -> Result<u64, IpfsError> {
    if let Some(file) = store.file(cid) {
        return Ok(file.dag.size);
    }
    match store.node_of(cid) {
        Some((file, i)) => Ok(file.dag.nodes[i].file_size),
        None => Ok(store.block(cid).await?.map_or(0, |b| b.len() as u64)),
    }
}

/// `from:to` with inclusive `to`, `*` for the end, negative numbers counted from the end.
fn parse_entity_bytes(spec: &str, size: u64) -> Result<Range<u64>, IpfsError> {
    let bad = || IpfsError::InvalidInput(format!("entity-bytes {spec:?} (from:to)"));
    let (from, to) = spec.split_once(':').ok_or_else(bad)?;
    let resolve = |v: i64| -> u64 {
        if v < 0 {
            size.saturating_sub(v.unsigned_abs())
        } else {
            (v as u64).min(size)
        }
    };
    let start = resolve(from.parse::<i64>().map_err(|_| bad())?);
    let end = if to == "*" {
        size
    } else {
        let to = to.parse::<i64>().map_err(|_| bad())?;
        if to < 0 {
            resolve(to) + 1
        } else {
            (to as u64).saturating_add(1).min(size)
        }
    };
    if end < start {
        return Err(bad());
    }
    Ok(start..end)
}

async fn car_response(
    store: &Arc<BlockStore>,
    root: Cid,
    plan: Vec<Cid>,
    inline: Option<Bytes>,
    etag: String,
) -> Response {
    let header_bytes = Bytes::from(car::header(&root));
    let store = Arc::clone(store);
    // Each block goes out as its section prefix and the block itself: no copy of the block.
    let blocks = futures::stream::iter(plan)
        .then(move |cid| {
            let store = Arc::clone(&store);
            async move {
                let block = store
                    .block(&cid)
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))?
                    .ok_or_else(|| std::io::Error::other(format!("block {cid} vanished")))?;
                let prefix = Bytes::from(car::block_prefix(&cid, block.len()));
                Ok::<_, std::io::Error>(futures::stream::iter([
                    Ok::<Bytes, std::io::Error>(prefix),
                    Ok(block),
                ]))
            }
        })
        .try_flatten();
    let inline = inline.map(|data| {
        let mut section = car::block_prefix(&root, data.len());
        section.extend_from_slice(&data);
        Ok(Bytes::from(section))
    });
    let body = futures::stream::once(async move { Ok(header_bytes) })
        .chain(futures::stream::iter(inline))
        .chain(blocks);
    let mut r = Body::from_stream(body).into_response();
    common_headers(&mut r, &root, etag, car::CAR_CONTENT_TYPE);
    r
}

/// The file's bytes, honouring a single `Range: bytes=` request.
async fn deserialized(store: &Arc<BlockStore>, cid: Cid, headers: &HeaderMap) -> Response {
    let (hash, size, base) = if let Some(file) = store.file(&cid) {
        (file.hash, file.dag.size, 0)
    } else if cid.codec() == RAW {
        // A single leaf of a larger file: serve just its bytes.
        return match store.block(&cid).await {
            Ok(Some(block)) => {
                let mut r = block.into_response();
                common_headers(&mut r, &cid, cid.to_string(), "application/octet-stream");
                r
            }
            Ok(None) => text(StatusCode::NOT_FOUND, format!("{cid} is not held here")),
            Err(e) => from_error(e),
        };
    } else if store.has_block(&cid) {
        return text(
            StatusCode::BAD_REQUEST,
            format!("{cid} is an inner node: ask for ?format=raw or ?format=car"),
        );
    } else {
        return text(StatusCode::NOT_FOUND, format!("{cid} is not held here"));
    };
    let ranged = media_http::Ranged::new(headers, size).stored_bytes("application/octet-stream");
    let Some(range) = ranged.range() else {
        return ranged.into_response(Body::empty());
    };
    let stream = store.read_range(hash, base + range.start..base + range.end);
    let body = stream.map(|r| r.map_err(|e| std::io::Error::other(e.to_string())));
    let mut r = ranged.into_response(Body::from_stream(body));
    // Range headers are the responder's; the gateway adds its own.
    let length = r.headers().get(header::CONTENT_LENGTH).cloned();
    common_headers(&mut r, &cid, cid.to_string(), "application/octet-stream");
    if let Some(length) = length {
        r.headers_mut().insert(header::CONTENT_LENGTH, length);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_entity_bytes() {
        assert_eq!(parse_entity_bytes("0:*", 100).unwrap(), 0..100);
        assert_eq!(parse_entity_bytes("10:19", 100).unwrap(), 10..20);
        assert_eq!(parse_entity_bytes("-10:*", 100).unwrap(), 90..100);
        assert_eq!(parse_entity_bytes("0:-1", 100).unwrap(), 0..100);
        assert!(parse_entity_bytes("x:1", 100).is_err());
        assert!(parse_entity_bytes("50:10", 100).is_err());
    }
}
