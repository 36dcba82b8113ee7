//! Counters of what the store did.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Per-backend counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BackendStats {
    /// Successful puts.
    pub puts_ok: u64,
    /// Failed puts.
    pub puts_failed: u64,
    /// Download attempts that delivered everything asked of them.
    pub gets_ok: u64,
    /// Download attempts that failed (error, timeout or corruption).
    pub gets_failed: u64,
    /// Verified bytes this backend served.
    pub bytes_served: u64,
    /// Chunks from this backend that failed verification.
    pub integrity_failures: u64,
    /// Smoothed observed download rate, bytes per second.
    pub throughput: Option<f64>,
}

/// A snapshot of the store's statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Uploads begun.
    pub uploads_started: u64,
    /// Uploads finished with a record (including deduplicated ones).
    pub uploads_completed: u64,
    /// Uploads that failed.
    pub uploads_failed: u64,
    /// Uploads answered from an existing or in-flight upload of the same bytes.
    pub deduplicated: u64,
    /// Bytes of media ingested (each upload's size once).
    pub bytes_uploaded: u64,
    /// Downloads begun.
    pub downloads_started: u64,
    /// Downloads that delivered every asked byte, verified.
    pub downloads_completed: u64,
    /// Downloads that failed.
    pub downloads_failed: u64,
    /// Verified bytes released to callers.
    pub bytes_downloaded: u64,
    /// Times a download moved to another backend.
    pub fallbacks: u64,
    /// Chunks that failed verification.
    pub integrity_failures: u64,
    /// Media removed at expiry.
    pub expired: u64,
    /// Media deleted.
    pub deleted: u64,
    /// Uploads and downloads running now.
    pub active_operations: u64,
    /// Per backend, by name.
    pub backends: BTreeMap<String, BackendStats>,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub uploads_started: AtomicU64,
    pub uploads_completed: AtomicU64,
    pub uploads_failed: AtomicU64,
    pub deduplicated: AtomicU64,
    pub bytes_uploaded: AtomicU64,
    pub downloads_started: AtomicU64,
    pub downloads_completed: AtomicU64,
    pub downloads_failed: AtomicU64,
    pub bytes_downloaded: AtomicU64,
    pub fallbacks: AtomicU64,
    pub integrity_failures: AtomicU64,
    pub expired: AtomicU64,
    pub deleted: AtomicU64,
    pub active: AtomicU64,
    backends: Mutex<BTreeMap<String, BackendStats>>,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Stats {
    pub fn backend(&self, name: &str, f: impl FnOnce(&mut BackendStats)) {
        if let Ok(mut map) = self.backends.lock() {
            f(map.entry(name.to_owned()).or_default());
        }
    }

    /// Marks an operation active until the guard drops.
    pub fn active(&self) -> ActiveGuard<'_> {
        bump(&self.active);
        ActiveGuard(&self.active)
    }

    pub fn snapshot(&self, rate: impl Fn(&str) -> Option<f64>) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut backends = self.backends.lock().map(|m| m.clone()).unwrap_or_default();
        for (name, b) in backends.iter_mut() {
            b.throughput = rate(name);
        }
        StatsSnapshot {
            uploads_started: get(&self.uploads_started),
            uploads_completed: get(&self.uploads_completed),
            uploads_failed: get(&self.uploads_failed),
            deduplicated: get(&self.deduplicated),
            bytes_uploaded: get(&self.bytes_uploaded),
            downloads_started: get(&self.downloads_started),
            downloads_completed: get(&self.downloads_completed),
            downloads_failed: get(&self.downloads_failed),
            bytes_downloaded: get(&self.bytes_downloaded),
            fallbacks: get(&self.fallbacks),
            integrity_failures: get(&self.integrity_failures),
            expired: get(&self.expired),
            deleted: get(&self.deleted),
            active_operations: get(&self.active),
            backends,
        }
    }
}

pub(crate) struct ActiveGuard<'a>(&'a AtomicU64);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
