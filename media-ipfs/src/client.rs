//! A verifying Trustless Gateway client: streams a CID's blocks as one CAR
//! (`?format=car&dag-scope=entity`, `entity-bytes` for a range) and checks each block against
//! its CID as it arrives, walking the UnixFS DAG depth-first and releasing the requested
//! bytes; a gateway that does not serve CARs is read one block at a time with `?format=raw`.
//! Works against our gateway or any public one.

use std::collections::{HashSet, VecDeque};
use std::ops::Range;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use cid::Cid;
use futures::StreamExt;
use futures::TryStreamExt;
use media_core::{ByteStream, Operation};
use tracing::debug;

use crate::error::IpfsError;
use crate::unixfs::{decode_file_node, parse_cid, verify_block, DAG_PB, MAX_BLOCK, RAW};

/// A client of one gateway (`http://host:port`, no trailing `/ipfs`).
#[derive(Debug, Clone)]
pub struct GatewayClient {
    base: String,
    http: media_http::Client,
    /// Longest wait for one block, or between two pieces of a CAR.
    timeout: Duration,
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
        // No overall timeout on the client: a CAR of a large file takes as long as it takes,
        // as long as bytes keep coming. Single blocks get one per request.
        let http = media_http::ClientOptions::new(media_core::Reach::public_only())
            // A configured gateway: trusted wherever it is.
            .trust_url(&base)
            .with_read_timeout(Some(timeout))
            .with_connect_timeout(timeout)
            .build()
            .map_err(|e| IpfsError::InvalidInput(format!("HTTP client: {e}")))?;
        Ok(GatewayClient {
            base,
            http,
            timeout,
        })
    }

    /// `GET url` of this gateway.
    fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, IpfsError> {
        self.http
            .get(url)
            .map_err(|e| IpfsError::InvalidInput(e.to_string()))
    }

    /// The gateway's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether the gateway answers the `bafkqaaa` probe.
    pub async fn probe(&self) -> Result<(), IpfsError> {
        let url = format!("{}/ipfs/bafkqaaa?format=raw", self.base);
        let response = self
            .get(&url)?
            .timeout(self.timeout)
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
            .get(&url)?
            .header(reqwest::header::ACCEPT, "application/vnd.ipld.raw")
            .timeout(self.timeout)
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
    /// One CAR request for the whole range, each block checked against its CID as it
    /// arrives (memory: one block). A gateway that refuses CARs is read block by block
    /// ([`GatewayClient::read_blocks`]).
    pub fn read(&self, root: &str, range: Option<Range<u64>>) -> Result<ByteStream, IpfsError> {
        let root_cid = parse_cid(root)?;
        let client = self.clone();
        let root = root.to_owned();
        let opened = async move {
            match CarWalk::open(client.clone(), root_cid, range.clone()).await {
                Ok(walk) => Ok(walk.into_stream()),
                Err(IpfsError::Unsupported(why)) => {
                    debug!(gateway = client.base(), %why, "no CAR; reading block by block");
                    client.read_blocks(&root, range)
                }
                Err(e) => Err(e),
            }
        };
        let stream = futures::stream::once(opened)
            .map(|opened| match opened {
                Ok(stream) => stream,
                Err(e) => {
                    futures::stream::once(async move { Err(e.into_media(Operation::Get)) }).boxed()
                }
            })
            .flatten();
        Ok(stop_at_first_error(stream))
    }

    /// Stream `range` of the UnixFS file `root` one block per request (`?format=raw`).
    ///
    /// The dag-pb nodes on the way to the range are fetched first (a few small requests);
    /// then the raw leaves are fetched [`LEAVES_IN_FLIGHT`] at a time and released in order.
    pub fn read_blocks(
        &self,
        root: &str,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, IpfsError> {
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
        Ok(stop_at_first_error(stream))
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

/// Stop at the first error: what follows it is not in order any more.
fn stop_at_first_error(
    stream: impl futures::Stream<Item = media_core::Result<Bytes>> + Send + 'static,
) -> ByteStream {
    let mut failed = false;
    stream
        .take_while(move |r| {
            let go = !failed;
            failed |= r.is_err();
            futures::future::ready(go)
        })
        .boxed()
}

/// A CAR response read as it arrives: the blocks must come in the depth-first order of the
/// file's DAG (the order `dag-scope=entity` responses use), each one the block the walk
/// expects next, verified against its CID before its bytes are released.
struct CarWalk {
    client: GatewayClient,
    url: String,
    root: Cid,
    wanted: Option<Range<u64>>,
    body: futures::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    buf: BytesMut,
    header_read: bool,
    /// Blocks still expected, last = next, with the file offset of their first byte.
    stack: Vec<(Cid, u64)>,
    /// A section read ahead while checking whether a repeated block was sent again.
    peeked: Option<(Cid, Bytes)>,
    seen: HashSet<Cid>,
    inline: usize,
}

/// Media type asked for: depth-first, duplicates included (a gateway may still omit them;
/// those are fetched alone).
const CAR_ACCEPT: &str = "application/vnd.ipld.car; version=1; order=dfs; dups=y";

impl CarWalk {
    /// Send the CAR request. `Unsupported` when the gateway does not answer with a CAR.
    async fn open(
        client: GatewayClient,
        root: Cid,
        wanted: Option<Range<u64>>,
    ) -> Result<Self, IpfsError> {
        let mut url = format!("{}/ipfs/{root}?format=car&dag-scope=entity", client.base);
        if let Some(w) = wanted.as_ref().filter(|w| !w.is_empty()) {
            url.push_str(&format!("&entity-bytes={}:{}", w.start, w.end - 1));
        }
        let response = tokio::time::timeout(
            client.timeout,
            client
                .get(&url)?
                .header(reqwest::header::ACCEPT, CAR_ACCEPT)
                .send(),
        )
        .await
        .map_err(|_| IpfsError::Unavailable(format!("{url}: no answer")))?
        .map_err(|e| IpfsError::Unavailable(format!("{url}: {e}")))?;
        match response.status().as_u16() {
            200 => {}
            404 | 410 => return Err(IpfsError::NotFound(format!("{root} at {}", client.base))),
            400 | 406 | 415 | 501 => {
                return Err(IpfsError::Unsupported(format!(
                    "{url}: HTTP {}",
                    response.status()
                )))
            }
            s => return Err(IpfsError::Unavailable(format!("{url}: HTTP {s}"))),
        }
        let is_car = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/vnd.ipld.car"));
        if !is_car {
            return Err(IpfsError::Unsupported(format!("{url}: not a CAR")));
        }
        Ok(CarWalk {
            client,
            url,
            root,
            wanted,
            body: response.bytes_stream().boxed(),
            buf: BytesMut::new(),
            header_read: false,
            stack: vec![(root, 0)],
            peeked: None,
            seen: HashSet::new(),
            inline: 0,
        })
    }

    fn into_stream(self) -> ByteStream {
        futures::stream::try_unfold(self, |mut walk| async move {
            let piece = walk.next_piece().await?;
            Ok(piece.map(|p| (p, walk)))
        })
        .map_err(|e: IpfsError| e.into_media(Operation::Get))
        .boxed()
    }

    /// The next file bytes, `None` once every expected block has arrived.
    async fn next_piece(&mut self) -> Result<Option<Bytes>, IpfsError> {
        loop {
            let Some(&(expected, start)) = self.stack.last() else {
                return Ok(None);
            };
            let section = match self.peeked.take() {
                Some(section) => Some(section),
                None => self.section().await?,
            };
            let data = match section {
                Some((cid, data)) if cid == expected => data,
                // A gateway that omits duplicates does not send a block twice: fetch it.
                Some(other) if self.seen.contains(&expected) => {
                    self.peeked = Some(other);
                    self.client.block(&expected).await?
                }
                None if self.seen.contains(&expected) => self.client.block(&expected).await?,
                Some((cid, _)) => {
                    return Err(IpfsError::Malformed(format!(
                        "{}: the CAR sent {cid} where the depth-first walk of {} needs {expected}",
                        self.url, self.root
                    )))
                }
                None => {
                    return Err(IpfsError::Unavailable(format!(
                        "{}: the CAR ended before block {expected}",
                        self.url
                    )))
                }
            };
            self.stack.pop();
            verify_block(&expected, &data)?;
            if self.seen.len() >= MAX_PLAN_PIECES {
                return Err(IpfsError::Malformed(format!(
                    "the DAG of {} has more than {MAX_PLAN_PIECES} pieces: refused",
                    self.root
                )));
            }
            self.seen.insert(expected);
            if let Some(bytes) = self.take(expected, start, data)? {
                return Ok(Some(bytes));
            }
        }
    }

    /// A verified block: queue the children of a dag-pb node that hold wanted bytes, and
    /// return the file bytes the block itself holds.
    fn take(&mut self, cid: Cid, start: u64, data: Bytes) -> Result<Option<Bytes>, IpfsError> {
        match cid.codec() {
            RAW => Ok(clip(self.wanted.as_ref(), start, &data)),
            DAG_PB => {
                let node = decode_file_node(&data)?;
                self.inline += node.data.len();
                if self.inline > MAX_PLAN_INLINE {
                    return Err(IpfsError::Malformed(format!(
                        "the DAG of {} holds more than {MAX_PLAN_INLINE} bytes inline: refused",
                        self.root
                    )));
                }
                let mut at = start + node.data.len() as u64;
                let mut children = Vec::with_capacity(node.links.len());
                for (link, size) in node.links.iter().zip(&node.blocksizes) {
                    let child = at..at + size;
                    let wanted = match &self.wanted {
                        None => true,
                        // An empty range still walks to the first leaf, as gateways do.
                        Some(w) if w.is_empty() => children.is_empty(),
                        Some(w) => child.start < w.end && w.start < child.end,
                    };
                    if wanted {
                        children.push((link.cid, at));
                    }
                    at += size;
                }
                self.stack.extend(children.into_iter().rev());
                let inline = Bytes::from(node.data);
                Ok(clip(self.wanted.as_ref(), start, &inline))
            }
            other => Err(IpfsError::Unsupported(format!(
                "codec 0x{other:x} inside a file DAG"
            ))),
        }
    }

    /// The next CAR section (block CID and bytes, not yet verified), reading the header
    /// first; `None` at the end of the body. Holds at most one section in memory.
    async fn section(&mut self) -> Result<Option<(Cid, Bytes)>, IpfsError> {
        loop {
            let mut at = 0;
            match crate::unixfs::read_varint(&self.buf, &mut at) {
                Ok(len) => {
                    let len = usize::try_from(len).unwrap_or(usize::MAX);
                    if len > MAX_BLOCK + 128 {
                        return Err(IpfsError::TooLarge(format!(
                            "{}: CAR section of {len} bytes",
                            self.url
                        )));
                    }
                    if self.buf.len() >= at + len {
                        self.buf.advance(at);
                        let section = self.buf.split_to(len).freeze();
                        if !self.header_read {
                            let roots = crate::car::parse_header(&section)?;
                            if !roots.contains(&self.root) {
                                return Err(IpfsError::Malformed(format!(
                                    "{}: the CAR's roots do not include {}",
                                    self.url, self.root
                                )));
                            }
                            self.header_read = true;
                            continue;
                        }
                        let mut cursor = std::io::Cursor::new(&section[..]);
                        let cid = Cid::read_bytes(&mut cursor).map_err(|e| {
                            IpfsError::Malformed(format!("{}: CAR block CID: {e}", self.url))
                        })?;
                        let data = section.slice(cursor.position() as usize..);
                        return Ok(Some((cid, data)));
                    }
                }
                Err(why) if self.buf.len() >= 10 => {
                    return Err(IpfsError::Malformed(format!("{}: CAR: {why}", self.url)))
                }
                Err(_) => {}
            }
            let piece = tokio::time::timeout(self.client.timeout, self.body.next())
                .await
                .map_err(|_| {
                    IpfsError::Unavailable(format!(
                        "{}: no bytes for {} ms",
                        self.url,
                        self.client.timeout.as_millis()
                    ))
                })?;
            match piece {
                Some(Ok(bytes)) => self.buf.extend_from_slice(&bytes),
                Some(Err(e)) => return Err(IpfsError::Unavailable(format!("{}: {e}", self.url))),
                None if self.buf.is_empty() && self.header_read => return Ok(None),
                None => {
                    return Err(IpfsError::Malformed(format!(
                        "{}: the CAR ends inside a section",
                        self.url
                    )))
                }
            }
        }
    }
}

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
