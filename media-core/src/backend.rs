//! The [`Backend`] trait every store adapter implements.

use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

use crate::digest::Digests;
use crate::error::Result;
use crate::id::MediaId;
use crate::location::{BackendKind, Location};
use crate::range::ByteRange;

/// A stream of bytes from a store. Bytes from a backend are *unverified*: the facade checks
/// them against the chunk digests before a caller sees them.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send + 'static>>;

/// What a backend can do. The conformance suite tests what a backend declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// `get` honours byte ranges (otherwise it must still serve the full range).
    pub range_reads: bool,
    /// `delete` removes the blob.
    pub delete: bool,
    /// Zero-byte blobs can be stored and read.
    pub empty_blobs: bool,
    /// Largest blob accepted, if limited.
    pub max_size: Option<u64>,
    /// The store is a peer-to-peer network (IPFS, BitTorrent): reading from it reveals this
    /// node's address to peers; `PreferP2p` tries it first.
    pub peer_to_peer: bool,
}

impl Capabilities {
    /// Everything supported, no size limit.
    pub const fn full() -> Self {
        Capabilities {
            range_reads: true,
            delete: true,
            empty_blobs: true,
            max_size: None,
            peer_to_peer: false,
        }
    }

    /// Set `range_reads`.
    #[must_use]
    pub const fn with_range_reads(mut self, yes: bool) -> Self {
        self.range_reads = yes;
        self
    }

    /// Set `delete`.
    #[must_use]
    pub const fn with_delete(mut self, yes: bool) -> Self {
        self.delete = yes;
        self
    }

    /// Set `empty_blobs`.
    #[must_use]
    pub const fn with_empty_blobs(mut self, yes: bool) -> Self {
        self.empty_blobs = yes;
        self
    }

    /// Set `peer_to_peer`.
    #[must_use]
    pub const fn with_peer_to_peer(mut self, yes: bool) -> Self {
        self.peer_to_peer = yes;
        self
    }

    /// Set `max_size`.
    #[must_use]
    pub const fn with_max_size(mut self, max: Option<u64>) -> Self {
        self.max_size = max;
        self
    }
}

impl Default for Capabilities {
    fn default() -> Self {
        Self::full()
    }
}

/// A blob that ingest wrote to the staging area, with its digests.
///
/// Backends read the bytes from `path` (by offset, never whole into memory). The staged file is
/// removed after every backend's `put` has returned: a backend that needs the bytes later keeps
/// its own copy (a hard link is the cheap way).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StagedBlob {
    /// The staged file.
    pub path: PathBuf,
    /// Display name given at upload.
    pub name: String,
    /// MIME type.
    pub mime: String,
    /// Digests of the file's bytes.
    pub digests: Arc<Digests>,
}

impl StagedBlob {
    /// A staged blob at `path` with known digests.
    pub fn new(
        path: impl Into<PathBuf>,
        name: impl Into<String>,
        mime: impl Into<String>,
        digests: Arc<Digests>,
    ) -> Self {
        StagedBlob {
            path: path.into(),
            name: name.into(),
            mime: mime.into(),
            digests,
        }
    }

    /// The media id (SHA-256 of the bytes).
    pub fn id(&self) -> MediaId {
        self.digests.id()
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.digests.size
    }
}

/// Receives how many bytes of a transfer are done.
#[derive(Clone, Default)]
pub struct Progress {
    sink: Option<Arc<dyn Fn(u64) + Send + Sync>>,
}

impl Progress {
    /// A progress report that goes nowhere.
    pub fn none() -> Self {
        Progress { sink: None }
    }

    /// Report to `f(bytes_done)`.
    pub fn new(f: impl Fn(u64) + Send + Sync + 'static) -> Self {
        Progress {
            sink: Some(Arc::new(f)),
        }
    }

    /// Report that `bytes_done` bytes are transferred so far.
    pub fn report(&self, bytes_done: u64) {
        if let Some(sink) = &self.sink {
            sink(bytes_done);
        }
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress")
            .field("attached", &self.sink.is_some())
            .finish()
    }
}

/// One store: a CDN bucket, an IPFS node, a torrent session, or a test double.
///
/// The trait is object safe and small on purpose; policies and verification live in the facade.
/// Every error carries the backend's name, the operation and a kind.
#[async_trait]
pub trait Backend: Send + Sync + fmt::Debug {
    /// Unique name within one `MediaStore` (e.g. `"cdn"`), used in events and statistics.
    fn name(&self) -> &str;

    /// The kind of store, which decides which [`Location`]s it can read.
    fn kind(&self) -> BackendKind;

    /// What this backend supports.
    fn capabilities(&self) -> Capabilities;

    /// Store a staged blob and return where it lives. Storing a blob that is already stored
    /// succeeds and returns the same location.
    async fn put(&self, blob: &StagedBlob, progress: Progress) -> Result<Location>;

    /// Stream the bytes of `range` of the blob at `location`. Without
    /// [`Capabilities::range_reads`] a backend may serve the whole blob instead of the range.
    async fn get(&self, location: &Location, range: ByteRange) -> Result<ByteStream>;

    /// Remove the blob. Backends without [`Capabilities::delete`] return
    /// [`crate::ErrorKind::Unsupported`].
    async fn delete(&self, location: &Location) -> Result<()>;

    /// Check that the store answers.
    async fn health(&self) -> Result<()>;

    /// Never serve `id` again, even from bytes other stored media share with it (content
    /// taken down). Stores addressed per upload need nothing: deleting the placement is
    /// enough, the default. A content-addressed store whose blocks files share (IPFS: a file
    /// of one block is its raw leaf) refuses the id's blocks.
    fn refuse(&self, _id: &MediaId) {}
}
