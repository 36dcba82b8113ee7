//! How a node starts its stores from configuration, without knowing any of them.
//!
//! Each adapter crate offers a [`StoreProvider`]: it owns its configuration section (a
//! `Deserialize` struct of its own), starts its store and whatever servers it needs, and
//! hands back [`StartedStore`]. The facade lists providers, one line per cargo feature, and
//! composes their sections in one TOML file; adding a store is a new crate and that one line.

use std::any::Any;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::backend::Backend;
use crate::catalog::Catalog;
use crate::error::{MediaError, Operation, Result};
use crate::reach::Reach;

/// A running part of a store (a server, a P2P node) that the node stops on shutdown.
#[async_trait]
pub trait Service: Send + Sync + std::fmt::Debug + Any {
    /// What it serves, as `(name, url)` pairs for the node's start-up lines
    /// (`gateway http://127.0.0.1:PORT`).
    fn endpoints(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Stop serving.
    async fn shutdown(&self);

    /// What this service holds for this node alone, as locations a backend of the same kind
    /// can delete — so that, after a crash between a store's put and the catalog write, the
    /// node can remove what no record names. Stores shared with other nodes (a bucket) hold
    /// nothing of their own here. Default: nothing.
    fn held(&self) -> Vec<crate::Location> {
        Vec::new()
    }

    /// For typed access to a node's services (`stack.service::<IpfsNode>()`).
    fn as_any(&self) -> &dyn Any;
}

/// What a provider started.
#[derive(Default)]
#[non_exhaustive]
pub struct StartedStore {
    /// The backends to add to the media store.
    pub backends: Vec<Arc<dyn Backend>>,
    /// Services to keep running and stop at shutdown.
    pub services: Vec<Arc<dyn Service>>,
    /// A catalog other nodes share (records published beside the objects), if the store
    /// offers one.
    pub shared_catalog: Option<Arc<dyn Catalog>>,
}

impl StartedStore {
    /// A store of one backend.
    pub fn backend(backend: Arc<dyn Backend>) -> Self {
        StartedStore {
            backends: vec![backend],
            ..Default::default()
        }
    }

    /// Add a running service.
    #[must_use]
    pub fn with_service(mut self, service: Arc<dyn Service>) -> Self {
        self.services.push(service);
        self
    }

    /// Offer a shared catalog.
    #[must_use]
    pub fn with_shared_catalog(mut self, catalog: Arc<dyn Catalog>) -> Self {
        self.shared_catalog = Some(catalog);
        self
    }
}

impl std::fmt::Debug for StartedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartedStore")
            .field("backends", &self.backends)
            .field("services", &self.services)
            .field("shared_catalog", &self.shared_catalog.is_some())
            .finish()
    }
}

/// A store whose objects are public over HTTP at `base_url/<sha256>`: other stores use it
/// (BitTorrent's web seed, a place to publish `.torrent` files).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PublicHttpStore {
    /// Objects are at `{base_url}/{sha256 hex}`.
    pub base_url: String,
    /// The backend that puts there.
    pub backend: Arc<dyn Backend>,
}

impl PublicHttpStore {
    /// A public store at `base_url` written by `backend`.
    pub fn new(base_url: impl Into<String>, backend: Arc<dyn Backend>) -> Self {
        PublicHttpStore {
            base_url: base_url.into(),
            backend,
        }
    }
}

/// What every provider gets from the node: where its data goes, stable addresses, common
/// timeouts, and what earlier stores offer.
#[derive(Debug)]
pub struct StartContext {
    data_dir: PathBuf,
    p2p_timeout: Duration,
    addrs: Mutex<StableAddrs>,
    public_store: Mutex<Option<PublicHttpStore>>,
    reach: Mutex<Reach>,
    cors_origins: Option<Vec<String>>,
    shares_with_peers: bool,
}

/// Listen addresses kept in `addrs.json` so that URLs, magnets and tickets printed once stay
/// valid across restarts.
#[derive(Debug, Default)]
struct StableAddrs {
    path: Option<PathBuf>,
    map: BTreeMap<String, SocketAddr>,
}

/// The transport a stable address is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A TCP port.
    Tcp,
    /// A UDP port.
    Udp,
}

impl StartContext {
    /// A context for a node whose state lives in `data_dir`; addresses are remembered in
    /// `data_dir/addrs.json`.
    pub fn new(data_dir: impl Into<PathBuf>, p2p_timeout: Duration) -> Self {
        let data_dir = data_dir.into();
        let path = data_dir.join("addrs.json");
        let map = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        StartContext {
            data_dir,
            p2p_timeout,
            addrs: Mutex::new(StableAddrs {
                path: Some(path),
                map,
            }),
            public_store: Mutex::new(None),
            reach: Mutex::new(Reach::public_only()),
            cors_origins: None,
            shares_with_peers: true,
        }
    }

    /// Whether peer-to-peer stores may serve peers (P2P consent `on`, the default) or only
    /// fetch from them (`download`: no piece or block is ever uploaded).
    #[must_use]
    pub fn with_sharing(mut self, shares_with_peers: bool) -> Self {
        self.shares_with_peers = shares_with_peers;
        self
    }

    /// See [`StartContext::with_sharing`].
    pub fn shares_with_peers(&self) -> bool {
        self.shares_with_peers
    }

    /// The origins whose pages may read the node's public HTTP services (the gateway, the
    /// S3 server's public reads, Blossom) from a browser; `None` (the default): any origin.
    #[must_use]
    pub fn with_cors_origins(mut self, origins: Option<Vec<String>>) -> Self {
        self.cors_origins = origins;
        self
    }

    /// See [`StartContext::with_cors_origins`].
    pub fn cors_origins(&self) -> Option<&[String]> {
        self.cors_origins.as_deref()
    }

    /// Where the node may connect on the word of untrusted input (default: public
    /// addresses only); every address from [`StartContext::stable_addr`] is added, so the
    /// node reaches its own services.
    #[must_use]
    pub fn with_reach(self, reach: Reach) -> Self {
        if let Ok(mut r) = self.reach.lock() {
            *r = reach;
        }
        self
    }

    /// The node's [`Reach`], including the addresses of the services started so far.
    pub fn reach(&self) -> Reach {
        self.reach.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Let the node reach `addr` (one of its own services).
    pub fn allow_own_addr(&self, addr: SocketAddr) {
        if let Ok(mut r) = self.reach.lock() {
            *r = r.clone().allow_addr(addr);
        }
    }

    /// The node's data directory; a store keeps its files in `data_dir()/<section>`.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Timeouts of peer-to-peer stores (metadata, idle reads, gateway requests).
    pub fn p2p_timeout(&self) -> Duration {
        self.p2p_timeout
    }

    /// The address remembered under `name`, else a free port on 127.0.0.1, remembered.
    pub fn stable_addr(&self, name: &str, transport: Transport) -> Result<SocketAddr> {
        let io = |what: &str, e| MediaError::io(Operation::Configure, what, e);
        let mut addrs = self
            .addrs
            .lock()
            .map_err(|_| MediaError::internal(Operation::Configure, "address table lock"))?;
        if let Some(addr) = addrs.map.get(name).copied() {
            drop(addrs);
            self.allow_own_addr(addr);
            return Ok(addr);
        }
        let addr = match transport {
            Transport::Tcp => {
                std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr())
            }
            Transport::Udp => std::net::UdpSocket::bind("127.0.0.1:0").and_then(|l| l.local_addr()),
        }
        .map_err(|e| io("finding a free port", e))?;
        addrs.map.insert(name.to_owned(), addr);
        if let Some(path) = &addrs.path {
            let json = serde_json::to_vec_pretty(&addrs.map).map_err(|e| {
                MediaError::internal(Operation::Configure, format!("addresses: {e}"))
            })?;
            std::fs::write(path, json).map_err(|e| io("saving addrs.json", e))?;
        }
        drop(addrs);
        self.allow_own_addr(addr);
        Ok(addr)
    }

    /// `configured` if set, else the address remembered under `name` (see
    /// [`StartContext::stable_addr`]).
    pub fn addr_or_stable(
        &self,
        configured: Option<SocketAddr>,
        name: &str,
        transport: Transport,
    ) -> Result<SocketAddr> {
        match configured {
            Some(addr) => {
                self.allow_own_addr(addr);
                Ok(addr)
            }
            None => self.stable_addr(name, transport),
        }
    }

    /// Offer a public HTTP store to the stores started after this one.
    pub fn set_public_store(&self, store: PublicHttpStore) {
        if let Ok(mut slot) = self.public_store.lock() {
            *slot = Some(store);
        }
    }

    /// The public HTTP store an earlier store offered, if any.
    pub fn public_store(&self) -> Option<PublicHttpStore> {
        self.public_store.lock().ok().and_then(|s| s.clone())
    }
}

/// Starts one kind of store from its configuration section.
#[async_trait]
pub trait StoreProvider: Send + Sync {
    /// The section name in the configuration file, e.g. `cdn` for `[cdn]`.
    fn section(&self) -> &'static str;

    /// Whether the store connects to peers (a swarm, a P2P network): such stores are not
    /// started when the node's P2P consent is `off`.
    fn peer_to_peer(&self) -> bool {
        false
    }

    /// Check a section without starting anything, so a configuration file's mistakes show
    /// before any store starts. The default parses nothing; providers parse their type.
    fn check(&self, section: &serde_json::Value) -> Result<()> {
        let _ = section;
        Ok(())
    }

    /// Start the store. `section` is the section's content (`None` when the file has none);
    /// a provider parses it into its own config type and refuses unknown keys. Returns
    /// `None` when the section turns the store off.
    async fn start(
        &self,
        section: Option<serde_json::Value>,
        ctx: &StartContext,
    ) -> Result<Option<StartedStore>>;
}

/// The usual shape of a provider: a section type of its own, parsed and checked here, and a
/// store started from it. Implementing this gives [`StoreProvider`] for free.
#[async_trait]
pub trait SectionProvider: Send + Sync {
    /// The section's type (`deny_unknown_fields` recommended).
    type Section: serde::de::DeserializeOwned + Default + Send;
    /// The section's name in the configuration file.
    const SECTION: &'static str;
    /// Whether the store connects to peers (see [`StoreProvider::peer_to_peer`]).
    const PEER_TO_PEER: bool = false;

    /// Whether the section turns the store on.
    fn enabled(section: &Self::Section) -> bool;

    /// Check what parsing cannot (field combinations).
    fn validate(section: &Self::Section) -> Result<()> {
        let _ = section;
        Ok(())
    }

    /// Start the store from its parsed, validated section.
    async fn start_section(
        &self,
        section: Self::Section,
        ctx: &StartContext,
    ) -> Result<StartedStore>;
}

#[async_trait]
impl<P: SectionProvider> StoreProvider for P {
    fn section(&self) -> &'static str {
        P::SECTION
    }

    fn peer_to_peer(&self) -> bool {
        P::PEER_TO_PEER
    }

    fn check(&self, section: &serde_json::Value) -> Result<()> {
        P::validate(&parse_section(P::SECTION, Some(section.clone()))?)
    }

    async fn start(
        &self,
        section: Option<serde_json::Value>,
        ctx: &StartContext,
    ) -> Result<Option<StartedStore>> {
        let section: P::Section = parse_section(P::SECTION, section)?;
        if !P::enabled(&section) {
            return Ok(None);
        }
        P::validate(&section)?;
        self.start_section(section, ctx).await.map(Some)
    }
}

/// Parse a provider's section into its config type `T` (default when absent), with the
/// section's name in the error.
pub fn parse_section<T: serde::de::DeserializeOwned + Default>(
    section: &str,
    value: Option<serde_json::Value>,
) -> Result<T> {
    match value {
        None => Ok(T::default()),
        Some(v) => serde_json::from_value(v).map_err(|e| {
            MediaError::invalid_input(Operation::Configure, format!("[{section}]: {e}"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_addrs_survive_a_restart_and_read_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("addrs.json"),
            r#"{"s3":"127.0.0.1:4000","torrent":"127.0.0.1:4001","iroh":"127.0.0.1:4002","gateway":"127.0.0.1:4003"}"#,
        )
        .unwrap();
        let ctx = StartContext::new(dir.path(), Duration::from_secs(1));
        assert_eq!(
            ctx.stable_addr("s3", Transport::Tcp).unwrap(),
            "127.0.0.1:4000".parse().unwrap()
        );
        let fresh = ctx.stable_addr("blossom", Transport::Tcp).unwrap();
        let again = StartContext::new(dir.path(), Duration::from_secs(1));
        assert_eq!(again.stable_addr("blossom", Transport::Tcp).unwrap(), fresh);
        assert_eq!(
            again.stable_addr("iroh", Transport::Udp).unwrap(),
            "127.0.0.1:4002".parse().unwrap()
        );
    }

    #[test]
    fn sections_parse_with_their_name_in_errors() {
        #[derive(serde::Deserialize, Default, Debug)]
        #[serde(deny_unknown_fields)]
        struct Section {
            #[allow(dead_code)]
            port: Option<u16>,
        }
        let e = parse_section::<Section>("x", Some(serde_json::json!({"prot": 1}))).unwrap_err();
        assert!(e.to_string().contains("[x]"), "{e}");
        assert!(parse_section::<Section>("x", None).is_ok());
    }
}
