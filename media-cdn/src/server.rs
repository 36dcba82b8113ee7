//! An embedded S3 server on 127.0.0.1 for local use and tests: `s3s` over a folder
//! (`s3s-fs`), signed writes, and unsigned public GET/HEAD so CDN URLs work in a browser.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hyper_util::rt::{TokioExecutor, TokioIo};
use media_core::{MediaError, Operation, Result};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use s3s::S3Result;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{debug, info};

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
    task: JoinHandle<()>,
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
        let root = root.as_ref().to_path_buf();
        let io = |what: &str, e| MediaError::io(Operation::Configure, what, e);
        std::fs::create_dir_all(root.join(bucket)).map_err(|e| io("creating bucket folder", e))?;
        let fs = s3s_fs::FileSystem::new(&root).map_err(|e| {
            MediaError::internal(Operation::Configure, format!("embedded S3 storage: {e:?}"))
        })?;
        // Fresh credentials from the OS's CSPRNG at every start, kept in memory only: nothing
        // under the served root (or anywhere on disk) holds them. Public reads need none.
        let _ = std::fs::remove_file(root.join(LEGACY_SECRET_FILE));
        let access_key = format!("media-{}", random_hex(8)?);
        let secret_key = random_hex(32)?;
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
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let conn = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                connections.spawn(async move {
                    if let Err(e) = conn.await {
                        debug!(error = %e, "embedded S3 connection ended");
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        });
        info!(%addr, root = %root.display(), "embedded S3 server running");
        Ok(EmbeddedS3 {
            addr,
            root,
            bucket: bucket.to_owned(),
            access_key,
            secret_key,
            task,
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
        self.task.abort();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        self.task.abort();
    }
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
