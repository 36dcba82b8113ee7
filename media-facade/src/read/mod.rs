//! Reads: plan, attempts in order (hedged where asked) or a swarm ([`swarm`]), chunk-by-chunk
//! verification, fallback that resumes at the first unverified chunk, the spool for records
//! nothing vouches for, and private media decrypted on the way out ([`private`]).
//!
//! **The release point** is [`Release::chunk`] here: every byte any read hands to a caller
//! (the API, Blossom, the page, the CLI, `MediaStore::open*`) passes through it as a whole
//! chunk verified against the id's record, whichever source it came from (a store, the
//! spool, the cache).

pub(crate) mod private;
pub(crate) mod swarm;

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
use crate::state::cache::ChunkCache;
use crate::state::Inner;

/// Emit a download progress event at most every this many bytes.
const PROGRESS_STEP: u64 = 4 << 20;
/// How many times one read goes back to a store that failed after delivering verified bytes.
const MAX_RESUMES: usize = 3;
/// Verified chunks buffered between the download task and the reader.
const READ_AHEAD: usize = 4;
/// Cached chunks read and checked ahead of the one being released.
const CACHE_READ_AHEAD: usize = 2;

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
    // A record nothing vouches for is spooled whole before a byte is released: its claimed
    // size is bounded like an upload's, or a few hundred KB of stranger's JSON could claim
    // terabytes and fill the disk.
    if verify_first {
        if let Some(max) = inner.settings.max_size.filter(|max| file.size > *max) {
            return Err(MediaError::invalid_input(
                Operation::Download,
                format!(
                    "{} claims {} bytes, more than this node accepts ({max}); a record nothing \
                     anchors is verified whole on disk before release, so it is refused (open \
                     it with its owner's reference to read it chunk by chunk)",
                    file.id, file.size
                ),
            ));
        }
    }
    // Every location a backend of its kind can read is one attempt: two buckets holding
    // the media are two chances, not one.
    let attempts: Vec<(Arc<dyn Backend>, Location)> = inner
        .backends
        .iter()
        .filter(|b| options.only.as_deref().is_none_or(|only| only == b.name()))
        // With P2P consent off, no peer is contacted, not even to read.
        .filter(|b| inner.settings.p2p != crate::P2pMode::Off || !b.capabilities().peer_to_peer)
        .flat_map(|b| {
            let kind = b.kind();
            file.locations
                .iter()
                .filter(move |l| l.kind == kind)
                .map(move |l| (Arc::clone(b), l.clone()))
        })
        .collect();
    let wanted = ChunkLayout::new(file.size).chunks_covering(bytes.clone());
    // A read that names its store wants that store, not the cache.
    let use_cache = options.use_cache && options.only.is_none();
    let cached = use_cache
        && inner
            .cache
            .as_ref()
            .is_some_and(|c| c.holds_all(&file.id, wanted.clone()));
    if attempts.is_empty() && !cached {
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
        .unwrap_or_else(|| Arc::clone(&inner.settings.download_policy));
    let plan = {
        let table = inner
            .throughput
            .lock()
            .map_err(|_| MediaError::internal(Operation::Download, "throughput lock"))?;
        policy.plan(&candidates, &table)
    };
    let op = inner.next_op();
    let (tx, rx) = mpsc::channel(READ_AHEAD);
    let cache = use_cache.then(|| inner.cache.clone()).flatten();
    let job = Download {
        inner: Arc::clone(inner),
        op,
        id: file.id,
        digests: Arc::new(file.digests()),
        bytes: bytes.clone(),
        // The whole file is hashed once: by the spool when nothing vouches for the record,
        // here otherwise, and not at all when the cache holds the read whole (each cached
        // chunk is returned only as the anchored record's digest).
        whole: options.range.is_full() && !verify_first && !cached,
        attempts,
        plan,
        attempt_timeout: options
            .attempt_timeout
            .unwrap_or(inner.settings.attempt_timeout),
        // Chunks of a record nothing vouches for are kept only once the spool proved the
        // whole file (below), never while they are read.
        cache_writes: !verify_first,
        cache: cache.clone(),
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
        cache,
    };
    tokio::spawn(spool.run(rx, user_tx));
    Ok(MediaReader::new(op, bytes.end - bytes.start, user_rx))
}

/// Holds a whole download on disk until it hashed to the id, then releases it.
struct Spool {
    inner: Arc<Inner>,
    file: MediaFile,
    path: std::path::PathBuf,
    /// Where the chunks go once the whole file proved the record (if the read uses it).
    cache: Option<Arc<ChunkCache>>,
}

/// Bytes read back per piece when a spooled download is released: one chunk, so each piece
/// can be cached as the chunk it is.
const RELEASE_PIECE: usize = media_core::CHUNK_SIZE as usize;

impl Spool {
    async fn run(self, rx: mpsc::Receiver<Result<Bytes>>, tx: mpsc::Sender<Result<Bytes>>) {
        // The reader gone, the spool stops (dropping `rx`, which stops the download).
        let result = tokio::select! {
            biased;
            _ = tx.closed() => {
                let _ = tokio::fs::remove_file(&self.path).await;
                return;
            }
            result = self.fill(rx) => result,
        };
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
        let digests = self.file.digests();
        for index in 0.. {
            let mut buf = vec![0u8; RELEASE_PIECE];
            let mut n = 0;
            while n < RELEASE_PIECE {
                let got = input.read(&mut buf[n..]).await.map_err(io)?;
                if got == 0 {
                    break;
                }
                n += got;
            }
            if n == 0 {
                return Ok(());
            }
            buf.truncate(n);
            let piece = Bytes::from(buf);
            // The whole file hashed to the id and the record is now anchored: its chunks
            // are what any later read of this id must get.
            if let (Some(cache), Some(digest)) = (&self.cache, digests.chunks.get(index)) {
                cache.put(self.file.id, index as u64, piece.clone(), *digest);
            }
            if tx.send(Ok(piece)).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }
}

pub(crate) struct Download {
    pub inner: Arc<Inner>,
    pub op: OperationId,
    pub id: MediaId,
    pub digests: Arc<Digests>,
    bytes: Range<u64>,
    whole: bool,
    pub attempts: Vec<(Arc<dyn Backend>, Location)>,
    plan: DownloadPlan,
    pub attempt_timeout: Duration,
    /// Where verified chunks are looked up first and kept (unless the read opted out).
    pub cache: Option<Arc<ChunkCache>>,
    /// Whether chunks fetched by this read may be cached: only when the record is anchored.
    cache_writes: bool,
    tx: mpsc::Sender<Result<Bytes>>,
}

/// The release point: every byte a read hands to its caller passes through
/// [`Release::chunk`], as a whole chunk that verified against the record's chunk digest
/// (fetched from a store and checked by [`ChunkVerifier`], or returned by the cache only when
/// it was cached as that very digest). Chunks are cut to the range asked, hashed when the
/// whole file is read, progress reported, and kept in the cache when they came from a store
/// and the record is anchored; a read that fails takes back what it cached.
pub(crate) struct Release {
    layout: ChunkLayout,
    bytes: Range<u64>,
    whole: Option<sha2::Sha256>,
    pub released: u64,
    reported: u64,
    /// Chunks served from the cache.
    pub from_cache: u64,
    /// Chunks this read put in the cache (removed again if the read fails).
    cached_now: Vec<u64>,
}

impl Release {
    fn new(d: &Download) -> Self {
        Release {
            layout: d.digests.layout(),
            bytes: d.bytes.clone(),
            whole: d.whole.then(sha2::Sha256::new),
            released: 0,
            reported: 0,
            from_cache: 0,
            cached_now: Vec::new(),
        }
    }

    /// Release chunk `index` (whole, verified). `false` when the reader went away.
    pub async fn chunk(&mut self, d: &Download, index: u64, chunk: Bytes, fetched: bool) -> bool {
        if fetched {
            if let (Some(cache), true) = (&d.cache, d.cache_writes) {
                cache.put(d.id, index, chunk.clone(), d.digests.chunks[index as usize]);
                self.cached_now.push(index);
            }
        } else {
            self.from_cache += 1;
        }
        let range = self.layout.chunk_range(index);
        let lo = self.bytes.start.max(range.start) - range.start;
        let hi = self.bytes.end.min(range.end) - range.start;
        let piece = chunk.slice(lo as usize..hi as usize);
        if let Some(h) = self.whole.as_mut() {
            h.update(&piece);
        }
        self.released += piece.len() as u64;
        if d.tx.send(Ok(piece)).await.is_err() {
            return false;
        }
        let total = self.bytes.end - self.bytes.start;
        if self.released >= self.reported + PROGRESS_STEP || self.released == total {
            self.reported = self.released;
            d.inner.emit(MediaEvent::DownloadProgress {
                op: d.op,
                id: d.id,
                bytes: self.released,
                total,
            });
        }
        true
    }

    /// Release cached chunks from `next` on while the cache has them (and they still
    /// verify). Returns the first chunk not released, or `None` if the reader went away.
    ///
    /// The next chunks are read and checked on the blocking pool while the current one goes
    /// to the reader ([`CACHE_READ_AHEAD`] at once), so the disk, the hash and the copy to
    /// the caller overlap.
    pub async fn cached_run(&mut self, d: &Download, mut next: u64, end: u64) -> Option<u64> {
        let Some(cache) = d.cache.clone() else {
            return Some(next);
        };
        let fetch = |index: u64| {
            let (cache, id) = (Arc::clone(&cache), d.id);
            let digest = d.digests.chunks[index as usize];
            tokio::spawn(async move { cache.get(&id, index, digest).await })
        };
        let mut ahead = VecDeque::new();
        let mut asked = next;
        while asked < end && ahead.len() < CACHE_READ_AHEAD {
            ahead.push_back(fetch(asked));
            asked += 1;
        }
        while let Some(pending) = ahead.pop_front() {
            let Ok(Some(chunk)) = pending.await else {
                break;
            };
            if asked < end {
                ahead.push_back(fetch(asked));
                asked += 1;
            }
            if !self.chunk(d, next, chunk, false).await {
                return None;
            }
            next += 1;
        }
        Some(next)
    }

    /// Check the whole file against the id, when the whole file was read.
    fn finish(self, d: &Download) -> Result<u64> {
        if let Some(h) = self.whole {
            let digest = media_core::Digest32(h.finalize().into());
            if digest != d.digests.sha256 {
                return Err(MediaError::integrity(
                    Operation::Download,
                    "whole-file SHA-256 differs although every chunk verified: the record is inconsistent",
                ));
            }
        }
        Ok(self.released)
    }
}

/// The name a read's statistics give the cache.
pub(crate) const CACHE_NAME: &str = "cache";

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
        // A reader that goes away stops the download at once, even while a store trickles
        // (the job otherwise notices only when it next releases a chunk): its connections
        // and the store it reads from are freed with it.
        let outcome = tokio::select! {
            biased;
            _ = tx.closed() => Ok(None),
            outcome = self.execute() => outcome,
        };
        match outcome {
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
        let mut release = Release::new(&self);
        let outcome = match &self.plan.swarm {
            Some(swarm) if crate::read::swarm::applies(&self, swarm) => {
                crate::read::swarm::run(&self, swarm, &self.plan, wanted, &mut release).await
            }
            _ => self.in_order(wanted, &mut release).await,
        };
        let mut used = match outcome {
            Ok(Some(used)) => used,
            Ok(None) => return Ok(None),
            Err(e) => {
                self.take_back(&release);
                return Err(e);
            }
        };
        if release.from_cache > 0 {
            used.push(CACHE_NAME.to_owned());
        }
        let cached_now = std::mem::take(&mut release.cached_now);
        match release.finish(&self) {
            Ok(released) => Ok(Some((released, used))),
            Err(e) => {
                if let Some(cache) = &self.cache {
                    cache.remove_chunks(&self.id, &cached_now);
                }
                Err(e)
            }
        }
    }

    /// A failed read leaves nothing in the cache that it put there.
    fn take_back(&self, release: &Release) {
        if let Some(cache) = &self.cache {
            cache.remove_chunks(&self.id, &release.cached_now);
        }
    }

    /// One store at a time (hedged where the plan says): each attempt runs until it fails,
    /// and the next resumes at the first unverified chunk. Cached chunks are served from the
    /// cache and the stores asked only for the gaps.
    async fn in_order(
        &self,
        wanted: Range<u64>,
        release: &mut Release,
    ) -> Result<Option<Vec<String>>> {
        let mut next_chunk = wanted.start;
        let mut queue: VecDeque<usize> = self.plan.order.iter().copied().collect();
        let mut used: Vec<String> = Vec::new();
        let mut errors: Vec<MediaError> = Vec::new();
        let mut hedge = self.plan.hedge_after;
        let mut resumes = 0usize;

        while next_chunk < wanted.end {
            match release.cached_run(self, next_chunk, wanted.end).await {
                Some(next) => next_chunk = next,
                None => return Ok(None),
            }
            if next_chunk >= wanted.end {
                break;
            }
            // Ask the stores for the gap up to the next cached chunk.
            let gap_end = self.cache.as_ref().map_or(wanted.end, |c| {
                c.first_cached(&self.id, next_chunk + 1..wanted.end)
            });
            let gap = next_chunk..gap_end;
            let opened = match (hedge.take(), queue.len()) {
                (Some(after), n) if n >= 2 => self.hedged(&mut queue, gap, after).await,
                _ => match queue.pop_front() {
                    Some(i) => {
                        let next = queue.front().copied();
                        self.open_first(i, gap, next).await
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
            if !used.contains(&name) {
                used.push(name.clone());
            }
            let released_before = release.released;
            // Deliver verified chunks until this attempt ends or fails.
            let outcome: Result<()> = loop {
                for (index, chunk) in chunks.drain(..) {
                    if !release.chunk(self, index, chunk, true).await {
                        return Ok(None);
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
                bytes: release.released - released_before,
                complete: outcome.is_ok(),
            });
            match outcome {
                // The gap is done; the same store serves the next one.
                Ok(()) => queue.push_front(attempt.index),
                Err(e) => {
                    // A store that delivered before it failed (a connection cut, a server
                    // of a cluster dying mid-read) gets another turn after the others.
                    if release.released > released_before
                        && e.is_retryable()
                        && resumes < MAX_RESUMES
                    {
                        resumes += 1;
                        queue.push_back(attempt.index);
                    }
                    self.failed(attempt.index, &e, queue.front().copied());
                    errors.push(e);
                }
            }
        }
        if next_chunk < wanted.end {
            return Err(give_up(self.id, errors));
        }
        Ok(Some(used))
    }

    pub(crate) fn observe(&self, backend: &str, bytes: u64, elapsed: Duration) {
        if bytes == 0 {
            return;
        }
        if let Ok(mut t) = self.inner.throughput.lock() {
            t.observe(backend, bytes, elapsed);
        }
    }

    /// Record a failed attempt: statistics, events, and which backend comes next.
    pub(crate) fn failed(&self, index: usize, error: &MediaError, next: Option<usize>) {
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

pub(crate) fn stalled(backend: &str, after: Duration) -> MediaError {
    MediaError::timeout(
        Operation::Get,
        format!("no bytes for {} ms", after.as_millis()),
    )
    .with_backend(backend)
}

/// The error when no backend could deliver every chunk.
pub(crate) fn give_up(id: MediaId, errors: Vec<MediaError>) -> MediaError {
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
