//! Configuration of the BitTorrent store: [`TorrentConfig`] for one node, and the
//! `[torrent]` section of a node's configuration file with its [`TorrentProvider`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use media_core::{
    Operation, Reach, Result, SectionProvider, StartContext, StartedStore, Transport,
};
use serde::Deserialize;

use crate::node::TorrentNode;

/// How a [`TorrentNode`] runs. Defaults: TCP on 127.0.0.1 with a port the OS picks, no DHT,
/// no local service discovery, no UPnP, no trackers. We keep our own list of what we seed (the
/// `.torrent` files, piece hashes and data under the data directory); of librqbit's persistence
/// only the verified-piece bitfields under `session/` are kept, so a restart re-seeds without
/// hashing the data again (a spread sample of pieces is checked).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TorrentConfig {
    /// Where torrents, seeded data and fetched data live.
    pub data_dir: PathBuf,
    /// The peer listener (port 0: the OS picks).
    pub listen: SocketAddr,
    /// The address peers should use for us (magnets' `x.pe`); the listen address if unset.
    pub public_addr: Option<SocketAddr>,
    /// Trackers announced in our torrents and magnets.
    pub trackers: Vec<String>,
    /// BEP 19 web seed for stored media: `{base}/{sha256 hex}` (the CDN URL of the same bytes,
    /// which content addressing makes predictable).
    pub web_seed_base: Option<String>,
    /// Peers to try for every download, besides those in the magnet.
    pub peers: Vec<SocketAddr>,
    /// Turn on the mainline DHT (off by default).
    pub dht: bool,
    /// How long a magnet may take to deliver its metadata.
    pub metadata_timeout: Duration,
    /// How long a download may go without receiving a byte.
    pub read_timeout: Duration,
    /// Download rate limit per torrent, bytes per second (none by default).
    pub download_limit: Option<u32>,
    /// Whether peers may download from this node (default true). Off, the node fetches but
    /// never uploads a piece, not even of a torrent it is fetching (P2P consent `download`).
    pub upload: bool,
    /// Where a magnet's peers (`x.pe`) and trackers may be (default: public addresses only;
    /// configured peers and trackers are always used).
    pub reach: Reach,
    /// Use the trackers a stranger's magnet names (default false: configured trackers only).
    /// librqbit contacts such a tracker with its own HTTP client, which follows redirects,
    /// and connects to whatever peers it returns: the tracker's host is checked against
    /// [`TorrentConfig::reach`], what it answers is not.
    pub magnet_trackers: bool,
}

impl TorrentConfig {
    /// Defaults with data under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        TorrentConfig {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_addr: None,
            trackers: Vec::new(),
            web_seed_base: None,
            peers: Vec::new(),
            dht: false,
            metadata_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(30),
            download_limit: None,
            upload: true,
            reach: Reach::public_only(),
            magnet_trackers: false,
        }
    }

    /// Let peers download from this node (`true`, the default) or never upload (`false`).
    #[must_use]
    pub fn with_upload(mut self, upload: bool) -> Self {
        self.upload = upload;
        self
    }

    /// Limit each download to `bytes_per_second`.
    #[must_use]
    pub fn with_download_limit(mut self, bytes_per_second: u32) -> Self {
        self.download_limit = Some(bytes_per_second);
        self
    }

    /// Listen on `addr`.
    #[must_use]
    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Announce these trackers.
    #[must_use]
    pub fn with_trackers<S: Into<String>>(mut self, trackers: impl IntoIterator<Item = S>) -> Self {
        self.trackers = trackers.into_iter().map(Into::into).collect();
        self
    }

    /// Web seeds at `{base}/{sha256 hex}` (e.g. the CDN's public base URL and key prefix).
    #[must_use]
    pub fn with_web_seed_base(mut self, base: impl Into<String>) -> Self {
        self.web_seed_base = Some(base.into().trim_end_matches('/').to_owned());
        self
    }

    /// Always try these peers.
    #[must_use]
    pub fn with_peers(mut self, peers: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.peers = peers.into_iter().collect();
        self
    }

    /// Metadata and read timeouts.
    #[must_use]
    pub fn with_timeouts(mut self, metadata: Duration, read: Duration) -> Self {
        self.metadata_timeout = metadata;
        self.read_timeout = read;
        self
    }

    /// Where a magnet's peers and trackers may be.
    #[must_use]
    pub fn with_reach(mut self, reach: Reach) -> Self {
        self.reach = reach;
        self
    }

    /// Turn the DHT on or off.
    #[must_use]
    pub fn with_dht(mut self, on: bool) -> Self {
        self.dht = on;
        self
    }

    /// Use the trackers strangers' magnets name (see [`TorrentConfig::magnet_trackers`]).
    #[must_use]
    pub fn with_magnet_trackers(mut self, on: bool) -> Self {
        self.magnet_trackers = on;
        self
    }
}

/// The `[torrent]` section of a node's configuration.
///
/// ```toml
/// [torrent]
/// trackers = ["udp://tracker.example:6969/announce"]
/// dht = true
/// magnet_trackers = false   # true: also the trackers strangers' magnets name (see below)
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TorrentSection {
    /// Run the BitTorrent store (default true).
    pub enabled: Option<bool>,
    /// The peer listener (default: a port kept in `addrs.json`).
    pub listen: Option<SocketAddr>,
    /// Trackers announced in our torrents and magnets.
    #[serde(default)]
    pub trackers: Vec<String>,
    /// Turn on the mainline DHT (default off).
    pub dht: Option<bool>,
    /// Also use the trackers strangers' magnets name (default off; see
    /// [`TorrentConfig::magnet_trackers`]).
    pub magnet_trackers: Option<bool>,
}

/// Starts the BitTorrent store under `<data_dir>/torrent` from its `[torrent]` section. When
/// an earlier store offers a public HTTP store (the CDN), its URLs become every torrent's web
/// seed and the `.torrent` files are published there (the magnet's `xs=`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TorrentProvider;

#[async_trait]
impl SectionProvider for TorrentProvider {
    type Section = TorrentSection;
    const SECTION: &'static str = "torrent";
    const PEER_TO_PEER: bool = true;

    fn enabled(section: &TorrentSection) -> bool {
        section.enabled != Some(false)
    }

    async fn start_section(
        &self,
        section: TorrentSection,
        ctx: &StartContext,
    ) -> Result<StartedStore> {
        let listen = ctx.addr_or_stable(section.listen, "torrent", Transport::Tcp)?;
        let mut config = TorrentConfig::new(ctx.data_dir().join("torrent"))
            .with_timeouts(ctx.p2p_timeout(), ctx.p2p_timeout())
            .with_trackers(section.trackers)
            .with_dht(section.dht.unwrap_or(false))
            .with_magnet_trackers(section.magnet_trackers.unwrap_or(false))
            .with_listen(listen)
            .with_reach(ctx.reach())
            .with_upload(ctx.shares_with_peers());
        let public = ctx.public_store();
        if let Some(public) = &public {
            config = config.with_web_seed_base(public.base_url.clone());
        }
        let node = TorrentNode::start(config)
            .await
            .map_err(|e| e.into_media(Operation::Configure))?;
        let mut backend = node.backend("torrent");
        // Browsers' WebTorrent reaches no TCP peer and needs the metadata over HTTP.
        if let Some(public) = public {
            backend = backend.with_metadata_store(public.backend);
        }
        Ok(StartedStore::backend(Arc::new(backend)).with_service(Arc::new(node)))
    }
}
