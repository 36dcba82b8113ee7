//! Downloads: plan, attempts in order (hedged where asked), chunk-by-chunk verification, and
//! fallback that resumes at the first unverified chunk.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use media_core::{
    Backend, ByteRange, ByteStream, ChunkLayout, ChunkVerifier, Digests, DownloadPlan, ErrorKind,
    Location, MediaError, MediaEvent, MediaFile, MediaId, Operation, OperationId, Result,
};
use sha2::Digest as _;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::options::ReadOptions;
use crate::reader::MediaReader;
use crate::state::Inner;

/// Emit a download progress event at most every this many bytes.
const PROGRESS_STEP: u64 = 4 << 20;
/// Verified chunks buffered between the download task and the reader.
const READ_AHEAD: usize = 4;

/// Plan a download of `file` and start it in the background; the reader receives the
/// verified bytes.
///
/// With `verify_first` (a record whose chunk list nothing anchors), the verified chunks are
/// spooled to a file in the staging folder and released only after the whole file hashed to
/// the id; then the record is anchored.
pub(crate) fn start(
    inner: &Arc<Inner>,
    file: &MediaFile,
    options: ReadOptions,
    verify_first: bool,
) -> Result<MediaReader> {
    let bytes = options.range.resolve(file.size)?;
    // Every location a backend of its kind can read is one attempt: two buckets holding
    // the media are two chances, not one.
    let attempts: Vec<(Arc<dyn Backend>, Location)> = inner
        .backends
        .iter()
        .filter(|b| options.only.as_deref().is_none_or(|only| only == b.name()))
        // With P2P consent off, no peer is contacted, not even to read.
        .filter(|b| inner.p2p != crate::P2pMode::Off || !b.capabilities().peer_to_peer)
        .flat_map(|b| {
            let kind = b.kind();
            file.locations
                .iter()
                .filter(move |l| l.kind == kind)
                .map(move |l| (Arc::clone(b), l.clone()))
        })
        .collect();
    if attempts.is_empty() {
        return Err(MediaError::new(
            ErrorKind::Unavailable,
            Operation::Download,
            format!(
                "no backend{} can read any location of {}",
                options
                    .only
                    .as_deref()
                    .map(|o| format!(" named {o:?}"))
                    .unwrap_or_default(),
                file.id
            ),
        ));
    }
    let candidates: Vec<_> = attempts
        .iter()
        .map(|(b, _)| Inner::candidate(b.as_ref()))
        .collect();
    let policy = options
        .policy
        .unwrap_or_else(|| Arc::clone(&inner.download_policy));
    let plan = {
        let table = inner
            .throughput
            .lock()
            .map_err(|_| MediaError::internal(Operation::Download, "throughput lock"))?;
        policy.plan(&candidates, &table)
    };
    let op = inner.next_op();
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    let job = Download {
        inner: Arc::clone(inner),
        op,
        id: file.id,
        digests: Arc::new(file.digests()),
        bytes: bytes.clone(),
        whole: options.range.is_full(),
        attempts,
        plan,
        attempt_timeout: options.attempt_timeout.unwrap_or(inner.attempt_timeout),
        tx,
    };
    tokio::spawn(job.run());
    if !verify_first {
        return Ok(MediaReader::new(op, bytes.end - bytes.start, rx));
    }
    let (user_tx, user_rx) = mpsc::channel(READ_AHEAD);
    let spool = Spool {
        inner: Arc::clone(inner),
        file: file.clone(),
        path: inner.staging.join(format!("verify-{}", op.0)),
    };
    tokio::spawn(spool.run(rx, user_tx));
    Ok(MediaReader::new(op, bytes.end - bytes.start, user_rx))
}

/// Holds a whole download on disk until it hashed to the id, then releases it.
struct Spool {
    inner: Arc<Inner>,
    file: MediaFile,
    path: std::path::PathBuf,
}

/// Bytes read back per piece when a spooled download is released.
const RELEASE_PIECE: usize = 1 << 20;

impl Spool {
    async fn run(self, rx: mpsc::Receiver<Result<Bytes>>, tx: mpsc::Sender<Result<Bytes>>) {
        let result = self.fill(rx).await;
        let outcome = match result {
            Ok(()) => self.release(&tx).await,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                Ok(())
            }
        };
        if let Err(e) = outcome {
            let _ = tx.send(Err(e)).await;
        }
        let _ = tokio::fs::remove_file(&self.path).await;
    }

    /// Write every verified chunk to the spool file and check the whole against the id.
    async fn fill(&self, mut rx: mpsc::Receiver<Result<Bytes>>) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let io = |e| MediaError::io(Operation::Download, "spooling a download to verify it", e);
        let mut out = tokio::fs::File::create(&self.path).await.map_err(io)?;
        let mut whole = sha2::Sha256::new();
        let mut written = 0u64;
        while let Some(piece) = rx.recv().await {
            let piece = piece?;
            whole.update(&piece);
            out.write_all(&piece).await.map_err(io)?;
            written += piece.len() as u64;
        }
        out.flush().await.map_err(io)?;
        if written != self.file.size
            || media_core::Digest32(whole.finalize().into()) != self.file.sha256
        {
            return Err(MediaError::integrity(
                Operation::Download,
                format!(
                    "the bytes received for {} do not hash to its id: nothing was released",
                    self.file.id
                ),
            ));
        }
        // Every chunk matched the record and the whole matched the id: the chunk list is
        // proven, so later range reads of this record are verified.
        self.inner.anchors.set(&self.file)
    }

    async fn release(&self, tx: &mpsc::Sender<Result<Bytes>>) -> Result<()> {
        use tokio::io::AsyncReadExt;
        let io = |e| MediaError::io(Operation::Download, "reading a verified download back", e);
        let mut input = tokio::fs::File::open(&self.path).await.map_err(io)?;
        loop {
            let mut buf = vec![0u8; RELEASE_PIECE];
            let n = input.read(&mut buf).await.map_err(io)?;
            if n == 0 {
                return Ok(());
            }
            buf.truncate(n);
            if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                return Ok(());
            }
        }
    }
}

struct Download {
    inner: Arc<Inner>,
    op: OperationId,
    id: MediaId,
    digests: Arc<Digests>,
    bytes: Range<u64>,
    whole: bool,
    attempts: Vec<(Arc<dyn Backend>, Location)>,
    plan: DownloadPlan,
    attempt_timeout: Duration,
    tx: mpsc::Sender<Result<Bytes>>,
}

/// One backend's stream, positioned at the first unverified chunk.
struct Attempt {
    index: usize,
    stream: ByteStream,
    verifier: ChunkVerifier,
    /// Bytes to drop before the wanted chunks (backends without range reads).
    skip: u64,
    /// Bytes still expected after `skip`; a backend without range reads may send more, which
    /// is cut off here.
    remaining: u64,
    received: u64,
    started: Instant,
}

impl Download {
    async fn run(self) {
        let inner = Arc::clone(&self.inner);
        let _active = inner.stats.active();
        let (op, id, tx) = (self.op, self.id, self.tx.clone());
        inner.emit(MediaEvent::DownloadStarted {
            op,
            id,
            bytes: self.bytes.end - self.bytes.start,
        });
        match self.execute().await {
            Ok(Some((bytes, backends))) => {
                inner.emit(MediaEvent::Verified {
                    op,
                    id,
                    backends,
                    bytes,
                });
            }
            Ok(None) => debug!(%op, "reader dropped; download stopped"),
            Err(e) => {
                inner.emit(MediaEvent::DownloadFailed {
                    op,
                    id,
                    error: e.summary(),
                });
                let _ = tx.send(Err(e)).await;
            }
        }
    }

    /// Returns the bytes released and the backends used, or `None` if the reader went away.
    async fn execute(self) -> Result<Option<(u64, Vec<String>)>> {
        let layout = ChunkLayout::new(self.digests.size);
        if self.bytes.is_empty() {
            return Ok(Some((0, Vec::new())));
        }
        let wanted = layout.chunks_covering(self.bytes.clone());
        let mut next_chunk = wanted.start;
        let mut queue: VecDeque<usize> = self.plan.order.iter().copied().collect();
        let mut used = Vec::new();
        let mut errors: Vec<MediaError> = Vec::new();
        let mut released = 0u64;
        let mut reported = 0u64;
        let mut whole = self.whole.then(sha2::Sha256::new);
        let mut hedge = self.plan.hedge_after;

        while next_chunk < wanted.end {
            let opened = match (hedge.take(), queue.len()) {
                (Some(after), n) if n >= 2 => {
                    self.hedged(&mut queue, next_chunk..wanted.end, after).await
                }
                _ => match queue.pop_front() {
                    Some(i) => {
                        let next = queue.front().copied();
                        self.open_first(i, next_chunk..wanted.end, next).await
                    }
                    None => break,
                },
            };
            let (mut attempt, mut chunks) = match opened {
                Ok(found) => found,
                Err(e) => {
                    errors.push(e);
                    if queue.is_empty() {
                        break;
                    }
                    continue;
                }
            };
            let name = self.attempts[attempt.index].0.name().to_owned();
            used.push(name.clone());
            let released_before = released;
            // Deliver verified chunks until this attempt ends or fails.
            let outcome: Result<()> = loop {
                for (index, chunk) in chunks.drain(..) {
                    let range = layout.chunk_range(index);
                    let lo = self.bytes.start.max(range.start) - range.start;
                    let hi = self.bytes.end.min(range.end) - range.start;
                    let piece = chunk.slice(lo as usize..hi as usize);
                    if let Some(h) = whole.as_mut() {
                        h.update(&piece);
                    }
                    released += piece.len() as u64;
                    if self.tx.send(Ok(piece)).await.is_err() {
                        return Ok(None);
                    }
                    if released >= reported + PROGRESS_STEP
                        || released == self.bytes.end - self.bytes.start
                    {
                        reported = released;
                        self.inner.emit(MediaEvent::DownloadProgress {
                            op: self.op,
                            id: self.id,
                            bytes: released,
                            total: self.bytes.end - self.bytes.start,
                        });
                    }
                }
                next_chunk = attempt.verifier.next_chunk();
                if attempt.verifier.is_done() {
                    break Ok(());
                }
                match self.next_chunks(&mut attempt).await {
                    Ok(more) => chunks = more,
                    Err(e) => break Err(e),
                }
            };
            let elapsed = attempt.started.elapsed();
            self.observe(&name, attempt.received, elapsed);
            self.inner.emit(MediaEvent::AttemptEnded {
                op: self.op,
                id: self.id,
                backend: name.clone(),
                bytes: released - released_before,
                complete: outcome.is_ok(),
            });
            if let Err(e) = outcome {
                self.failed(attempt.index, &e, queue.front().copied());
                errors.push(e);
            }
        }

        if next_chunk < wanted.end {
            return Err(give_up(self.id, errors));
        }
        if let Some(h) = whole {
            let digest = media_core::Digest32(h.finalize().into());
            if digest != self.digests.sha256 {
                return Err(MediaError::integrity(
                    Operation::Download,
                    "whole-file SHA-256 differs although every chunk verified: the record is inconsistent",
                ));
            }
        }
        Ok(Some((released, used)))
    }

    fn observe(&self, backend: &str, bytes: u64, elapsed: Duration) {
        if bytes == 0 {
            return;
        }
        if let Ok(mut t) = self.inner.throughput.lock() {
            t.observe(backend, bytes, elapsed);
        }
    }

    /// Record a failed attempt: statistics, events, and which backend comes next.
    fn failed(&self, index: usize, error: &MediaError, next: Option<usize>) {
        let name = self.attempts[index].0.name().to_owned();
        warn!(id = %self.id, backend = %name, error = %error, "download attempt failed");
        if let Ok(mut t) = self.inner.throughput.lock() {
            t.penalize(&name);
        }
        self.inner.emit(MediaEvent::Fallback {
            op: self.op,
            id: self.id,
            from: name,
            to: next.map(|n| self.attempts[n].0.name().to_owned()),
            reason: error.summary(),
        });
    }

    /// Open attempt `index` at `chunks.start` and wait for its first verified chunk(s).
    async fn open_first(
        &self,
        index: usize,
        chunks: Range<u64>,
        next: Option<usize>,
    ) -> Result<(Attempt, Vec<(u64, Bytes)>)> {
        let result = self.open_attempt(index, chunks).await;
        let result = match result {
            Ok(mut attempt) => match self.next_chunks(&mut attempt).await {
                Ok(first) => Ok((attempt, first)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            self.failed(index, e, next);
        }
        result
    }

    async fn open_attempt(&self, index: usize, chunks: Range<u64>) -> Result<Attempt> {
        let (backend, location) = &self.attempts[index];
        let layout = self.digests.layout();
        let from = layout.chunk_range(chunks.start).start;
        let to = layout.chunk_range(chunks.end - 1).end;
        let ranged = backend.capabilities().range_reads;
        let request = if ranged {
            ByteRange::new(from, to)
        } else {
            ByteRange::full()
        };
        self.inner.emit(MediaEvent::DownloadAttempt {
            op: self.op,
            id: self.id,
            backend: backend.name().to_owned(),
            offset: from,
        });
        let started = Instant::now();
        let stream = tokio::time::timeout(self.attempt_timeout, backend.get(location, request))
            .await
            .map_err(|_| stalled(backend.name(), self.attempt_timeout))?
            .map_err(|e| e.or_backend(backend.name()))?;
        Ok(Attempt {
            index,
            stream,
            verifier: ChunkVerifier::new(&self.digests, chunks),
            skip: if ranged { 0 } else { from },
            remaining: to - from,
            received: 0,
            started,
        })
    }

    /// Read until at least one more chunk verifies (or the attempt completes).
    async fn next_chunks(&self, attempt: &mut Attempt) -> Result<Vec<(u64, Bytes)>> {
        let (backend, _) = &self.attempts[attempt.index];
        let name = backend.name();
        let ranged = backend.capabilities().range_reads;
        loop {
            if let Some(e) = attempt.verifier.failure() {
                return Err(self.integrity(attempt, e.clone()));
            }
            let next = tokio::time::timeout(self.attempt_timeout, attempt.stream.next())
                .await
                .map_err(|_| stalled(name, self.attempt_timeout))?;
            let mut piece = match next {
                None => {
                    return attempt
                        .verifier
                        .finish()
                        .map_err(|e| self.integrity(attempt, e))
                }
                Some(Err(e)) => return Err(e.or_backend(name)),
                Some(Ok(piece)) => piece,
            };
            attempt.received += piece.len() as u64;
            if attempt.skip > 0 {
                let drop = attempt.skip.min(piece.len() as u64);
                attempt.skip -= drop;
                piece = piece.slice(drop as usize..);
            }
            if !ranged && piece.len() as u64 > attempt.remaining {
                // A backend without range reads sends the rest of the file; keep what we asked.
                piece = piece.slice(..attempt.remaining as usize);
            }
            attempt.remaining = attempt.remaining.saturating_sub(piece.len() as u64);
            let verified = attempt
                .verifier
                .push(&piece)
                .map_err(|e| self.integrity(attempt, e))?;
            if !verified.is_empty() {
                return Ok(verified);
            }
        }
    }

    fn integrity(&self, attempt: &Attempt, e: MediaError) -> MediaError {
        let name = self.attempts[attempt.index].0.name();
        if e.kind == ErrorKind::Integrity {
            self.inner.emit(MediaEvent::IntegrityFailure {
                op: self.op,
                id: self.id,
                backend: name.to_owned(),
                chunk: attempt.verifier.next_chunk(),
            });
        }
        e.or_backend(name)
    }

    /// Start the first attempt; if it has not verified a chunk after `after`, start the next
    /// one too; the first to verify a chunk wins and the other is dropped.
    async fn hedged(
        &self,
        queue: &mut VecDeque<usize>,
        chunks: Range<u64>,
        after: Duration,
    ) -> Result<(Attempt, Vec<(u64, Bytes)>)> {
        let Some(primary) = queue.pop_front() else {
            return Err(MediaError::internal(
                Operation::Download,
                "empty hedge queue",
            ));
        };
        let mut first = self
            .open_first(primary, chunks.clone(), queue.front().copied())
            .boxed();
        tokio::select! {
            result = &mut first => return result,
            () = tokio::time::sleep(after) => {}
        }
        let Some(secondary) = queue.pop_front() else {
            return first.await;
        };
        debug!(id = %self.id, "hedging to a second backend");
        let second = self
            .open_first(secondary, chunks, queue.front().copied())
            .boxed();
        match futures::future::select_ok([first, second]).await {
            Ok((winner, _loser)) => Ok(winner),
            Err(e) => Err(e),
        }
    }
}

fn stalled(backend: &str, after: Duration) -> MediaError {
    MediaError::timeout(
        Operation::Get,
        format!("no bytes for {} ms", after.as_millis()),
    )
    .with_backend(backend)
}

/// The error when no backend could deliver every chunk.
fn give_up(id: MediaId, errors: Vec<MediaError>) -> MediaError {
    let kinds: std::collections::HashSet<ErrorKind> = errors.iter().map(|e| e.kind).collect();
    let kind = match (kinds.len(), kinds.iter().next()) {
        (1, Some(&only)) => only,
        _ => ErrorKind::Unavailable,
    };
    let retryable = errors.iter().any(MediaError::is_retryable);
    let detail: Vec<String> = errors.iter().map(ToString::to_string).collect();
    MediaError::new(
        kind,
        Operation::Download,
        format!("no backend delivered {id}: {}", detail.join("; ")),
    )
    .with_retryable(retryable)
}
