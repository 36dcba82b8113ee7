//! An embedded S3 server on 127.0.0.1 for local use and tests: `s3s` over a folder
//! (`s3s-fs`), signed writes, and unsigned public GET/HEAD so CDN URLs work in a browser.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use http::Request;
use media_core::{MediaError, Operation, Result};
use media_http::{parse_range, RangeRequest, ServeLimits};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use s3s::S3Result;
use tokio::net::TcpListener;
use tracing::info;

use crate::config::S3Config;

/// Signed requests may do anything; anonymous ones may only read objects. No request, signed
/// or not, may name a path that leaves its bucket (`..`, `.` or hidden segments): s3s-fs
/// keeps its metadata beside the buckets in the same root.
struct PublicRead;

/// Whether a bucket or key names only ordinary entries inside its folder.
fn is_plain_path(path: &str) -> bool {
    !path.contains('\\')
        && !path.contains('\0')
        && path.split('/').all(|segment| !segment.starts_with('.'))
}

#[async_trait::async_trait]
impl S3Access for PublicRead {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let plain = match cx.s3_path() {
            s3s::path::S3Path::Root => true,
            s3s::path::S3Path::Bucket { bucket } => is_plain_path(bucket),
            s3s::path::S3Path::Object { bucket, key } => {
                is_plain_path(bucket) && is_plain_path(key)
            }
        };
        if !plain {
            return Err(s3s::s3_error!(
                AccessDenied,
                "paths with '.' segments are refused"
            ));
        }
        if cx.credentials().is_some() {
            return Ok(());
        }
        match cx.s3_op().name() {
            "GetObject" | "HeadObject" => Ok(()),
            op => Err(s3s::s3_error!(
                AccessDenied,
                "{op} needs signed credentials"
            )),
        }
    }
}

/// A running embedded S3 server. Dropping it (or [`EmbeddedS3::stop`]) stops it and closes
/// every connection.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> media_core::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let server = media_cdn::EmbeddedS3::start(dir.path(), "media").await?;
/// let config = server.config();
/// assert!(config.endpoint.as_deref().unwrap().starts_with("http://127.0.0.1:"));
/// # Ok(()) }
/// ```
pub struct EmbeddedS3 {
    addr: SocketAddr,
    root: PathBuf,
    bucket: String,
    access_key: String,
    secret_key: String,
    server: media_http::Server,
}

impl std::fmt::Debug for EmbeddedS3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedS3")
            .field("addr", &self.addr)
            .field("root", &self.root)
            .field("bucket", &self.bucket)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

impl EmbeddedS3 {
    /// Serve `root` on an OS-chosen port of 127.0.0.1 with bucket `bucket` (created if
    /// missing) and fresh random credentials (see [`EmbeddedS3::start_on`]).
    pub async fn start(root: impl AsRef<Path>, bucket: &str) -> Result<Self> {
        Self::start_on(
            root,
            bucket,
            "127.0.0.1:0"
                .parse()
                .map_err(|_| MediaError::internal(Operation::Configure, "loopback address"))?,
        )
        .await
    }

    /// Like [`EmbeddedS3::start`] on a chosen address (e.g. to restart on the same port).
    pub async fn start_on(root: impl AsRef<Path>, bucket: &str, addr: SocketAddr) -> Result<Self> {
        Self::start_with(root, bucket, ServerOptions::default().with_addr(addr)).await
    }

    /// Serve `root` with bucket `bucket` as `options` say: address, connection limits, and
    /// where credentials persist across restarts.
    pub async fn start_with(
        root: impl AsRef<Path>,
        bucket: &str,
        options: ServerOptions,
    ) -> Result<Self> {
        let (addr, limits) = (options.addr, options.limits);
        let root = root.as_ref().to_path_buf();
        let io = |what: &str, e| MediaError::io(Operation::Configure, what, e);
        std::fs::create_dir_all(root.join(bucket)).map_err(|e| io("creating bucket folder", e))?;
        let fs = s3s_fs::FileSystem::new(&root).map_err(|e| {
            MediaError::internal(Operation::Configure, format!("embedded S3 storage: {e:?}"))
        })?;
        // Credentials from the OS's CSPRNG; never under the served root. Kept in memory only,
        // or in `secret_file` (mode 0600, outside the root) when they must survive a restart.
        let _ = std::fs::remove_file(root.join(LEGACY_SECRET_FILE));
        let (access_key, secret_key) = match &options.secret_file {
            Some(file) => {
                if file.starts_with(&root) {
                    return Err(MediaError::invalid_input(
                        Operation::Configure,
                        "the S3 secret file must not be inside the served folder",
                    ));
                }
                load_or_create_credentials(file)?
            }
            None => (format!("media-{}", random_hex(8)?), random_hex(32)?),
        };
        let service = {
            let mut b = S3ServiceBuilder::new(fs);
            b.set_auth(SimpleAuth::from_single(
                access_key.clone(),
                secret_key.clone(),
            ));
            b.set_access(PublicRead);
            b.build()
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| io("binding the embedded S3 server", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| io("embedded S3 address", e))?;
        let service = tower::service_fn(move |mut req: Request<media_http::Body>| {
            ignore_bad_range(&mut req);
            let mut service = service.clone();
            async move {
                let answer = tower::Service::call(&mut service, req).await;
                // Whoever wrote an object chose its type: nothing served from this origin
                // runs as a page (media_http's one rule for stored bytes).
                answer.map(|mut response| {
                    let mime = response
                        .headers()
                        .get(http::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    media_http::protect_stored_bytes(response.headers_mut(), &mime);
                    response
                })
            }
        });
        // Public reads are for browsers too: CORS on every response, preflights answered.
        let app = options.cors.wrap(service);
        let server = media_http::Server::start(listener, app, limits, "s3")
            .map_err(|e| io("embedded S3 address", e))?;
        info!(%addr, root = %root.display(), "embedded S3 server running");
        Ok(EmbeddedS3 {
            addr,
            root,
            bucket: bucket.to_owned(),
            access_key,
            secret_key,
            server,
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The storage folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A backend configuration for this server's bucket and credentials.
    pub fn config(&self) -> S3Config {
        S3Config::new(&self.bucket, &self.access_key, &self.secret_key)
            .with_endpoint(self.endpoint())
    }

    /// Stop serving and close every open connection.
    pub fn stop(self) {}
}

#[async_trait::async_trait]
impl media_core::Service for EmbeddedS3 {
    fn endpoints(&self) -> Vec<(String, String)> {
        vec![("s3".to_owned(), self.endpoint())]
    }

    async fn shutdown(&self) {
        self.server.shutdown();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// RFC 9110: a `Range` header that does not parse is ignored (the whole object is served),
/// not answered with an error; only a valid but unsatisfiable one is a 416.
fn ignore_bad_range<B>(req: &mut Request<B>) {
    let bad = req.headers().get(http::header::RANGE).is_some_and(|v| {
        v.to_str().map_or(true, |v| {
            parse_range(Some(v), u64::MAX) == RangeRequest::Whole
        })
    });
    if bad {
        req.headers_mut().remove(http::header::RANGE);
    }
}

/// How an [`EmbeddedS3`] runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Listen address (default: a free port on 127.0.0.1).
    pub addr: SocketAddr,
    /// Connection limits and timeouts.
    pub limits: ServeLimits,
    /// Keep the credentials in this file (created with mode 0600; must be outside the served
    /// folder) so they survive restarts. Default: fresh credentials in memory at every start.
    pub secret_file: Option<PathBuf>,
    /// Which pages may read objects from a browser (default: any origin, `GET`/`HEAD`).
    pub cors: media_http::Cors,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            // Its clients are nodes, often several on one machine, each sending a few parts
            // at once.
            limits: ServeLimits::default().with_per_peer(256, 64),
            secret_file: None,
            cors: media_http::Cors::public_reads(),
        }
    }
}

impl ServerOptions {
    /// Listen on `addr`.
    #[must_use]
    pub fn with_addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Use these limits.
    #[must_use]
    pub fn with_limits(mut self, limits: ServeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Which pages may read objects from a browser.
    #[must_use]
    pub fn with_cors(mut self, cors: media_http::Cors) -> Self {
        self.cors = cors;
        self
    }

    /// Persist the credentials in `file`.
    #[must_use]
    pub fn with_secret_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.secret_file = Some(file.into());
        self
    }
}

/// The access key and secret kept in `file` (`access\nsecret\n`), or new ones written there
/// with mode 0600.
fn load_or_create_credentials(file: &Path) -> Result<(String, String)> {
    let io = |what: &str, e| MediaError::io(Operation::Configure, what, e);
    if let Ok(text) = std::fs::read_to_string(file) {
        let mut lines = text.lines().map(str::trim);
        if let (Some(access), Some(secret)) = (lines.next(), lines.next()) {
            if !access.is_empty() && secret.len() == 64 {
                return Ok((access.to_owned(), secret.to_owned()));
            }
        }
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io("creating the secrets folder", e))?;
    }
    let access = format!("media-{}", random_hex(8)?);
    let secret = random_hex(32)?;
    media_core::write_private(file, format!("{access}\n{secret}\n").as_bytes())
        .map_err(|e| io("writing the S3 secret", e))?;
    Ok((access, secret))
}

/// Where versions before 0.2 kept the secret, inside the served root; removed at start.
const LEGACY_SECRET_FILE: &str = ".media-local-secret";

/// `n` random bytes from the OS, hex.
fn random_hex(n: usize) -> Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| {
        MediaError::internal(Operation::Configure, format!("OS random source: {e}"))
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_pass() {
        for ok in ["media", "media/ab12", "a/b/c"] {
            assert!(is_plain_path(ok), "{ok}");
        }
        for bad in [
            "..",
            "media/../x",
            "./x",
            ".media-local-secret",
            "a/.bucket-x",
            "a\\..",
            "a/./b",
        ] {
            assert!(!is_plain_path(bad), "{bad}");
        }
    }
}
