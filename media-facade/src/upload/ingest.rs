//! Ingest: one read pass that stages the input under the data directory and computes every
//! digest on both cores.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use bytes::Bytes;
use media_core::{
    digest_copy, sniff_mime, Digests, MediaError, MediaId, Operation, Result, Timestamp,
};
use tokio::io::AsyncRead;

/// Where upload bytes come from.
#[non_exhaustive]
pub enum Input {
    /// A file on disk (read, never modified).
    Path(PathBuf),
    /// Bytes already in memory.
    Bytes(Bytes),
    /// Any async reader (network body, pipe, ...).
    Reader(Pin<Box<dyn AsyncRead + Send + 'static>>),
    /// A finished resumable session: staged and hashed already (made only by this crate).
    Staged(StagedInput),
}

/// A file already staged by this store, with its digests.
#[derive(Debug)]
pub struct StagedInput {
    path: PathBuf,
    digests: Digests,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Path(p) => f.debug_tuple("Path").field(p).finish(),
            Input::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Input::Reader(_) => f.write_str("Reader(..)"),
            Input::Staged(s) => f.debug_tuple("Staged").field(&s.path).finish(),
        }
    }
}

/// What to upload and how to describe it.
///
/// ```
/// use std::time::Duration;
/// use media_facade::UploadRequest;
/// let req = UploadRequest::bytes("hello.txt", b"hello".to_vec())
///     .with_mime("text/plain")
///     .expires_in(Duration::from_secs(3600));
/// assert_eq!(req.name(), "hello.txt");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct UploadRequest {
    pub(crate) input: Input,
    pub(crate) name: String,
    pub(crate) mime: Option<String>,
    pub(crate) expires_at: Option<Timestamp>,
    pub(crate) expected: Option<MediaId>,
    pub(crate) max_size: Option<u64>,
    pub(crate) metadata: Option<media_privacy::MetadataPolicy>,
    pub(crate) faststart: Option<bool>,
    pub(crate) recipients: Vec<media_privacy::Recipient>,
    pub(crate) already_age: bool,
    pub(crate) share_p2p: Option<bool>,
    /// Who asked for it: the node's owner unless a frontend says otherwise.
    pub(crate) owner: crate::state::ownership::Owner,
}

/// Longest accepted display name, in bytes.
const MAX_NAME: usize = 1024;

impl UploadRequest {
    /// Upload a file; its file name becomes the display name.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::new(Input::Path(path), name)
    }

    /// Upload bytes held in memory.
    pub fn bytes(name: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        Self::new(Input::Bytes(bytes.into()), name.into())
    }

    /// Upload whatever `reader` yields.
    pub fn reader(name: impl Into<String>, reader: impl AsyncRead + Send + 'static) -> Self {
        Self::new(Input::Reader(Box::pin(reader)), name.into())
    }

    /// A file this store staged and hashed (a finished resumable session): it is moved into
    /// the pipeline, not copied, and not hashed again.
    pub(crate) fn staged(name: impl Into<String>, path: PathBuf, digests: Digests) -> Self {
        Self::new(Input::Staged(StagedInput { path, digests }), name.into())
    }

    /// Stored because a Blossom signer uploaded it (not the node's own media).
    #[cfg_attr(not(feature = "blossom"), allow(dead_code))]
    pub(crate) fn for_blossom(mut self) -> Self {
        self.owner = crate::state::ownership::Owner::Blossom;
        self
    }

    fn new(input: Input, name: String) -> Self {
        UploadRequest {
            input,
            name,
            mime: None,
            expires_at: None,
            expected: None,
            max_size: None,
            metadata: None,
            faststart: None,
            recipients: Vec::new(),
            already_age: false,
            owner: crate::state::ownership::Owner::Node,
            share_p2p: None,
        }
    }

    /// Refuse the upload (an `Integrity` error, before any store receives a byte) unless the
    /// bytes' SHA-256 is `id`: for protocols where the client names the hash it sends.
    #[must_use]
    pub fn expect_sha256(mut self, id: MediaId) -> Self {
        self.expected = Some(id);
        self
    }

    /// What to do with metadata in this photo or video (default: the store's policy, which
    /// defaults to stripping it). `Keep` leaves the metadata; see [`Self::as_given`] for
    /// bytes stored exactly as given.
    #[must_use]
    pub fn with_metadata_policy(mut self, policy: media_privacy::MetadataPolicy) -> Self {
        self.metadata = Some(policy);
        self
    }

    /// Whether an MP4/MOV whose index follows its samples is remuxed so that playback starts
    /// at once (default: the store's setting, on). Lossless, but the stored bytes, and so
    /// the id, differ from the input's.
    #[must_use]
    pub fn with_faststart(mut self, remux: bool) -> Self {
        self.faststart = Some(remux);
        self
    }

    /// Store the bytes exactly as given: no metadata removed, no remux; the id is the
    /// SHA-256 of the input (protocols where the client names the hash need this).
    #[must_use]
    pub fn as_given(self) -> Self {
        self.with_metadata_policy(media_privacy::MetadataPolicy::Keep)
            .with_faststart(false)
    }

    /// Private media: encrypt to `recipients` (age, X25519) before anything is stored.
    /// Stores, peers and the shared catalog then hold ciphertext only; the record carries no
    /// name, type or thumbnail of the content. Read it back with
    /// [`MediaStore::open_private`](crate::MediaStore::open_private).
    #[must_use]
    pub fn encrypt_to(mut self, recipients: Vec<media_privacy::Recipient>) -> Self {
        self.recipients = recipients;
        self
    }

    /// The input already is an age file (encrypted elsewhere, e.g. by the `age` tool): store
    /// it as private media, bytes as given.
    #[must_use]
    pub fn age_ciphertext(mut self) -> Self {
        self.already_age = true;
        self
    }

    /// Store this upload on peer-to-peer stores (and publish its record in the shared
    /// catalog) or not. Default: yes for public media when the node's P2P consent is `On`, no
    /// for private (encrypted) media. The node's `Off`/`Download` consent always wins.
    #[must_use]
    pub fn share_p2p(mut self, yes: bool) -> Self {
        self.share_p2p = Some(yes);
        self
    }

    /// Refuse bytes beyond `bytes` (an `InvalidInput` error), below the store's own maximum.
    #[must_use]
    pub fn with_max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// Set the MIME type instead of sniffing it.
    #[must_use]
    pub fn with_mime(mut self, mime: impl Into<String>) -> Self {
        self.mime = Some(mime.into());
        self
    }

    /// Set the display name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Remove the media at `at`.
    #[must_use]
    pub fn expires_at(mut self, at: Timestamp) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Remove the media `ttl` from now.
    #[must_use]
    pub fn expires_in(self, ttl: std::time::Duration) -> Self {
        self.expires_at(Timestamp::now().plus(ttl))
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A display name safe to show and log: control characters replaced, length capped, never
/// empty. Names are never used as paths.
pub(crate) fn clean_name(name: &str) -> String {
    let mut cleaned: String = name
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect();
    if cleaned.len() > MAX_NAME {
        let mut cut = MAX_NAME;
        while !cleaned.is_char_boundary(cut) {
            cut -= 1;
        }
        cleaned.truncate(cut);
    }
    if cleaned.trim().is_empty() {
        "unnamed".to_owned()
    } else {
        cleaned
    }
}

/// The result of ingest: a staged file and its digests.
#[derive(Debug)]
pub(crate) struct Ingested {
    /// The staged file, removed with this value unless the upload hands it on.
    pub staged: crate::upload::staged::Staged,
    pub digests: Digests,
    pub sniffed_mime: &'static str,
    /// What [`crate::upload::rewrite::apply`] removed (EXIF, XMP, ...).
    pub metadata_removed: Vec<String>,
    /// The SHA-256 of the input, when [`crate::upload::rewrite::apply`] remuxed it to faststart.
    pub remuxed_from: Option<media_core::Digest32>,
}

/// Stage `input` at `target` in one pass, computing every digest.
pub(crate) async fn ingest(
    input: Input,
    name: &str,
    target: PathBuf,
    limit: Option<u64>,
) -> Result<Ingested> {
    let ingest_err =
        |context: &str, e: std::io::Error| MediaError::io(Operation::Ingest, context, e);
    if let Input::Staged(staged) = input {
        let mut guard = crate::upload::staged::Staged::new(staged.path);
        guard
            .rename(target)
            .map_err(|e| ingest_err("moving a finished session", e))?;
        if limit.is_some_and(|l| staged.digests.size > l) {
            return Err(MediaError::invalid_input(
                Operation::Ingest,
                "input is larger than the configured limit",
            ));
        }
        let sniffed_mime = sniff_mime(&read_head(guard.path()), name);
        return Ok(Ingested {
            staged: guard,
            digests: staged.digests,
            sniffed_mime,
            metadata_removed: Vec::new(),
            remuxed_from: None,
        });
    }
    // The reader side must be built here, inside the runtime, for the blocking bridge.
    let source: Box<dyn Read + Send> = match input {
        Input::Path(p) => {
            let meta = std::fs::metadata(&p)
                .map_err(|e| ingest_err(&format!("reading {}", p.display()), e))?;
            if !meta.is_file() {
                return Err(MediaError::invalid_input(
                    Operation::Ingest,
                    format!("{} is not a regular file", p.display()),
                ));
            }
            let file = std::fs::File::open(&p)
                .map_err(|e| ingest_err(&format!("opening {}", p.display()), e))?;
            Box::new(file)
        }
        Input::Bytes(b) => Box::new(std::io::Cursor::new(b)),
        Input::Reader(r) => Box::new(BlockReader::spawn(r)),
        Input::Staged(_) => unreachable_staged()?,
    };
    let staged = crate::upload::staged::Staged::new(target.clone());
    let digests = tokio::task::spawn_blocking(move || -> std::io::Result<Digests> {
        // No fsync: a staged file never outlives its upload (stores keep their own durable
        // copies before the record is written, and start-up clears the staging folder).
        let file = std::fs::File::create(&target)?;
        digest_copy(source, &file, limit)
    })
    .await
    .map_err(|e| MediaError::internal(Operation::Ingest, format!("ingest task: {e}")))?
    .map_err(|e| ingest_err("staging input", e))?;
    let sniffed_mime = sniff_mime(&read_head(staged.path()), name);
    Ok(Ingested {
        staged,
        digests,
        sniffed_mime,
        metadata_removed: Vec::new(),
        remuxed_from: None,
    })
}

/// Bytes of an async reader (a network body) handed to the blocking ingest in 1 MiB blocks:
/// an async task fills the blocks, the ingest thread waits on a channel, not on a runtime
/// `block_on` per network frame (what `SyncIoBridge` costs, and what made a 256 MiB HTTP
/// body take ~1 s to ingest).
struct BlockReader {
    blocks: tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    spent: std::sync::mpsc::Sender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
}

/// Blocks filled ahead of the ingest thread.
const READ_AHEAD: usize = 4;
const BLOCK: usize = 1 << 20;

impl BlockReader {
    fn spawn(mut source: Pin<Box<dyn AsyncRead + Send + 'static>>) -> Self {
        use tokio::io::AsyncReadExt;
        let (tx, blocks) = tokio::sync::mpsc::channel(READ_AHEAD);
        let (spent, returned) = std::sync::mpsc::channel::<Vec<u8>>();
        tokio::spawn(async move {
            loop {
                // Reuse a buffer the ingest is done with: fresh memory is slow to touch here.
                let mut block = returned
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(BLOCK));
                block.clear();
                let mut failed = None;
                while block.len() < BLOCK {
                    match source.read_buf(&mut block).await {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                let last = block.len() < BLOCK || failed.is_some();
                if !block.is_empty() && tx.send(Ok(block)).await.is_err() {
                    return;
                }
                if let Some(e) = failed {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
                if last {
                    return;
                }
            }
        });
        BlockReader {
            blocks,
            spent,
            current: Vec::new(),
            at: 0,
        }
    }
}

impl Read for BlockReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.current.len() {
            match self.blocks.blocking_recv() {
                Some(Ok(block)) => {
                    let done = std::mem::replace(&mut self.current, block);
                    if done.capacity() >= BLOCK {
                        let _ = self.spent.send(done);
                    }
                    self.at = 0;
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// `Staged` inputs return above; this keeps the match whole without a panic.
fn unreachable_staged() -> Result<Box<dyn Read + Send>> {
    Err(MediaError::internal(
        Operation::Ingest,
        "a staged input reached the copy",
    ))
}

fn read_head(path: &Path) -> Vec<u8> {
    let mut head = Vec::with_capacity(32);
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(32).read_to_end(&mut head);
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name(""), "unnamed");
        assert_eq!(clean_name("  "), "unnamed");
        assert_eq!(clean_name("a\nb\u{0}.jpg"), "a_b_.jpg");
        assert_eq!(clean_name("../../etc/passwd"), "../../etc/passwd");
        let long = "é".repeat(2000);
        let cleaned = clean_name(&long);
        assert!(cleaned.len() <= MAX_NAME && cleaned.chars().all(|c| c == 'é'));
    }
}
