//! The S3 client and HTTP client of one bucket, shared by the backend and the catalog.

use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    StalledStreamProtectionConfig,
};
use media_core::Result;

use crate::config::S3Config;

/// The S3 client and configuration shared by [`S3Backend`] and [`crate::S3Catalog`].
#[derive(Debug)]
pub(crate) struct Bucket {
    pub config: S3Config,
    pub client: aws_sdk_s3::Client,
    /// Reads of URLs: presigned ones of the configured endpoint, and strangers' CDN URLs.
    pub http: media_http::Client,
}

impl Bucket {
    pub fn new(config: S3Config) -> Result<Self> {
        config.validate()?;
        let credentials = Credentials::new(
            &config.access_key,
            &config.secret_key,
            None,
            None,
            "media-cdn-static",
        );
        let retry = aws_sdk_s3::config::retry::RetryConfig::standard()
            .with_max_attempts(config.max_attempts);
        // Every request has a deadline: a server that accepts a connection and then says
        // nothing must not hold an upload forever. Parts and single PUTs are at most
        // `multipart_threshold` bytes, so one attempt's deadline bounds them.
        let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
            .connect_timeout(config.connect_timeout)
            .operation_attempt_timeout(config.request_timeout)
            .build();
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(config.path_style)
            .retry_config(retry)
            .timeout_config(timeouts)
            // We send our own SHA-256 checksums; the SDK's default CRC32 aws-chunked trailer
            // is stored verbatim by some S3-compatible servers.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let client = aws_sdk_s3::Client::from_conf(builder.build());
        // The hosts the configuration names are trusted; any other host a record's URL names
        // is reached only within the node's reach (media_http's client checks every address).
        let mut options = media_http::ClientOptions::new(config.reach.clone())
            .with_connect_timeout(config.connect_timeout)
            .with_read_timeout(Some(config.read_timeout));
        for url in [
            config.endpoint.as_deref(),
            config.public_base_url.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            options = options.trust_url(url);
        }
        let http = options.build()?;
        Ok(Bucket {
            config,
            client,
            http,
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }
}
