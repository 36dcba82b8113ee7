//! The local verified cache: chunks this node has read, kept on disk so a second read of the
//! same media (or range) makes no network request and still reads with every network down.
//!
//! One file per verified chunk, `<cache>/<id>/<chunk index>`, least recently used evicted
//! first once the total passes the bound. A chunk goes in only after it verified against the
//! record's chunk digest, and is checked again every time it is read: a file changed on disk
//! is deleted and the chunk fetched from the stores, never served. The check on read is a
//! BLAKE3 of the verified bytes, kept in memory (about three times faster than SHA-256); after
//! a restart, a chunk's first read checks it against the record's SHA-256 again. The cache survives a
//! restart (the order of use is kept in the files' modification times). It is never offered
//! to peers: what this node re-shares stays the P2P consent setting's business.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use media_core::{Digest32, MediaError, MediaId, Operation, Result};
use tracing::{debug, warn};

/// Default bound of the cache of a node started from a [`crate::StackConfig`].
pub const DEFAULT_CACHE_BYTES: u64 = 1 << 30;

/// Chunk writes queued at once; a chunk that finds no slot is simply not cached, so a slow
/// disk never slows a read down.
const WRITE_SLOTS: usize = 4;

type Key = (MediaId, u64);

/// What a cached chunk was verified as: the chunk digest of the anchored record that
/// verified it (the SHA-256 a later read must ask for) and the BLAKE3 of its bytes (the fast
/// check that the file did not change since).
#[derive(Debug, Clone, Copy)]
struct Checked {
    sha256: Digest32,
    blake3: [u8; 32],
}

#[derive(Debug, Default)]
struct Index {
    /// Size, last use and (once known) the digests of every cached chunk.
    entries: HashMap<Key, (u64, u64, Option<Checked>)>,
    /// Last use → chunk, oldest first.
    by_use: BTreeMap<u64, Key>,
    total: u64,
    clock: u64,
}

impl Index {
    fn touch(&mut self, key: Key, size: u64, fast: Option<Checked>) {
        self.clock += 1;
        let clock = self.clock;
        if let Some((old_size, used, _)) = self.entries.insert(key, (size, clock, fast)) {
            self.by_use.remove(&used);
            self.total -= old_size;
        }
        self.by_use.insert(clock, key);
        self.total += size;
    }

    fn remove(&mut self, key: &Key) -> bool {
        match self.entries.remove(key) {
            Some((size, used, _)) => {
                self.by_use.remove(&used);
                self.total -= size;
                true
            }
            None => false,
        }
    }

    /// Pop least recently used chunks until `total` fits in `max`.
    fn evict_to(&mut self, max: u64) -> Vec<Key> {
        let mut gone = Vec::new();
        while self.total > max {
            let Some((_, key)) = self.by_use.pop_first() else {
                break;
            };
            if let Some((size, _, _)) = self.entries.remove(&key) {
                self.total -= size;
            }
            gone.push(key);
        }
        gone
    }
}

/// A bounded on-disk cache of verified chunks.
#[derive(Debug)]
pub(crate) struct ChunkCache {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
    writes: Arc<tokio::sync::Semaphore>,
}

impl ChunkCache {
    /// Open (or create) the cache in `dir`, bounded by `max_bytes`, indexing what an earlier
    /// run left there.
    pub fn open(dir: PathBuf, max_bytes: u64) -> Result<Self> {
        let io = |e| MediaError::io(Operation::Configure, "opening the chunk cache", e);
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut found: Vec<(SystemTime, Key, u64)> = Vec::new();
        for media in std::fs::read_dir(&dir).map_err(io)?.flatten() {
            let Some(id) = media
                .file_name()
                .to_str()
                .and_then(|n| Digest32::from_hex(n).ok())
                .map(MediaId::from_sha256)
            else {
                continue;
            };
            let Ok(chunks) = std::fs::read_dir(media.path()) else {
                continue;
            };
            for chunk in chunks.flatten() {
                let name = chunk.file_name();
                let Some(index) = name.to_str().and_then(|n| n.parse::<u64>().ok()) else {
                    // An interrupted write: never complete, never indexed.
                    let _ = std::fs::remove_file(chunk.path());
                    continue;
                };
                if let Ok(meta) = chunk.metadata() {
                    let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    found.push((used, (id, index), meta.len()));
                }
            }
        }
        found.sort_by_key(|(used, _, _)| *used);
        let mut index = Index::default();
        for (_, key, size) in found {
            index.touch(key, size, None);
        }
        let cache = ChunkCache {
            dir,
            max_bytes,
            index: Mutex::new(Index::default()),
            writes: Arc::new(tokio::sync::Semaphore::new(WRITE_SLOTS)),
        };
        let gone = index.evict_to(max_bytes);
        debug!(
            chunks = index.entries.len(),
            bytes = index.total,
            "chunk cache opened"
        );
        for key in gone {
            let _ = std::fs::remove_file(cache.path(&key));
        }
        if let Ok(mut slot) = cache.index.lock() {
            *slot = index;
        }
        Ok(cache)
    }

    fn path(&self, (id, index): &Key) -> PathBuf {
        self.dir.join(id.sha256().to_hex()).join(index.to_string())
    }

    /// Whether chunk `index` of `id` is cached (it is still checked when read).
    pub fn contains(&self, id: &MediaId, index: u64) -> bool {
        self.index
            .lock()
            .is_ok_and(|i| i.entries.contains_key(&(*id, index)))
    }

    /// Whether every chunk of `chunks` is cached.
    pub fn holds_all(&self, id: &MediaId, chunks: std::ops::Range<u64>) -> bool {
        self.index
            .lock()
            .is_ok_and(|i| chunks.clone().all(|c| i.entries.contains_key(&(*id, c))))
    }

    /// The first cached chunk in `chunks`, or `chunks.end`.
    pub fn first_cached(&self, id: &MediaId, chunks: std::ops::Range<u64>) -> u64 {
        let end = chunks.end;
        self.index.lock().map_or(end, |i| {
            chunks
                .clone()
                .find(|c| i.entries.contains_key(&(*id, *c)))
                .unwrap_or(end)
        })
    }

    /// Chunk `index` of `id` if it is cached as the chunk `expected` (the chunk digest of the
    /// record being read) and still holds the bytes verified then. A chunk cached under
    /// another digest (another record of the same id once verified it) or changed on disk is
    /// removed and reported as absent: the cache can only ever return bytes that hash to
    /// what the caller asks for.
    pub async fn get(&self, id: &MediaId, index: u64, expected: Digest32) -> Option<Bytes> {
        let key = (*id, index);
        let fast = self
            .index
            .lock()
            .ok()?
            .entries
            .get(&key)
            .map(|entry| entry.2)?;
        let path = self.path(&key);
        let read =
            tokio::task::spawn_blocking(move || -> std::io::Result<(Vec<u8>, Option<[u8; 32]>)> {
                let data = std::fs::read(&path)?;
                let blake = *blake3::hash(&data).as_bytes();
                let intact = match fast {
                    // Verified in this run: as the same chunk digest, and unchanged since.
                    Some(known) => known.sha256 == expected && blake == known.blake3,
                    // Cached by an earlier run: the full check against what is asked.
                    None => Digest32::sha256(&data) == expected,
                };
                if !intact {
                    let _ = std::fs::remove_file(&path);
                    return Ok((data, None));
                }
                // The order of use survives a restart in the modification times.
                let _ = std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(SystemTime::now()));
                Ok((data, Some(blake)))
            })
            .await;
        match read {
            Ok(Ok((data, Some(blake)))) => {
                if let Ok(mut i) = self.index.lock() {
                    let checked = Checked {
                        sha256: expected,
                        blake3: blake,
                    };
                    i.touch(key, data.len() as u64, Some(checked));
                }
                Some(Bytes::from(data))
            }
            Ok(Ok((_, None))) => {
                warn!(%id, chunk = index, "cached chunk is not the one asked for (changed on disk, or cached for another record); removed, read from the stores");
                self.forget(&key);
                None
            }
            Ok(Err(e)) => {
                debug!(%id, chunk = index, error = %e, "cached chunk unreadable");
                self.forget(&key);
                None
            }
            Err(_) => None,
        }
    }

    /// Keep a chunk that verified as `verified_as`, the chunk digest of an *anchored* record
    /// of `id` (callers never cache chunks of a record nothing vouches for), in the
    /// background. Skipped when the disk is behind or the chunk alone is larger than the
    /// cache.
    pub fn put(self: &Arc<Self>, id: MediaId, index: u64, chunk: Bytes, verified_as: Digest32) {
        let size = chunk.len() as u64;
        if size > self.max_bytes || self.contains(&id, index) {
            return;
        }
        let Ok(permit) = Arc::clone(&self.writes).try_acquire_owned() else {
            return;
        };
        let cache = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let key = (id, index);
            let path = cache.path(&key);
            if let Err(e) = write_chunk(&path, &chunk) {
                debug!(%id, chunk = index, error = %e, "could not cache a chunk");
                return;
            }
            let checked = Checked {
                sha256: verified_as,
                blake3: *blake3::hash(&chunk).as_bytes(),
            };
            let gone = match cache.index.lock() {
                Ok(mut i) => {
                    i.touch(key, size, Some(checked));
                    i.evict_to(cache.max_bytes)
                }
                Err(_) => Vec::new(),
            };
            for key in gone {
                let _ = std::fs::remove_file(cache.path(&key));
            }
        });
    }

    /// Drop every cached chunk of `id` (the media was deleted).
    pub fn remove_media(&self, id: &MediaId) {
        if let Ok(mut i) = self.index.lock() {
            let keys: Vec<Key> = i.entries.keys().filter(|k| k.0 == *id).copied().collect();
            for key in keys {
                i.remove(&key);
            }
        }
        let _ = std::fs::remove_dir_all(self.dir.join(id.sha256().to_hex()));
    }

    /// Drop chunks `indices` of `id`: what a read that failed had added.
    pub fn remove_chunks(&self, id: &MediaId, indices: &[u64]) {
        for &index in indices {
            let key = (*id, index);
            self.forget(&key);
            let _ = std::fs::remove_file(self.path(&key));
        }
    }

    fn forget(&self, key: &Key) {
        if let Ok(mut i) = self.index.lock() {
            i.remove(key);
        }
    }

    /// Bytes cached now.
    pub fn bytes(&self) -> u64 {
        self.index.lock().map_or(0, |i| i.total)
    }
}

/// Write through a temporary name renamed into place, so a crash never leaves a short chunk
/// under a chunk's name.
fn write_chunk(path: &Path, chunk: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, chunk)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> MediaId {
        MediaId::for_bytes(&[n])
    }

    #[tokio::test]
    async fn least_recently_used_goes_first_and_the_order_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(ChunkCache::open(dir.path().join("c"), 30).unwrap());
        let chunk = |b: u8| Bytes::from(vec![b; 10]);
        for n in 0..3u8 {
            cache.put(id(n), 0, chunk(n), Digest32::sha256(&chunk(n)));
            // Writes are in the background; wait for each.
            for _ in 0..200 {
                if cache.contains(&id(n), 0) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            // Distinct modification times for the reopen.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(cache.bytes(), 30);
        // Use 0, so 1 is now the least recently used.
        let digest = Digest32::sha256(&[0u8; 10]);
        assert_eq!(cache.get(&id(0), 0, digest).await.unwrap(), chunk(0));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop(cache);

        // Reopened smaller: the least recently used chunk (1) goes.
        let cache = Arc::new(ChunkCache::open(dir.path().join("c"), 20).unwrap());
        assert!(cache.contains(&id(0), 0));
        assert!(!cache.contains(&id(1), 0));
        assert!(cache.contains(&id(2), 0));
        assert!(!dir
            .path()
            .join("c")
            .join(id(1).sha256().to_hex())
            .join("0")
            .exists());

        // A chunk that no longer hashes to its digest is removed, not served.
        let wrong = Digest32::sha256(b"something else");
        assert!(cache.get(&id(2), 0, wrong).await.is_none());
        assert!(!cache.contains(&id(2), 0));
        cache.remove_media(&id(0));
        assert_eq!(cache.bytes(), 0);
    }

    /// A chunk is returned only for the digest it was cached as: the same id with another
    /// chunk list (a stranger's record, then the genuine one) never gets it.
    #[tokio::test]
    async fn a_chunk_cached_as_one_digest_is_not_returned_for_another() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(ChunkCache::open(dir.path().join("c"), 1 << 20).unwrap());
        let forged = Bytes::from_static(b"forged chunk");
        let genuine = Digest32::sha256(b"genuine chunk");
        cache.put(id(7), 0, forged.clone(), Digest32::sha256(&forged));
        for _ in 0..200 {
            if cache.contains(&id(7), 0) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(cache.contains(&id(7), 0));
        assert!(cache.get(&id(7), 0, genuine).await.is_none());
        assert!(
            !cache.contains(&id(7), 0),
            "the mismatching chunk is dropped"
        );
    }
}
