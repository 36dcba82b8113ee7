//! Private (age-encrypted) media read with an identity: a plaintext range by fetching only
//! the ciphertext it needs. The age header comes from the record (`age_header`), the
//! plaintext size from the file's layout, and the age chunks holding the range in one
//! verified stream from the stores (through the release point like every read). Records
//! without the header (older ones, armored files) cost one more verified chunk read for it.

use std::io::{Read, Seek, SeekFrom, Write};

use bytes::Bytes;
use media_core::{ByteRange, ByteStream, MediaError, MediaFile, Operation, Result};
use media_privacy::seal::{read_resolved_sized, AgeLayout};
use media_privacy::{Identity, SealError};

use crate::upload::seal::{sealed, AGE};
use crate::{MediaStore, ReadOptions};

/// Ciphertext fetched per store read: one verification chunk, aligned.
const BLOCK: u64 = 1 << 20;

/// A seekable reader over a record's ciphertext (inside a blocking task). The header comes
/// from the record when it carries it; the range's ciphertext comes in one verified stream
/// from the store; anything else (an armored file's header, the age reader's own probes) in
/// verified 1 MiB blocks.
struct CiphertextReader {
    store: MediaStore,
    file: MediaFile,
    runtime: tokio::runtime::Handle,
    pos: u64,
    /// The last blocks fetched, newest last.
    blocks: Vec<(u64, Vec<u8>)>,
    /// The ciphertext the range needs, once known: read as one stream.
    span: Option<std::ops::Range<u64>>,
    /// That stream (read ahead by a task, so fetching and verifying overlap decryption),
    /// the offset of its next byte, and the piece being read.
    stream: Option<(tokio::sync::mpsc::Receiver<Result<Bytes>>, u64, Bytes)>,
}

/// Blocks a [`CiphertextReader`] keeps.
const KEPT_BLOCKS: usize = 3;

/// Verified pieces of a range's ciphertext fetched ahead of decryption.
const READ_AHEAD: usize = 4;

impl CiphertextReader {
    fn new(store: MediaStore, file: MediaFile, runtime: tokio::runtime::Handle) -> Self {
        let mut blocks = Vec::new();
        if !file.age_header.is_empty() {
            blocks.push((0, file.age_header.clone()));
        }
        CiphertextReader {
            store,
            file,
            runtime,
            pos: 0,
            blocks,
            span: None,
            stream: None,
        }
    }

    /// The layout of the file: from the record's header, else from its first block.
    fn layout(&mut self) -> std::io::Result<Option<AgeLayout>> {
        self.pos = 0;
        let i = self.fill()?;
        let (_, prefix) = &self.blocks[i];
        Ok(AgeLayout::parse(prefix, self.file.size))
    }

    /// The index in `blocks` of the block holding `pos`, fetched if needed.
    fn fill(&mut self) -> std::io::Result<usize> {
        let pos = self.pos;
        if let Some(i) = self
            .blocks
            .iter()
            .position(|(s, b)| (*s..*s + b.len() as u64).contains(&pos))
        {
            return Ok(i);
        }
        let start = pos / BLOCK * BLOCK;
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

    /// Bytes at `pos` from the range's stream, if `pos` is in the range.
    fn read_streamed(&mut self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        let Some(span) = self.span.clone().filter(|s| s.contains(&self.pos)) else {
            return Ok(None);
        };
        let in_step = matches!(&self.stream, Some((_, next, piece))
            if self.pos < *next && self.pos >= *next - piece.len() as u64);
        if !in_step && !matches!(&self.stream, Some((_, next, _)) if *next == self.pos) {
            // Not where the stream is: open one from here to the end of the range. Dropping
            // the previous receiver ends its task.
            let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
            let options = ReadOptions::new()
                .range(ByteRange::new(self.pos, span.end))
                .ciphertext();
            let (store, file) = (self.store.clone(), self.file.clone());
            self.runtime.spawn(async move {
                let mut reader = match store.open_file(&file, options).await {
                    Ok(reader) => reader,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                while let Some(piece) = futures::StreamExt::next(&mut reader).await {
                    if tx.send(piece).await.is_err() {
                        return;
                    }
                }
            });
            self.stream = Some((rx, self.pos, Bytes::new()));
        }
        let Some((rx, next, piece)) = self.stream.as_mut() else {
            return Ok(None);
        };
        while self.pos == *next {
            match rx.blocking_recv() {
                Some(Ok(bytes)) => {
                    *next += bytes.len() as u64;
                    *piece = bytes;
                }
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Err(std::io::Error::other("the ciphertext stream ended early")),
            }
        }
        let offset = (self.pos - (*next - piece.len() as u64)) as usize;
        let n = buf.len().min(piece.len() - offset);
        buf[..n].copy_from_slice(&piece[offset..offset + n]);
        Ok(Some(n))
    }
}

impl Read for CiphertextReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.file.size || buf.is_empty() {
            return Ok(0);
        }
        let in_block = self
            .blocks
            .iter()
            .any(|(s, b)| (*s..*s + b.len() as u64).contains(&self.pos));
        let streamed = if in_block {
            None
        } else {
            self.read_streamed(buf)?
        };
        let n = match streamed {
            Some(n) => n,
            None => {
                let i = self.fill()?;
                let (start, block) = &self.blocks[i];
                let offset = (self.pos - start) as usize;
                let n = buf.len().min(block.len().saturating_sub(offset));
                buf[..n].copy_from_slice(&block[offset..offset + n]);
                n
            }
        };
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

/// A [`CiphertextReader`] that learns the range's span once the range is chosen (inside the
/// age reader, which owns it by then).
struct PlannedReader {
    inner: CiphertextReader,
    planned: std::sync::Arc<std::sync::Mutex<Option<std::ops::Range<u64>>>>,
}

impl Read for PlannedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.inner.span.is_none() {
            if let Ok(mut planned) = self.planned.lock() {
                self.inner.span = planned.take();
            }
        }
        self.inner.read(buf)
    }
}

impl Seek for PlannedReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(to)
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
        let mut reader = CiphertextReader::new(store, file, runtime);
        let mut ready = Some(ready_tx);
        let mut wanted = 0;
        let mut out = ChannelWriter(tx.clone());
        // A binary age file's size and the ciphertext of any range follow from its layout;
        // an armored one is read by probing, as the age reader does.
        let layout = match reader.layout() {
            Ok(layout) => layout,
            Err(e) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(MediaError::io(Operation::Download, "age header", e)));
                }
                return;
            }
        };
        let plaintext_len = layout.and_then(|l| l.plaintext_len());
        let planned = std::sync::Arc::new(std::sync::Mutex::new(None));
        let reader = PlannedReader {
            inner: reader,
            planned: std::sync::Arc::clone(&planned),
        };
        // One header read: the size, then the range the caller asked of it.
        let result = read_resolved_sized(
            reader,
            &identity,
            plaintext_len,
            |size| {
                let span = range.resolve(size);
                if let Some(ready) = ready.take() {
                    let _ = ready.send(span.as_ref().map(|_| ()).map_err(Clone::clone));
                }
                let span = span.map_err(|e| SealError::Decrypt(e.to_string()))?;
                wanted = span.end - span.start;
                if let (Some(layout), Ok(mut planned)) = (layout, planned.lock()) {
                    *planned = Some(layout.span(span.start, wanted));
                }
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
