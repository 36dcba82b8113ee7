//! Counters of what the store did.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use media_core::MediaEvent;
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

/// The store's counters. They are derived from the events in one place,
/// [`Stats::record`], which sees every event the store emits; only the number of running
/// operations is a gauge kept by guards.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    counters: Mutex<StatsSnapshot>,
    active: AtomicU64,
    /// Where the counters persist (`<data>/stats.json`), and when they were last written.
    file: Option<(std::path::PathBuf, Mutex<Option<std::time::Instant>>)>,
}

/// Counters are written at most this often (and when the store is dropped).
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Stats {
    /// Counters kept in `path` across restarts, starting from what it holds.
    pub fn persistent(path: std::path::PathBuf) -> Self {
        let saved: StatsSnapshot = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Stats {
            counters: Mutex::new(StatsSnapshot {
                active_operations: 0,
                ..saved
            }),
            active: AtomicU64::new(0),
            file: Some((path, Mutex::new(None))),
        }
    }

    /// Write the counters if the last write is older than [`SAVE_EVERY`] (or `force`).
    pub fn save(&self, force: bool) {
        let Some((path, last)) = &self.file else {
            return;
        };
        let Ok(mut last) = last.lock() else { return };
        if !force && last.is_some_and(|t| t.elapsed() < SAVE_EVERY) {
            return;
        }
        *last = Some(std::time::Instant::now());
        let Ok(counters) = self.counters.lock().map(|s| s.clone()) else {
            return;
        };
        let tmp = path.with_extension("tmp");
        let written = serde_json::to_vec(&counters)
            .map_err(std::io::Error::other)
            .and_then(|json| std::fs::write(&tmp, json))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            tracing::debug!(error = %e, "could not save statistics");
        }
    }

    /// Count what `event` says happened (and persist the counters now and then).
    pub fn record(&self, event: &MediaEvent) {
        self.count(event);
        if event.is_terminal()
            || matches!(
                event,
                MediaEvent::Deleted { .. } | MediaEvent::Expired { .. }
            )
        {
            // Every finished operation is on disk when its event is out: a process stopping
            // right after (or a new store opened on the same data) sees it. The file is a few
            // hundred bytes, written without fsync.
            self.save(true);
        }
    }

    fn count(&self, event: &MediaEvent) {
        let Ok(mut s) = self.counters.lock() else {
            return;
        };
        let s = &mut *s;
        let mut backend = |name: &str, f: &dyn Fn(&mut BackendStats)| {
            f(s.backends.entry(name.to_owned()).or_default());
        };
        match event {
            MediaEvent::UploadStarted { .. } => s.uploads_started += 1,
            MediaEvent::Ingested { size, .. } => s.bytes_uploaded += size,
            MediaEvent::Stored { backend: b, .. } => backend(b, &|b| b.puts_ok += 1),
            MediaEvent::StoreFailed { backend: b, .. } => backend(b, &|b| b.puts_failed += 1),
            MediaEvent::UploadFinished { deduplicated, .. } => {
                s.uploads_completed += 1;
                s.deduplicated += u64::from(*deduplicated);
            }
            MediaEvent::UploadFailed { .. } => s.uploads_failed += 1,
            MediaEvent::DownloadStarted { .. } => s.downloads_started += 1,
            MediaEvent::AttemptEnded {
                backend: b,
                bytes,
                complete,
                ..
            } => backend(b, &|b| {
                b.bytes_served += bytes;
                b.gets_ok += u64::from(*complete);
            }),
            MediaEvent::Fallback { from, to, .. } => {
                s.fallbacks += u64::from(to.is_some());
                backend(from, &|b| b.gets_failed += 1);
            }
            MediaEvent::IntegrityFailure { backend: b, .. } => {
                s.integrity_failures += 1;
                backend(b, &|b| b.integrity_failures += 1);
            }
            MediaEvent::Verified { bytes, .. } => {
                s.downloads_completed += 1;
                s.bytes_downloaded += bytes;
            }
            MediaEvent::DownloadFailed { .. } => s.downloads_failed += 1,
            MediaEvent::Expired { .. } => s.expired += 1,
            MediaEvent::Deleted { .. } => s.deleted += 1,
            _ => {}
        }
    }

    /// Marks an operation active until the guard drops.
    pub fn active(&self) -> ActiveGuard<'_> {
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveGuard(&self.active)
    }

    pub fn snapshot(&self, rate: impl Fn(&str) -> Option<f64>) -> StatsSnapshot {
        let mut snapshot = self.counters.lock().map(|s| s.clone()).unwrap_or_default();
        snapshot.active_operations = self.active.load(Ordering::Relaxed);
        for (name, b) in snapshot.backends.iter_mut() {
            b.throughput = rate(name);
        }
        snapshot
    }
}

pub(crate) struct ActiveGuard<'a>(&'a AtomicU64);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use media_core::{ErrorKind, MediaError, MediaId, Operation, OperationId};

    #[test]
    fn counters_follow_events() {
        let stats = Stats::default();
        let (op, id) = (OperationId(1), MediaId::for_bytes(b"x"));
        let err = MediaError::new(ErrorKind::Timeout, Operation::Get, "slow").summary();
        for e in [
            MediaEvent::DownloadStarted { op, id, bytes: 9 },
            MediaEvent::IntegrityFailure {
                op,
                id,
                backend: "a".into(),
                chunk: 0,
            },
            MediaEvent::Fallback {
                op,
                id,
                from: "a".into(),
                to: Some("b".into()),
                reason: err,
            },
            MediaEvent::AttemptEnded {
                op,
                id,
                backend: "b".into(),
                bytes: 9,
                complete: true,
            },
            MediaEvent::Verified {
                op,
                id,
                backends: vec!["a".into(), "b".into()],
                bytes: 9,
            },
        ] {
            stats.record(&e);
        }
        let s = stats.snapshot(|_| None);
        assert_eq!(
            (s.downloads_started, s.downloads_completed, s.fallbacks),
            (1, 1, 1)
        );
        assert_eq!((s.integrity_failures, s.bytes_downloaded), (1, 9));
        assert_eq!(
            (
                s.backends["a"].gets_failed,
                s.backends["a"].integrity_failures
            ),
            (1, 1)
        );
        assert_eq!(
            (s.backends["b"].gets_ok, s.backends["b"].bytes_served),
            (1, 9)
        );
    }
}
