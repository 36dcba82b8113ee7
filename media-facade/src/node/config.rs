//! The configuration file: the data directory, the download policy, and one section per store,
//! each owned by its adapter crate (`[cdn]` by `media_cdn::CdnSection`, `[ipfs]` by
//! `media_ipfs::IpfsSection`, `[torrent]` by `media_torrent::TorrentSection`, …). This file
//! only composes them. Everything is optional; an empty file is the embedded default stack.
//!
//! ```toml
//! data_dir = "./data"
//! p2p_timeout_secs = 30
//!
//! [privacy]
//! metadata = "strip"         # strip (default) | reject (refuse media with GPS) | keep
//! stores = { cdn = "strip" } # the least a store accepts, whatever an upload asks
//! p2p = "on"                 # on (default) | download (read from peers, never seed) | off
//!
//! [net]                      # where strangers' records may make the node connect
//! allow_private = false      # loopback and private ranges (true for a LAN or tests)
//! allow = ["nas.lan:9000"]
//! cors_origins = ["https://app.example"]  # pages that may read the node (default: any)
//!
//! [download]
//! policy = "hedged"          # one of media_core::download_policy_names(): p2p, cdn, fastest,
//!                             # swarm, swarm-p2p, hedged, hedged-<any of the others>
//! hedge_after_ms = 300
//! attempt_timeout_secs = 30
//!
//! [upload]
//! faststart = true           # remux MP4/MOV whose index comes last (default on)
//! sessions = 64              # resumable upload sessions (tus, IETF draft) open at once
//! session_staging_bytes = 17179869184  # bytes they may stage together (default 16 GiB)
//! session_expiry_secs = 86400          # removed after this long without progress
//! session_idle_secs = 600              # removed if no byte came this long after creation
//! session_read_timeout_secs = 30       # a request silent this long ends (its bytes stay)
//!
//! [cache]                    # verified chunks read before, on disk under data_dir/cache
//! max_bytes = 1073741824     # default 1 GiB; 0 turns the cache off
//!
//! [cdn]                      # omit `endpoint` for the embedded S3 server
//! endpoint = "https://s3.example.com"
//! bucket = "media"
//! access_key = "AKIA..."
//! secret_key = "..."
//! public_base_url = "https://cdn.example.com"
//!
//! [ipfs]
//! gateways = ["https://trustless-gateway.link"]
//!
//! [torrent]
//! trackers = ["udp://tracker.example:6969/announce"]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use media_core::{
    download_policy_named, DownloadPolicy, MediaError, Operation, Reach, Result,
    DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_HEDGE_AFTER,
};
use serde::Deserialize;

/// How a node runs: where its data lives, the download policy, and each store's section.
/// Defaults: every store compiled in (by cargo feature), embedded, on 127.0.0.1 with ports
/// the OS picks and kept across restarts.
#[derive(Clone)]
#[non_exhaustive]
pub struct StackConfig {
    /// Where everything lives: `catalog.redb`, `addrs.json`, and one folder per store.
    pub data_dir: PathBuf,
    /// Timeouts of the P2P stores (metadata / idle reads / gateway requests).
    pub p2p_timeout: Duration,
    /// The download policy (default P2P first).
    pub download_policy: Option<Arc<dyn DownloadPolicy>>,
    /// Stall timeout per download attempt.
    pub attempt_timeout: Duration,
    /// Where the node may connect when a record, magnet or ticket names an address (default:
    /// public addresses, and the node's own services).
    pub reach: Reach,
    /// What uploads do with metadata in photos and videos (default: strip it).
    pub metadata_policy: media_privacy::MetadataPolicy,
    /// The least each named store accepts (`[privacy] stores`), whatever an upload asks.
    pub store_metadata: BTreeMap<String, media_privacy::MetadataPolicy>,
    /// Remux MP4/MOV uploads whose index comes last so they play at once (`[upload]
    /// faststart`, default on).
    pub faststart: bool,
    /// Consent to peer-to-peer (default on); `off` starts no P2P store at all.
    pub p2p: crate::P2pMode,
    /// Origins whose pages may read the gateway, the S3 server and Blossom from a browser
    /// (`None`, the default: any origin).
    pub cors_origins: Option<Vec<String>>,
    /// Bound of the local verified cache (default [`crate::DEFAULT_CACHE_BYTES`]; 0: off).
    pub cache_bytes: u64,
    /// `[safety] denylist`: the denylist file (one `sha256:<hex>` or `pdq:<hex>` a line, read
    /// again when it changes) and `distance`, its PDQ match distance (default 31).
    pub denylist: Option<(PathBuf, u32)>,
    /// Bounds of resumable uploads (`[upload] sessions`, `session_staging_bytes`,
    /// `session_expiry_secs`, `session_idle_secs`, `session_read_timeout_secs`).
    pub resumable: crate::ResumableLimits,
    /// Each store's section, by name, as its provider will parse it.
    sections: BTreeMap<String, serde_json::Value>,
}

/// The sections are shown by name only: they hold secrets (`[cdn] secret_key`), which never
/// go into a log line through `{:?}`.
impl std::fmt::Debug for StackConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackConfig")
            .field("data_dir", &self.data_dir)
            .field("p2p_timeout", &self.p2p_timeout)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("reach", &self.reach)
            .field("metadata_policy", &self.metadata_policy)
            .field("faststart", &self.faststart)
            .field("resumable", &self.resumable)
            .field("p2p", &self.p2p)
            .field("cors_origins", &self.cors_origins)
            .field("cache_bytes", &self.cache_bytes)
            .field("sections", &self.sections.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl StackConfig {
    /// Every store, embedded, under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        StackConfig {
            data_dir: data_dir.into(),
            p2p_timeout: Duration::from_secs(30),
            download_policy: None,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            reach: Reach::public_only(),
            metadata_policy: media_privacy::MetadataPolicy::default(),
            store_metadata: BTreeMap::new(),
            faststart: true,
            resumable: crate::ResumableLimits::default(),
            p2p: crate::P2pMode::default(),
            cache_bytes: crate::DEFAULT_CACHE_BYTES,
            denylist: None,
            cors_origins: None,
            sections: BTreeMap::new(),
        }
    }

    /// P2P timeouts.
    #[must_use]
    pub fn with_p2p_timeout(mut self, timeout: Duration) -> Self {
        self.p2p_timeout = timeout;
        self
    }

    /// Where the node may connect on the word of untrusted input.
    #[must_use]
    pub fn with_reach(mut self, reach: Reach) -> Self {
        self.reach = reach;
        self
    }

    /// Set a store's section, e.g. `("cdn", media_cdn::CdnSection::external(…))`.
    pub fn with_section(mut self, store: &str, section: impl serde::Serialize) -> Result<Self> {
        let value =
            serde_json::to_value(section).map_err(|e| invalid(format!("[{store}]: {e}")))?;
        self.sections.insert(store.to_owned(), value);
        Ok(self)
    }

    /// Turn the store `store` on or off (a store not compiled in stays off).
    #[must_use]
    pub fn with_store_enabled(mut self, store: &str, enabled: bool) -> Self {
        let section = self
            .sections
            .entry(store.to_owned())
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if let serde_json::Value::Object(map) = section {
            map.insert("enabled".into(), serde_json::Value::Bool(enabled));
        }
        self
    }

    /// The section of `store`, if the configuration has one.
    pub fn section(&self, store: &str) -> Option<&serde_json::Value> {
        self.sections.get(store)
    }

    /// A configuration from TOML text; `default_data_dir` applies when the text names none.
    /// Each store section is checked by its provider here, so mistakes surface before any
    /// store starts.
    pub fn from_toml(text: &str, default_data_dir: &Path) -> Result<Self> {
        let file: FileConfig = toml::from_str(text).map_err(|e: toml::de::Error| {
            // Not `e`'s Display: it quotes the offending line, which may hold a secret
            // (a key pasted in the wrong place). The line number and the reason only.
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            match line {
                Some(line) => invalid(format!("configuration, line {line}: {}", e.message())),
                None => invalid(format!("configuration: {}", e.message())),
            }
        })?;
        let mut config = StackConfig::new(file.data_dir.unwrap_or_else(|| default_data_dir.into()));
        if let Some(secs) = file.p2p_timeout_secs {
            config = config.with_p2p_timeout(Duration::from_secs(secs.max(1)));
        }
        let hedge_after = file
            .download
            .hedge_after_ms
            .map_or(DEFAULT_HEDGE_AFTER, Duration::from_millis);
        if let Some(name) = file.download.policy {
            config.download_policy = Some(download_policy_named(&name, hedge_after)?);
        }
        config.attempt_timeout = file
            .download
            .attempt_timeout_secs
            .map_or(DEFAULT_ATTEMPT_TIMEOUT, Duration::from_secs);
        let mut reach = Reach::public_only().allow_private(file.net.allow_private.unwrap_or(false));
        for host in file.net.allow {
            reach = reach.allow_host(host);
        }
        config.reach = reach;
        config.cors_origins = file.net.cors_origins;
        if let Some(policy) = file.privacy.metadata {
            config.metadata_policy = policy;
        }
        config.store_metadata = file.privacy.stores;
        if let Some(remux) = file.upload.faststart {
            config.faststart = remux;
        }
        let limits = &mut config.resumable;
        let upload = &file.upload;
        if let Some(n) = upload.sessions {
            limits.max_sessions = n;
        }
        if let Some(n) = upload.session_staging_bytes {
            limits.max_staged_bytes = n;
        }
        if let Some(s) = upload.session_expiry_secs {
            limits.expiry = Duration::from_secs(s);
        }
        if let Some(s) = upload.session_idle_secs {
            limits.idle_start = Duration::from_secs(s);
        }
        if let Some(s) = upload.session_read_timeout_secs {
            limits.read_timeout = Duration::from_secs(s.max(1));
        }
        if let Some(mode) = file.privacy.p2p {
            config.p2p = mode;
        }
        if let Some(max) = file.cache.max_bytes {
            config.cache_bytes = max;
        }
        if let Some(path) = file.safety.denylist {
            let distance = file
                .safety
                .distance
                .unwrap_or(media_safety::DEFAULT_DISTANCE);
            if distance > 64 {
                return Err(invalid(format!(
                    "[safety] distance {distance} would match unrelated pictures (at most 64; PDQ's usual is 31)"
                )));
            }
            config.denylist = Some((path, distance));
        } else if file.safety.distance.is_some() {
            return Err(invalid("[safety] distance without a denylist".to_owned()));
        }
        let providers = crate::node::providers::providers();
        for (name, value) in file.stores {
            if !value.is_table() {
                return Err(invalid(format!("configuration: unknown key `{name}`")));
            }
            #[cfg(feature = "api")]
            if name == "api" {
                // A frontend, not a store: the node's API and page (see `api::ApiSection`).
                let value =
                    serde_json::to_value(&value).map_err(|e| invalid(format!("[{name}]: {e}")))?;
                media_core::parse_section::<crate::api::ApiSection>("api", Some(value.clone()))?;
                config.sections.insert(name, value);
                continue;
            }
            let provider = providers
                .iter()
                .find(|p| p.section() == name)
                .ok_or_else(|| {
                    let known: Vec<_> = providers.iter().map(|p| p.section()).collect();
                    invalid(format!(
                        "unknown section [{name}]: this build has [download] and the stores {}",
                        known.join(", ")
                    ))
                })?;
            let value =
                serde_json::to_value(&value).map_err(|e| invalid(format!("[{name}]: {e}")))?;
            provider.check(&value)?;
            config.sections.insert(name, value);
        }
        Ok(config)
    }

    /// A configuration from a TOML file.
    pub fn from_file(path: &Path, default_data_dir: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            MediaError::io(
                Operation::Configure,
                format!("reading {}", path.display()),
                e,
            )
        })?;
        Self::from_toml(&text, default_data_dir)
            .map_err(|e| invalid(format!("{}: {}", path.display(), e.message)))
    }
}

// No `deny_unknown_fields` here (serde cannot combine it with `flatten`): unknown keys land
// in `stores` and are refused there.
#[derive(Debug, Default, Deserialize)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    p2p_timeout_secs: Option<u64>,
    #[serde(default)]
    download: DownloadSection,
    #[serde(default)]
    net: NetSection,
    #[serde(default)]
    privacy: PrivacySection,
    #[serde(default)]
    cache: CacheSection,
    #[serde(default)]
    upload: UploadSection,
    #[serde(default)]
    safety: SafetySection,
    /// Every other table is a store's section.
    #[serde(flatten)]
    stores: BTreeMap<String, toml::Value>,
}

/// `[net]`: where the node may connect on the word of strangers' records.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetSection {
    /// Reach loopback and private addresses named by records (LAN deployments, tests).
    allow_private: Option<bool>,
    /// Host names (`host` or `host:port`) to reach even if they are not public.
    #[serde(default)]
    allow: Vec<String>,
    /// Origins whose pages may read the node's HTTP services (default: any).
    cors_origins: Option<Vec<String>>,
}

/// `[privacy]`: what uploads do with metadata (`strip`, `reject` or `keep`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivacySection {
    metadata: Option<media_privacy::MetadataPolicy>,
    #[serde(default)]
    stores: BTreeMap<String, media_privacy::MetadataPolicy>,
    p2p: Option<crate::P2pMode>,
}

/// `[upload]`: rewrites for delivery (apart from the metadata policy).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadSection {
    faststart: Option<bool>,
    /// Resumable sessions open at once.
    sessions: Option<usize>,
    /// Bytes all resumable sessions may stage.
    session_staging_bytes: Option<u64>,
    /// A session without progress this long is removed.
    session_expiry_secs: Option<u64>,
    /// A session that got no byte this long after creation is removed.
    session_idle_secs: Option<u64>,
    /// A request silent this long ends.
    session_read_timeout_secs: Option<u64>,
}

/// `[safety]`: the denylist refused at every way in.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SafetySection {
    denylist: Option<PathBuf>,
    distance: Option<u32>,
}

/// `[cache]`: the bound of the local verified cache.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheSection {
    max_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DownloadSection {
    policy: Option<String>,
    hedge_after_ms: Option<u64>,
    attempt_timeout_secs: Option<u64>,
}

fn invalid(message: String) -> MediaError {
    MediaError::invalid_input(Operation::Configure, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "api")]
    fn the_api_section_is_a_frontend_not_a_store() {
        let dir = std::path::Path::new("/tmp/x");
        let c = StackConfig::from_toml("[api]\nlisten = \"127.0.0.1:0\"\n", dir).unwrap();
        assert!(c.section("api").is_some());
        assert!(StackConfig::from_toml("[api]\nlisten = 5\n", dir).is_err());
        assert!(StackConfig::from_toml("[api]\nport = 5\n", dir).is_err());
    }

    /// Security review finding 11: `StackConfig` kept the sections under a derived `Debug`,
    /// so `{:?}` in a log printed `[cdn] secret_key` in clear.
    #[test]
    fn debug_hides_the_sections() {
        let c = StackConfig::from_toml(
            "[cdn]\nendpoint = \"http://s3.example.com\"\nbucket = \"media-bucket\"\naccess_key = \"AKIA-visible\"\nsecret_key = \"do-not-print-me\"\n",
            Path::new("d"),
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("do-not-print-me"), "{shown}");
        assert!(shown.contains("cdn"), "{shown}");
    }

    /// Faststart is an upload switch of its own, not a store section nor the metadata policy.
    #[test]
    fn the_upload_section_switches_faststart() {
        let dir = Path::new("d");
        assert!(StackConfig::from_toml("", dir).unwrap().faststart);
        let off = StackConfig::from_toml("[upload]\nfaststart = false\n", dir).unwrap();
        assert!(!off.faststart);
        assert!(off.section("upload").is_none());
        assert_eq!(off.metadata_policy, media_privacy::MetadataPolicy::Strip);
        assert!(StackConfig::from_toml("[upload]\nremux = 1\n", dir).is_err());
    }

    #[test]
    fn empty_file_is_the_embedded_default() {
        let c = StackConfig::from_toml("", Path::new("d")).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("d"));
        assert!(c.sections.is_empty());
        assert!(c.download_policy.is_none());
    }

    #[cfg(all(feature = "cdn", feature = "ipfs", feature = "torrent"))]
    #[test]
    fn every_section_is_read() {
        let c = StackConfig::from_toml(
            r#"
            data_dir = "/srv/media"
            p2p_timeout_secs = 7
            [net]
            allow_private = true
            cors_origins = ["https://app.example"]
            [download]
            policy = "hedged-cdn"
            hedge_after_ms = 150
            [cache]
            max_bytes = 1000
            [cdn]
            endpoint = "http://127.0.0.1:8333"
            bucket = "media"
            access_key = "k"
            secret_key = "s"
            public_base_url = "https://cdn.example.com"
            [ipfs]
            gateways = ["https://trustless-gateway.link"]
            gateway_listen = "127.0.0.1:8080"
            [torrent]
            trackers = ["http://127.0.0.1:8000/announce"]
            dht = true
            "#,
            Path::new("unused"),
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/media"));
        assert_eq!(c.p2p_timeout, Duration::from_secs(7));
        assert!(c.reach.allows_private());
        assert_eq!(c.cache_bytes, 1000);
        assert_eq!(
            c.cors_origins.as_deref(),
            Some(&["https://app.example".to_owned()][..])
        );
        let policy = format!("{:?}", c.download_policy.as_ref().unwrap());
        assert!(
            policy.contains("PreferCdn") && policy.contains("150ms"),
            "{policy}"
        );
        let cdn: media_cdn::CdnSection =
            serde_json::from_value(c.section("cdn").unwrap().clone()).unwrap();
        let s3 = cdn.external_config().unwrap().unwrap();
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:8333"));
        assert_eq!(
            s3.public_base_url.as_deref(),
            Some("https://cdn.example.com")
        );
        let ipfs: media_ipfs::IpfsSection =
            serde_json::from_value(c.section("ipfs").unwrap().clone()).unwrap();
        assert_eq!(ipfs.gateways, ["https://trustless-gateway.link"]);
        assert_eq!(ipfs.gateway_listen, Some("127.0.0.1:8080".parse().unwrap()));
        let torrent: media_torrent::TorrentSection =
            serde_json::from_value(c.section("torrent").unwrap().clone()).unwrap();
        assert_eq!(torrent.trackers, ["http://127.0.0.1:8000/announce"]);
        assert_eq!(torrent.dht, Some(true));
    }

    #[test]
    fn mistakes_are_clear_errors() {
        let mut bad = vec![
            "unknown = 1",
            "[nosuchstore]\nx = 1",
            "[download]\npolicy = \"quickest\"",
            "[cache]\nmax = 1",
            "data_dir = ",
        ];
        if cfg!(feature = "cdn") {
            bad.push("[cdn]\nendpoint = \"http://x\"");
            bad.push("[cdn]\nendpiont = \"http://x\"");
        }
        if cfg!(feature = "torrent") {
            bad.push("[torrent]\nlisten = \"not an address\"");
        }
        for bad in bad {
            let e = StackConfig::from_toml(bad, Path::new("d")).unwrap_err();
            assert_eq!(e.kind, media_core::ErrorKind::InvalidInput, "{bad:?}: {e}");
        }
    }
}
