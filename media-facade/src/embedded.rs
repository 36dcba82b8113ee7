//! The embedded default stack: with no configuration beyond a data directory, an in-process
//! S3 server (the CDN), an IPFS node (iroh + Trustless Gateway) and a BitTorrent node, all on
//! 127.0.0.1, plugged into one [`MediaStore`]. Scale-out replaces any of them by
//! configuration: see [`StackConfig`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use media_core::{Backend, MediaError, Operation, Result};

use crate::config::{ExternalS3, PolicyChoice};
use crate::{MediaStore, MediaStoreBuilder};

/// Which stores an [`EmbeddedStack`] runs and how. Defaults: every store compiled in (by
/// cargo feature), embedded, on 127.0.0.1 with ports the OS picks.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StackConfig {
    /// Where everything lives: `catalog.redb`, `s3/`, `ipfs/`, `torrent/`, `staging/`.
    pub data_dir: PathBuf,
    /// Run the CDN store (S3).
    pub cdn: bool,
    /// Run the IPFS store.
    pub ipfs: bool,
    /// Run the BitTorrent store.
    pub torrent: bool,
    /// A fixed address for the embedded S3 server (default: a free port).
    pub s3_addr: Option<SocketAddr>,
    /// A fixed address for the BitTorrent listener (default: a free port).
    pub torrent_addr: Option<SocketAddr>,
    /// A fixed UDP address for the iroh endpoint (default: a free port).
    pub iroh_addr: Option<SocketAddr>,
    /// A fixed address for the Trustless Gateway (default: a free port).
    pub gateway_addr: Option<SocketAddr>,
    /// Gateways the IPFS store reads CIDs it does not hold from.
    pub ipfs_gateways: Vec<String>,
    /// Timeouts of the P2P stores (metadata / idle reads / gateway requests).
    pub p2p_timeout: Duration,
    /// An S3 service to use instead of the embedded server.
    pub external_s3: Option<ExternalS3>,
    /// BitTorrent trackers.
    pub trackers: Vec<String>,
    /// Turn on the BitTorrent DHT.
    pub dht: bool,
    /// The download policy (default P2P first).
    pub download_policy: Option<PolicyChoice>,
    /// Stall timeout per download attempt.
    pub attempt_timeout: Duration,
}

impl StackConfig {
    /// Every store, embedded, under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        StackConfig {
            data_dir: data_dir.into(),
            cdn: cfg!(feature = "cdn"),
            ipfs: cfg!(feature = "ipfs"),
            torrent: cfg!(feature = "torrent"),
            s3_addr: None,
            torrent_addr: None,
            iroh_addr: None,
            gateway_addr: None,
            ipfs_gateways: Vec::new(),
            p2p_timeout: Duration::from_secs(30),
            external_s3: None,
            trackers: Vec::new(),
            dht: false,
            download_policy: None,
            attempt_timeout: media_core::DEFAULT_ATTEMPT_TIMEOUT,
        }
    }

    /// Use this S3 service instead of the embedded server.
    #[must_use]
    pub fn with_external_s3(mut self, s3: ExternalS3) -> Self {
        self.external_s3 = Some(s3);
        self
    }

    /// Turn stores on or off (a store not compiled in stays off).
    #[must_use]
    pub fn with_stores(mut self, cdn: bool, ipfs: bool, torrent: bool) -> Self {
        self.cdn = cdn && cfg!(feature = "cdn");
        self.ipfs = ipfs && cfg!(feature = "ipfs");
        self.torrent = torrent && cfg!(feature = "torrent");
        self
    }

    /// Fixed listen addresses (S3, BitTorrent, iroh, gateway), so that URLs, magnets and
    /// tickets stay valid across restarts.
    #[must_use]
    pub fn with_addrs(
        mut self,
        s3: Option<SocketAddr>,
        torrent: Option<SocketAddr>,
        iroh: Option<SocketAddr>,
        gateway: Option<SocketAddr>,
    ) -> Self {
        self.s3_addr = s3;
        self.torrent_addr = torrent;
        self.iroh_addr = iroh;
        self.gateway_addr = gateway;
        self
    }

    /// P2P timeouts.
    #[must_use]
    pub fn with_p2p_timeout(mut self, timeout: Duration) -> Self {
        self.p2p_timeout = timeout;
        self
    }

    /// Read missing CIDs from these gateways.
    #[must_use]
    pub fn with_ipfs_gateways<S: Into<String>>(
        mut self,
        gateways: impl IntoIterator<Item = S>,
    ) -> Self {
        self.ipfs_gateways = gateways.into_iter().map(Into::into).collect();
        self
    }
}

/// The addresses a data directory's services listen on, kept in `addrs.json` so that the
/// URLs, magnets and tickets in its records stay valid across restarts.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct StableAddrs {
    s3: SocketAddr,
    torrent: SocketAddr,
    iroh: SocketAddr,
    gateway: SocketAddr,
}

fn free_tcp() -> Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| MediaError::io(Operation::Configure, "finding a free port", e))
}

fn free_udp() -> Result<SocketAddr> {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| MediaError::io(Operation::Configure, "finding a free port", e))
}

/// Fill unset addresses from `addrs.json`, or pick free ports and remember them there.
fn with_stable_addrs(mut config: StackConfig) -> Result<StackConfig> {
    let path = config.data_dir.join("addrs.json");
    let saved: Option<StableAddrs> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let addrs = match saved {
        Some(a) => a,
        None => {
            let a = StableAddrs {
                s3: free_tcp()?,
                torrent: free_tcp()?,
                iroh: free_udp()?,
                gateway: free_tcp()?,
            };
            let json = serde_json::to_vec_pretty(&a).map_err(|e| {
                MediaError::internal(Operation::Configure, format!("addresses: {e}"))
            })?;
            std::fs::write(&path, json)
                .map_err(|e| MediaError::io(Operation::Configure, "saving addrs.json", e))?;
            a
        }
    };
    config.s3_addr = config.s3_addr.or(Some(addrs.s3));
    config.torrent_addr = config.torrent_addr.or(Some(addrs.torrent));
    config.iroh_addr = config.iroh_addr.or(Some(addrs.iroh));
    config.gateway_addr = config.gateway_addr.or(Some(addrs.gateway));
    Ok(config)
}

/// The running services of the embedded stack and the [`MediaStore`] over them.
#[derive(Debug)]
pub struct EmbeddedStack {
    /// The media store over every running store.
    pub store: MediaStore,
    #[cfg(feature = "cdn")]
    /// The in-process S3 server, if the CDN store runs.
    pub s3: Option<media_cdn::EmbeddedS3>,
    #[cfg(feature = "ipfs")]
    /// The IPFS node, if the IPFS store runs.
    pub ipfs: Option<media_ipfs::IpfsNode>,
    #[cfg(feature = "torrent")]
    /// The BitTorrent node, if the torrent store runs.
    pub torrent: Option<media_torrent::TorrentNode>,
    config: StackConfig,
}

impl EmbeddedStack {
    /// Start every configured store and the media store, with default policies.
    pub async fn start(config: StackConfig) -> Result<Self> {
        Self::start_with(config, |b| b).await
    }

    /// Like [`EmbeddedStack::start`], letting `customize` adjust the store's builder
    /// (policies, thumbnails, expiry sweep...).
    pub async fn start_with(
        config: StackConfig,
        customize: impl FnOnce(MediaStoreBuilder) -> MediaStoreBuilder,
    ) -> Result<Self> {
        let io = |what: &str, e| MediaError::io(Operation::Configure, what, e);
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| io("creating the data directory", e))?;
        let config = with_stable_addrs(config)?;
        #[cfg_attr(
            not(any(feature = "cdn", feature = "ipfs", feature = "torrent")),
            allow(unused_mut)
        )]
        let mut backends: Vec<Arc<dyn Backend>> = Vec::new();
        // The CDN store's bucket doubles as the catalog other nodes resolve ids through.
        #[cfg_attr(not(feature = "cdn"), allow(unused_mut))]
        let mut shared_catalog: Option<Arc<dyn media_core::Catalog>> = None;

        #[cfg(feature = "cdn")]
        #[cfg_attr(not(feature = "torrent"), allow(unused_variables))]
        let (s3, cdn_base, cdn_store) = if let (true, Some(ext)) = (config.cdn, &config.external_s3)
        {
            let mut s3_config =
                media_cdn::S3Config::new(&ext.bucket, &ext.access_key, &ext.secret_key)
                    .with_endpoint(&ext.endpoint);
            if let Some(region) = &ext.region {
                s3_config = s3_config.with_region(region);
            }
            if let Some(prefix) = &ext.prefix {
                s3_config = s3_config.with_prefix(prefix);
            }
            s3_config = match &ext.public_base_url {
                Some(base) => s3_config.with_public_base_url(base),
                // A private bucket: reads through presigned URLs, and no web seed.
                None => s3_config.with_presigned_reads(Duration::from_secs(3600)),
            };
            let base = ext
                .public_base_url
                .as_ref()
                .map(|_| s3_config.object_url(&s3_config.prefix));
            let backend = media_cdn::S3Backend::new(s3_config)?;
            shared_catalog = Some(Arc::new(backend.catalog()));
            let backend: Arc<dyn Backend> = Arc::new(backend);
            backends.push(Arc::clone(&backend));
            (None, base, Some(backend))
        } else if config.cdn {
            let root = config.data_dir.join("s3");
            let server = match config.s3_addr {
                Some(addr) => media_cdn::EmbeddedS3::start_on(&root, "media", addr).await?,
                None => media_cdn::EmbeddedS3::start(&root, "media").await?,
            };
            let s3_config = server.config();
            let base = s3_config.object_url(&s3_config.prefix);
            let backend = media_cdn::S3Backend::new(s3_config)?;
            shared_catalog = Some(Arc::new(backend.catalog()));
            let backend: Arc<dyn Backend> = Arc::new(backend);
            backends.push(Arc::clone(&backend));
            (Some(server), Some(base), Some(backend))
        } else {
            (None, None, None)
        };
        #[cfg(all(not(feature = "cdn"), feature = "torrent"))]
        let (cdn_base, cdn_store): (Option<String>, Option<Arc<dyn Backend>>) = (None, None);

        #[cfg(feature = "ipfs")]
        let ipfs = if config.ipfs {
            let mut ic = media_ipfs::IpfsConfig::new(config.data_dir.join("ipfs"))
                .with_gateways(config.ipfs_gateways.clone())
                .with_request_timeout(config.p2p_timeout);
            if let Some(addr) = config.iroh_addr {
                ic = ic.with_iroh_bind(addr);
            }
            if let Some(addr) = config.gateway_addr {
                ic = ic.with_gateway_listen(Some(addr));
            }
            let node = media_ipfs::IpfsNode::start(ic)
                .await
                .map_err(|e| e.into_media(Operation::Configure))?;
            backends.push(Arc::new(node.backend("ipfs")));
            Some(node)
        } else {
            None
        };

        #[cfg(feature = "torrent")]
        let torrent = if config.torrent {
            let mut tc = media_torrent::TorrentConfig::new(config.data_dir.join("torrent"))
                .with_timeouts(config.p2p_timeout, config.p2p_timeout)
                .with_trackers(config.trackers.clone())
                .with_dht(config.dht);
            if let Some(addr) = config.torrent_addr {
                tc = tc.with_listen(addr);
            }
            // The CDN URL of the same bytes is the torrent's web seed.
            if let Some(base) = &cdn_base {
                tc = tc.with_web_seed_base(base.clone());
            }
            let node = media_torrent::TorrentNode::start(tc)
                .await
                .map_err(|e| e.into_media(Operation::Configure))?;
            let mut backend = node.backend("torrent");
            // With a public CDN the .torrent goes there too, as the magnet's `xs=`: browsers'
            // WebTorrent reaches no TCP peer and needs the metadata over HTTP.
            if let (Some(_), Some(store)) = (&cdn_base, &cdn_store) {
                backend = backend.with_metadata_store(Arc::clone(store));
            }
            backends.push(Arc::new(backend));
            Some(node)
        } else {
            None
        };

        if backends.is_empty() {
            return Err(MediaError::invalid_input(
                Operation::Configure,
                "the embedded stack has no store: enable at least one of the cdn, ipfs and torrent features",
            ));
        }
        let mut builder = MediaStore::builder(&config.data_dir);
        for b in backends {
            builder = builder.backend(b);
        }
        if let Some(catalog) = shared_catalog {
            builder = builder.shared_catalog(catalog);
        }
        if let Some(choice) = config.download_policy {
            builder = builder.download_policy_arc(choice.policy(config.attempt_timeout));
        }
        let store = customize(builder).build().await?;
        Ok(EmbeddedStack {
            store,
            #[cfg(feature = "cdn")]
            s3,
            #[cfg(feature = "ipfs")]
            ipfs,
            #[cfg(feature = "torrent")]
            torrent,
            config,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// Stop the P2P nodes and the S3 server.
    pub async fn shutdown(self) {
        #[cfg(feature = "ipfs")]
        if let Some(node) = &self.ipfs {
            node.shutdown().await;
        }
        #[cfg(feature = "torrent")]
        if let Some(node) = &self.torrent {
            node.shutdown().await;
        }
        #[cfg(feature = "cdn")]
        if let Some(s3) = self.s3 {
            s3.stop();
        }
    }
}
