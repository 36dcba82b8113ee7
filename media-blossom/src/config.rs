//! The `[blossom]` section of a node's configuration: the node's own Blossom server and,
//! when `servers` are listed, [`BlossomBackend`] as a store on them.

use std::any::Any;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use media_core::{
    MediaError, Operation, Reach, Result, SectionProvider, Service, StartContext, StartedStore,
};
use serde::Deserialize;

use crate::auth::NostrKeys;
use crate::backend::{BlossomBackend, BlossomStoreConfig};
use crate::server::{BlossomServer, BlossomServerConfig};

/// The `[blossom]` section.
///
/// ```toml
/// [blossom]
/// listen = "127.0.0.1:24242"      # the node's Blossom server (default: a kept OS-picked port)
/// public_url = "https://media.example.com"
/// allowed_pubkeys = ["<hex>"]     # who may write besides the node's own key
/// open_writes = false             # true: any valid signer may upload (see below)
/// max_blobs_per_pubkey = 1000     # quotas of an open server
/// max_bytes_per_pubkey = 2147483648
/// max_auth_lifetime = 7200        # seconds an authorization may still be valid
/// max_size = 104857600
/// mime_allow = ["image/*", "video/mp4"]
/// auth_on_get = false
/// servers = ["https://blossom.example.com"]   # also store on these Blossom servers
/// secret_key_file = "/etc/media/nostr.key"    # default <data>/secrets/nostr.key
/// ```
///
/// Writes are closed by default: the node's own key (`secret_key_file`) and
/// `allowed_pubkeys` may upload, mirror and delete. `open_writes = true` lets any valid
/// signer upload, within the per-pubkey quotas; each such upload is stored on every store
/// of the node (disk on this machine, the CDN bucket's bill) and, with P2P consent on,
/// seeded to BitTorrent and IPFS peers from this machine's address. Strangers' blobs are
/// never served as pages (`nosniff`, `sandbox`), and a Blossom `DELETE` only ever removes
/// what that key uploaded and nobody else (the node included) keeps.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BlossomSection {
    /// Run the node's Blossom server (default true where the facade's `blossom` feature is on).
    pub serve: Option<bool>,
    /// `false` turns the `blossom` store off even when `servers` lists some (what
    /// `StackConfig::with_store_enabled` writes, as for every other store).
    pub enabled: Option<bool>,
    /// Where the server listens.
    pub listen: Option<SocketAddr>,
    /// The base URL in Blob Descriptors.
    pub public_url: Option<String>,
    /// Pubkeys (hex) allowed to upload, mirror and delete, besides the node's own key.
    #[serde(default)]
    pub allowed_pubkeys: Vec<String>,
    /// Let any valid signer write (default false).
    #[serde(default)]
    pub open_writes: bool,
    /// Most blobs one pubkey may have on an open server.
    pub max_blobs_per_pubkey: Option<u64>,
    /// Most bytes one pubkey may have on an open server.
    pub max_bytes_per_pubkey: Option<u64>,
    /// Longest authorization lifetime accepted, in seconds.
    pub max_auth_lifetime: Option<u64>,
    /// Largest blob accepted by the server.
    pub max_size: Option<u64>,
    /// MIME types the server accepts.
    #[serde(default)]
    pub mime_allow: Vec<String>,
    /// Require a `get` authorization to read.
    #[serde(default)]
    pub auth_on_get: bool,
    /// Remote Blossom servers to store on (the `blossom` store is on when this is not empty).
    #[serde(default)]
    pub servers: Vec<String>,
    /// The nostr key (64 hex digits) that signs uploads to `servers`.
    pub secret_key_file: Option<PathBuf>,
}

impl BlossomSection {
    /// Whether the node serves Blossom.
    pub fn serves(&self) -> bool {
        self.serve != Some(false)
    }

    /// The node's nostr key file: `secret_key_file`, else `<data_dir>/secrets/nostr.key`.
    pub fn key_file(&self, data_dir: &Path) -> PathBuf {
        self.secret_key_file
            .clone()
            .unwrap_or_else(|| data_dir.join("secrets").join("nostr.key"))
    }

    /// The server's configuration: the owners index under `<data_dir>/blossom`, browsers
    /// of `cors_origins` (`None`: any origin) let in, writes from the node's own key (made
    /// if missing) and `allowed_pubkeys`, or from anyone with `open_writes`.
    pub fn server_config(
        &self,
        data_dir: &Path,
        listen: SocketAddr,
        reach: Reach,
        cors_origins: Option<&[String]>,
    ) -> Result<BlossomServerConfig> {
        let own = load_or_create_keys(&self.key_file(data_dir))?;
        let mut writers = vec![own.public_key_hex()];
        writers.extend(self.allowed_pubkeys.iter().cloned());
        let defaults = BlossomServerConfig::new(data_dir.join("blossom"));
        let mut config = defaults
            .clone()
            .with_listen(listen)
            .with_reach(reach)
            .with_cors_origins(media_http::AllowOrigins::from_list(
                cors_origins.map(<[String]>::to_vec),
            ))
            .with_allowed_pubkeys(writers)
            .with_open_writes(self.open_writes)
            .with_quota(
                self.max_blobs_per_pubkey
                    .unwrap_or(defaults.max_blobs_per_pubkey),
                self.max_bytes_per_pubkey
                    .unwrap_or(defaults.max_bytes_per_pubkey),
            )
            .with_max_auth_lifetime(self.max_auth_lifetime.unwrap_or(defaults.max_auth_lifetime))
            .with_mime_allow(self.mime_allow.clone())
            .with_auth_on_get(self.auth_on_get);
        if let Some(max) = self.max_size {
            config = config.with_max_size(max);
        }
        if let Some(url) = &self.public_url {
            config = config.with_public_url(url);
        }
        Ok(config)
    }
}

/// The key in `path`, or a new one written there (mode 0600).
pub fn load_or_create_keys(path: &Path) -> Result<NostrKeys> {
    let io = |what: &str, e| MediaError::io(Operation::Configure, what, e);
    match std::fs::read_to_string(path) {
        Ok(text) => NostrKeys::from_hex(text.trim()).map_err(|e| {
            MediaError::invalid_input(Operation::Configure, format!("{}: {e}", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let keys = NostrKeys::generate()
                .map_err(|e| MediaError::internal(Operation::Configure, e.to_string()))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| io("creating the secrets folder", e))?;
            }
            media_core::write_private(path, keys.secret_hex().as_bytes())
                .map_err(|e| io("writing the nostr key", e))?;
            Ok(keys)
        }
        Err(e) => Err(io("reading the nostr key", e)),
    }
}

/// Starts [`BlossomBackend`] from the `[blossom]` section when it lists `servers`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlossomProvider;

impl BlossomProvider {
    /// The section's name, `blossom`.
    pub const SECTION_NAME: &'static str = "blossom";
}

#[async_trait]
impl SectionProvider for BlossomProvider {
    type Section = BlossomSection;
    const SECTION: &'static str = Self::SECTION_NAME;

    fn enabled(section: &BlossomSection) -> bool {
        section.enabled != Some(false) && !section.servers.is_empty()
    }

    async fn start_section(
        &self,
        section: BlossomSection,
        ctx: &StartContext,
    ) -> Result<StartedStore> {
        let keys = load_or_create_keys(&section.key_file(ctx.data_dir()))?;
        let backend = BlossomBackend::new(
            "blossom",
            BlossomStoreConfig::new(section.servers, keys).with_reach(ctx.reach()),
        )?;
        Ok(StartedStore::backend(Arc::new(backend)))
    }
}

#[async_trait]
impl Service for BlossomServer {
    fn endpoints(&self) -> Vec<(String, String)> {
        vec![("blossom".to_owned(), self.url().to_owned())]
    }

    async fn shutdown(&self) {
        BlossomServer::shutdown(self);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
