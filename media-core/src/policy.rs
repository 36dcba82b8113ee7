//! Upload and download policies: small values that decide which backends to use and in what
//! order. The facade executes the plans; policies never do I/O.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use crate::location::BackendKind;

/// A backend as a policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Candidate {
    /// Backend name.
    pub name: String,
    /// Backend kind.
    pub kind: BackendKind,
}

impl Candidate {
    /// A candidate named `name` of `kind`.
    pub fn new(name: impl Into<String>, kind: BackendKind) -> Self {
        Candidate {
            name: name.into(),
            kind,
        }
    }
}

/// Which backends an upload goes to and how many must succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadPlan {
    /// Indices into the candidate list.
    pub targets: Vec<usize>,
    /// Minimum number of successful stores.
    pub required: usize,
}

/// Decides where uploads go.
pub trait UploadPolicy: Send + Sync + fmt::Debug {
    /// The plan for one upload over `backends`.
    fn plan(&self, backends: &[Candidate]) -> UploadPlan;
}

/// Upload to every backend in parallel; require `required` successes (clamped to the number of
/// backends, at least one).
///
/// ```
/// use media_core::{BackendKind, Candidate, UploadPolicy, UploadToAll};
/// let backends = [Candidate::new("cdn", BackendKind::Cdn), Candidate::new("ipfs", BackendKind::Ipfs)];
/// assert_eq!(UploadToAll::default().plan(&backends).required, 1);
/// assert_eq!(UploadToAll::all_required().plan(&backends).required, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadToAll {
    required: Option<usize>,
}

impl UploadToAll {
    /// Require at least `n` successful stores.
    pub fn at_least(n: usize) -> Self {
        UploadToAll { required: Some(n) }
    }

    /// Require every backend to succeed.
    pub fn all_required() -> Self {
        UploadToAll { required: None }
    }
}

impl Default for UploadToAll {
    /// At least one store must succeed.
    fn default() -> Self {
        UploadToAll::at_least(1)
    }
}

impl UploadPolicy for UploadToAll {
    fn plan(&self, backends: &[Candidate]) -> UploadPlan {
        let n = backends.len();
        UploadPlan {
            targets: (0..n).collect(),
            required: self.required.unwrap_or(n).clamp(1, n.max(1)),
        }
    }
}

/// Observed download throughput per backend, bytes per second (exponentially weighted).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThroughputTable {
    rates: HashMap<String, f64>,
}

impl ThroughputTable {
    /// Weight of the newest observation.
    const ALPHA: f64 = 0.3;

    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record that `backend` delivered `bytes` in `elapsed`.
    pub fn observe(&mut self, backend: &str, bytes: u64, elapsed: Duration) {
        let secs = elapsed.as_secs_f64().max(1e-6);
        let rate = bytes as f64 / secs;
        let entry = self.rates.entry(backend.to_owned()).or_insert(rate);
        *entry = Self::ALPHA * rate + (1.0 - Self::ALPHA) * *entry;
    }

    /// The smoothed rate of `backend`, if observed.
    pub fn rate(&self, backend: &str) -> Option<f64> {
        self.rates.get(backend).copied()
    }
}

/// An ordered plan of download attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadPlan {
    /// Indices into the candidate list, in the order to try them.
    pub order: Vec<usize>,
    /// Longest wait for the next bytes from one attempt before it is abandoned.
    pub attempt_timeout: Duration,
    /// If set, start the second attempt in parallel when the first has not delivered its first
    /// verified chunk after this long; the first to deliver wins.
    pub hedge_after: Option<Duration>,
}

/// Decides the order in which backends are asked for bytes.
pub trait DownloadPolicy: Send + Sync + fmt::Debug {
    /// The plan for one download among `candidates` (backends holding a location).
    fn plan(&self, candidates: &[Candidate], throughput: &ThroughputTable) -> DownloadPlan;
}

impl<P: UploadPolicy + ?Sized> UploadPolicy for std::sync::Arc<P> {
    fn plan(&self, backends: &[Candidate]) -> UploadPlan {
        (**self).plan(backends)
    }
}

impl<P: DownloadPolicy + ?Sized> DownloadPolicy for std::sync::Arc<P> {
    fn plan(&self, candidates: &[Candidate], throughput: &ThroughputTable) -> DownloadPlan {
        (**self).plan(candidates, throughput)
    }
}

/// Default per-attempt stall timeout.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

fn order_by(candidates: &[Candidate], p2p_first: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    // Stable: keeps registration order within each group.
    order.sort_by_key(|&i| candidates[i].kind.is_p2p() != p2p_first);
    order
}

/// Try peer-to-peer stores (IPFS, BitTorrent) first, then the CDN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreferP2p {
    /// Stall timeout per attempt.
    pub attempt_timeout: Duration,
}

impl Default for PreferP2p {
    fn default() -> Self {
        PreferP2p {
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
        }
    }
}

impl DownloadPolicy for PreferP2p {
    fn plan(&self, candidates: &[Candidate], _: &ThroughputTable) -> DownloadPlan {
        DownloadPlan {
            order: order_by(candidates, true),
            attempt_timeout: self.attempt_timeout,
            hedge_after: None,
        }
    }
}

/// Try the CDN first, then peer-to-peer stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreferCdn {
    /// Stall timeout per attempt.
    pub attempt_timeout: Duration,
}

impl Default for PreferCdn {
    fn default() -> Self {
        PreferCdn {
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
        }
    }
}

impl DownloadPolicy for PreferCdn {
    fn plan(&self, candidates: &[Candidate], _: &ThroughputTable) -> DownloadPlan {
        DownloadPlan {
            order: order_by(candidates, false),
            attempt_timeout: self.attempt_timeout,
            hedge_after: None,
        }
    }
}

/// P2P first (or CDN first), but if the first store has not delivered a verified chunk after
/// `after`, ask the next one too and keep whichever answers first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hedged {
    /// Delay before the hedge request.
    pub after: Duration,
    /// Order CDN first instead of P2P first.
    pub cdn_first: bool,
    /// Stall timeout per attempt.
    pub attempt_timeout: Duration,
}

impl Hedged {
    /// P2P first, hedged to the next store after `after`.
    pub fn after(after: Duration) -> Self {
        Hedged {
            after,
            cdn_first: false,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
        }
    }
}

impl Default for Hedged {
    fn default() -> Self {
        Hedged::after(Duration::from_millis(500))
    }
}

impl DownloadPolicy for Hedged {
    fn plan(&self, candidates: &[Candidate], _: &ThroughputTable) -> DownloadPlan {
        DownloadPlan {
            order: order_by(candidates, !self.cdn_first),
            attempt_timeout: self.attempt_timeout,
            hedge_after: Some(self.after),
        }
    }
}

/// Backends never measured first (so each gets measured), then by observed throughput,
/// fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fastest {
    /// Stall timeout per attempt.
    pub attempt_timeout: Duration,
}

impl Default for Fastest {
    fn default() -> Self {
        Fastest {
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
        }
    }
}

impl DownloadPolicy for Fastest {
    fn plan(&self, candidates: &[Candidate], throughput: &ThroughputTable) -> DownloadPlan {
        let mut order = order_by(candidates, true);
        order.sort_by(|&a, &b| {
            let ra = throughput
                .rate(&candidates[a].name)
                .unwrap_or(f64::INFINITY);
            let rb = throughput
                .rate(&candidates[b].name)
                .unwrap_or(f64::INFINITY);
            rb.total_cmp(&ra)
        });
        DownloadPlan {
            order,
            attempt_timeout: self.attempt_timeout,
            hedge_after: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Vec<Candidate> {
        vec![
            Candidate::new("cdn", BackendKind::Cdn),
            Candidate::new("torrent", BackendKind::Torrent),
            Candidate::new("ipfs", BackendKind::Ipfs),
        ]
    }

    fn names(c: &[Candidate], plan: &DownloadPlan) -> Vec<String> {
        plan.order.iter().map(|&i| c[i].name.clone()).collect()
    }

    #[test]
    fn preference_orders() {
        let c = three();
        let t = ThroughputTable::new();
        assert_eq!(
            names(&c, &PreferP2p::default().plan(&c, &t)),
            ["torrent", "ipfs", "cdn"]
        );
        assert_eq!(
            names(&c, &PreferCdn::default().plan(&c, &t)),
            ["cdn", "torrent", "ipfs"]
        );
        let hedged = Hedged::after(Duration::from_millis(5)).plan(&c, &t);
        assert_eq!(names(&c, &hedged), ["torrent", "ipfs", "cdn"]);
        assert_eq!(hedged.hedge_after, Some(Duration::from_millis(5)));
    }

    #[test]
    fn fastest_explores_then_ranks_by_rate() {
        let c = three();
        let mut t = ThroughputTable::new();
        t.observe("cdn", 100_000_000, Duration::from_secs(1));
        t.observe("torrent", 1_000, Duration::from_secs(1));
        // ipfs unmeasured → first; then cdn (fast), then torrent (slow).
        assert_eq!(
            names(&c, &Fastest::default().plan(&c, &t)),
            ["ipfs", "cdn", "torrent"]
        );
        t.observe("ipfs", 10_000, Duration::from_secs(1));
        assert_eq!(
            names(&c, &Fastest::default().plan(&c, &t)),
            ["cdn", "ipfs", "torrent"]
        );
    }

    #[test]
    fn upload_required_is_clamped() {
        let c = three();
        assert_eq!(UploadToAll::at_least(0).plan(&c).required, 1);
        assert_eq!(UploadToAll::at_least(9).plan(&c).required, 3);
        assert_eq!(UploadToAll::all_required().plan(&c).targets, vec![0, 1, 2]);
    }
}
