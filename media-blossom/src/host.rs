//! What a Blossom server serves from: [`BlobHost`]. The media store implements it (every blob
//! also on BitTorrent, IPFS and the CDN, reads verified); [`FolderHost`] keeps blobs in a
//! folder, for a standalone server and for tests.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::pin::Pin;

use async_trait::async_trait;
use media_core::{
    digest_copy, ByteRange, ByteStream, ErrorKind, MediaError, MediaId, Operation, Result,
};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncRead;

/// What a server knows of a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BlobInfo {
    /// SHA-256 of the bytes.
    pub sha256: MediaId,
    /// Size in bytes.
    pub size: u64,
    /// MIME type.
    pub mime: String,
    /// When it was first stored, Unix seconds.
    pub uploaded: u64,
    /// The same bytes elsewhere: `magnet`, `infohash`, `ipfs` (a CID) — BUD-02 lets a Blob
    /// Descriptor carry them.
    #[serde(default)]
    pub also_at: Vec<(String, String)>,
}

impl BlobInfo {
    /// A blob without other locations.
    pub fn new(sha256: MediaId, size: u64, mime: impl Into<String>, uploaded: u64) -> Self {
        BlobInfo {
            sha256,
            size,
            mime: mime.into(),
            uploaded,
            also_at: Vec::new(),
        }
    }
}

/// An upload on its way in: the body, streamed, and what it must be.
pub struct IncomingBlob {
    /// The bytes.
    pub body: Pin<Box<dyn AsyncRead + Send + 'static>>,
    /// The SHA-256 the client announced and signed: anything else is refused before it is
    /// stored anywhere.
    pub expected: MediaId,
    /// Refuse bytes past this many.
    pub max_size: u64,
    /// The MIME type the client sent, if any.
    pub mime: Option<String>,
}

impl std::fmt::Debug for IncomingBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingBlob")
            .field("expected", &self.expected)
            .field("max_size", &self.max_size)
            .field("mime", &self.mime)
            .finish_non_exhaustive()
    }
}

/// Where a Blossom server's blobs live.
#[async_trait]
pub trait BlobHost: Send + Sync + 'static {
    /// The blob, if this host holds it or can resolve it.
    async fn describe(&self, sha256: &MediaId) -> Result<Option<BlobInfo>>;
    /// Verified bytes of `range` of the blob.
    async fn read(&self, sha256: &MediaId, range: ByteRange) -> Result<ByteStream>;
    /// Store `blob` (an `Integrity` error when its bytes are not `expected`).
    async fn store(&self, blob: IncomingBlob) -> Result<BlobInfo>;
    /// The last Blossom owner let go of the blob: remove it everywhere this host put it for
    /// Blossom. A host that also keeps the blob for itself (a media store's own upload)
    /// keeps it.
    async fn delete(&self, sha256: &MediaId) -> Result<()>;
    /// Whether the host keeps the blob for itself, not for a Blossom uploader: then an upload
    /// of the same bytes makes nobody its owner, and no Blossom `DELETE` removes it.
    async fn owned_by_host(&self, _sha256: &MediaId) -> Result<bool> {
        Ok(false)
    }
    /// Keep a report of blobs (BUD-09) for the host's owner, already checked by the server
    /// (signature, kind 1984, blobs this host has), filed from `peer` (an address, or an IPv6
    /// /64). Hosts without a review queue refuse it.
    async fn report(&self, _report: media_safety::Report, _peer: Option<String>) -> Result<()> {
        Err(media_core::MediaError::new(
            media_core::ErrorKind::Unsupported,
            media_core::Operation::Upload,
            "this server keeps no reports",
        ))
    }
}

/// Blobs in a folder: `<sha256>` and `<sha256>.json` (its [`BlobInfo`]).
#[derive(Debug, Clone)]
pub struct FolderHost {
    dir: PathBuf,
    /// Commits (rename, info file) one at a time: concurrent uploads of one blob.
    commit: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl FolderHost {
    /// Keep blobs under `dir` (created).
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(dir.join("tmp"))
            .map_err(|e| MediaError::io(Operation::Configure, "creating the blob folder", e))?;
        Ok(FolderHost {
            dir,
            commit: Default::default(),
        })
    }

    fn blob(&self, sha256: &MediaId) -> PathBuf {
        self.dir.join(sha256.to_string())
    }
}

fn now_secs() -> u64 {
    crate::auth::unix_now()
}

#[async_trait]
impl BlobHost for FolderHost {
    async fn describe(&self, sha256: &MediaId) -> Result<Option<BlobInfo>> {
        match std::fs::read(self.blob(sha256).with_extension("json")) {
            Ok(json) => serde_json::from_slice(&json)
                .map(Some)
                .map_err(|e| MediaError::internal(Operation::Catalog, format!("blob info: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(MediaError::io(Operation::Catalog, "reading blob info", e)),
        }
    }

    async fn read(&self, sha256: &MediaId, range: ByteRange) -> Result<ByteStream> {
        let path = self.blob(sha256);
        let mut file = std::fs::File::open(&path)
            .map_err(|e| MediaError::io(Operation::Download, "opening the blob", e))?;
        let size = file
            .metadata()
            .map_err(|e| MediaError::io(Operation::Download, "blob size", e))?
            .len();
        let end = range.end.unwrap_or(size).min(size);
        let start = range.start.min(end);
        file.seek(SeekFrom::Start(start))
            .map_err(|e| MediaError::io(Operation::Download, "seeking the blob", e))?;
        let reader = tokio::fs::File::from_std(file);
        let stream = tokio_util::io::ReaderStream::with_capacity(
            tokio::io::AsyncReadExt::take(reader, end - start),
            64 * 1024,
        );
        Ok(Box::pin(futures::StreamExt::map(stream, |piece| {
            piece.map_err(|e| MediaError::io(Operation::Download, "reading the blob", e))
        })))
    }

    async fn store(&self, blob: IncomingBlob) -> Result<BlobInfo> {
        if let Some(info) = self.describe(&blob.expected).await? {
            // Still read (and check) the body: the client sent it.
            let mut sink = tokio::io::sink();
            let mut body = tokio::io::AsyncReadExt::take(blob.body, blob.max_size);
            tokio::io::copy(&mut body, &mut sink)
                .await
                .map_err(|e| MediaError::io(Operation::Upload, "reading the body", e))?;
            return Ok(info);
        }
        let tmp = self.dir.join("tmp").join(format!(
            "{}-{}",
            blob.expected,
            std::process::id() as u64 ^ now_secs() ^ rand_u64()
        ));
        let source = tokio_util::io::SyncIoBridge::new(blob.body);
        let target = tmp.clone();
        let max = blob.max_size;
        let digests = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::create(&target)?;
            digest_copy(source, &file, Some(max))
        })
        .await
        .map_err(|e| MediaError::internal(Operation::Upload, format!("ingest task: {e}")))?
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            MediaError::io(Operation::Upload, "staging the body", e)
        })?;
        let id = digests.id();
        if id != blob.expected {
            let _ = std::fs::remove_file(&tmp);
            return Err(MediaError::new(
                ErrorKind::Integrity,
                Operation::Upload,
                format!(
                    "the bytes' SHA-256 is {id}, not the expected {}",
                    blob.expected
                ),
            ));
        }
        let mime = blob.mime.unwrap_or_else(|| sniff(&tmp).to_owned());
        let _commit = self.commit.lock().await;
        if let Some(info) = self.describe(&id).await? {
            let _ = std::fs::remove_file(&tmp);
            return Ok(info);
        }
        let info = BlobInfo::new(id, digests.size, mime, now_secs());
        let json = serde_json::to_vec(&info)
            .map_err(|e| MediaError::internal(Operation::Upload, format!("blob info: {e}")))?;
        std::fs::rename(&tmp, self.blob(&id))
            .map_err(|e| MediaError::io(Operation::Upload, "storing the blob", e))?;
        media_core::write_durable(&self.blob(&id).with_extension("json"), &json)
            .map_err(|e| MediaError::io(Operation::Upload, "storing blob info", e))?;
        Ok(info)
    }

    async fn delete(&self, sha256: &MediaId) -> Result<()> {
        for path in [self.blob(sha256).with_extension("json"), self.blob(sha256)] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(MediaError::io(Operation::Delete, "removing the blob", e)),
            }
        }
        Ok(())
    }
}

fn sniff(path: &std::path::Path) -> &'static str {
    let mut head = Vec::with_capacity(32);
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(32).read_to_end(&mut head);
    }
    media_core::sniff_mime(&head, "")
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}
