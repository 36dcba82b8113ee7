//! Digests computed once at ingest: whole-file SHA-256 and BLAKE3 plus the SHA-256 of every
//! 1 MiB chunk.
//!
//! The chunk digests are exactly the raw-leaf CIDs of Helia's default UnixFS layout, so the IPFS
//! adapter builds its DAG from them, and every backend's bytes are verified against them chunk by
//! chunk before they reach a caller.

use std::io::{self, Read, Write};
use std::ops::Range;
use std::sync::mpsc;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::id::{Digest32, MediaId};
use crate::sha256_pair::{self, Sha256Blocks};

/// Size of a verification chunk: 1 MiB, Helia's default UnixFS chunk size.
pub const CHUNK_SIZE: u64 = 1 << 20;

/// Everything verification needs about a blob's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Digests {
    /// Length in bytes.
    pub size: u64,
    /// SHA-256 of all bytes (the [`MediaId`]).
    pub sha256: Digest32,
    /// BLAKE3 of all bytes.
    pub blake3: Digest32,
    /// SHA-256 of each [`CHUNK_SIZE`] chunk, in order; the last one may be shorter. Empty input
    /// has one digest (of the empty chunk), as Helia has one empty raw leaf.
    pub chunks: Vec<Digest32>,
}

impl Digests {
    /// Digests of an in-memory buffer (single-threaded; for small data and tests).
    pub fn of_bytes(data: &[u8]) -> Self {
        let chunks = if data.is_empty() {
            vec![Digest32::sha256(&[])]
        } else {
            data.chunks(CHUNK_SIZE as usize)
                .map(Digest32::sha256)
                .collect()
        };
        Digests {
            size: data.len() as u64,
            sha256: Digest32::sha256(data),
            blake3: Digest32(*blake3::hash(data).as_bytes()),
            chunks,
        }
    }

    /// The media id these digests give.
    pub fn id(&self) -> MediaId {
        MediaId::from_sha256(self.sha256)
    }

    /// The chunk geometry of this blob.
    pub fn layout(&self) -> ChunkLayout {
        ChunkLayout::new(self.size)
    }

    /// Check internal consistency: the chunk count matches the size.
    pub fn is_consistent(&self) -> bool {
        self.chunks.len() as u64 == self.layout().chunk_count()
    }
}

/// Chunk geometry of a blob of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLayout {
    size: u64,
}

impl ChunkLayout {
    /// Geometry for `size` bytes.
    pub fn new(size: u64) -> Self {
        ChunkLayout { size }
    }

    /// Total size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Number of chunks; an empty blob has one (empty) chunk.
    pub fn chunk_count(&self) -> u64 {
        if self.size == 0 {
            1
        } else {
            self.size.div_ceil(CHUNK_SIZE)
        }
    }

    /// Byte range of chunk `index`.
    pub fn chunk_range(&self, index: u64) -> Range<u64> {
        let start = (index * CHUNK_SIZE).min(self.size);
        let end = (start + CHUNK_SIZE).min(self.size);
        start..end
    }

    /// The chunk holding byte `offset` (offset < size), or the last chunk.
    pub fn chunk_of(&self, offset: u64) -> u64 {
        (offset / CHUNK_SIZE).min(self.chunk_count() - 1)
    }

    /// The chunks that cover the byte range `bytes` (end exclusive). An empty range still names
    /// the chunk it starts in, so empty reads are verified too.
    pub fn chunks_covering(&self, bytes: Range<u64>) -> Range<u64> {
        let first = self.chunk_of(bytes.start);
        let last = if bytes.end > bytes.start {
            self.chunk_of(bytes.end - 1)
        } else {
            first
        };
        first..last + 1
    }
}

/// Incremental single-threaded digester, for callers that already hold the bytes in pieces.
#[derive(Debug, Clone, Default)]
pub struct Digester {
    size: u64,
    whole: sha2::Sha256,
    blake3: blake3::Hasher,
    chunk: sha2::Sha256,
    chunk_fill: u64,
    chunks: Vec<Digest32>,
}

impl Digester {
    /// A fresh digester.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed the next bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        self.size += data.len() as u64;
        self.whole.update(data);
        self.blake3.update(data);
        while !data.is_empty() {
            let room = (CHUNK_SIZE - self.chunk_fill) as usize;
            let take = room.min(data.len());
            self.chunk.update(&data[..take]);
            self.chunk_fill += take as u64;
            data = &data[take..];
            if self.chunk_fill == CHUNK_SIZE {
                let digest = std::mem::take(&mut self.chunk).finalize();
                self.chunks.push(Digest32(digest.into()));
                self.chunk_fill = 0;
            }
        }
    }

    /// The digests of everything fed.
    pub fn finish(mut self) -> Digests {
        if self.chunk_fill > 0 || self.chunks.is_empty() {
            self.chunks.push(Digest32(self.chunk.finalize().into()));
        }
        Digests {
            size: self.size,
            sha256: Digest32(self.whole.finalize().into()),
            blake3: Digest32(*self.blake3.finalize().as_bytes()),
            chunks: self.chunks,
        }
    }
}

/// How many 1 MiB blocks may be in flight between the reader and the hashing threads.
const PIPELINE_DEPTH: usize = 8;

/// BLAKE3's own chunk length; a 1 MiB block is a complete BLAKE3 subtree of 1024 of them.
pub(crate) const BLAKE3_CHUNK: u64 = 1024;

/// What a block worker computes for one 1 MiB block.
pub(crate) struct BlockDigest {
    pub(crate) index: u64,
    pub(crate) sha256: Digest32,
    /// BLAKE3 chaining value of the block as a subtree at its offset (absent for an empty
    /// block, which only happens for empty input).
    pub(crate) blake3_cv: Option<blake3::hazmat::ChainingValue>,
    /// BLAKE3 root hash as if this block were the whole input (kept for block 0 only).
    pub(crate) blake3_root: Option<Digest32>,
}

/// The block's digests; its SHA-256 is computed here unless the caller already has it.
fn digest_block(index: u64, block: &[u8], sha256: Option<Digest32>) -> BlockDigest {
    use blake3::hazmat::HasherExt;
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(index * CHUNK_SIZE);
    hasher.update(block);
    BlockDigest {
        index,
        sha256: sha256.unwrap_or_else(|| Digest32::sha256(block)),
        blake3_cv: (!block.is_empty()).then(|| hasher.finalize_non_root()),
        blake3_root: (index == 0).then(|| Digest32(*hasher.finalize().as_bytes())),
    }
}

/// Split `blocks` covering `chunks` BLAKE3 chunks the way the BLAKE3 tree does: the left
/// subtree holds the largest power-of-two number of chunks below the total.
fn blake3_halves(blocks: &[BlockDigest], chunks: u64) -> (&[BlockDigest], &[BlockDigest], u64) {
    let left_chunks = 1u64 << (63 - (chunks - 1).leading_zeros());
    let left_blocks = (left_chunks / (CHUNK_SIZE / BLAKE3_CHUNK)) as usize;
    (&blocks[..left_blocks], &blocks[left_blocks..], left_chunks)
}

fn blake3_subtree(blocks: &[BlockDigest], chunks: u64) -> Option<blake3::hazmat::ChainingValue> {
    use blake3::hazmat::{merge_subtrees_non_root, Mode};
    if let [only] = blocks {
        return only.blake3_cv;
    }
    let (left, right, left_chunks) = blake3_halves(blocks, chunks);
    Some(merge_subtrees_non_root(
        &blake3_subtree(left, left_chunks)?,
        &blake3_subtree(right, chunks - left_chunks)?,
        Mode::Hash,
    ))
}

/// BLAKE3 of the whole input from the blocks' subtree chaining values (blocks in order).
pub(crate) fn blake3_from_blocks(blocks: &[BlockDigest], size: u64) -> Option<Digest32> {
    use blake3::hazmat::{merge_subtrees_root, Mode};
    if blocks.len() <= 1 {
        return blocks.first().and_then(|b| b.blake3_root);
    }
    let chunks = size.div_ceil(BLAKE3_CHUNK);
    let (left, right, left_chunks) = blake3_halves(blocks, chunks);
    let root = merge_subtrees_root(
        &blake3_subtree(left, left_chunks)?,
        &blake3_subtree(right, chunks - left_chunks)?,
        Mode::Hash,
    );
    Some(Digest32(*root.as_bytes()))
}

/// Copy `reader` into `writer` in one pass while computing [`Digests`] on several threads.
///
/// The calling thread reads and computes the whole-file SHA-256 (inherently sequential); a
/// writer thread writes; block workers (one per other core) compute each 1 MiB block's SHA-256
/// and its BLAKE3 subtree in any order, merged into the BLAKE3 root at the end. When the
/// workers fall behind, the calling thread hashes the block itself, computing its SHA-256 and
/// the whole file's in one interleaved pass (about 0.7× the cost of two with the x86 SHA
/// extensions). So the work spreads over every core and memory stays bounded to a few MiB
/// whatever the input size. `limit`, if given, refuses inputs larger than that many bytes with an
/// [`io::ErrorKind::InvalidInput`] error.
pub fn digest_copy<R: Read, W: Write + Send>(
    reader: R,
    writer: W,
    limit: Option<u64>,
) -> io::Result<Digests> {
    let block_workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get() - 1)
        .max(1);
    digest_copy_with(reader, writer, limit, block_workers)
}

/// [`digest_copy`] with a chosen number of block workers; with none, the reading thread
/// hashes every block itself.
fn digest_copy_with<R: Read, W: Write + Send>(
    mut reader: R,
    mut writer: W,
    limit: Option<u64>,
    block_workers: usize,
) -> io::Result<Digests> {
    let (write_tx, write_rx) = mpsc::sync_channel::<Arc<PooledBlock>>(PIPELINE_DEPTH);
    let (block_tx, block_rx) = mpsc::sync_channel::<(u64, Arc<PooledBlock>)>(PIPELINE_DEPTH);
    let block_rx = std::sync::Mutex::new(block_rx);

    std::thread::scope(|scope| {
        // Writing has its own thread: the kernel's copy into a fresh page cache can cost as
        // much as hashing, and then the two overlap instead of queueing behind each other.
        let write_worker = scope.spawn(move || -> io::Result<()> {
            for block in write_rx {
                writer.write_all(block.bytes())?;
            }
            writer.flush()
        });
        let block_workers: Vec<_> = (0..block_workers)
            .map(|_| {
                let block_rx = &block_rx;
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let next = match block_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => break,
                        };
                        let Ok((index, block)) = next else { break };
                        done.push(digest_block(index, block.bytes(), None));
                    }
                    done
                })
            })
            .collect();

        // This thread reads and computes the whole-file SHA-256, the one inherently sequential
        // digest and so the critical path. It must not share a core with a queue of block
        // work as an equal (fair scheduling would halve its speed), so block work goes to the
        // workers only while they keep up; when their queue is full this thread hashes the
        // block itself. The load balances itself whatever the core count or the copy's cost.
        let mut whole = Sha256Blocks::default();
        // Only the last block can end in a partial 64-byte SHA-256 block.
        let mut whole_tail = Vec::new();
        let mut done_here = Vec::new();
        let mut size = 0u64;
        let mut pool = BufferPool::new();
        let result = (|| -> io::Result<()> {
            for index in 0u64.. {
                let mut buf = pool.take()?;
                let n = read_full(&mut reader, &mut buf)?;
                if n == 0 && size > 0 {
                    break;
                }
                size += n as u64;
                if let Some(limit) = limit {
                    if size > limit {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("input is larger than the configured limit of {limit} bytes"),
                        ));
                    }
                }
                let block = Arc::new(pool.block(buf, n));
                let closed = || io::Error::other("digest worker stopped");
                write_tx.send(Arc::clone(&block)).map_err(|_| closed())?;
                let data = block.bytes();
                let (blocks, tail) = data.split_at(n - n % 64);
                let queued = (!block_workers.is_empty())
                    .then(|| block_tx.try_send((index, Arc::clone(&block))))
                    .transpose();
                match queued {
                    Ok(Some(())) => whole.update_blocks(blocks),
                    Ok(None) | Err(mpsc::TrySendError::Full(_)) => {
                        // Both SHA-256s of this block in one interleaved pass.
                        let mut chunk = Sha256Blocks::default();
                        sha256_pair::update_both(&mut whole, &mut chunk, blocks);
                        let sha256 = Digest32(chunk.finish(tail));
                        done_here.push(digest_block(index, data, Some(sha256)));
                    }
                    Err(mpsc::TrySendError::Disconnected(_)) => return Err(closed()),
                }
                if n < CHUNK_SIZE as usize {
                    whole_tail = tail.to_vec();
                    break;
                }
            }
            Ok(())
        })();
        drop(write_tx);
        drop(block_tx);
        let panicked = || io::Error::other("digest worker panicked");
        // A write error is the root cause when the reader saw a closed channel, so it wins.
        write_worker.join().map_err(|_| panicked())??;
        let mut blocks = done_here;
        for worker in block_workers {
            blocks.extend(worker.join().map_err(|_| panicked())?);
        }
        result?;
        blocks.sort_unstable_by_key(|b| b.index);
        let blake3 = blake3_from_blocks(&blocks, size)
            .ok_or_else(|| io::Error::other("missing BLAKE3 subtree"))?;
        Ok(Digests {
            size,
            sha256: Digest32(whole.finish(&whole_tail)),
            blake3,
            chunks: blocks.iter().map(|b| b.sha256).collect(),
        })
    })
}

/// At most this many 1 MiB buffers exist at once: enough for every channel to be full.
const POOL_BUFFERS: usize = 3 * PIPELINE_DEPTH + 4;

/// The pipeline's 1 MiB buffers, each returned when the last thread done with it lets go.
///
/// Reuse matters beyond allocation cost: a fresh buffer is fresh memory, whose first touch on a
/// VM may fault on the host, which made staging a 1 GiB file several times slower here.
struct BufferPool {
    returned_tx: mpsc::Sender<Vec<u8>>,
    returned_rx: mpsc::Receiver<Vec<u8>>,
    allocated: usize,
}

impl BufferPool {
    fn new() -> Self {
        let (returned_tx, returned_rx) = mpsc::channel();
        BufferPool {
            returned_tx,
            returned_rx,
            allocated: 0,
        }
    }

    /// A full-length buffer: a returned one, a new one while under the cap, else the next
    /// one returned (the workers always finish the blocks they hold, so one comes back).
    fn take(&mut self) -> io::Result<Vec<u8>> {
        if let Ok(buf) = self.returned_rx.try_recv() {
            return Ok(buf);
        }
        if self.allocated < POOL_BUFFERS {
            self.allocated += 1;
            return Ok(vec![0u8; CHUNK_SIZE as usize]);
        }
        self.returned_rx
            .recv()
            .map_err(|_| io::Error::other("digest buffers lost"))
    }

    /// Wrap `buf`, of which the first `len` bytes are data, to go back here when dropped.
    fn block(&self, buf: Vec<u8>, len: usize) -> PooledBlock {
        PooledBlock {
            buf,
            len,
            home: self.returned_tx.clone(),
        }
    }
}

/// One block's bytes, shared by the threads that need them; the buffer goes home on drop.
struct PooledBlock {
    buf: Vec<u8>,
    len: usize,
    home: mpsc::Sender<Vec<u8>>,
}

impl PooledBlock {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for PooledBlock {
    fn drop(&mut self) {
        // The pool is gone only when digesting has ended; the buffer is then simply freed.
        let _ = self.home.send(std::mem::take(&mut self.buf));
    }
}

/// Read until `buf` is full or the input ends; returns the bytes read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A reader that hands out data in awkward, varying pieces.
    struct Jagged<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Jagged<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.step = self.step % 7919 + 613;
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 11) as u8)
            .collect()
    }

    #[test]
    fn empty_input_has_one_empty_chunk() {
        let mut out = Vec::new();
        let d = digest_copy(&[][..], &mut out, None).unwrap();
        assert_eq!(d, Digests::of_bytes(&[]));
        assert_eq!(d.chunks, vec![Digest32::sha256(&[])]);
        assert!(out.is_empty());
        assert!(d.is_consistent());
    }

    #[test]
    fn sizes_around_chunk_multiples_match_single_threaded() {
        let c = CHUNK_SIZE as usize;
        for size in [
            1,
            1023,
            1024,
            1025,
            c - 1,
            c,
            c + 1,
            2 * c,
            3 * c - 1,
            3 * c + 7,
            4 * c,
            5 * c + 1024,
        ] {
            let data = pattern(size, 3);
            // No workers: the reading thread hashes every block, both SHA-256s interleaved.
            let mut digests = Vec::new();
            for workers in [0, 1, 3] {
                let mut out = Vec::new();
                let input = Jagged {
                    data: &data,
                    step: 0,
                };
                let d = digest_copy_with(input, &mut out, None, workers).unwrap();
                assert_eq!(out, data, "copy differs at size {size}, {workers} workers");
                let reference = Digests::of_bytes(&data);
                assert_eq!(d, reference, "size {size}, {workers} workers");
                digests.push(d);
            }
            let d = digests.remove(0);
            let mut inc = Digester::new();
            for piece in data.chunks(333_333) {
                inc.update(piece);
            }
            assert_eq!(inc.finish(), d);
            assert_eq!(
                d.chunks.len() as u64,
                ChunkLayout::new(size as u64).chunk_count()
            );
        }
    }

    #[test]
    fn limit_refuses_larger_input() {
        let data = pattern(CHUNK_SIZE as usize + 10, 1);
        let err = digest_copy(&data[..], io::sink(), Some(CHUNK_SIZE)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn failing_writer_is_reported() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let data = pattern(3 * CHUNK_SIZE as usize, 1);
        let err = digest_copy(&data[..], Broken, None).unwrap_err();
        assert_eq!(err.to_string(), "disk full");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn digest_copy_matches_reference(
            size in 0usize..(3 * CHUNK_SIZE as usize + 100),
            seed: u8,
            workers in 0usize..3,
        ) {
            let data = pattern(size, seed);
            let mut out = Vec::with_capacity(size);
            let input = Jagged { data: &data, step: seed as usize };
            let d = digest_copy_with(input, &mut out, None, workers).unwrap();
            prop_assert_eq!(&out, &data);
            prop_assert_eq!(&d, &Digests::of_bytes(&data));
            prop_assert!(d.is_consistent());
        }

        #[test]
        fn chunks_covering_covers_exactly(size in 0u64..(8 * CHUNK_SIZE), a in 0u64..(8 * CHUNK_SIZE), b in 0u64..(8 * CHUNK_SIZE)) {
            let layout = ChunkLayout::new(size);
            let (start, end) = (a.min(b).min(size), a.max(b).min(size));
            let chunks = layout.chunks_covering(start..end);
            prop_assert!(chunks.start < chunks.end);
            prop_assert!(chunks.end <= layout.chunk_count());
            let covered = layout.chunk_range(chunks.start).start..layout.chunk_range(chunks.end - 1).end;
            prop_assert!(covered.start <= start && end <= covered.end);
            // No chunk more than needed: the first and last chunks overlap the range.
            if end > start {
                prop_assert!(layout.chunk_range(chunks.start).end > start);
                prop_assert!(layout.chunk_range(chunks.end - 1).start < end);
            }
        }
    }
}
