//! The S3 client and HTTP client of one bucket, shared by the backend and the catalog.

use std::sync::Arc;

use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    StalledStreamProtectionConfig,
};
use media_core::{MediaError, Operation, Reach, Result};

use crate::config::S3Config;

/// Resolves host names with the system resolver, keeping only the addresses the node may
/// reach.
struct ReachResolver(Reach);

impl reqwest::dns::Resolve for ReachResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let reach = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<std::net::SocketAddr> = found
                .filter(|a| reach.check_resolved(&host, a.ip()).is_ok())
                .collect();
            if allowed.is_empty() {
                return Err(format!(
                    "{host} resolves to no address this node may reach (loopback or private)"
                )
                .into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The host of an `http(s)://host[:port]/…` URL.
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']')?.0,
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The S3 client and configuration shared by [`S3Backend`] and [`crate::S3Catalog`].
#[derive(Debug)]
pub(crate) struct Bucket {
    pub config: S3Config,
    pub client: aws_sdk_s3::Client,
    pub http: reqwest::Client,
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
        // The hosts the configuration names are trusted; any other name a record's URL
        // carries must resolve to addresses within the node's reach (no DNS rebinding).
        let mut reach = config.reach.clone();
        for url in [
            config.endpoint.as_deref(),
            config.public_base_url.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(host) = url_host(url) {
                reach = reach.allow_host(host);
            }
        }
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(ReachResolver(reach)))
            .connect_timeout(config.connect_timeout)
            // A record's URL may point anywhere: never follow a redirect to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| MediaError::internal(Operation::Configure, format!("HTTP client: {e}")))?;
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

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use reqwest::dns::Resolve;

    use super::*;

    /// The system resolver answers; the node keeps only the addresses it may reach. `localhost`
    /// stands for any public-looking name an attacker points at 127.0.0.1 (DNS rebinding).
    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        let name = || reqwest::dns::Name::from_str("localhost").unwrap();
        let strict = ReachResolver(Reach::public_only());
        let err = strict
            .resolve(name())
            .await
            .err()
            .expect("resolved to loopback");
        assert!(
            err.to_string().contains("no address this node may reach"),
            "{err}"
        );
        let lan = ReachResolver(Reach::public_only().allow_private(true));
        let addrs: Vec<_> = lan.resolve(name()).await.unwrap().collect();
        assert!(addrs.iter().any(|a| a.ip().is_loopback()), "{addrs:?}");
        let named = ReachResolver(Reach::public_only().allow_host("localhost"));
        assert!(named.resolve(name()).await.is_ok());
    }

    #[test]
    fn hosts_of_urls() {
        assert_eq!(
            url_host("https://CDN.example.com:8443/x"),
            Some("cdn.example.com".into())
        );
        assert_eq!(url_host("http://[::1]:9000/"), Some("::1".into()));
        assert_eq!(url_host("http://127.0.0.1/"), Some("127.0.0.1".into()));
        assert_eq!(url_host("nonsense"), None);
    }
}
