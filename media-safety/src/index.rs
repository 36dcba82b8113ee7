//! [`PdqIndex`]: multi-index hashing over 256-bit PDQ hashes.
//!
//! Each hash is cut into 16 words of 16 bits. Two hashes within distance `d` agree within
//! `d / 16` bits on at least one word (pigeonhole), so a query probes, for each word, every
//! value within that many bits of its own word, and checks the full distance of the hashes
//! found there. Buckets are laid out flat (offsets, then ids), 4 bytes per hash per word.

use media_core::PdqHash;

const WORDS: usize = 16;
const BUCKETS: usize = 1 << 16;

/// An immutable index of PDQ hashes for near-neighbour lookups.
#[derive(Clone)]
pub struct PdqIndex {
    hashes: Vec<PdqHash>,
    /// Per word: where each of the 65 536 buckets starts in `ids` (and one past the end).
    offsets: Vec<Vec<u32>>,
    /// Per word: hash numbers, grouped by that word's value.
    ids: Vec<Vec<u32>>,
}

impl std::fmt::Debug for PdqIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdqIndex")
            .field("hashes", &self.hashes.len())
            .finish()
    }
}

impl PdqIndex {
    /// Index `hashes` (at most `u32::MAX`; more are not indexed).
    pub fn new(mut hashes: Vec<PdqHash>) -> Self {
        hashes.truncate(u32::MAX as usize);
        hashes.sort_unstable();
        hashes.dedup();
        let mut offsets = Vec::with_capacity(WORDS);
        let mut ids = Vec::with_capacity(WORDS);
        for w in 0..WORDS {
            let mut counts = vec![0u32; BUCKETS + 1];
            for h in &hashes {
                counts[usize::from(h.word16(w)) + 1] += 1;
            }
            for b in 0..BUCKETS {
                counts[b + 1] += counts[b];
            }
            let mut next = counts.clone();
            let mut word_ids = vec![0u32; hashes.len()];
            for (n, h) in hashes.iter().enumerate() {
                let b = usize::from(h.word16(w));
                word_ids[next[b] as usize] = n as u32;
                next[b] += 1;
            }
            offsets.push(counts);
            ids.push(word_ids);
        }
        PdqIndex {
            hashes,
            offsets,
            ids,
        }
    }

    /// How many distinct hashes are indexed.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The indexed hash nearest to `query` within `max_distance` (at most 255), with its
    /// distance.
    pub fn nearest(&self, query: &PdqHash, max_distance: u32) -> Option<(PdqHash, u32)> {
        if self.hashes.is_empty() {
            return None;
        }
        let max_distance = max_distance.min(255);
        let radius = max_distance / WORDS as u32;
        let mut best: Option<(PdqHash, u32)> = None;
        for w in 0..WORDS {
            let word = query.word16(w);
            for probe in Neighbours::new(word, radius) {
                let b = usize::from(probe);
                let (from, to) = (self.offsets[w][b] as usize, self.offsets[w][b + 1] as usize);
                for &n in &self.ids[w][from..to] {
                    let h = &self.hashes[n as usize];
                    let d = h.distance(query);
                    if d <= max_distance && best.is_none_or(|(_, bd)| d < bd) {
                        best = Some((*h, d));
                        if d == 0 {
                            return best;
                        }
                    }
                }
            }
        }
        best
    }

    /// The same lookup by comparing `query` with every hash (for tests and benchmarks).
    pub fn nearest_linear(&self, query: &PdqHash, max_distance: u32) -> Option<(PdqHash, u32)> {
        self.hashes
            .iter()
            .map(|h| (*h, h.distance(query)))
            .filter(|(_, d)| *d <= max_distance)
            .min_by_key(|(_, d)| *d)
    }
}

/// Every 16-bit value within `radius` bits of `center`, `center` first.
struct Neighbours {
    center: u16,
    radius: u32,
    /// Bit positions flipped in the current value (ascending), or `None` once done.
    flips: Option<Vec<u32>>,
}

impl Neighbours {
    fn new(center: u16, radius: u32) -> Self {
        Neighbours {
            center,
            radius: radius.min(16),
            flips: Some(Vec::new()),
        }
    }

    fn advance(flips: &mut Vec<u32>, radius: u32) -> bool {
        // The next combination of the same size, else the first of the next size.
        let k = flips.len();
        for i in (0..k).rev() {
            if flips[i] < 16 - (k - i) as u32 {
                flips[i] += 1;
                for j in i + 1..k {
                    flips[j] = flips[j - 1] + 1;
                }
                return true;
            }
        }
        if (k as u32) < radius {
            *flips = (0..k as u32 + 1).collect();
            return true;
        }
        false
    }
}

impl Iterator for Neighbours {
    type Item = u16;
    fn next(&mut self) -> Option<u16> {
        let flips = self.flips.as_mut()?;
        let value = flips.iter().fold(self.center, |v, &b| v ^ (1 << b));
        if !Self::advance(flips, self.radius) {
            self.flips = None;
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(seed: &mut u64) -> PdqHash {
        let mut h = [0u8; 32];
        for b in &mut h {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *b = *seed as u8;
        }
        PdqHash(h)
    }

    #[test]
    fn neighbours_are_every_value_within_the_radius_once() {
        for radius in 0..3 {
            let all: Vec<u16> = Neighbours::new(0xa5a5, radius).collect();
            let expected: usize = (0..=radius as usize)
                .map(|k| (0..k).fold(1usize, |n, i| n * (16 - i) / (i + 1)))
                .sum();
            assert_eq!(all.len(), expected, "radius {radius}");
            let mut unique = all.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), all.len());
            assert!(all.iter().all(|v| (v ^ 0xa5a5).count_ones() <= radius));
        }
    }

    #[test]
    fn lookups_agree_with_a_linear_scan() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        let stored: Vec<PdqHash> = (0..5000).map(|_| random(&mut seed)).collect();
        let index = PdqIndex::new(stored.clone());
        for (n, h) in stored.iter().enumerate().take(300) {
            // Flip up to 40 bits of a stored hash.
            let mut q = *h;
            for k in 0..(n % 41) {
                let bit = (k * 37 + n) % 256;
                q.0[31 - bit / 8] ^= 1 << (bit % 8);
            }
            for max in [0, 15, 31, 47] {
                let fast = index.nearest(&q, max).map(|(_, d)| d);
                let slow = index.nearest_linear(&q, max).map(|(_, d)| d);
                assert_eq!(fast, slow, "query {n}, max {max}");
            }
        }
        assert!(index.nearest(&random(&mut seed), 31).is_none());
    }
}
