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

/// Signed requests may do anything; anonymous ones may only read objects.
struct PublicRead;

#[async_trait::async_trait]
impl S3Access for PublicRead {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
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
#[derive(Debug)]
pub struct EmbeddedS3 {
    addr: SocketAddr,
    root: PathBuf,
    bucket: String,
    access_key: String,
    secret_key: String,
    task: JoinHandle<()>,
}

impl EmbeddedS3 {
    /// Serve `root` on an OS-chosen port of 127.0.0.1 with bucket `bucket` (created if
    /// missing) and generated credentials.
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
        // Credentials are per root folder and stable across restarts.
        let access_key = "media-local".to_owned();
        let secret_key = local_secret(&root)?;
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

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A random secret kept in the root folder so restarts keep the same credentials.
fn local_secret(root: &Path) -> Result<String> {
    let path = root.join(".media-local-secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        if !s.trim().is_empty() {
            return Ok(s.trim().to_owned());
        }
    }
    let seed = format!(
        "{:?}{}{}",
        std::time::SystemTime::now(),
        std::process::id(),
        root.display()
    );
    let secret = hex_of(&sha2::Digest::finalize(
        <sha2::Sha256 as sha2::Digest>::new_with_prefix(seed.as_bytes()),
    ));
    std::fs::write(&path, &secret)
        .map_err(|e| MediaError::io(Operation::Configure, "writing local S3 secret", e))?;
    Ok(secret)
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
