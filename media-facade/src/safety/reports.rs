//! Reports received (Blossom `PUT /report`), one JSON file per event under
//! `<data>/reports/`, bounded in number and in rate per reporter.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use media_core::{ErrorKind, MediaError, Operation, Result};
use media_safety::Report;
use tracing::warn;

/// Most reports kept for review; past it, new ones are refused until the owner clears some.
pub const MAX_REPORTS: usize = 1_000;
/// Reports one network peer (an IPv4 address, an IPv6 /64) may file per [`RATE_WINDOW`]:
/// fresh keys cost nothing, addresses do.
pub const REPORTS_PER_PEER: usize = 30;
/// Reports one reporter may file per [`RATE_WINDOW`].
pub const REPORTS_PER_WINDOW: usize = 10;
/// Most reports one listing returns (the owner dismisses or takes down, then sees the next).
pub const MAX_LISTED: usize = 200;
/// The window of the per-reporter rate.
pub const RATE_WINDOW: Duration = Duration::from_secs(600);
/// Reporters whose recent reports are remembered for the rate (oldest forgotten first).
const MAX_TRACKED_REPORTERS: usize = 10_000;

pub(crate) struct Reports {
    dir: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    count: usize,
    /// Recent reports by reporter key and by peer (`peer:` keys).
    recent: HashMap<String, Vec<Instant>>,
}

fn io(what: &str, e: std::io::Error) -> MediaError {
    MediaError::io(Operation::Catalog, what, e)
}

fn is_event_id(id: &str) -> bool {
    id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl Reports {
    pub fn open(dir: PathBuf) -> Result<Self> {
        media_core::create_private_dir(&dir).map_err(|e| io("creating the report folder", e))?;
        let count = std::fs::read_dir(&dir)
            .map_err(|e| io("reading the reports", e))?
            .count();
        Ok(Reports {
            dir,
            state: Mutex::new(State {
                count,
                recent: HashMap::new(),
            }),
        })
    }

    /// Keep a checked report. Refused (`Unavailable`, retryable later) past the reporter's
    /// rate or the queue's bound; the same event twice is kept once.
    pub fn add(&self, report: &Report, peer: Option<&str>) -> Result<()> {
        if !is_event_id(&report.id) {
            return Err(MediaError::invalid_input(
                Operation::Upload,
                "a report's id is its event id, 64 lowercase hex digits",
            ));
        }
        let path = self.dir.join(format!("{}.json", report.id));
        let mut state = self
            .state
            .lock()
            .map_err(|_| MediaError::internal(Operation::Upload, "report lock poisoned"))?;
        let now = Instant::now();
        if state.recent.len() >= MAX_TRACKED_REPORTERS
            && !state.recent.contains_key(&report.reporter)
        {
            state
                .recent
                .retain(|_, times| times.iter().any(|t| now.duration_since(*t) < RATE_WINDOW));
            if state.recent.len() >= MAX_TRACKED_REPORTERS {
                return Err(busy("too many reporters at once; try again later"));
            }
        }
        // One key however its hex is spelled.
        let mut keys = vec![(
            report.reporter.to_ascii_lowercase(),
            REPORTS_PER_WINDOW,
            "reporter",
        )];
        if let Some(peer) = peer {
            keys.push((format!("peer:{peer}"), REPORTS_PER_PEER, "address"));
        }
        for (key, limit, what) in &keys {
            let times = state.recent.entry(key.clone()).or_default();
            times.retain(|t| now.duration_since(*t) < RATE_WINDOW);
            if times.len() >= *limit {
                return Err(busy(&format!(
                    "at most {limit} reports per {what} every {} minutes",
                    RATE_WINDOW.as_secs() / 60
                )));
            }
        }
        for (key, _, _) in &keys {
            state.recent.entry(key.clone()).or_default().push(now);
        }
        if path.exists() {
            return Ok(());
        }
        if state.count >= MAX_REPORTS {
            return Err(busy("the report queue is full; try again later"));
        }
        let bytes = serde_json::to_vec(report)
            .map_err(|e| MediaError::internal(Operation::Upload, e.to_string()))?;
        media_core::write_durable(&path, &bytes).map_err(|e| io("writing a report", e))?;
        state.count += 1;
        Ok(())
    }

    /// The newest reports kept (at most [`MAX_LISTED`]), newest first.
    pub fn list(&self) -> Vec<Report> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<Report> = entries
            .flatten()
            .filter_map(|e| {
                let read = std::fs::read(e.path())
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
                if read.is_none() {
                    warn!(file = %e.path().display(), "an unreadable report is skipped");
                }
                read
            })
            .collect();
        out.sort_by(|a, b| b.received_at.cmp(&a.received_at).then(a.id.cmp(&b.id)));
        out.truncate(MAX_LISTED);
        out
    }

    /// Drop a report the owner dealt with. Returns whether it was there.
    pub fn dismiss(&self, id: &str) -> Result<bool> {
        if !is_event_id(id) {
            return Ok(false);
        }
        match std::fs::remove_file(self.dir.join(format!("{id}.json"))) {
            Ok(()) => {
                if let Ok(mut state) = self.state.lock() {
                    state.count = state.count.saturating_sub(1);
                }
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io("removing a report", e)),
        }
    }
}

fn busy(why: &str) -> MediaError {
    MediaError::new(ErrorKind::Unavailable, Operation::Upload, why.to_owned()).with_retryable(true)
}
