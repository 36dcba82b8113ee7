//! Swarm reads: the chunks of one read requested from several stores at once.
//!
//! Each member store keeps a window of chunk requests in flight; every chunk is verified
//! against its digest before it is kept, and chunks are released to the reader in order. A
//! store that fails or sends bytes that do not verify is dropped for this read and its chunks
//! go back to the others. When nothing is left to hand out (the end of the read, or the
//! read-ahead bound is reached because one chunk holds the rest back), an idle store asks for
//! a chunk another store is still fetching, and the first verified copy wins. Reserves (the
//! plan's candidates outside the swarm) join when every member is gone, or when the plan's
//! hedge delay passes without a verified chunk.
//!
//! Memory is bounded: chunks are started at most `window × members × 2` chunks past the first
//! unreleased one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use media_core::{
    Backend, ByteRange, Digest32, DownloadPlan, ErrorKind, Location, MediaError, MediaEvent,
    Operation, Result, SwarmPlan,
};
use tokio::task::{AbortHandle, JoinSet};
use tracing::{debug, warn};

use crate::read::{give_up, stalled, Download, Release};

/// Whether a swarm read is worth it: at least two chunks and a member that reads ranges.
pub(crate) fn applies(d: &Download, plan: &SwarmPlan) -> bool {
    let chunks = d.digests.layout().chunk_count();
    chunks >= 2
        && plan
            .members
            .iter()
            .any(|&i| d.attempts[i].0.capabilities().range_reads)
}

/// One store taking part in the read.
struct Source {
    attempt: usize,
    name: String,
    joined: bool,
    alive: bool,
    in_flight: usize,
    /// Requests it may have in flight now: 1 at first, one more per chunk it delivers, up
    /// to the plan's window (so the first chunk comes at one store's full speed).
    window: usize,
    /// Smoothed seconds one of its chunk requests takes.
    chunk_secs: Option<f64>,
    delivered: u64,
    started: Option<Instant>,
}

impl Source {
    /// Seconds per chunk with its window full.
    fn per_chunk(&self) -> Option<f64> {
        self.chunk_secs.map(|t| t / self.window as f64)
    }
}

/// One chunk request in flight.
struct Fetch {
    source: usize,
    chunk: u64,
    abort: AbortHandle,
    since: Instant,
}

struct Swarm<'a> {
    d: &'a Download,
    sources: Vec<Source>,
    window: usize,
    /// Chunks nobody has asked for yet.
    pending: BTreeSet<u64>,
    /// Chunks in the cache when the read started (served from there at their turn).
    cached: BTreeSet<u64>,
    /// Verified, waiting for their turn.
    ready: BTreeMap<u64, Bytes>,
    fetches: HashMap<u64, Fetch>,
    tasks: JoinSet<(u64, Result<Bytes>)>,
    next_ticket: u64,
    errors: Vec<MediaError>,
}

/// Run a swarm read of `chunks`. Returns the stores that delivered, or `None` if the reader
/// went away.
pub(crate) async fn run(
    d: &Download,
    swarm: &SwarmPlan,
    plan: &DownloadPlan,
    chunks: Range<u64>,
    release: &mut Release,
) -> Result<Option<Vec<String>>> {
    let ranged = |i: &usize| d.attempts[*i].0.capabilities().range_reads;
    let members: Vec<usize> = swarm.members.iter().copied().filter(ranged).collect();
    let reserves: Vec<usize> = plan
        .order
        .iter()
        .copied()
        .filter(|i| ranged(i) && !members.contains(i))
        .collect();
    let source = |attempt: usize, joined: bool| Source {
        attempt,
        name: d.attempts[attempt].0.name().to_owned(),
        joined,
        alive: true,
        in_flight: 0,
        window: 1,
        chunk_secs: None,
        delivered: 0,
        started: None,
    };
    let cached: BTreeSet<u64> = match &d.cache {
        Some(cache) => chunks
            .clone()
            .filter(|&c| cache.contains(&d.id, c))
            .collect(),
        None => BTreeSet::new(),
    };
    let mut s = Swarm {
        d,
        sources: members
            .iter()
            .map(|&i| source(i, true))
            .chain(reserves.iter().map(|&i| source(i, false)))
            .collect(),
        window: swarm.window.max(1),
        pending: chunks.clone().filter(|c| !cached.contains(c)).collect(),
        cached,
        ready: BTreeMap::new(),
        fetches: HashMap::new(),
        tasks: JoinSet::new(),
        next_ticket: 0,
        errors: Vec::new(),
    };
    let started = Instant::now();
    let mut hedge_at = plan.hedge_after.map(|after| started + after);
    let mut next = chunks.start;

    while next < chunks.end {
        // Release whatever is ready, in order.
        loop {
            if next >= chunks.end {
                break;
            }
            if let Some(chunk) = s.ready.remove(&next) {
                if !release.chunk(d, next, chunk, true).await {
                    return Ok(None);
                }
                next += 1;
                continue;
            }
            if s.cached.remove(&next) {
                match release.cached_run(d, next, next + 1).await {
                    None => return Ok(None),
                    // Served from the cache.
                    Some(after) if after > next => {
                        next = after;
                        continue;
                    }
                    // It no longer verified: fetch it.
                    Some(_) => {
                        s.pending.insert(next);
                    }
                }
            }
            break;
        }
        if next >= chunks.end {
            break;
        }
        if release.released > 0 {
            hedge_at = None;
        }
        s.schedule(next);
        if s.fetches.is_empty() {
            // Every member is gone and nothing is in flight: bring in the reserves.
            if s.join_reserves() {
                continue;
            }
            return Err(give_up(d.id, std::mem::take(&mut s.errors)));
        }
        let hedge = async move {
            match hedge_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            joined = s.tasks.join_next_with_id() => {
                match joined {
                    Some(Ok((ticket, (_, result)))) => s.finished(ticket_of(ticket, &s), result, next),
                    Some(Err(e)) if e.is_cancelled() => {}
                    Some(Err(e)) => {
                        let ticket = ticket_of(e.id(), &s);
                        s.finished(ticket, Err(MediaError::internal(Operation::Download, "a chunk fetch panicked")), next);
                    }
                    None => {}
                }
            }
            () = hedge => {
                hedge_at = None;
                if s.join_reserves() {
                    debug!(id = %d.id, "swarm slow to start: reserves join");
                }
            }
        }
    }
    s.tasks.abort_all();
    let mut used = Vec::new();
    for src in &s.sources {
        if let Some(since) = src.started {
            d.observe(&src.name, src.delivered, since.elapsed());
            d.inner.emit(MediaEvent::AttemptEnded {
                op: d.op,
                id: d.id,
                backend: src.name.clone(),
                bytes: src.delivered,
                complete: src.alive,
            });
        }
        if src.delivered > 0 {
            used.push(src.name.clone());
        }
    }
    Ok(Some(used))
}

/// The fetch a task id belongs to: tasks are keyed by the chunk they fetch, and a task id
/// maps back through the fetch table.
fn ticket_of(task: tokio::task::Id, s: &Swarm<'_>) -> Option<u64> {
    s.fetches
        .iter()
        .find(|(_, f)| f.abort.id() == task)
        .map(|(ticket, _)| *ticket)
}

impl Swarm<'_> {
    /// Keep every live member's window full: unasked chunks first (within the read-ahead
    /// bound), else another request for a chunk another store is fetching.
    fn schedule(&mut self, next: u64) {
        let live = self.sources.iter().filter(|s| s.joined && s.alive).count();
        let ahead = (self.window * live.max(1) * 2) as u64;
        for src in 0..self.sources.len() {
            while self.sources[src].joined
                && self.sources[src].alive
                && self.sources[src].in_flight < self.sources[src].window
            {
                let worth = self.worth_asking(src);
                let fresh = self
                    .pending
                    .first()
                    .copied()
                    .filter(|&c| c < next + ahead && worth);
                let chunk = match fresh {
                    Some(c) => {
                        self.pending.remove(&c);
                        c
                    }
                    // A store too slow to help stays out of the race for the head, but joins
                    // the end game.
                    None if worth || self.pending.is_empty() => match self.steal(src) {
                        Some(c) => c,
                        None => break,
                    },
                    None => break,
                };
                self.start(src, chunk);
            }
        }
    }

    /// Whether store `src` should take a new chunk: yes while it is not measured yet or is
    /// the fastest; a slower one only if it would deliver the chunk before the fastest store
    /// gets through everything in flight and this chunk too (otherwise the chunk would hold
    /// the read back rather than speed it up).
    fn worth_asking(&self, src: usize) -> bool {
        let me = &self.sources[src];
        let (Some(mine), Some(my_rate)) = (me.chunk_secs, me.per_chunk()) else {
            return true;
        };
        let best = self
            .sources
            .iter()
            .filter(|s| s.joined && s.alive)
            .filter_map(Source::per_chunk)
            .fold(f64::INFINITY, f64::min);
        if my_rate <= best {
            return true;
        }
        mine <= (self.fetches.len() as f64 + 1.0) * best
    }

    /// A chunk another store is still fetching, for a store with nothing else to do: the
    /// one fetched by the fewest stores, oldest first (the one holding the rest back). One at
    /// a time per store, so the end of a read costs at most one duplicate chunk per store.
    fn steal(&self, src: usize) -> Option<u64> {
        if self.sources[src].in_flight > 0 {
            return None;
        }
        let mut holders: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for f in self.fetches.values() {
            holders.entry(f.chunk).or_default().push(f.source);
        }
        holders
            .into_iter()
            .filter(|(chunk, by)| !by.contains(&src) && !self.ready.contains_key(chunk))
            .min_by_key(|(chunk, by)| (by.len(), *chunk))
            .map(|(chunk, _)| chunk)
    }

    fn start(&mut self, src: usize, chunk: u64) {
        let d = self.d;
        let (backend, location) = d.attempts[self.sources[src].attempt].clone();
        let range = d.digests.layout().chunk_range(chunk);
        let expected = d.digests.chunks[chunk as usize];
        let timeout = d.attempt_timeout;
        let source = &mut self.sources[src];
        if source.started.is_none() {
            source.started = Some(Instant::now());
            d.inner.emit(MediaEvent::DownloadAttempt {
                op: d.op,
                id: d.id,
                backend: source.name.clone(),
                offset: range.start,
            });
        }
        source.in_flight += 1;
        let abort = self.tasks.spawn(async move {
            (
                chunk,
                fetch_chunk(backend, location, range, expected, timeout).await,
            )
        });
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.fetches.insert(
            ticket,
            Fetch {
                source: src,
                chunk,
                abort,
                since: Instant::now(),
            },
        );
    }

    /// A fetch ended. Keep a verified chunk (and stop the other copy of it); drop a store
    /// that failed, handing its chunks back.
    fn finished(&mut self, ticket: Option<u64>, result: Result<Bytes>, next: u64) {
        let Some(fetch) = ticket.and_then(|t| self.fetches.remove(&t)) else {
            return;
        };
        let src = fetch.source;
        self.sources[src].in_flight -= 1;
        match result {
            Ok(bytes) => {
                let source = &mut self.sources[src];
                source.delivered += bytes.len() as u64;
                let took = fetch.since.elapsed().as_secs_f64();
                source.chunk_secs = Some(match source.chunk_secs {
                    Some(t) => 0.7 * t + 0.3 * took,
                    None => took,
                });
                source.window = (source.window + 1).min(self.window);
                if fetch.chunk >= next {
                    self.ready.entry(fetch.chunk).or_insert(bytes);
                }
                self.cancel(|f| f.chunk == fetch.chunk, next);
            }
            Err(e) => {
                let name = self.sources[src].name.clone();
                warn!(id = %self.d.id, backend = %name, chunk = fetch.chunk, error = %e, "swarm member dropped");
                if e.kind == ErrorKind::Integrity {
                    self.d.inner.emit(MediaEvent::IntegrityFailure {
                        op: self.d.op,
                        id: self.d.id,
                        backend: name.clone(),
                        chunk: fetch.chunk,
                    });
                }
                self.sources[src].alive = false;
                let to = self
                    .sources
                    .iter()
                    .find(|s| s.alive && s.joined)
                    .map(|s| s.attempt);
                self.d.failed(self.sources[src].attempt, &e, to);
                self.errors.push(e.or_backend(&name));
                self.cancel(|f| f.source == src, next);
                self.requeue(fetch.chunk, next);
            }
        }
    }

    /// Abort the fetches `which` selects; chunks nobody else fetches go back to pending.
    fn cancel(&mut self, which: impl Fn(&Fetch) -> bool, next: u64) {
        let tickets: Vec<u64> = self
            .fetches
            .iter()
            .filter(|(_, f)| which(f))
            .map(|(t, _)| *t)
            .collect();
        for t in tickets {
            if let Some(f) = self.fetches.remove(&t) {
                f.abort.abort();
                self.sources[f.source].in_flight -= 1;
                self.requeue(f.chunk, next);
            }
        }
    }

    fn requeue(&mut self, chunk: u64, next: u64) {
        let elsewhere = self.fetches.values().any(|f| f.chunk == chunk);
        if chunk >= next && !elsewhere && !self.ready.contains_key(&chunk) {
            self.pending.insert(chunk);
        }
    }

    /// Let the reserves in. `false` if there were none left.
    fn join_reserves(&mut self) -> bool {
        let mut any = false;
        for s in self.sources.iter_mut().filter(|s| !s.joined) {
            s.joined = true;
            any = true;
        }
        any
    }
}

/// Fetch one chunk from one store and verify it.
async fn fetch_chunk(
    backend: Arc<dyn Backend>,
    location: Location,
    range: Range<u64>,
    expected: Digest32,
    timeout: Duration,
) -> Result<Bytes> {
    let name = backend.name().to_owned();
    let len = (range.end - range.start) as usize;
    let mut stream = tokio::time::timeout(
        timeout,
        backend.get(&location, ByteRange::new(range.start, range.end)),
    )
    .await
    .map_err(|_| stalled(&name, timeout))?
    .map_err(|e| e.or_backend(&name))?;
    let mut buf = BytesMut::with_capacity(len);
    while buf.len() < len {
        let piece = tokio::time::timeout(timeout, stream.next())
            .await
            .map_err(|_| stalled(&name, timeout))?;
        match piece {
            Some(Ok(piece)) => {
                let want = len - buf.len();
                buf.extend_from_slice(&piece[..piece.len().min(want)]);
            }
            Some(Err(e)) => return Err(e.or_backend(&name)),
            None => {
                return Err(MediaError::unavailable(
                    Operation::Get,
                    format!(
                        "sent {} of the {len} bytes of the chunk at {}",
                        buf.len(),
                        range.start
                    ),
                )
                .with_backend(&name))
            }
        }
    }
    let chunk = buf.freeze();
    if Digest32::sha256(&chunk) != expected {
        return Err(MediaError::integrity(
            Operation::Download,
            format!(
                "the chunk at byte {} does not match its digest",
                range.start
            ),
        )
        .with_backend(&name));
    }
    Ok(chunk)
}
