//! [`IpfsNode`]: the block store, an iroh endpoint serving its blobs, and a Trustless Gateway;
//! [`IpfsBackend`]: the [`media_core::Backend`] over a node.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use iroh::endpoint::presets;
use iroh::protocol::Router;
use iroh::{Endpoint, EndpointAddr, RelayMode, TransportAddr};
use iroh_blobs::api::blobs::BlobStatus;
use iroh_blobs::protocol::{ChunkRanges, ChunkRangesExt, GetRequest};
use iroh_blobs::ticket::BlobTicket;
use iroh_blobs::{BlobFormat, BlobsProtocol, Hash};
use media_core::{
    Backend, BackendKind, ByteRange, ByteStream, Capabilities, ErrorKind, Location, MediaError,
    Operation, Progress, Reach, Result, StagedBlob,
};
use tracing::{debug, warn};

use crate::client::GatewayClient;
use crate::config::IpfsConfig;
use crate::error::IpfsError;
use crate::gateway::Gateway;
use crate::store::{BlockStore, StoredFile};
use crate::unixfs::parse_cid;

struct NodeInner {
    store: Arc<BlockStore>,
    endpoint: Endpoint,
    router: Router,
    gateway: Option<Gateway>,
    gateways: Vec<GatewayClient>,
    timeout: Duration,
    reach: Reach,
}

/// An IPFS node: block store, iroh endpoint and Trustless Gateway. Cheap to clone.
#[derive(Clone)]
pub struct IpfsNode {
    inner: Arc<NodeInner>,
}

impl std::fmt::Debug for IpfsNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpfsNode")
            .field("endpoint", &self.inner.endpoint.id())
            .field("gateway", &self.gateway_url())
            .finish_non_exhaustive()
    }
}

/// The node's iroh identity, kept in the data directory so tickets stay valid across
/// restarts.
fn load_or_create_key(path: &std::path::Path) -> std::result::Result<iroh::SecretKey, IpfsError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
                IpfsError::Malformed(format!("{} is not a 32-byte key", path.display()))
            })?;
            Ok(iroh::SecretKey::from_bytes(&bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = iroh::SecretKey::generate();
            media_core::write_private(path, &key.to_bytes()).map_err(IpfsError::Io)?;
            Ok(key)
        }
        Err(e) => Err(IpfsError::Io(e)),
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> IpfsError {
    IpfsError::Unavailable(format!("{what}: {e}"))
}

impl IpfsNode {
    /// Open the store and start the iroh endpoint and the gateway.
    pub async fn start(config: IpfsConfig) -> std::result::Result<Self, IpfsError> {
        let gateways = config
            .gateways
            .iter()
            .map(|g| GatewayClient::new(g, config.request_timeout))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let store = Arc::new(BlockStore::open(&config.data_dir).await?);
        let secret_key = load_or_create_key(&config.data_dir.join("iroh.key"))?;
        // Offline by default: no relays, no address lookup; peers are reached by the direct
        // addresses in tickets.
        let endpoint = Endpoint::builder(presets::Minimal)
            .secret_key(secret_key)
            .relay_mode(RelayMode::Disabled)
            .clear_address_lookup()
            .bind_addr(config.iroh_bind)
            .map_err(|e| IpfsError::InvalidInput(format!("iroh bind address: {e}")))?
            .bind()
            .await
            .map_err(|e| unavailable("binding the iroh endpoint", e))?;
        let mut router = Router::builder(endpoint.clone());
        if config.serve_peers {
            router = router.accept(iroh_blobs::ALPN, BlobsProtocol::new(store.blobs(), None));
        }
        let router = router.spawn();
        let gateway_listen = config.gateway_listen.filter(|_| config.serve_peers);
        let gateway = match gateway_listen {
            Some(addr) => Some(
                Gateway::start_with(
                    Arc::clone(&store),
                    addr,
                    media_http::ServeLimits::default(),
                    config.cors.clone(),
                )
                .await?,
            ),
            None => None,
        };
        debug!(id = %endpoint.id(), "IPFS node started");
        Ok(IpfsNode {
            inner: Arc::new(NodeInner {
                store,
                endpoint,
                router,
                gateway,
                gateways,
                timeout: config.request_timeout,
                reach: config.reach.clone(),
            }),
        })
    }

    /// The block store.
    pub fn store(&self) -> &Arc<BlockStore> {
        &self.inner.store
    }

    /// `http://ADDR` of this node's gateway, if it serves one.
    pub fn gateway_url(&self) -> Option<String> {
        self.inner.gateway.as_ref().map(Gateway::url)
    }

    /// This node's iroh address: its id and the sockets it is bound to.
    pub fn endpoint_addr(&self) -> EndpointAddr {
        let mut addr = EndpointAddr::new(self.inner.endpoint.id());
        for socket in self.inner.endpoint.bound_sockets() {
            addr = addr.with_ip_addr(socket);
        }
        addr
    }

    /// A ticket other nodes fetch `file`'s bytes from this node with.
    pub fn ticket(&self, file: &StoredFile) -> BlobTicket {
        BlobTicket::new(self.endpoint_addr(), file.hash, BlobFormat::Raw)
    }

    /// An [`IpfsBackend`] named `name` over this node.
    pub fn backend(&self, name: impl Into<String>) -> IpfsBackend {
        IpfsBackend {
            name: name.into(),
            node: self.clone(),
        }
    }

    /// Fetch `range` (`None`: all) of the blob in `ticket` from its node over iroh into the
    /// local store, verified by iroh's BLAKE3 tree, and return the blob's size.
    pub async fn fetch(
        &self,
        ticket: &BlobTicket,
        range: Option<Range<u64>>,
    ) -> std::result::Result<u64, IpfsError> {
        let hash = ticket.hash();
        let ranges = match &range {
            // The last chunk proves the size.
            Some(r) => ChunkRanges::bytes(r.clone()) | ChunkRanges::last_chunk(),
            None => ChunkRanges::all(),
        };
        let work = async {
            let conn = self
                .inner
                .endpoint
                .connect(ticket.addr().clone(), iroh_blobs::ALPN)
                .await
                .map_err(|e| unavailable("connecting over iroh", e))?;
            self.inner
                .store
                .blobs()
                .remote()
                .execute_get(conn, GetRequest::blob_ranges(hash, ranges))
                .await
                .map_err(|e| unavailable("iroh transfer", e))
        };
        tokio::time::timeout(self.inner.timeout, work)
            .await
            .map_err(|_| IpfsError::Unavailable(format!("iroh fetch of {hash} timed out")))??;
        self.blob_size(hash).await
    }

    async fn blob_size(&self, hash: Hash) -> std::result::Result<u64, IpfsError> {
        match self
            .inner
            .store
            .blobs()
            .blobs()
            .status(hash)
            .await
            .map_err(|e| unavailable("iroh store", e))?
        {
            BlobStatus::Complete { size } | BlobStatus::Partial { size: Some(size) } => Ok(size),
            _ => Err(IpfsError::NotFound(format!("{hash} did not arrive"))),
        }
    }

    /// Stop the gateway, the endpoint and the store.
    pub async fn shutdown(&self) {
        if let Some(g) = &self.inner.gateway {
            g.shutdown();
        }
        if let Err(e) = self.inner.router.shutdown().await {
            warn!(error = %e, "iroh router shutdown");
        }
        self.inner.store.shutdown().await;
    }
}

#[async_trait]
impl media_core::Service for IpfsNode {
    fn endpoints(&self) -> Vec<(String, String)> {
        self.gateway_url()
            .map(|url| ("gateway".to_owned(), url))
            .into_iter()
            .collect()
    }

    async fn shutdown(&self) {
        IpfsNode::shutdown(self).await;
    }

    fn held(&self) -> Vec<Location> {
        self.store()
            .roots()
            .into_iter()
            .map(|cid| Location::ipfs(cid.to_string()))
            .collect()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Bytes fetched over iroh per request while streaming a range.
const IROH_WINDOW: u64 = 16 << 20;

/// Stream `range` of the ticket's blob: the window up to `fetched_to` is already local, the
/// rest is fetched a window at a time just before it is read.
fn windowed(node: IpfsNode, ticket: BlobTicket, range: Range<u64>, fetched_to: u64) -> ByteStream {
    use futures::StreamExt;
    let hash = ticket.hash();
    let first = range.start..fetched_to.clamp(range.start, range.end);
    let mut at = first.end;
    let mut windows = Vec::from([first]);
    while at < range.end {
        let end = at.saturating_add(IROH_WINDOW).min(range.end);
        windows.push(at..end);
        at = end;
    }
    futures::stream::iter(windows.into_iter().enumerate())
        .then(move |(i, window)| {
            let (node, ticket) = (node.clone(), ticket.clone());
            async move {
                if i > 0 {
                    if let Err(e) = node.fetch(&ticket, Some(window.clone())).await {
                        let err = e.into_media(Operation::Get);
                        return futures::stream::once(async move { Err(err) }).boxed();
                    }
                }
                node.store().read_range(hash, window)
            }
        })
        .flatten()
        .boxed()
}

/// The IPFS [`Backend`]: `put` stores the staged file once in the iroh store and returns its
/// Helia-compatible CID (with an iroh ticket); `get` reads local files, then fetches over
/// iroh from the location's ticket, then from the configured gateways (verifying every
/// block); `delete` unpins the local copy.
#[derive(Debug, Clone)]
pub struct IpfsBackend {
    name: String,
    node: IpfsNode,
}

impl IpfsBackend {
    /// The node under this backend.
    pub fn node(&self) -> &IpfsNode {
        &self.node
    }

    fn err(&self, op: Operation, e: IpfsError) -> MediaError {
        e.into_media(op).with_backend(&self.name)
    }

    /// The ticket with only the addresses the node may connect to (a ticket is a stranger's
    /// input); relay addresses are dropped, relays being off.
    fn within_reach(&self, ticket: &BlobTicket) -> BlobTicket {
        let reach = &self.node.inner.reach;
        let addr = ticket.addr();
        let kept: Vec<TransportAddr> = addr
            .addrs
            .iter()
            .filter(|a| match a {
                TransportAddr::Ip(ip) => {
                    let ok = reach.check_addr(*ip).is_ok();
                    if !ok {
                        warn!(addr = %ip, "ticket address outside the node's reach; skipped");
                    }
                    ok
                }
                _ => false,
            })
            .cloned()
            .collect();
        BlobTicket::new(
            EndpointAddr::from_parts(addr.id, kept),
            ticket.hash(),
            ticket.format(),
        )
    }

    fn cid<'a>(&self, location: &'a Location, op: Operation) -> Result<&'a str> {
        location.cid().ok_or_else(|| {
            MediaError::invalid_input(op, format!("{location} is not an IPFS location"))
                .with_backend(&self.name)
        })
    }
}

#[async_trait]
impl Backend for IpfsBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> BackendKind {
        BackendKind::IPFS
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::full().with_peer_to_peer(true)
    }

    fn refuse(&self, id: &media_core::MediaId) {
        self.node.store().refuse(id.sha256().0);
    }

    async fn put(&self, blob: &StagedBlob, progress: Progress) -> Result<Location> {
        let file = self
            .node
            .store()
            .add_file(&blob.path, &blob.digests)
            .await
            .map_err(|e| self.err(Operation::Put, e))?;
        progress.report(blob.size());
        Ok(Location::ipfs(file.dag.root.to_string())
            .with_hint("ticket", self.node.ticket(&file).to_string()))
    }

    async fn get(&self, location: &Location, range: ByteRange) -> Result<ByteStream> {
        let (cid, ticket) = (self.cid(location, Operation::Get)?, location.ticket());
        let root = parse_cid(cid).map_err(|e| self.err(Operation::Get, e))?;
        let store = self.node.store();
        if let Some(file) = store.file(&root) {
            let r = range
                .resolve(file.dag.size)
                .map_err(|e| e.with_backend(&self.name))?;
            return Ok(store.read_range(file.hash, r));
        }
        let mut last: Option<MediaError> = None;
        if let Some(ticket) = ticket {
            let ticket: BlobTicket = ticket.parse().map_err(|e| {
                MediaError::invalid_input(Operation::Get, format!("iroh ticket: {e}"))
                    .with_backend(&self.name)
            })?;
            if ticket.addr().id == self.node.inner.endpoint.id() {
                // Our own ticket for a file we no longer hold (deleted): nothing to fetch.
                return Err(MediaError::not_found(
                    Operation::Get,
                    format!("{cid} was removed from this node"),
                )
                .with_backend(&self.name));
            }
            let ticket = self.within_reach(&ticket);
            if ticket.addr().addrs.is_empty() {
                last = Some(
                    MediaError::new(
                        ErrorKind::PermissionDenied,
                        Operation::Get,
                        format!("the ticket of {cid} names no address this node may reach"),
                    )
                    .with_backend(&self.name),
                );
            } else {
                // The first window (and the last chunk, which proves the size) before the
                // first byte; the rest window by window as the reader goes, so the first byte
                // does not wait for the whole file.
                let first_end = range
                    .start
                    .saturating_add(IROH_WINDOW)
                    .min(range.end.unwrap_or(u64::MAX));
                match self.node.fetch(&ticket, Some(range.start..first_end)).await {
                    Ok(size) => {
                        let r = range
                            .resolve(size)
                            .map_err(|e| e.with_backend(&self.name))?;
                        return Ok(windowed(self.node.clone(), ticket, r, first_end));
                    }
                    Err(e) => {
                        warn!(%cid, error = %e, "iroh fetch failed; trying gateways");
                        last = Some(self.err(Operation::Get, e));
                    }
                }
            }
        }
        for gateway in &self.node.inner.gateways {
            let size = match gateway.size(&root).await {
                Ok(size) => size,
                Err(e) => {
                    debug!(gateway = gateway.base(), error = %e, "gateway cannot serve");
                    last = Some(self.err(Operation::Get, e));
                    continue;
                }
            };
            let r = range
                .resolve(size)
                .map_err(|e| e.with_backend(&self.name))?;
            return gateway
                .read(cid, Some(r))
                .map_err(|e| self.err(Operation::Get, e));
        }
        Err(last
            .filter(|e| e.kind != ErrorKind::NotFound)
            .unwrap_or_else(|| {
                MediaError::not_found(Operation::Get, format!("{cid} is not held or reachable"))
                    .with_backend(&self.name)
            }))
    }

    async fn delete(&self, location: &Location) -> Result<()> {
        let cid = self.cid(location, Operation::Delete)?;
        let root = parse_cid(cid).map_err(|e| self.err(Operation::Delete, e))?;
        if self
            .node
            .store()
            .remove(&root)
            .await
            .map_err(|e| self.err(Operation::Delete, e))?
        {
            Ok(())
        } else {
            Err(
                MediaError::not_found(Operation::Delete, format!("{cid} is not held here"))
                    .with_backend(&self.name),
            )
        }
    }

    async fn health(&self) -> Result<()> {
        if let Some(url) = self.node.gateway_url() {
            GatewayClient::new(&url, Duration::from_secs(5))
                .map_err(|e| self.err(Operation::Health, e))?
                .probe()
                .await
                .map_err(|e| self.err(Operation::Health, e))?;
        }
        Ok(())
    }
}
