//! A verifying Trustless Gateway client: fetches a CID's blocks one at a time with
//! `?format=raw`, checks each against its CID before using it, walks the UnixFS DAG and
//! streams the requested byte range. Works against our gateway or any public one.

use std::collections::VecDeque;
use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use futures::StreamExt;
use media_core::{ByteStream, Operation};

use crate::error::IpfsError;
use crate::unixfs::{decode_file_node, parse_cid, verify_block, DAG_PB, MAX_BLOCK, RAW};

/// A client of one gateway (`http://host:port`, no trailing `/ipfs`).
#[derive(Debug, Clone)]
pub struct GatewayClient {
    base: String,
    http: reqwest::Client,
}

impl GatewayClient {
    /// A client for the gateway at `base`, with a per-request timeout.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, IpfsError> {
        let base = base.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| IpfsError::InvalidInput(format!("gateway URL {base:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(IpfsError::InvalidInput(format!(
                "gateway URL {base:?}: only http and https"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|e| IpfsError::InvalidInput(format!("HTTP client: {e}")))?;
        Ok(GatewayClient { base, http })
    }

    /// The gateway's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether the gateway answers the `bafkqaaa` probe.
    pub async fn probe(&self) -> Result<(), IpfsError> {
        let url = format!("{}/ipfs/bafkqaaa?format=raw", self.base);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| IpfsError::Unavailable(format!("{url}: {e}")))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(IpfsError::Unavailable(format!(
                "{url}: HTTP {}",
                response.status()
            )))
        }
    }

    /// One block, verified against `cid`; refused above 2 MiB without reading further.
    pub async fn block(&self, cid: &Cid) -> Result<Bytes, IpfsError> {
        let url = format!("{}/ipfs/{cid}?format=raw", self.base);
        let response = self
            .http
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/vnd.ipld.raw")
            .send()
            .await
            .map_err(|e| IpfsError::Unavailable(format!("{url}: {e}")))?;
        match response.status().as_u16() {
            200 => {}
            404 | 410 => return Err(IpfsError::NotFound(format!("{cid} at {}", self.base))),
            400 => return Err(IpfsError::InvalidInput(format!("{url}: HTTP 400"))),
            s => return Err(IpfsError::Unavailable(format!("{url}: HTTP {s}"))),
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BLOCK as u64)
        {
            return Err(IpfsError::TooLarge(format!(
                "{url} announces {} bytes",
                response.content_length().unwrap_or(0)
            )));
        }
        let mut body = response.bytes_stream();
        let mut buf = Vec::new();
        while let Some(piece) = body.next().await {
            let piece = piece.map_err(|e| IpfsError::Unavailable(format!("{url}: {e}")))?;
            if buf.len() + piece.len() > MAX_BLOCK {
                return Err(IpfsError::TooLarge(format!(
                    "{url} sent more than {MAX_BLOCK} bytes"
                )));
            }
            buf.extend_from_slice(&piece);
        }
        verify_block(cid, &buf)?;
        Ok(Bytes::from(buf))
    }

    /// The file size of `root` (from its root block).
    pub async fn size(&self, root: &Cid) -> Result<u64, IpfsError> {
        let block = self.block(root).await?;
        file_size_of(root, &block)
    }

    /// Stream `range` of the UnixFS file `root` (`None`: all of it), every block verified.
    ///
    /// The dag-pb nodes on the way to the range are fetched first (a few small requests);
    /// then the raw leaves are fetched [`LEAVES_IN_FLIGHT`] at a time and released in order.
    pub fn read(&self, root: &str, range: Option<Range<u64>>) -> Result<ByteStream, IpfsError> {
        let root = parse_cid(root)?;
        let client = self.clone();
        let planned = async move {
            client
                .plan(root, range.clone())
                .await
                .map(|p| (client, p, range))
        };
        let stream = futures::stream::once(planned)
            .map(|planned| match planned {
                Ok((client, pieces, range)) => futures::stream::iter(pieces)
                    .map(move |piece| {
                        let client = client.clone();
                        let range = range.clone();
                        async move {
                            let (start, data) = match piece {
                                Piece::Leaf(cid, start) => (start, client.block(&cid).await?),
                                Piece::Inline(start, data) => (start, data),
                            };
                            Ok(clip(range.as_ref(), start, &data))
                        }
                    })
                    .buffered(LEAVES_IN_FLIGHT)
                    .left_stream(),
                Err(e) => futures::stream::once(async move { Err(e) }).right_stream(),
            })
            .flatten()
            .filter_map(|r: Result<Option<Bytes>, IpfsError>| async move {
                match r {
                    Ok(Some(bytes)) => Some(Ok(bytes)),
                    Ok(None) => None,
                    Err(e) => Some(Err(e.into_media(Operation::Get))),
                }
            });
        // Stop at the first error: what follows it is not in order any more.
        let mut failed = false;
        let stream = stream.take_while(move |r| {
            let go = !failed;
            failed |= r.is_err();
            futures::future::ready(go)
        });
        Ok(stream.boxed())
    }

    /// Walk the dag-pb nodes depth-first and list the pieces of file bytes in order,
    /// skipping subtrees outside `wanted`.
    async fn plan(&self, root: Cid, wanted: Option<Range<u64>>) -> Result<Vec<Piece>, IpfsError> {
        let mut pieces = Vec::new();
        let mut queue = VecDeque::from([(root, 0u64)]);
        let (mut nodes, mut inline) = (0usize, 0usize);
        while let Some((cid, start)) = queue.pop_front() {
            // A gateway is a stranger: a DAG it serves must not grow the plan without bound.
            if pieces.len() + queue.len() > MAX_PLAN_PIECES || nodes > MAX_PLAN_PIECES {
                return Err(IpfsError::Malformed(format!(
                    "the DAG of {root} has more than {MAX_PLAN_PIECES} pieces: refused"
                )));
            }
            match cid.codec() {
                RAW => pieces.push(Piece::Leaf(cid, start)),
                DAG_PB => {
                    let block = self.block(&cid).await?;
                    let node = decode_file_node(&block)?;
                    nodes += 1;
                    inline += node.data.len();
                    if inline > MAX_PLAN_INLINE {
                        return Err(IpfsError::Malformed(format!(
                            "the DAG of {root} holds more than {MAX_PLAN_INLINE} bytes inline: refused"
                        )));
                    }
                    if !node.data.is_empty() {
                        pieces.push(Piece::Inline(start, Bytes::from(node.data.clone())));
                    }
                    let mut at = start + node.data.len() as u64;
                    let mut children = Vec::with_capacity(node.links.len());
                    for (link, size) in node.links.iter().zip(&node.blocksizes) {
                        let child = at..at + size;
                        if wanted
                            .as_ref()
                            .is_none_or(|w| child.start < w.end && w.start < child.end)
                        {
                            children.push((link.cid, at));
                        }
                        at += size;
                    }
                    for child in children.into_iter().rev() {
                        queue.push_front(child);
                    }
                }
                other => {
                    return Err(IpfsError::Unsupported(format!(
                        "codec 0x{other:x} inside a file DAG"
                    )))
                }
            }
        }
        Ok(pieces)
    }
}

/// Most pieces (leaves, inner nodes) a file read through a gateway may plan: 64 Ki, enough
/// for 64 GiB in 1 MiB leaves.
pub const MAX_PLAN_PIECES: usize = 1 << 16;
/// Most file bytes held inline in a DAG's inner nodes that a read keeps in memory.
const MAX_PLAN_INLINE: usize = 64 << 20;

/// Raw leaves fetched concurrently by [`GatewayClient::read`].
pub const LEAVES_IN_FLIGHT: usize = 4;

/// A piece of file bytes starting at a file offset.
enum Piece {
    Leaf(Cid, u64),
    Inline(u64, Bytes),
}

/// The part of `data` (file bytes starting at `start`) inside `wanted`.
fn clip(wanted: Option<&Range<u64>>, start: u64, data: &Bytes) -> Option<Bytes> {
    let end = start + data.len() as u64;
    let (from, to) = match wanted {
        None => (start, end),
        Some(w) => (w.start.max(start), w.end.min(end)),
    };
    (from < to).then(|| data.slice((from - start) as usize..(to - start) as usize))
}

fn file_size_of(cid: &Cid, block: &[u8]) -> Result<u64, IpfsError> {
    match cid.codec() {
        RAW => Ok(block.len() as u64),
        DAG_PB => {
            let node = decode_file_node(block)?;
            Ok(node
                .file_size
                .unwrap_or(node.data.len() as u64 + node.blocksizes.iter().sum::<u64>()))
        }
        other => Err(IpfsError::Unsupported(format!("codec 0x{other:x}"))),
    }
}
