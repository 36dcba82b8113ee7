//! Private (age-encrypted) media: encrypting an upload to its recipients, and reading a
//! plaintext range with an identity by fetching only the ciphertext it needs.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use bytes::Bytes;
use media_core::{digest_copy, ByteRange, ByteStream, MediaError, MediaFile, Operation, Result};
use media_privacy::seal::{encrypt_file, read_resolved, Recipient};
use media_privacy::{Identity, SealError};

use crate::ingest::Ingested;
use crate::{MediaStore, ReadOptions};

/// The `encryption` of age-encrypted records.
pub(crate) const AGE: &str = "age";

/// Ciphertext fetched per store read: one verification chunk, aligned.
const BLOCK: u64 = 1 << 20;

fn sealed(e: SealError, op: Operation) -> MediaError {
    match e {
        SealError::Io(e) => MediaError::io(op, "age", e),
        SealError::BadKey(m) => MediaError::invalid_input(op, m),
        SealError::Decrypt(m) => MediaError::new(media_core::ErrorKind::PermissionDenied, op, m),
        other => MediaError::internal(op, other.to_string()),
    }
}

/// Replace the staged plaintext by its age encryption to `recipients`; the digests become
/// the ciphertext's. On error, the path to remove comes back.
pub(crate) async fn encrypt(
    mut ingested: Ingested,
    recipients: Vec<Recipient>,
) -> std::result::Result<Ingested, (MediaError, PathBuf)> {
    let plain = ingested.path.clone();
    let sealed_path = plain.with_extension("age");
    let target = sealed_path.clone();
    let work = tokio::task::spawn_blocking(move || -> Result<_> {
        encrypt_file(&plain, &target, &recipients).map_err(|e| sealed(e, Operation::Ingest))?;
        let file = std::fs::File::open(&target)
            .map_err(|e| MediaError::io(Operation::Ingest, "reading the ciphertext", e))?;
        digest_copy(file, std::io::sink(), None)
            .map_err(|e| MediaError::io(Operation::Ingest, "hashing the ciphertext", e))
    })
    .await;
    let digests = match work {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            let _ = std::fs::remove_file(&sealed_path);
            return Err((e, ingested.path));
        }
        Err(e) => {
            let _ = std::fs::remove_file(&sealed_path);
            return Err((
                MediaError::internal(Operation::Ingest, format!("encryption task: {e}")),
                ingested.path,
            ));
        }
    };
    // The plaintext never stays on disk longer than its encryption took.
    let _ = std::fs::remove_file(&ingested.path);
    ingested.path = sealed_path;
    ingested.digests = digests;
    ingested.sniffed_mime = "application/age";
    Ok(ingested)
}

/// A seekable reader over a record's ciphertext, fetching verified 1 MiB blocks through the
/// store on demand (inside a blocking task).
struct CiphertextReader {
    store: MediaStore,
    file: MediaFile,
    runtime: tokio::runtime::Handle,
    pos: u64,
    /// The last blocks fetched, newest last: the header's, the end's (for the size) and the
    /// range's are each fetched once.
    blocks: Vec<(u64, Vec<u8>)>,
}

/// Blocks a [`CiphertextReader`] keeps.
const KEPT_BLOCKS: usize = 3;

impl CiphertextReader {
    /// The index in `blocks` of the block holding `pos`, fetched if needed.
    fn fill(&mut self) -> std::io::Result<usize> {
        let start = self.pos / BLOCK * BLOCK;
        if let Some(i) = self.blocks.iter().position(|(s, _)| *s == start) {
            return Ok(i);
        }
        let end = (start + BLOCK).min(self.file.size);
        let options = ReadOptions::new()
            .range(ByteRange::new(start, end))
            .ciphertext();
        let (store, file) = (self.store.clone(), self.file.clone());
        let bytes = self
            .runtime
            .block_on(async move { store.open_file(&file, options).await?.read_to_end().await })
            .map_err(std::io::Error::other)?;
        if self.blocks.len() == KEPT_BLOCKS {
            self.blocks.remove(0);
        }
        self.blocks.push((start, bytes));
        Ok(self.blocks.len() - 1)
    }
}

impl Read for CiphertextReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.file.size || buf.is_empty() {
            return Ok(0);
        }
        let i = self.fill()?;
        let (start, block) = &self.blocks[i];
        let offset = (self.pos - start) as usize;
        let n = buf.len().min(block.len().saturating_sub(offset));
        buf[..n].copy_from_slice(&block[offset..offset + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for CiphertextReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.file.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| std::io::Error::other("seek before the start"))?;
        Ok(self.pos)
    }
}

/// Sends decrypted bytes to the reader's stream, waiting when it is behind.
struct ChannelWriter(tokio::sync::mpsc::Sender<Result<Bytes>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::other("the reader went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The plaintext `range` of `file`, decrypted with `identity`.
pub(crate) async fn open(
    store: MediaStore,
    file: MediaFile,
    range: ByteRange,
    identity: Identity,
) -> Result<ByteStream> {
    if file.encryption.as_deref() != Some(AGE) {
        return Err(MediaError::invalid_input(
            Operation::Download,
            format!("media {} is not encrypted", file.id),
        ));
    }
    let runtime = tokio::runtime::Handle::current();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(8);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<()>>();
    tokio::task::spawn_blocking(move || {
        let reader = CiphertextReader {
            store,
            file,
            runtime,
            pos: 0,
            blocks: Vec::new(),
        };
        let mut ready = Some(ready_tx);
        let mut wanted = 0;
        let mut out = ChannelWriter(tx.clone());
        // One header read: the size, then the range the caller asked of it.
        let result = read_resolved(
            reader,
            &identity,
            |size| {
                let span = range.resolve(size);
                if let Some(ready) = ready.take() {
                    let _ = ready.send(span.as_ref().map(|_| ()).map_err(Clone::clone));
                }
                let span = span.map_err(|e| SealError::Decrypt(e.to_string()))?;
                wanted = span.end - span.start;
                Ok::<_, SealError>((span.start, wanted))
            },
            &mut out,
        );
        match result {
            Ok(n) if n == wanted => {}
            Ok(n) => {
                let _ = tx.blocking_send(Err(MediaError::new(
                    media_core::ErrorKind::Integrity,
                    Operation::Download,
                    format!("the plaintext ended after {n} of {wanted} bytes"),
                )));
            }
            Err(e) => {
                let error = sealed(e, Operation::Download);
                // Before the range was known (header, identity) the caller gets the error;
                // after, the stream ends with it.
                match ready.take() {
                    Some(ready) => {
                        let _ = ready.send(Err(error));
                    }
                    None => {
                        let _ = tx.blocking_send(Err(error));
                    }
                }
            }
        }
    });
    ready_rx
        .await
        .map_err(|_| MediaError::internal(Operation::Download, "the decryption task stopped"))??;
    Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })))
}
