//! The CLI's side of a running node: `<data>/node.json` (where `media serve` listens and its
//! token) and a client of its API (the server is `media_facade::api`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use media_core::{ErrorSummary, MediaError, Operation};
use serde::{Deserialize, Serialize};

/// Where a running node says how to reach it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeFile {
    /// `http://127.0.0.1:PORT`
    pub api: String,
    /// The bearer token.
    pub token: String,
    /// The serving process.
    pub pid: u32,
}

impl NodeFile {
    pub fn path(data: &Path) -> PathBuf {
        data.join("node.json")
    }

    /// The running node's file, if there is one this user can trust: the file and its
    /// folder are this user's and nobody else may write them (else another local user could
    /// point `media` at his own server and receive the files, and identities, it sends).
    pub fn read(data: &Path) -> Option<NodeFile> {
        let path = Self::path(data);
        if let Err(why) = trusted(&path) {
            if path.exists() {
                tracing::warn!(file = %path.display(), "{why}: ignored");
                eprintln!("media: ignoring {}: {why}", path.display());
            }
            return None;
        }
        let bytes = std::fs::read(path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Write with mode 0600: the token lets anyone on the machine act as the node's owner.
    pub fn write(&self, data: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        media_core::write_private(&Self::path(data), &json)
    }
}

/// Whether `file` and its folder belong to this user and are writable by no one else.
#[cfg(unix)]
fn trusted(file: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let folder = file.parent().unwrap_or(Path::new("."));
    for (what, path) in [("its folder", folder), ("the file", file)] {
        let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{what}: {e}"))?;
        if meta.file_type().is_symlink() {
            return Err(format!("{what} is a symbolic link"));
        }
        if meta.uid() != me {
            return Err(format!(
                "{what} belongs to another user (uid {})",
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(format!("{what} is writable by other users"));
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn trusted(_file: &Path) -> Result<(), String> {
    Ok(())
}

/// A client of a running node's API.
pub struct Client {
    http: media_http::Client,
    node: NodeFile,
    /// The data directory whose `node.json` named the node.
    data: std::path::PathBuf,
}

impl Client {
    /// The node serving `data`, if `node.json` names one that answers.
    pub async fn find(data: &Path) -> Option<Client> {
        let node = NodeFile::read(data)?;
        // The node this data directory names: trusted wherever it listens. Uploads stream
        // before the answer, so no read deadline; connecting has one.
        // node.json is this user's own file (see `NodeFile::read`): its API is trusted
        // wherever it listens.
        let http =
            media_http::ClientOptions::new(media_core::Reach::public_only().allow_private(true))
                .trust_url(&node.api)
                .with_connect_timeout(Duration::from_secs(2))
                .with_read_timeout(None)
                .build()
                .ok()?;
        let client = Client {
            http,
            node,
            data: data.to_path_buf(),
        };
        let probe = client.request(reqwest::Method::GET, "health").ok()?;
        match tokio::time::timeout(Duration::from_secs(3), probe.send()).await {
            Ok(Ok(r)) if r.status().is_success() => Some(client),
            _ => None,
        }
    }

    /// The node serving the same data directory now: after a restart it listens elsewhere
    /// (a new `node.json`), with the same token.
    pub async fn rediscover(&self) -> Option<Client> {
        Client::find(&self.data).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1/{path}", self.node.api)
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, MediaError> {
        Ok(self
            .http
            .request(method, &self.url(path))?
            .bearer_auth(&self.node.token))
    }

    /// Send and turn error statuses into the node's error.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, MediaError> {
        let response = request.send().await.map_err(|e| {
            MediaError::unavailable(Operation::Configure, format!("the running node: {e}"))
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.send_error(response).await)
    }

    /// The node's error in a failed response.
    pub async fn send_error(&self, response: reqwest::Response) -> MediaError {
        let status = response.status();
        let summary: Option<ErrorSummary> = response.json().await.ok();
        match summary {
            Some(s) => MediaError::new(s.kind, s.operation, s.message),
            None => MediaError::unavailable(
                Operation::Configure,
                format!("the running node answered {status}"),
            ),
        }
    }

    pub async fn json<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, MediaError> {
        self.send(request).await?.json().await.map_err(|e| {
            MediaError::unavailable(
                Operation::Configure,
                format!("the running node's answer: {e}"),
            )
        })
    }

    /// Stream the body of a response.
    pub async fn stream(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<
        (
            Option<u64>,
            impl futures::Stream<Item = Result<bytes::Bytes, MediaError>>,
        ),
        MediaError,
    > {
        let response = self.send(request).await?;
        let len = response.content_length();
        let stream = response.bytes_stream().map(|r| {
            r.map_err(|e| {
                MediaError::unavailable(
                    Operation::Download,
                    format!("the transfer from the running node broke: {e}"),
                )
            })
        });
        Ok((len, stream))
    }
}
