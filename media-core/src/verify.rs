//! Chunk-by-chunk verification of bytes from any backend.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use sha2::Digest as _;

use crate::digest::{ChunkLayout, Digests};
use crate::error::{MediaError, Operation, Result};
use crate::id::Digest32;

/// Checks a byte stream that should contain chunks `chunks` of a blob, releasing each chunk only
/// once its SHA-256 matches. Memory is bounded by one chunk.
///
/// ```
/// use media_core::{ChunkVerifier, Digests};
/// let data = vec![9u8; 3 << 20];
/// let digests = Digests::of_bytes(&data);
/// // Verify chunks 1..3 (bytes 1 MiB .. 3 MiB), fed in odd pieces.
/// let mut v = ChunkVerifier::new(&digests, 1..3);
/// let mut out = Vec::new();
/// for piece in data[1 << 20..].chunks(100_000) {
///     for (_index, chunk) in v.push(piece).unwrap() {
///         out.extend_from_slice(&chunk);
///     }
/// }
/// v.finish().unwrap();
/// assert_eq!(out, &data[1 << 20..]);
/// ```
#[derive(Debug)]
pub struct ChunkVerifier {
    layout: ChunkLayout,
    expected: Vec<Digest32>,
    next: u64,
    end: u64,
    buf: BytesMut,
    failed: Option<MediaError>,
}

impl ChunkVerifier {
    /// Verify chunks `chunks` (indices) of a blob with `digests`.
    pub fn new(digests: &Digests, chunks: Range<u64>) -> Self {
        let layout = digests.layout();
        let end = chunks.end.min(layout.chunk_count());
        ChunkVerifier {
            layout,
            expected: digests.chunks.clone(),
            next: chunks.start.min(end),
            end,
            buf: BytesMut::new(),
            failed: None,
        }
    }

    /// Index of the next chunk to be verified (the first unverified chunk).
    pub fn next_chunk(&self) -> u64 {
        self.next
    }

    /// Whether all chunks have been verified.
    pub fn is_done(&self) -> bool {
        self.next >= self.end
    }

    fn chunk_len(&self, index: u64) -> usize {
        let r = self.layout.chunk_range(index);
        (r.end - r.start) as usize
    }

    /// The failure that stopped verification, if any. Once failed, every later call returns it.
    pub fn failure(&self) -> Option<&MediaError> {
        self.failed.as_ref()
    }

    /// Feed bytes; returns the chunks that became complete and verified, with their indices.
    /// Bytes beyond the last expected chunk are an integrity error (overlong data).
    ///
    /// Chunks verified before a failure in the same call are still returned (they are good);
    /// the failure is then returned by the next call, and by [`Self::failure`].
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<(u64, Bytes)>> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut out = Vec::new();
        match self.push_inner(data, &mut out) {
            Ok(()) => Ok(out),
            Err(e) => {
                self.failed = Some(e.clone());
                if out.is_empty() {
                    Err(e)
                } else {
                    Ok(out)
                }
            }
        }
    }

    fn push_inner(&mut self, mut data: &[u8], out: &mut Vec<(u64, Bytes)>) -> Result<()> {
        // An empty chunk (empty blob) verifies as soon as anything asks.
        out.extend(self.verify_empty_chunks()?);
        while !data.is_empty() {
            if self.is_done() {
                return Err(MediaError::integrity(
                    Operation::Get,
                    format!("{} bytes more than the expected length", data.len()),
                ));
            }
            let want = self.chunk_len(self.next);
            if self.buf.capacity() < want {
                self.buf.reserve(want - self.buf.len());
            }
            let take = (want - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == want {
                out.push(self.verify_buffered()?);
                out.extend(self.verify_empty_chunks()?);
            }
        }
        Ok(())
    }

    fn verify_empty_chunks(&mut self) -> Result<Option<(u64, Bytes)>> {
        if !self.is_done() && self.chunk_len(self.next) == 0 {
            return self.verify_buffered().map(Some);
        }
        Ok(None)
    }

    fn verify_buffered(&mut self) -> Result<(u64, Bytes)> {
        let index = self.next;
        let chunk = self.buf.split().freeze();
        let actual = Digest32(sha2::Sha256::digest(&chunk).into());
        let expected = self.expected.get(index as usize).copied();
        if expected != Some(actual) {
            return Err(MediaError::integrity(
                Operation::Get,
                format!("chunk {index} does not match its SHA-256 digest"),
            )
            .with_retryable(false));
        }
        self.next += 1;
        Ok((index, chunk))
    }

    /// Call at the end of the stream: verifies a remaining empty chunk, and fails if chunks are
    /// missing (truncated data).
    pub fn finish(&mut self) -> Result<Vec<(u64, Bytes)>> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let out: Vec<_> = self.verify_empty_chunks()?.into_iter().collect();
        if !self.is_done() {
            return Err(MediaError::integrity(
                Operation::Get,
                format!(
                    "stream ended early: chunk {} of {} incomplete ({} of {} bytes)",
                    self.next,
                    self.end,
                    self.buf.len(),
                    self.chunk_len(self.next)
                ),
            )
            .with_retryable(true));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::CHUNK_SIZE;

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn detects_corruption_in_the_right_chunk() {
        let mut d = data(3 * CHUNK_SIZE as usize);
        let digests = Digests::of_bytes(&d);
        d[CHUNK_SIZE as usize + 17] ^= 1;
        let mut v = ChunkVerifier::new(&digests, 0..3);
        let first = v.push(&d[..CHUNK_SIZE as usize]).unwrap();
        assert_eq!(first.len(), 1);
        let err = v.push(&d[CHUNK_SIZE as usize..]).unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Integrity);
        assert!(err.message.contains("chunk 1"));
        assert_eq!(v.next_chunk(), 1);
        assert!(v.finish().is_err(), "a failed verifier stays failed");

        // Good chunks before a bad one in the same push are released; the error follows.
        let mut v = ChunkVerifier::new(&digests, 0..3);
        let good = v.push(&d).unwrap();
        assert_eq!(good.len(), 1);
        assert!(v.failure().is_some());
        assert!(v.push(&[]).is_err());
    }

    #[test]
    fn detects_truncation_and_overlong_data() {
        let d = data(CHUNK_SIZE as usize + 10);
        let digests = Digests::of_bytes(&d);
        let mut v = ChunkVerifier::new(&digests, 0..2);
        v.push(&d[..d.len() - 1]).unwrap();
        assert_eq!(v.finish().unwrap_err().kind, crate::ErrorKind::Integrity);

        let mut v = ChunkVerifier::new(&digests, 0..2);
        let mut longer = d.clone();
        longer.push(0);
        let good = v.push(&longer).unwrap();
        assert_eq!(good.len(), 2, "both real chunks verify");
        assert_eq!(
            v.failure().map(|e| e.kind),
            Some(crate::ErrorKind::Integrity)
        );
    }

    #[test]
    fn empty_blob_verifies_on_finish() {
        let digests = Digests::of_bytes(&[]);
        let mut v = ChunkVerifier::new(&digests, 0..1);
        assert_eq!(v.finish().unwrap().len(), 1);
        assert!(v.is_done());
        let mut v = ChunkVerifier::new(&digests, 0..1);
        let _ = v.push(b"x");
        assert!(
            v.failure().is_some(),
            "a byte after an empty blob is an error"
        );
    }
}
