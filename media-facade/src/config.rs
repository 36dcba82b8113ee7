//! The configuration file: one TOML file for the data directory, each store and the download
//! policy. Everything is optional; an empty file is the embedded default stack.
//!
//! ```toml
//! data_dir = "./data"
//! p2p_timeout_secs = 30
//!
//! [download]
//! policy = "hedged"          # p2p | cdn | hedged | fastest
//! hedge_after_ms = 300
//!
//! [cdn]                      # omit `endpoint` for the embedded S3 server
//! endpoint = "https://s3.example.com"
//! bucket = "media"
//! access_key = "AKIA..."
//! secret_key = "..."
//! region = "auto"
//! public_base_url = "https://cdn.example.com"
//!
//! [ipfs]
//! gateways = ["https://trustless-gateway.link"]
//!
//! [torrent]
//! trackers = ["udp://tracker.example:6969/announce"]
//! dht = true
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use media_core::{
    DownloadPolicy, Fastest, Hedged, MediaError, Operation, PreferCdn, PreferP2p, Result,
    DEFAULT_ATTEMPT_TIMEOUT,
};
use serde::Deserialize;

use crate::embedded::StackConfig;

/// An S3-compatible service to use instead of the embedded server (scale-out).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ExternalS3 {
    /// Endpoint URL, e.g. `https://s3.example.com` or a SeaweedFS/MinIO address.
    pub endpoint: String,
    /// Bucket name.
    pub bucket: String,
    /// Access key id.
    pub access_key: String,
    /// Secret key.
    pub secret_key: String,
    /// Region (default `us-east-1`).
    #[serde(default)]
    pub region: Option<String>,
    /// Public (CDN) base URL objects are read from; without it reads use presigned URLs.
    #[serde(default)]
    pub public_base_url: Option<String>,
    /// Key prefix (default `media`).
    #[serde(default)]
    pub prefix: Option<String>,
}

impl ExternalS3 {
    /// An S3 service at `endpoint` with a bucket and static credentials.
    pub fn new(
        endpoint: impl Into<String>,
        bucket: impl Into<String>,
        access_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        ExternalS3 {
            endpoint: endpoint.into(),
            bucket: bucket.into(),
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            region: None,
            public_base_url: None,
            prefix: None,
        }
    }

    /// Objects are public at `{base}/{key}` (a CDN in front of the bucket).
    #[must_use]
    pub fn with_public_base_url(mut self, base: impl Into<String>) -> Self {
        self.public_base_url = Some(base.into());
        self
    }
}

/// Which download policy a stack's store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyChoice {
    /// P2P first (the default).
    PreferP2p,
    /// CDN first.
    PreferCdn,
    /// P2P first, hedged to the next store after the delay.
    Hedged(Duration),
    /// Learned from observed throughput.
    Fastest,
}

impl PolicyChoice {
    /// Parse `p2p`, `cdn`, `hedged` (with `hedge_after`) or `fastest`.
    pub fn parse(name: &str, hedge_after: Duration) -> Result<Self> {
        match name {
            "p2p" => Ok(PolicyChoice::PreferP2p),
            "cdn" => Ok(PolicyChoice::PreferCdn),
            "hedged" => Ok(PolicyChoice::Hedged(hedge_after)),
            "fastest" => Ok(PolicyChoice::Fastest),
            other => Err(MediaError::invalid_input(
                Operation::Configure,
                format!("download policy {other:?}: p2p, cdn, hedged or fastest"),
            )),
        }
    }

    /// The policy value, with `attempt_timeout` per attempt.
    pub fn policy(self, attempt_timeout: Duration) -> Arc<dyn DownloadPolicy> {
        match self {
            PolicyChoice::PreferP2p => Arc::new(PreferP2p { attempt_timeout }),
            PolicyChoice::PreferCdn => Arc::new(PreferCdn { attempt_timeout }),
            PolicyChoice::Hedged(after) => Arc::new(Hedged {
                after,
                cdn_first: false,
                attempt_timeout,
            }),
            PolicyChoice::Fastest => Arc::new(Fastest { attempt_timeout }),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    p2p_timeout_secs: Option<u64>,
    #[serde(default)]
    download: DownloadSection,
    #[serde(default)]
    cdn: CdnSection,
    #[serde(default)]
    ipfs: IpfsSection,
    #[serde(default)]
    torrent: TorrentSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DownloadSection {
    policy: Option<String>,
    hedge_after_ms: Option<u64>,
    attempt_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CdnSection {
    enabled: Option<bool>,
    listen: Option<SocketAddr>,
    endpoint: Option<String>,
    bucket: Option<String>,
    access_key: Option<String>,
    secret_key: Option<String>,
    region: Option<String>,
    public_base_url: Option<String>,
    prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IpfsSection {
    enabled: Option<bool>,
    iroh_listen: Option<SocketAddr>,
    gateway_listen: Option<SocketAddr>,
    #[serde(default)]
    gateways: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TorrentSection {
    enabled: Option<bool>,
    listen: Option<SocketAddr>,
    #[serde(default)]
    trackers: Vec<String>,
    dht: Option<bool>,
}

fn invalid(message: String) -> MediaError {
    MediaError::invalid_input(Operation::Configure, message)
}

impl StackConfig {
    /// A configuration from TOML text; `default_data_dir` applies when the text names none.
    pub fn from_toml(text: &str, default_data_dir: &Path) -> Result<Self> {
        let file: FileConfig =
            toml::from_str(text).map_err(|e| invalid(format!("configuration: {e}")))?;
        let mut config = StackConfig::new(file.data_dir.unwrap_or_else(|| default_data_dir.into()));
        if let Some(secs) = file.p2p_timeout_secs {
            config = config.with_p2p_timeout(Duration::from_secs(secs.max(1)));
        }
        config = config.with_stores(
            file.cdn.enabled.unwrap_or(true),
            file.ipfs.enabled.unwrap_or(true),
            file.torrent.enabled.unwrap_or(true),
        );
        config.s3_addr = file.cdn.listen;
        config.iroh_addr = file.ipfs.iroh_listen;
        config.gateway_addr = file.ipfs.gateway_listen;
        config.torrent_addr = file.torrent.listen;
        config.ipfs_gateways = file.ipfs.gateways;
        config.trackers = file.torrent.trackers;
        config.dht = file.torrent.dht.unwrap_or(false);
        let c = file.cdn;
        config.external_s3 = match (c.endpoint, c.bucket, c.access_key, c.secret_key) {
            (None, None, None, None) => None,
            (Some(endpoint), Some(bucket), Some(access_key), Some(secret_key)) => {
                Some(ExternalS3 {
                    endpoint,
                    bucket,
                    access_key,
                    secret_key,
                    region: c.region,
                    public_base_url: c.public_base_url,
                    prefix: c.prefix,
                })
            }
            _ => {
                return Err(invalid(
                    "[cdn]: an external S3 needs endpoint, bucket, access_key and secret_key"
                        .into(),
                ))
            }
        };
        let hedge_after = Duration::from_millis(file.download.hedge_after_ms.unwrap_or(300));
        if let Some(name) = file.download.policy {
            config.download_policy = Some(PolicyChoice::parse(&name, hedge_after)?);
        }
        config.attempt_timeout = file
            .download
            .attempt_timeout_secs
            .map_or(DEFAULT_ATTEMPT_TIMEOUT, Duration::from_secs);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_embedded_default() {
        let c = StackConfig::from_toml("", Path::new("d")).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("d"));
        assert!(c.external_s3.is_none());
        assert_eq!(c.download_policy, None);
    }

    #[test]
    fn every_section_is_read() {
        let c = StackConfig::from_toml(
            r#"
            data_dir = "/srv/media"
            p2p_timeout_secs = 7
            [download]
            policy = "hedged"
            hedge_after_ms = 150
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
        assert_eq!(
            c.download_policy,
            Some(PolicyChoice::Hedged(Duration::from_millis(150)))
        );
        let s3 = c.external_s3.unwrap();
        assert_eq!(s3.endpoint, "http://127.0.0.1:8333");
        assert_eq!(
            s3.public_base_url.as_deref(),
            Some("https://cdn.example.com")
        );
        assert_eq!(c.ipfs_gateways, ["https://trustless-gateway.link"]);
        assert_eq!(c.gateway_addr, Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(c.trackers, ["http://127.0.0.1:8000/announce"]);
        assert!(c.dht);
    }

    #[test]
    fn mistakes_are_clear_errors() {
        for bad in [
            "unknown = 1",
            "[cdn]\nendpoint = \"http://x\"",
            "[download]\npolicy = \"quickest\"",
            "[torrent]\nlisten = \"not an address\"",
            "data_dir = ",
        ] {
            let e = StackConfig::from_toml(bad, Path::new("d")).unwrap_err();
            assert_eq!(e.kind, media_core::ErrorKind::InvalidInput, "{bad:?}: {e}");
        }
    }
}
