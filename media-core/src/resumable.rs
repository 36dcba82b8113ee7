//! [`ResumableDigester`]: the [`Digests`] of an input that arrives in pieces over minutes or
//! days (a resumable upload), computed as the pieces arrive, whose progress can be saved
//! ([`DigestCheckpoint`]) and resumed in another process without reading a byte twice.
//!
//! The whole-file SHA-256 is kept as its raw compression state (eight words and a length);
//! every completed 1 MiB block contributes its SHA-256 and its BLAKE3 subtree chaining value,
//! which are merged into the BLAKE3 root only at the end. A checkpoint therefore covers the
//! completed blocks: a process that resumes from one continues at a 1 MiB boundary.

use serde::{Deserialize, Serialize};

use crate::digest::{blake3_from_blocks, BlockDigest, Digests, CHUNK_SIZE};
use crate::id::Digest32;
use crate::sha256_pair::{self, Sha256Blocks};

/// What a [`ResumableDigester`] has computed over its completed 1 MiB blocks: small, plain
/// data to be saved (JSON) and handed to [`ResumableDigester::resume`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestCheckpoint {
    /// Bytes covered, a multiple of [`CHUNK_SIZE`].
    pub size: u64,
    /// The whole-file SHA-256's state after `size` bytes.
    whole: [u32; 8],
    /// Each block's SHA-256.
    chunks: Vec<Digest32>,
    /// Each block's BLAKE3 chaining value, as a subtree at its offset.
    blake3_cvs: Vec<Digest32>,
    /// BLAKE3 of block 0 as if it were the whole input (a 1 MiB file's root).
    blake3_first: Option<Digest32>,
}

/// Why a checkpoint cannot be resumed from (it was edited or is from another format).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("inconsistent digest checkpoint: {0}")]
pub struct InvalidCheckpoint(&'static str);

/// Incremental [`Digests`] with checkpoints; single-threaded, a few hundred bytes of state.
///
/// ```
/// use media_core::{Digests, ResumableDigester};
/// let data = vec![7u8; 3 << 20];
/// let mut first = ResumableDigester::new();
/// first.update(&data[..(2 << 20) + 5]);
/// // Saved, the process ends; another one resumes at the last whole block.
/// let saved = first.checkpoint();
/// let mut second = ResumableDigester::resume(saved.clone()).unwrap();
/// second.update(&data[saved.size as usize..]);
/// assert_eq!(second.finish(), Digests::of_bytes(&data));
/// ```
#[derive(Debug, Clone)]
pub struct ResumableDigester {
    done: DigestCheckpoint,
    whole: Sha256Blocks,
    chunk: Sha256Blocks,
    blake3: blake3::Hasher,
    /// Bytes of the current block not yet fed to the SHA-256s (fewer than 64).
    tail: Vec<u8>,
    /// Bytes of the current block seen.
    fill: u64,
}

impl Default for ResumableDigester {
    fn default() -> Self {
        Self::new()
    }
}

impl ResumableDigester {
    /// Digests of nothing yet.
    pub fn new() -> Self {
        ResumableDigester {
            done: DigestCheckpoint {
                size: 0,
                whole: Sha256Blocks::default().parts().0,
                chunks: Vec::new(),
                blake3_cvs: Vec::new(),
                blake3_first: None,
            },
            whole: Sha256Blocks::default(),
            chunk: Sha256Blocks::default(),
            blake3: blake3::Hasher::new(),
            tail: Vec::with_capacity(64),
            fill: 0,
        }
    }

    /// Continue from a checkpoint: the next byte fed is byte `checkpoint.size`.
    pub fn resume(checkpoint: DigestCheckpoint) -> Result<Self, InvalidCheckpoint> {
        let blocks = checkpoint.chunks.len() as u64;
        if checkpoint.size != blocks * CHUNK_SIZE {
            return Err(InvalidCheckpoint("size is not its blocks' length"));
        }
        if checkpoint.blake3_cvs.len() != checkpoint.chunks.len() {
            return Err(InvalidCheckpoint("as many BLAKE3 values as blocks"));
        }
        if (blocks > 0) != checkpoint.blake3_first.is_some() {
            return Err(InvalidCheckpoint("the first block's BLAKE3"));
        }
        let mut digester = ResumableDigester::new();
        digester.whole = Sha256Blocks::from_parts(checkpoint.whole, checkpoint.size);
        digester.blake3 = block_hasher(blocks);
        digester.done = checkpoint;
        Ok(digester)
    }

    /// Bytes fed in all.
    pub fn size(&self) -> u64 {
        self.done.size + self.fill
    }

    /// Feed the next bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = (CHUNK_SIZE - self.fill) as usize;
            let (piece, rest) = data.split_at(room.min(data.len()));
            data = rest;
            self.blake3.update(piece);
            self.fill += piece.len() as u64;
            let mut piece = piece;
            if !self.tail.is_empty() {
                let take = (64 - self.tail.len()).min(piece.len());
                self.tail.extend_from_slice(&piece[..take]);
                piece = &piece[take..];
                if self.tail.len() == 64 {
                    sha256_pair::update_both(&mut self.whole, &mut self.chunk, &self.tail);
                    self.tail.clear();
                }
            }
            let aligned = piece.len() - piece.len() % 64;
            sha256_pair::update_both(&mut self.whole, &mut self.chunk, &piece[..aligned]);
            self.tail.extend_from_slice(&piece[aligned..]);
            if self.fill == CHUNK_SIZE {
                self.end_block();
            }
        }
    }

    /// The progress of every completed block, to save; resuming from it continues at
    /// `checkpoint.size` (at most 1 MiB before [`Self::size`]).
    pub fn checkpoint(&self) -> DigestCheckpoint {
        self.done.clone()
    }

    /// The digests of everything fed.
    pub fn finish(mut self) -> Digests {
        use blake3::hazmat::HasherExt;
        let size = self.size();
        if self.fill > 0 || self.done.chunks.is_empty() {
            let index = self.done.chunks.len() as u64;
            let chunk = std::mem::take(&mut self.chunk).finish(&self.tail);
            self.done.chunks.push(Digest32(chunk));
            // Empty input has no subtree, only a root.
            let cv = if self.fill > 0 {
                Digest32(self.blake3.finalize_non_root())
            } else {
                Digest32::default()
            };
            self.done.blake3_cvs.push(cv);
            if index == 0 {
                self.done.blake3_first = Some(Digest32(*self.blake3.finalize().as_bytes()));
            }
        }
        let blocks: Vec<BlockDigest> = self
            .done
            .chunks
            .iter()
            .zip(&self.done.blake3_cvs)
            .enumerate()
            .map(|(index, (sha256, cv))| BlockDigest {
                index: index as u64,
                sha256: *sha256,
                // Only empty input has an empty block, and its root is `blake3_first`.
                blake3_cv: (size > 0).then_some(cv.0),
                blake3_root: if index == 0 {
                    self.done.blake3_first
                } else {
                    None
                },
            })
            .collect();
        // Every block has its chaining value (or is the only one, with its root): the merge
        // cannot miss a subtree.
        let blake3 = blake3_from_blocks(&blocks, size).unwrap_or_default();
        Digests {
            size,
            sha256: Digest32(self.whole.finish(&self.tail)),
            blake3,
            chunks: self.done.chunks,
        }
    }

    fn end_block(&mut self) {
        use blake3::hazmat::HasherExt;
        debug_assert!(self.tail.is_empty());
        let index = self.done.chunks.len() as u64;
        let chunk = std::mem::take(&mut self.chunk).finish(&[]);
        self.done.chunks.push(Digest32(chunk));
        self.done
            .blake3_cvs
            .push(Digest32(self.blake3.finalize_non_root()));
        if index == 0 {
            self.done.blake3_first = Some(Digest32(*self.blake3.finalize().as_bytes()));
        }
        self.done.size += CHUNK_SIZE;
        self.done.whole = self.whole.parts().0;
        self.blake3 = block_hasher(index + 1);
        self.fill = 0;
    }
}

/// A BLAKE3 hasher for block `index` as a subtree at its offset.
fn block_hasher(index: u64) -> blake3::Hasher {
    use blake3::hazmat::HasherExt;
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(index * CHUNK_SIZE);
    hasher
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(29) ^ (i >> 13) as u8)
            .collect()
    }

    #[test]
    fn pieces_and_resumes_give_the_one_pass_digests() {
        let c = CHUNK_SIZE as usize;
        for size in [
            0,
            1,
            63,
            64,
            65,
            1024,
            c - 1,
            c,
            c + 1,
            2 * c,
            3 * c + 77,
            5 * c,
        ] {
            let data = pattern(size);
            let expected = Digests::of_bytes(&data);
            // Odd piece sizes, a checkpoint and a resume (through JSON) after each piece.
            let mut digester = ResumableDigester::new();
            let mut at = 0;
            for (i, step) in [1usize, 63, 4097, 333_333, c, 7].iter().cycle().enumerate() {
                if at >= data.len() {
                    break;
                }
                let end = (at + step).min(data.len());
                digester.update(&data[at..end]);
                at = end;
                if i % 3 == 2 {
                    let saved = serde_json::to_string(&digester.checkpoint()).unwrap();
                    let saved: DigestCheckpoint = serde_json::from_str(&saved).unwrap();
                    at = saved.size as usize;
                    digester = ResumableDigester::resume(saved).unwrap();
                }
            }
            assert_eq!(digester.size(), size as u64);
            assert_eq!(digester.finish(), expected, "size {size}");
        }
    }

    #[test]
    fn a_forged_checkpoint_is_refused() {
        let mut digester = ResumableDigester::new();
        digester.update(&pattern(2 * CHUNK_SIZE as usize));
        let mut saved = digester.checkpoint();
        saved.size += 1;
        assert!(ResumableDigester::resume(saved.clone()).is_err());
        saved.size -= 1;
        saved.blake3_cvs.pop();
        assert!(ResumableDigester::resume(saved).is_err());
    }
}
