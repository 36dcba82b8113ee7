//! Private (age-encrypted) media: encrypting an upload to its recipients, and reading a
//! plaintext range with an identity by fetching only the ciphertext it needs.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use bytes::Bytes;
use media_core::{digest_copy, ByteRange, ByteStream, MediaError, MediaFile, Operation, Result};
use media_privacy::seal::{encrypt_file, plaintext_len, read_range, Recipient};
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
    block: Option<(u64, Vec<u8>)>,
}

impl CiphertextReader {
    fn fill(&mut self) -> std::io::Result<()> {
        let start = self.pos / BLOCK * BLOCK;
        if self.block.as_ref().is_some_and(|(s, _)| *s == start) {
            return Ok(());
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
        self.block = Some((start, bytes));
        Ok(())
    }
}

impl Read for CiphertextReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.file.size || buf.is_empty() {
            return Ok(0);
        }
        self.fill()?;
        let Some((start, block)) = &self.block else {
            return Ok(0);
        };
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
        let reader = || CiphertextReader {
            store: store.clone(),
            file: file.clone(),
            runtime: runtime.clone(),
            pos: 0,
            block: None,
        };
        let plain = match plaintext_len(reader(), &identity) {
            Ok(len) => len,
            Err(e) => {
                let _ = ready_tx.send(Err(sealed(e, Operation::Download)));
                return;
            }
        };
        let span = match range.resolve(plain) {
            Ok(span) => span,
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        let _ = ready_tx.send(Ok(()));
        let mut out = ChannelWriter(tx.clone());
        let result = read_range(
            reader(),
            &identity,
            span.start,
            span.end - span.start,
            &mut out,
        );
        match result {
            Ok(n) if n == span.end - span.start => {}
            Ok(n) => {
                let _ = tx.blocking_send(Err(MediaError::new(
                    media_core::ErrorKind::Integrity,
                    Operation::Download,
                    format!(
                        "the plaintext ended after {n} of {} bytes",
                        span.end - span.start
                    ),
                )));
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(sealed(e, Operation::Download)));
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
