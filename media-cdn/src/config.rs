//! Configuration of the S3 backend.

use std::time::Duration;

use media_core::{MediaError, Operation, Result};

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

    /// Set the read stall timeout of downloads.
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
