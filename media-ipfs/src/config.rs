//! Configuration of the IPFS store: [`IpfsConfig`] for one node, and the `[ipfs]` section of
//! a node's configuration file with its [`IpfsProvider`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use media_core::{
    Operation, Reach, Result, SectionProvider, StartContext, StartedStore, Transport,
};
use serde::Deserialize;

use crate::node::IpfsNode;

/// How an [`IpfsNode`] runs. Defaults: everything on 127.0.0.1 with ports the OS picks, no
/// relays, no discovery, no port mapping, no outside gateways.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IpfsConfig {
    /// Where the block store and manifests live.
    pub data_dir: PathBuf,
    /// The iroh endpoint's UDP socket.
    pub iroh_bind: SocketAddr,
    /// Where the Trustless Gateway listens (`None`: no gateway).
    pub gateway_listen: Option<SocketAddr>,
    /// Trustless gateways to read CIDs this node does not hold from (ours on other nodes, or
    /// public ones), tried in order.
    pub gateways: Vec<String>,
    /// Timeout of one gateway request or one iroh connection attempt.
    pub request_timeout: Duration,
    /// Where a ticket's addresses may be (default: public addresses only). Configured
    /// gateways are always used.
    pub reach: Reach,
    /// Which pages may read the gateway from a browser (default: any origin).
    pub cors: media_http::Cors,
    /// Whether other nodes may fetch from this one (default true). Off (P2P consent
    /// `download`), the iroh endpoint only dials out and no gateway is started, so nothing
    /// this node fetched is offered to anyone.
    pub serve_peers: bool,
}

impl IpfsConfig {
    /// Defaults with the store under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        IpfsConfig {
            data_dir: data_dir.into(),
            iroh_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            gateway_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            gateways: Vec::new(),
            request_timeout: Duration::from_secs(30),
            reach: Reach::public_only(),
            cors: media_http::Cors::public_reads(),
            serve_peers: true,
        }
    }

    /// Serve other nodes (`true`, the default), or only fetch from them (`false`: no iroh
    /// blobs protocol, no gateway).
    #[must_use]
    pub fn with_serving(mut self, serve_peers: bool) -> Self {
        self.serve_peers = serve_peers;
        self
    }

    /// Bind iroh to `addr`.
    #[must_use]
    pub fn with_iroh_bind(mut self, addr: SocketAddr) -> Self {
        self.iroh_bind = addr;
        self
    }

    /// Serve the gateway on `addr`, or not at all.
    #[must_use]
    pub fn with_gateway_listen(mut self, addr: Option<SocketAddr>) -> Self {
        self.gateway_listen = addr;
        self
    }

    /// Read missing CIDs from these gateways.
    #[must_use]
    pub fn with_gateways<S: Into<String>>(mut self, gateways: impl IntoIterator<Item = S>) -> Self {
        self.gateways = gateways.into_iter().map(Into::into).collect();
        self
    }

    /// Where a ticket's addresses may be.
    #[must_use]
    pub fn with_reach(mut self, reach: Reach) -> Self {
        self.reach = reach;
        self
    }

    /// Which pages may read the gateway from a browser.
    #[must_use]
    pub fn with_cors(mut self, cors: media_http::Cors) -> Self {
        self.cors = cors;
        self
    }

    /// Per-request timeout.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
}

/// The `[ipfs]` section of a node's configuration.
///
/// ```toml
/// [ipfs]
/// gateways = ["https://trustless-gateway.link"]
/// gateway_listen = "127.0.0.1:8080"
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct IpfsSection {
    /// Run the IPFS store (default true).
    pub enabled: Option<bool>,
    /// The iroh endpoint's UDP address (default: a port kept in `addrs.json`).
    pub iroh_listen: Option<SocketAddr>,
    /// The Trustless Gateway's address (default: a port kept in `addrs.json`).
    pub gateway_listen: Option<SocketAddr>,
    /// Gateways to read CIDs this node does not hold from.
    #[serde(default)]
    pub gateways: Vec<String>,
}

/// Starts the IPFS store (block store, iroh endpoint, Trustless Gateway) under
/// `<data_dir>/ipfs` from its `[ipfs]` section.
#[derive(Debug, Clone, Copy, Default)]
pub struct IpfsProvider;

#[async_trait]
impl SectionProvider for IpfsProvider {
    type Section = IpfsSection;
    const SECTION: &'static str = "ipfs";
    const PEER_TO_PEER: bool = true;

    fn enabled(section: &IpfsSection) -> bool {
        section.enabled != Some(false)
    }

    async fn start_section(
        &self,
        section: IpfsSection,
        ctx: &StartContext,
    ) -> Result<StartedStore> {
        let iroh = ctx.addr_or_stable(section.iroh_listen, "iroh", Transport::Udp)?;
        let gateway = ctx.addr_or_stable(section.gateway_listen, "gateway", Transport::Tcp)?;
        let config = IpfsConfig::new(ctx.data_dir().join("ipfs"))
            .with_gateways(section.gateways)
            .with_request_timeout(ctx.p2p_timeout())
            .with_iroh_bind(iroh)
            .with_gateway_listen(Some(gateway))
            .with_cors(media_http::Cors::public_reads().with_origins(
                media_http::AllowOrigins::from_list(ctx.cors_origins().map(<[String]>::to_vec)),
            ))
            .with_reach(ctx.reach())
            .with_serving(ctx.shares_with_peers());
        let node = IpfsNode::start(config)
            .await
            .map_err(|e| e.into_media(Operation::Configure))?;
        Ok(StartedStore::backend(Arc::new(node.backend("ipfs"))).with_service(Arc::new(node)))
    }
}
