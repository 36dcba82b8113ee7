//! [`Node`]: where a command runs — the data directory opened here (its catalog only, or its
//! whole stack), or the `media serve` that holds it, reached through its API. Each command is
//! written once against this type (as iroh-blobs' `Store` is in-process or connected).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use media_core::{MediaError, MediaEvent, MediaFile, MediaId, MediaRef, Operation};
use media_facade::{EmbeddedStack, MediaStore, UploadRequest};
use reqwest::Method;

use crate::api::Client;
use crate::progress::{Mode, TransferBar, UploadBars};
use crate::request::GetRequest;
use crate::{parse_recipients, read_identity, CliResult};

/// Where a command runs.
// One per process: the size of the stack variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Node {
    /// The data directory's catalog alone: reading or adding a record starts no store.
    Catalog(MediaStore),
    /// The data directory's whole stack, started for this command.
    Local(EmbeddedStack),
    /// The `media serve` that holds the data directory.
    Remote(Client),
}

/// A download under way.
pub struct Download {
    /// Its length, when known before the first byte.
    pub len: Option<u64>,
    /// What the progress bar calls it.
    pub label: String,
    /// The verified bytes.
    pub stream: BoxStream<'static, Result<Bytes, MediaError>>,
    /// The id the whole file must hash to once written (a whole read from a running node is
    /// checked again here).
    pub expect: Option<MediaId>,
}

impl Node {
    /// The store of a local node.
    fn store(&self) -> Option<&MediaStore> {
        match self {
            Node::Catalog(store) => Some(store),
            Node::Local(stack) => Some(&stack.store),
            Node::Remote(_) => None,
        }
    }

    fn local_only(what: &str) -> MediaError {
        MediaError::internal(
            Operation::Configure,
            format!("{what} needs the stores; this command opened the catalog only"),
        )
    }

    /// The stack of a node started here.
    fn stack(&self, what: &str) -> Result<&EmbeddedStack, MediaError> {
        match self {
            Node::Local(stack) => Ok(stack),
            _ => Err(Self::local_only(what)),
        }
    }

    /// Every record.
    pub async fn list(&self) -> Result<Vec<MediaFile>, MediaError> {
        match self {
            Node::Remote(client) => client.json(client.request(Method::GET, "media")?).await,
            _ => {
                let store = self.store().ok_or_else(|| Self::local_only("ls"))?;
                let mut files = store.list().await?;
                files.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(files)
            }
        }
    }

    /// The record of `id`.
    pub async fn show(&self, id: &MediaId) -> Result<MediaFile, MediaError> {
        match self {
            Node::Remote(client) => {
                client
                    .json(client.request(Method::GET, &format!("media/{id}"))?)
                    .await
            }
            _ => {
                let store = self.store().ok_or_else(|| Self::local_only("show"))?;
                store.get(id).await?.ok_or_else(|| {
                    MediaError::not_found(Operation::Catalog, format!("no media with id {id}"))
                })
            }
        }
    }

    /// Import a stranger's record, checked against `reference` if given.
    pub async fn import(
        &self,
        record: MediaFile,
        reference: Option<MediaRef>,
    ) -> Result<MediaFile, MediaError> {
        match self {
            Node::Remote(client) => {
                let body = serde_json::to_vec(&record).map_err(|e| {
                    MediaError::internal(Operation::Catalog, format!("the record: {e}"))
                })?;
                let mut request = client.request(Method::POST, "import")?.body(body);
                if let Some(r) = reference {
                    request = request.query(&[("ref", r.to_string())]);
                }
                client.json(request).await
            }
            _ => {
                let store = self.store().ok_or_else(|| Self::local_only("import"))?;
                match reference {
                    Some(r) => store.import_ref(&record, &r).await?,
                    None => store.import(&record).await?,
                }
                Ok(record)
            }
        }
    }

    /// Store the file at `path` on every store, with progress.
    pub async fn put(
        &self,
        path: &Path,
        expires_in: Option<u64>,
        private_to: &[String],
        mode: Mode,
    ) -> CliResult<MediaFile> {
        let recipients = parse_recipients(private_to)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match self {
            Node::Remote(client) => {
                let meta = tokio::fs::metadata(path).await.map_err(|e| {
                    MediaError::io(Operation::Upload, format!("{}", path.display()), e)
                })?;
                if !meta.is_file() {
                    return Err(MediaError::invalid_input(
                        Operation::Upload,
                        format!("{} is not a regular file", path.display()),
                    )
                    .into());
                }
                let size = meta.len();
                let bar = Arc::new(TransferBar::new(
                    mode,
                    &format!("put {name} → node"),
                    Some(size),
                ));
                // Resumable (tus): a dropped link or a node restart goes on where it stopped.
                let described = crate::resumable::Described {
                    name: &name,
                    expires_in,
                    private_to,
                };
                match crate::resumable::put(client, path, size, described, Arc::clone(&bar)).await {
                    Ok(file) => {
                        bar.finish("stored by the running node");
                        Ok(file)
                    }
                    Err(e) => {
                        bar.abandon();
                        Err(e.into())
                    }
                }
            }
            _ => {
                let store = &self.stack("put")?.store;
                if !path.is_file() {
                    return Err(MediaError::not_found(
                        Operation::Upload,
                        format!("{}: no such file", path.display()),
                    )
                    .into());
                }
                let mut request = UploadRequest::path(path);
                if let Some(secs) = expires_in {
                    request = request.expires_in(Duration::from_secs(secs));
                }
                if !recipients.is_empty() {
                    request = request.encrypt_to(recipients);
                }
                let stores: Vec<String> = store
                    .backends()
                    .iter()
                    .map(|b| b.name().to_owned())
                    .collect();
                let mut handle = store.upload(request);
                let mut bars = UploadBars::new(mode, &name);
                while let Some(event) = handle.next_event().await {
                    match event {
                        MediaEvent::Ingested { size, .. } => bars.ingested(size, &stores),
                        MediaEvent::UploadProgress { backend, bytes, .. } => {
                            bars.progress(&backend, bytes)
                        }
                        MediaEvent::Stored { backend, .. } => bars.stored(&backend),
                        MediaEvent::StoreFailed { backend, error, .. } => {
                            bars.failed(&backend, &error.message)
                        }
                        _ => {}
                    }
                }
                bars.finish();
                Ok(handle.finish().await?)
            }
        }
    }

    /// Start reading `id` as `request` asks; private media with the age identity in the
    /// file `identity`.
    pub async fn get(
        &self,
        id: &MediaId,
        request: &GetRequest,
        identity: Option<&Path>,
    ) -> CliResult<Download> {
        let range = request.byte_range()?;
        match (self, identity) {
            (Node::Remote(client), Some(identity)) => {
                // Checked here for a clear error; the node gets the file's text in the body.
                read_identity(identity)?;
                let text = tokio::fs::read_to_string(identity).await.map_err(|e| {
                    MediaError::io(
                        Operation::Download,
                        format!("--identity {}", identity.display()),
                        e,
                    )
                })?;
                let mut query = Vec::new();
                if let Some(r) = &request.range {
                    query.push(("range", r.clone()));
                }
                let (len, stream) = client
                    .stream(
                        client
                            .request(Method::POST, &format!("media/{id}/private"))?
                            .query(&query)
                            .body(text),
                    )
                    .await?;
                Ok(Download {
                    len,
                    label: format!("get {id} (private, via node)"),
                    stream: stream.boxed(),
                    expect: None,
                })
            }
            (Node::Remote(client), None) => {
                let (len, stream) = client
                    .stream(
                        client
                            .request(Method::GET, &format!("media/{id}/content"))?
                            .query(&request.query()),
                    )
                    .await?;
                Ok(Download {
                    len,
                    label: format!("get {id}"),
                    stream: stream.boxed(),
                    expect: request.range.is_none().then_some(*id),
                })
            }
            (_, Some(identity)) => {
                let identity = read_identity(identity)?;
                let store = &self.stack("get")?.store;
                let stream = store.open_private(id, range, &identity).await?;
                Ok(Download {
                    len: None,
                    label: format!("get {id} (private)"),
                    stream: stream.boxed(),
                    expect: None,
                })
            }
            (_, None) => {
                let store = &self.stack("get")?.store;
                let options = request.options()?;
                let file = store.get(id).await?.ok_or_else(|| {
                    MediaError::not_found(Operation::Download, format!("no media with id {id}"))
                })?;
                let reader = store.open_file(&file, options).await?;
                Ok(Download {
                    len: Some(reader.len()),
                    label: format!("get {}", file.name),
                    stream: reader.boxed(),
                    expect: None,
                })
            }
        }
    }

    /// Statistics and each store's health.
    pub async fn stat(&self) -> Result<serde_json::Value, MediaError> {
        match self {
            Node::Remote(client) => client.json(client.request(Method::GET, "stats")?).await,
            _ => Ok(media_facade::api::stat_report(&self.stack("stat")?.store).await),
        }
    }

    /// Delete `id` from every store this node wrote and the catalog: the stores it left.
    pub async fn rm(&self, id: &MediaId) -> Result<Vec<String>, MediaError> {
        match self {
            Node::Remote(client) => {
                let answer: serde_json::Value = client
                    .json(client.request(Method::DELETE, &format!("media/{id}"))?)
                    .await?;
                Ok(serde_json::from_value(answer["removed"].clone()).unwrap_or_default())
            }
            _ => Ok(self.stack("rm")?.store.delete(id).await?),
        }
    }

    /// Take `id` down everywhere this node wrote it and leave a tombstone: what was done.
    pub async fn takedown(
        &self,
        id: &MediaId,
        reason: &str,
    ) -> Result<serde_json::Value, MediaError> {
        match self {
            Node::Remote(client) => {
                client
                    .json(
                        client
                            .request(Method::POST, &format!("media/{id}/takedown"))?
                            .json(&serde_json::json!({"reason": reason})),
                    )
                    .await
            }
            _ => {
                let done = self.stack("takedown")?.store.takedown(id, reason).await?;
                Ok(serde_json::json!({
                    "id": id,
                    "removed_from": done.removed_from,
                    "derived": done.derived,
                    "published": done.published,
                }))
            }
        }
    }

    /// The reports received for review, newest first.
    pub async fn reports(&self) -> Result<Vec<media_facade::media_safety::Report>, MediaError> {
        match self {
            Node::Remote(client) => client.json(client.request(Method::GET, "reports")?).await,
            _ => Ok(self
                .store()
                .ok_or_else(|| Self::local_only("reports"))?
                .reports()),
        }
    }

    /// Stop what this command started.
    pub async fn shutdown(self) {
        if let Node::Local(stack) = self {
            stack.shutdown().await;
        }
    }
}
