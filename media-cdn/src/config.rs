//! Configuration of the CDN store: [`S3Config`] for one bucket, and the `[cdn]` section of a
//! node's configuration file with its [`CdnProvider`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use media_core::{
    Backend, MediaError, Operation, PublicHttpStore, Reach, Result, SectionProvider, Service,
    StartContext, StartedStore,
};
use serde::Deserialize;

use crate::backend::S3Backend;

/// How to reach a bucket and how to publish its objects.
///
/// ```
/// let config = media_cdn::S3Config::new("media", "access", "secret")
///     .with_endpoint("http://127.0.0.1:9000")
///     .with_public_base_url("https://cdn.example.com");
/// assert_eq!(config.object_url("media/abc"), "https://cdn.example.com/media/abc");
/// config.validate().unwrap();
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct S3Config {
    /// Backend name in events and statistics (default `cdn`).
    pub name: String,
    /// S3 endpoint URL; `None` means AWS for `region`.
    pub endpoint: Option<String>,
    /// Region (default `us-east-1`).
    pub region: String,
    /// Bucket name.
    pub bucket: String,
    /// Static access key.
    pub access_key: String,
    /// Static secret key.
    pub secret_key: String,
    /// Key prefix: objects are `<prefix>/<sha256 hex>` (default `media`).
    pub prefix: String,
    /// Path-style addressing (`endpoint/bucket/key`, default) instead of virtual hosts.
    pub path_style: bool,
    /// Public base URL of a CDN in front of the bucket; object URLs are `<base>/<key>`.
    pub public_base_url: Option<String>,
    /// For private buckets: reads go through presigned GET URLs valid this long.
    pub presign_expiry: Option<Duration>,
    /// Files at least this large are uploaded in parts (default 16 MiB).
    pub multipart_threshold: u64,
    /// Part size for multipart uploads (default 8 MiB; S3 allows 5 MiB to 5 GiB).
    pub part_size: u64,
    /// Parts in flight at once (default 4).
    pub part_concurrency: usize,
    /// Attempts per request for retryable failures, with backoff and jitter (default 4).
    pub max_attempts: u32,
    /// Connection timeout (default 5 s).
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a download before it resumes (default 30 s).
    pub read_timeout: Duration,
    /// Deadline of one S3 request attempt (a PUT, one part, a HEAD), default 120 s.
    pub request_timeout: Duration,
    /// Where reads may go when a record names a URL outside this bucket (default: public
    /// addresses only). This bucket's own URLs are always read.
    pub reach: Reach,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("prefix", &self.prefix)
            .field("path_style", &self.path_style)
            .field("public_base_url", &self.public_base_url)
            .field("presign_expiry", &self.presign_expiry)
            .finish_non_exhaustive()
    }
}

/// Smallest part S3 accepts (except the last).
pub const MIN_PART_SIZE: u64 = 5 << 20;

impl S3Config {
    /// A configuration for `bucket` with static credentials and defaults for the rest.
    pub fn new(
        bucket: impl Into<String>,
        access_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        S3Config {
            name: "cdn".into(),
            endpoint: None,
            region: "us-east-1".into(),
            bucket: bucket.into(),
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            prefix: "media".into(),
            path_style: true,
            public_base_url: None,
            presign_expiry: None,
            multipart_threshold: 16 << 20,
            part_size: 8 << 20,
            part_concurrency: 4,
            max_attempts: 4,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
            reach: Reach::public_only(),
        }
    }

    /// Set the endpoint URL.
    #[must_use]
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Set the region.
    #[must_use]
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Set the key prefix.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().trim_matches('/').to_owned();
        self
    }

    /// Set the CDN base URL.
    #[must_use]
    pub fn with_public_base_url(mut self, url: impl Into<String>) -> Self {
        self.public_base_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Read through presigned URLs valid for `expiry` (private buckets).
    #[must_use]
    pub fn with_presigned_reads(mut self, expiry: Duration) -> Self {
        self.presign_expiry = Some(expiry);
        self
    }

    /// Set the backend name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Use virtual-host addressing (`bucket.host`) instead of path style.
    #[must_use]
    pub fn with_virtual_hosts(mut self) -> Self {
        self.path_style = false;
        self
    }

    /// Set multipart threshold and part size.
    #[must_use]
    pub fn with_multipart(mut self, threshold: u64, part_size: u64) -> Self {
        self.multipart_threshold = threshold;
        self.part_size = part_size;
        self
    }

    /// Set the attempts per request.
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Where reads of URLs outside this bucket may go.
    #[must_use]
    pub fn with_reach(mut self, reach: Reach) -> Self {
        self.reach = reach;
        self
    }

    /// Set the deadline of one S3 request attempt.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Set the longest wait for the next bytes of a download.
    #[must_use]
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The object key of content `sha256_hex`.
    pub fn key_for(&self, sha256_hex: &str) -> String {
        if self.prefix.is_empty() {
            sha256_hex.to_owned()
        } else {
            format!("{}/{sha256_hex}", self.prefix)
        }
    }

    /// The URL under which `key` is published.
    pub fn object_url(&self, key: &str) -> String {
        if let Some(base) = &self.public_base_url {
            return format!("{base}/{key}");
        }
        match (&self.endpoint, self.path_style) {
            (Some(endpoint), true) => format!("{endpoint}/{}/{key}", self.bucket),
            (Some(endpoint), false) => match endpoint.split_once("://") {
                Some((scheme, host)) => format!("{scheme}://{}.{host}/{key}", self.bucket),
                None => format!("{endpoint}/{}/{key}", self.bucket),
            },
            (None, _) => format!(
                "https://{}.s3.{}.amazonaws.com/{key}",
                self.bucket, self.region
            ),
        }
    }

    /// Check the configuration; every problem is an `InvalidInput` error naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(MediaError::invalid_input(Operation::Configure, m));
        let b = &self.bucket;
        if b.len() < 3
            || b.len() > 63
            || !b
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
        {
            return bad(format!(
                "bucket {b:?}: 3-63 characters of lowercase letters, digits, '-' and '.'"
            ));
        }
        for (field, url) in [
            ("endpoint", &self.endpoint),
            ("public_base_url", &self.public_base_url),
        ] {
            if let Some(url) = url {
                match reqwest::Url::parse(url) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                    _ => return bad(format!("{field} {url:?} is not an http(s) URL")),
                }
            }
        }
        if self.access_key.is_empty() || self.secret_key.is_empty() {
            return bad("access_key and secret_key must not be empty".into());
        }
        if self.part_size < MIN_PART_SIZE || self.part_size > (5 << 30) {
            return bad(format!(
                "part_size {} is outside S3's 5 MiB..5 GiB",
                self.part_size
            ));
        }
        if self.multipart_threshold < self.part_size {
            return bad("multipart_threshold must be at least part_size".into());
        }
        if self.part_concurrency == 0 {
            return bad("part_concurrency must be at least 1".into());
        }
        if self.prefix.contains("//") || self.prefix.chars().any(char::is_control) {
            return bad(format!(
                "prefix {:?} is not a clean key prefix",
                self.prefix
            ));
        }
        Ok(())
    }
}

/// The `[cdn]` section of a node's configuration. Without `endpoint` the node runs the
/// embedded S3 server under `<data_dir>/s3`; with it, an external S3 service (SeaweedFS,
/// MinIO, AWS, R2) is used.
///
/// ```toml
/// [cdn]
/// endpoint = "https://s3.example.com"
/// bucket = "media"
/// access_key = "AKIA..."
/// secret_key = "..."
/// region = "auto"
/// public_base_url = "https://cdn.example.com"
/// ```
#[derive(Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CdnSection {
    /// Run the CDN store (default true).
    pub enabled: Option<bool>,
    /// Fixed address of the embedded S3 server (default: a port kept in `addrs.json`).
    pub listen: Option<SocketAddr>,
    /// External S3 endpoint URL.
    pub endpoint: Option<String>,
    /// Bucket name (external S3).
    pub bucket: Option<String>,
    /// Access key id (external S3).
    pub access_key: Option<String>,
    /// Secret key (external S3).
    pub secret_key: Option<String>,
    /// Region (default `us-east-1`).
    pub region: Option<String>,
    /// Public (CDN) base URL objects are read from; without it reads use presigned URLs.
    pub public_base_url: Option<String>,
    /// Key prefix (default `media`).
    pub prefix: Option<String>,
}

impl std::fmt::Debug for CdnSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdnSection")
            .field("enabled", &self.enabled)
            .field("listen", &self.listen)
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("access_key", &self.access_key)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("region", &self.region)
            .field("public_base_url", &self.public_base_url)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl CdnSection {
    /// An external S3 service at `endpoint` with a bucket and static credentials.
    pub fn external(
        endpoint: impl Into<String>,
        bucket: impl Into<String>,
        access_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        CdnSection {
            endpoint: Some(endpoint.into()),
            bucket: Some(bucket.into()),
            access_key: Some(access_key.into()),
            secret_key: Some(secret_key.into()),
            ..Default::default()
        }
    }

    /// Objects are public at `{base}/{key}` (a CDN in front of the bucket).
    #[must_use]
    pub fn with_public_base_url(mut self, base: impl Into<String>) -> Self {
        self.public_base_url = Some(base.into());
        self
    }

    /// The external bucket's configuration, `None` for the embedded server.
    pub fn external_config(&self) -> Result<Option<S3Config>> {
        let (endpoint, bucket, access_key, secret_key) = match (
            &self.endpoint,
            &self.bucket,
            &self.access_key,
            &self.secret_key,
        ) {
            (None, None, None, None) => return Ok(None),
            (Some(e), Some(b), Some(a), Some(s)) => (e, b, a, s),
            _ => {
                return Err(MediaError::invalid_input(
                    Operation::Configure,
                    "[cdn]: an external S3 needs endpoint, bucket, access_key and secret_key",
                ))
            }
        };
        let mut config = S3Config::new(bucket, access_key, secret_key).with_endpoint(endpoint);
        if let Some(region) = &self.region {
            config = config.with_region(region);
        }
        if let Some(prefix) = &self.prefix {
            config = config.with_prefix(prefix);
        }
        config = match &self.public_base_url {
            Some(base) => config.with_public_base_url(base),
            // A private bucket: reads through presigned URLs, and no web seed.
            None => config.with_presigned_reads(Duration::from_secs(3600)),
        };
        config.validate()?;
        Ok(Some(config))
    }
}

/// Starts the CDN store from its `[cdn]` section: the embedded S3 server by default, or an
/// external bucket. Its bucket doubles as the catalog other nodes resolve ids through, and a
/// public bucket is offered to later stores as their [`PublicHttpStore`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CdnProvider;

#[async_trait]
impl SectionProvider for CdnProvider {
    type Section = CdnSection;
    const SECTION: &'static str = "cdn";

    fn enabled(section: &CdnSection) -> bool {
        section.enabled != Some(false)
    }

    fn validate(section: &CdnSection) -> Result<()> {
        section.external_config().map(drop)
    }

    async fn start_section(&self, section: CdnSection, ctx: &StartContext) -> Result<StartedStore> {
        let (config, server) = match section.external_config()? {
            Some(config) => (config, None),
            None => start_embedded(&section, ctx).await?,
        };
        let config = config.with_reach(ctx.reach());
        // Objects are public with a CDN in front, and on the embedded server (anonymous
        // GET/HEAD); a private bucket's reads are presigned, so it offers no public base.
        let public = server.is_some() || config.public_base_url.is_some();
        let public_base = public.then(|| config.object_url(&config.prefix));
        let backend = S3Backend::new(config)?;
        let catalog = Arc::new(backend.catalog());
        let backend: Arc<dyn Backend> = Arc::new(backend);
        if let Some(base) = public_base {
            ctx.set_public_store(PublicHttpStore::new(base, Arc::clone(&backend)));
        }
        #[cfg_attr(not(feature = "server"), allow(unused_mut))]
        let mut started = StartedStore::backend(backend).with_shared_catalog(catalog);
        if let Some(server) = server {
            started = started.with_service(server);
        }
        Ok(started)
    }
}

#[cfg(feature = "server")]
async fn start_embedded(
    section: &CdnSection,
    ctx: &StartContext,
) -> Result<(S3Config, Option<Arc<dyn Service>>)> {
    let addr = ctx.addr_or_stable(section.listen, "s3", media_core::Transport::Tcp)?;
    // The credentials persist beside the served folder, never inside it.
    let options = crate::ServerOptions::default()
        .with_addr(addr)
        .with_secret_file(ctx.data_dir().join("secrets").join("s3.key"))
        .with_cors(media_http::Cors::public_reads().with_origins(
            media_http::AllowOrigins::from_list(ctx.cors_origins().map(<[String]>::to_vec)),
        ));
    let server = crate::EmbeddedS3::start_with(ctx.data_dir().join("s3"), "media", options).await?;
    Ok((server.config(), Some(Arc::new(server))))
}

#[cfg(not(feature = "server"))]
async fn start_embedded(
    _: &CdnSection,
    _: &StartContext,
) -> Result<(S3Config, Option<Arc<dyn Service>>)> {
    Err(MediaError::invalid_input(
        Operation::Configure,
        "[cdn]: no endpoint, and media-cdn was built without its embedded server (feature `server`)",
    ))
}
