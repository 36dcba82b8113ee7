//! Local block storage: each file's bytes once, as one `iroh-blobs` blob in an `FsStore`,
//! plus a small manifest from which its UnixFS DAG is rebuilt. Leaf `i` of the DAG is bytes
//! `[i MiB, (i+1) MiB)` of the blob; the dag-pb nodes are recomputed from the chunk digests.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use cid::Cid;
use iroh_blobs::api::blobs::{AddPathOptions, ImportMode};
use iroh_blobs::store::fs::FsStore;
use iroh_blobs::{BlobFormat, Hash};
use media_core::stream::{range_stream, RangeReadFailure};
use media_core::{ByteStream, Digest32, Digester, Digests, Operation};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tracing::{debug, warn};

use crate::error::IpfsError;
use crate::unixfs::{FileDag, CHUNK};

/// How often untagged blobs (removed files, cached fetches) are collected.
const GC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

/// Read granularity of streamed ranges.
const READ_PIECE: usize = 256 * 1024;

/// What the manifest file of one stored file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    root: String,
    blake3: String,
    size: u64,
    chunks: Vec<Digest32>,
}

/// A file held locally: its DAG and the BLAKE3 hash of its blob in the iroh store.
#[derive(Debug)]
pub struct StoredFile {
    /// The UnixFS DAG (root, nodes, leaves).
    pub dag: FileDag,
    /// BLAKE3 of the bytes: the blob's hash in the iroh store.
    pub hash: Hash,
}

/// Where a block's bytes come from.
#[derive(Debug, Clone, Copy)]
enum BlockAt {
    /// A dag-pb node of the file's DAG.
    Node(usize),
    /// Raw leaf `i`: a chunk of the file's blob.
    Leaf(u64),
}

#[derive(Default)]
struct Index {
    files: HashMap<Cid, Arc<StoredFile>>,
    /// Every stored file that holds each block (usually one); the first answers reads. Kept
    /// per block so that removing a file costs its own blocks, not the whole index.
    blocks: HashMap<Cid, Vec<(Arc<StoredFile>, BlockAt)>>,
}

/// The blocks of a file's DAG: its dag-pb nodes and its raw leaves.
fn blocks_of(file: &StoredFile) -> impl Iterator<Item = (Cid, BlockAt)> + '_ {
    let nodes = (file.dag.nodes.iter().enumerate()).map(|(i, node)| (node.cid, BlockAt::Node(i)));
    let leaves =
        (file.dag.leaves.iter().enumerate()).map(|(i, leaf)| (*leaf, BlockAt::Leaf(i as u64)));
    nodes.chain(leaves)
}

impl Index {
    fn insert(&mut self, file: Arc<StoredFile>) {
        let root = file.dag.root;
        self.remove(&root);
        for (cid, at) in blocks_of(&file) {
            let holders = self.blocks.entry(cid).or_default();
            // A chunk repeated within the file is read from its first place.
            if !holders.iter().any(|(f, _)| Arc::ptr_eq(f, &file)) {
                holders.push((Arc::clone(&file), at));
            }
        }
        self.files.insert(root, file);
    }

    fn remove(&mut self, root: &Cid) -> Option<Arc<StoredFile>> {
        let file = self.files.remove(root)?;
        for (cid, _) in blocks_of(&file) {
            if let Some(holders) = self.blocks.get_mut(&cid) {
                holders.retain(|(f, _)| !Arc::ptr_eq(f, &file));
                if holders.is_empty() {
                    self.blocks.remove(&cid);
                }
            }
        }
        Some(file)
    }

    fn block(&self, cid: &Cid) -> Option<&(Arc<StoredFile>, BlockAt)> {
        self.blocks.get(cid).and_then(|holders| holders.first())
    }
}

/// The SHA-256 digest a CID names, if it names one.
fn sha256_of(cid: &Cid) -> Option<[u8; 32]> {
    const SHA2_256: u64 = 0x12;
    (cid.hash().code() == SHA2_256)
        .then(|| cid.hash().digest().try_into().ok())
        .flatten()
}

/// Files stored under one directory: the iroh `FsStore` in `blobs/`, manifests in `dags/`.
pub struct BlockStore {
    blobs: FsStore,
    manifests: PathBuf,
    /// Hard links to stored files, which the iroh store references in place instead of copying.
    linked: PathBuf,
    index: RwLock<Index>,
    /// Bounds reads running against the iroh store at once: under a flood of requests
    /// (hundreds of concurrent gateway readers) it otherwise fails reads with I/O errors;
    /// with the bound, requests wait their turn instead.
    reads: Arc<tokio::sync::Semaphore>,
    /// Serializes imports (see [`BlockStore::add_file`]).
    imports: tokio::sync::Mutex<()>,
    /// SHA-256 digests of content taken down: a block with one of them is not served, even
    /// when another file holds the same bytes (a file of one block is one raw leaf, so any
    /// file containing those bytes on a block boundary would otherwise serve its CID).
    refused: std::sync::RwLock<std::collections::HashSet<[u8; 32]>>,
}

/// Reads of the iroh store running at once. Measured on loopback with 200 concurrent range
/// readers: 16 served every request; 48 let 24-50 of 200 requests fail with `Error::Io`.
const CONCURRENT_READS: usize = 16;

impl std::fmt::Debug for BlockStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockStore")
            .field("manifests", &self.manifests)
            .finish_non_exhaustive()
    }
}

fn tag_name(root: &Cid) -> String {
    format!("media-ipfs/{root}")
}

impl BlockStore {
    /// Open (or create) the store under `dir`, reloading every file stored before.
    pub async fn open(dir: &Path) -> Result<Self, IpfsError> {
        let manifests = dir.join("dags");
        std::fs::create_dir_all(&manifests).map_err(IpfsError::Io)?;
        let linked = std::path::absolute(dir.join("files")).map_err(IpfsError::Io)?;
        std::fs::create_dir_all(&linked).map_err(IpfsError::Io)?;
        let blob_dir = std::path::absolute(dir.join("blobs")).map_err(IpfsError::Io)?;
        // Removed files lose their tag; the collector reclaims their bytes.
        let mut options = iroh_blobs::store::fs::options::Options::new(&blob_dir);
        options.gc = Some(iroh_blobs::store::GcConfig {
            interval: GC_INTERVAL,
            add_protected: None,
        });
        let blobs = FsStore::load_with_opts(blob_dir.join("blobs.db"), options)
            .await
            .map_err(|e| IpfsError::Unavailable(format!("opening the iroh store: {e}")))?;
        let store = BlockStore {
            blobs,
            manifests,
            linked,
            index: RwLock::new(Index::default()),
            reads: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_READS)),
            imports: tokio::sync::Mutex::new(()),
            refused: std::sync::RwLock::new(std::collections::HashSet::new()),
        };
        store.reload().await?;
        Ok(store)
    }

    async fn reload(&self) -> Result<(), IpfsError> {
        let entries = std::fs::read_dir(&self.manifests).map_err(IpfsError::Io)?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match self.load_manifest(&path).await {
                Ok(file) => self.write_index().insert(Arc::new(file)),
                Err(e) => warn!(manifest = %path.display(), error = %e, "skipping IPFS manifest"),
            }
        }
        // A link without a stored file is left from an import that did not finish.
        let kept: std::collections::HashSet<String> = self
            .read_index()
            .files
            .values()
            .map(|f| f.hash.to_hex().to_string())
            .collect();
        for entry in std::fs::read_dir(&self.linked)
            .map_err(IpfsError::Io)?
            .flatten()
        {
            if !kept.contains(entry.file_name().to_string_lossy().as_ref()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    async fn load_manifest(&self, path: &Path) -> Result<StoredFile, IpfsError> {
        let text = std::fs::read(path).map_err(IpfsError::Io)?;
        let m: Manifest = serde_json::from_slice(&text)
            .map_err(|e| IpfsError::Malformed(format!("manifest: {e}")))?;
        let dag = FileDag::from_chunk_digests(&m.chunks, m.size)?;
        if dag.root.to_string() != m.root {
            return Err(IpfsError::Integrity(format!(
                "manifest of {} rebuilds to {}",
                m.root, dag.root
            )));
        }
        let hash: Hash = m
            .blake3
            .parse()
            .map_err(|e| IpfsError::Malformed(format!("manifest hash: {e}")))?;
        if !self
            .blobs
            .blobs()
            .has(hash)
            .await
            .map_err(|e| IpfsError::Unavailable(e.to_string()))?
        {
            return Err(IpfsError::NotFound(format!(
                "the blob of {} is missing",
                m.root
            )));
        }
        Ok(StoredFile { dag, hash })
    }

    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_index(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The iroh blob store (for serving and fetching over iroh).
    pub fn blobs(&self) -> &FsStore {
        &self.blobs
    }

    /// Store the file at `path` whose digests ingest computed: its bytes are copied into the
    /// iroh store once; the DAG comes from the chunk digests. Storing a stored file is a no-op.
    pub async fn add_file(
        &self,
        path: &Path,
        digests: &Digests,
    ) -> Result<Arc<StoredFile>, IpfsError> {
        let dag = FileDag::from_chunk_digests(&digests.chunks, digests.size)?;
        if let Some(file) = self.file(&dag.root) {
            return Ok(file);
        }
        // One import at a time: two imports of the same bytes share one hard link, and one
        // replacing it under the other made iroh fail the import with `Error::Io`.
        let _importing = self.imports.lock().await;
        if let Some(file) = self.file(&dag.root) {
            return Ok(file);
        }
        let absolute = std::path::absolute(path).map_err(IpfsError::Io)?;
        // A hard link of the (immutable, staged) file lets the iroh store reference the bytes in
        // place rather than copy them; a copy is only made where linking is impossible.
        let link = self.linked_path(&Hash::from_bytes(digests.blake3.0));
        let _ = std::fs::remove_file(&link);
        let (source, mode) = match std::fs::hard_link(&absolute, &link) {
            Ok(()) => (link.clone(), ImportMode::TryReference),
            Err(e) => {
                debug!(error = %e, "cannot hard-link into the IPFS store; copying");
                (absolute, ImportMode::Copy)
            }
        };
        let imported = self
            .blobs
            .blobs()
            .add_path_with_opts(AddPathOptions {
                path: source,
                format: BlobFormat::Raw,
                mode,
            })
            .with_named_tag(tag_name(&dag.root))
            .await;
        let tagged = match imported {
            Ok(tagged) => tagged,
            Err(e) => {
                let _ = std::fs::remove_file(&link);
                return Err(IpfsError::Unavailable(format!(
                    "importing into the iroh store: {e}"
                )));
            }
        };
        if tagged.hash.as_bytes() != digests.blake3.as_bytes() {
            // The file changed since ingest: refuse rather than serve bytes that do not match.
            let _ = self.blobs.tags().delete(tag_name(&dag.root)).await;
            let _ = std::fs::remove_file(&link);
            return Err(IpfsError::Integrity(format!(
                "{} changed after ingest (BLAKE3 differs)",
                path.display()
            )));
        }
        let manifest = Manifest {
            root: dag.root.to_string(),
            blake3: tagged.hash.to_hex(),
            size: digests.size,
            chunks: digests.chunks.clone(),
        };
        let json = serde_json::to_vec(&manifest)
            .map_err(|e| IpfsError::Malformed(format!("manifest: {e}")))?;
        let final_path = self.manifests.join(format!("{}.json", dag.root));
        media_core::write_durable(&final_path, &json).map_err(IpfsError::Io)?;
        debug!(root = %dag.root, size = digests.size, "stored IPFS file");
        let file = Arc::new(StoredFile {
            dag,
            hash: tagged.hash,
        });
        self.write_index().insert(Arc::clone(&file));
        Ok(file)
    }

    /// Digest and store a file that did not come through ingest (examples, tools).
    pub async fn add_path(&self, path: &Path) -> Result<Arc<StoredFile>, IpfsError> {
        let owned = path.to_path_buf();
        let digests = tokio::task::spawn_blocking(move || -> Result<Digests, IpfsError> {
            let mut file = std::fs::File::open(&owned).map_err(IpfsError::Io)?;
            let mut digester = Digester::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = std::io::Read::read(&mut file, &mut buf).map_err(IpfsError::Io)?;
                if n == 0 {
                    break;
                }
                digester.update(&buf[..n]);
            }
            Ok(digester.finish())
        })
        .await
        .map_err(|e| IpfsError::Unavailable(format!("digest task: {e}")))??;
        self.add_file(path, &digests).await
    }

    /// Serve no block whose SHA-256 is `digest` from now on (content taken down).
    pub fn refuse(&self, digest: [u8; 32]) {
        if let Ok(mut refused) = self.refused.write() {
            refused.insert(digest);
        }
    }

    fn is_refused(&self, cid: &Cid) -> bool {
        sha256_of(cid).is_some_and(|d| self.refused.read().is_ok_and(|r| r.contains(&d)))
    }

    /// The stored file whose root is `root`.
    pub fn file(&self, root: &Cid) -> Option<Arc<StoredFile>> {
        if self.is_refused(root) {
            return None;
        }
        self.read_index().files.get(root).cloned()
    }

    /// Every stored file's root.
    pub fn roots(&self) -> Vec<Cid> {
        self.read_index().files.keys().copied().collect()
    }

    /// Whether any stored file has a block with this CID.
    pub fn has_block(&self, cid: &Cid) -> bool {
        !self.is_refused(cid) && self.read_index().block(cid).is_some()
    }

    /// The bytes of block `cid`, if held.
    pub async fn block(&self, cid: &Cid) -> Result<Option<Bytes>, IpfsError> {
        if self.is_refused(cid) {
            return Ok(None);
        }
        let found = self.read_index().block(cid).cloned();
        let Some((file, at)) = found else {
            return Ok(None);
        };
        match at {
            BlockAt::Node(i) => Ok(file.dag.nodes.get(i).map(|n| Bytes::from(n.bytes.clone()))),
            BlockAt::Leaf(i) => {
                let start = i * CHUNK;
                let end = (start + CHUNK).min(file.dag.size);
                self.read_to_bytes(file.hash, start..end).await.map(Some)
            }
        }
    }

    /// The dag-pb node of a stored file's DAG, if `cid` is one, with the byte range of the file
    /// below it.
    pub fn node_of(&self, cid: &Cid) -> Option<(Arc<StoredFile>, usize)> {
        if self.is_refused(cid) {
            return None;
        }
        match self.read_index().block(cid) {
            Some((file, BlockAt::Node(i))) => Some((Arc::clone(file), *i)),
            _ => None,
        }
    }

    /// Read `range` of the blob `hash` into memory (one block at most).
    pub async fn read_to_bytes(&self, hash: Hash, range: Range<u64>) -> Result<Bytes, IpfsError> {
        let _reading = self
            .reads
            .acquire()
            .await
            .map_err(|_| IpfsError::Unavailable("the block store is closed".into()))?;
        let mut reader = self.blobs.blobs().reader(hash);
        reader
            .seek(std::io::SeekFrom::Start(range.start))
            .await
            .map_err(IpfsError::Io)?;
        let len = usize::try_from(range.end - range.start)
            .map_err(|_| IpfsError::InvalidInput("range too large".into()))?;
        let mut buf = vec![0u8; len];
        reader.read_exact(&mut buf).await.map_err(IpfsError::Io)?;
        Ok(Bytes::from(buf))
    }

    /// Stream `range` of the blob `hash`, a piece at a time.
    pub fn read_range(&self, hash: Hash, range: Range<u64>) -> ByteStream {
        use futures::StreamExt;
        let (reads, blobs) = (Arc::clone(&self.reads), self.blobs.clone());
        // The permit is taken when the stream is first polled and held until it is dropped.
        futures::stream::once(async move { reads.acquire_owned().await })
            .flat_map(move |permit| match permit {
                Ok(permit) => {
                    let reader = blobs.blobs().reader(hash);
                    range_stream(reader, range.clone(), READ_PIECE, None, |failure| {
                        let e = match failure {
                            RangeReadFailure::Seek(e) | RangeReadFailure::Read(e) => e,
                            other => std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                format!("{other:?}"),
                            ),
                        };
                        IpfsError::Io(e).into_media(Operation::Get)
                    })
                    .map(move |piece| {
                        let _reading = &permit;
                        piece
                    })
                    .boxed()
                }
                Err(_) => futures::stream::once(async {
                    Err(IpfsError::Unavailable("the block store is closed".into())
                        .into_media(Operation::Get))
                })
                .boxed(),
            })
            .boxed()
    }

    /// Remove a stored file: its tag (the blob becomes garbage), manifest and index entries.
    pub async fn remove(&self, root: &Cid) -> Result<bool, IpfsError> {
        let Some(file) = self.write_index().remove(root) else {
            return Ok(false);
        };
        self.blobs
            .tags()
            .delete(tag_name(root))
            .await
            .map_err(|e| IpfsError::Unavailable(format!("untagging: {e}")))?;
        for owned in [
            self.manifests.join(format!("{root}.json")),
            self.linked_path(&file.hash),
        ] {
            match std::fs::remove_file(owned) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(IpfsError::Io(e)),
            }
        }
        Ok(true)
    }

    /// Where the hard link of the file with BLAKE3 `hash` lives.
    fn linked_path(&self, hash: &Hash) -> PathBuf {
        self.linked.join(hash.to_hex())
    }

    /// Flush and stop the iroh store.
    pub async fn shutdown(&self) {
        if let Err(e) = self.blobs.shutdown().await {
            warn!(error = %e, "iroh store shutdown");
        }
    }
}
