//! Deterministic bytes for tests, demos and benchmarks: one generator for the workspace.

/// `len` pseudo-random bytes from `seed` (xorshift64): the same for the same arguments,
/// different chunks within one file (so chunk digests differ) and across seeds.
///
/// ```
/// let a = media_core::sample_bytes(3 << 20, 1);
/// assert_eq!(a, media_core::sample_bytes(3 << 20, 1));
/// assert_ne!(a[..1 << 20], a[1 << 20..2 << 20]);
/// assert_ne!(a, media_core::sample_bytes(3 << 20, 2));
/// ```
pub fn sample_bytes(len: u64, seed: u64) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}
