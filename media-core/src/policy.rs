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
    /// Whether the backend is a peer-to-peer network ([`crate::Capabilities::peer_to_peer`]).
    pub p2p: bool,
}

impl Candidate {
    /// A candidate named `name` of `kind`, not peer-to-peer.
    pub fn new(name: impl Into<String>, kind: BackendKind) -> Self {
        Candidate {
            name: name.into(),
            kind,
            p2p: false,
        }
    }

    /// Mark the candidate peer-to-peer or not.
    #[must_use]
    pub fn with_p2p(mut self, p2p: bool) -> Self {
        self.p2p = p2p;
        self
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
/// let backends = [Candidate::new("cdn", BackendKind::CDN), Candidate::new("ipfs", BackendKind::IPFS)];
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

    /// Record that `backend` failed an attempt: it counts as delivering nothing for a second,
    /// so policies ranking by rate try it after the stores that work.
    pub fn penalize(&mut self, backend: &str) {
        self.observe(backend, 0, Duration::from_secs(1));
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
    /// If set, start the second attempt in parallel when the first has not delivered its first
    /// verified chunk after this long; the first to deliver wins. In a swarm: when no chunk
    /// has verified after this long, the candidates outside the swarm join it.
    pub hedge_after: Option<Duration>,
    /// If set, read chunks from several candidates at once (see [`Swarm`]).
    pub swarm: Option<SwarmPlan>,
}

impl DownloadPlan {
    /// Try candidates in `order`, one at a time.
    pub fn in_order(order: Vec<usize>) -> Self {
        DownloadPlan {
            order,
            hedge_after: None,
            swarm: None,
        }
    }
}

/// Which candidates of a [`DownloadPlan`] share one read, and how deep each one's queue is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SwarmPlan {
    /// Indices into the candidate list, read from at once. Candidates of the plan's `order`
    /// that are not members are reserves: they join when a member is dropped or when the
    /// hedge delay passes without a verified chunk.
    pub members: Vec<usize>,
    /// Chunk requests each member keeps in flight.
    pub window: usize,
}

/// Decides the order in which backends are asked for bytes. How long one attempt may stall
/// is not a policy's business: it lives in the facade's read options.
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

impl<P: DownloadPolicy + ?Sized> DownloadPolicy for Box<P> {
    fn plan(&self, candidates: &[Candidate], throughput: &ThroughputTable) -> DownloadPlan {
        (**self).plan(candidates, throughput)
    }
}

/// Default longest wait for the next bytes of one download attempt.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default delay before a [`Hedge`] asks the next store too.
pub const DEFAULT_HEDGE_AFTER: Duration = Duration::from_millis(300);

fn order_by(candidates: &[Candidate], p2p_first: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    // Stable: keeps registration order within each group.
    order.sort_by_key(|&i| candidates[i].p2p != p2p_first);
    order
}

/// Try peer-to-peer stores (IPFS, BitTorrent) first, then the others (CDN, HTTP servers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PreferP2p;

impl DownloadPolicy for PreferP2p {
    fn plan(&self, candidates: &[Candidate], _: &ThroughputTable) -> DownloadPlan {
        DownloadPlan::in_order(order_by(candidates, true))
    }
}

/// Try the CDN (and other non-P2P stores) first, then peer-to-peer stores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PreferCdn;

impl DownloadPolicy for PreferCdn {
    fn plan(&self, candidates: &[Candidate], _: &ThroughputTable) -> DownloadPlan {
        DownloadPlan::in_order(order_by(candidates, false))
    }
}

/// Wraps any policy: if its first store has not delivered a verified chunk after `after`,
/// ask its second one too and keep whichever answers first (as `tower`'s `Hedge` wraps any
/// service).
///
/// ```
/// use std::time::Duration;
/// use media_core::{BackendKind, Candidate, DownloadPolicy, Fastest, Hedge, PreferCdn, ThroughputTable};
/// let c = [Candidate::new("cdn", BackendKind::CDN), Candidate::new("ipfs", BackendKind::IPFS).with_p2p(true)];
/// let plan = Hedge::new(PreferCdn, Duration::from_millis(50)).plan(&c, &ThroughputTable::new());
/// assert_eq!(plan.order, [0, 1]);
/// assert_eq!(plan.hedge_after, Some(Duration::from_millis(50)));
/// let _fastest_hedged = Hedge::new(Fastest, Duration::from_millis(50));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hedge<P> {
    inner: P,
    after: Duration,
}

impl<P: DownloadPolicy> Hedge<P> {
    /// Hedge `inner`'s plan after `after`.
    pub fn new(inner: P, after: Duration) -> Self {
        Hedge { inner, after }
    }

    /// The wrapped policy.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The hedge delay.
    pub fn after(&self) -> Duration {
        self.after
    }
}

impl<P: DownloadPolicy> DownloadPolicy for Hedge<P> {
    fn plan(&self, candidates: &[Candidate], throughput: &ThroughputTable) -> DownloadPlan {
        DownloadPlan {
            hedge_after: Some(self.after),
            ..self.inner.plan(candidates, throughput)
        }
    }
}

/// Backends never measured first (so each gets measured), then by observed throughput,
/// fastest first. A failed attempt counts as a very slow one (see
/// [`ThroughputTable::penalize`]), so a dead store sinks to the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fastest;

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
        DownloadPlan::in_order(order)
    }
}

/// Which candidates a [`Swarm`] reads from at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SwarmMembers {
    /// Every candidate.
    #[default]
    All,
    /// Peer-to-peer candidates only; the others (the CDN) are reserves, brought in when a
    /// member fails or, wrapped in a [`Hedge`], when the swarm is slow to start.
    PeerToPeer,
}

/// Wraps any policy: the chunks of one read are requested from several stores at once, each
/// keeping `window` chunk requests in flight, and released in order once verified (as aria2
/// reads one file from mirrors and peers at once). A store that fails or lies is dropped for
/// that read and its chunks go to the others; near the end an idle store re-requests the
/// chunk that holds the rest back. The wrapped policy orders the members and the reserves.
///
/// ```
/// use std::time::Duration;
/// use media_core::{BackendKind, Candidate, DownloadPolicy, Fastest, Hedge, PreferP2p, Swarm, ThroughputTable};
/// let c = [Candidate::new("cdn", BackendKind::CDN), Candidate::new("ipfs", BackendKind::IPFS).with_p2p(true)];
/// let plan = Swarm::new(Fastest).plan(&c, &ThroughputTable::new());
/// assert_eq!(plan.swarm.unwrap().members.len(), 2);
/// // Swarm over the P2P stores, the CDN joining after 200 ms without a verified chunk:
/// let p = Hedge::new(Swarm::new(PreferP2p).peer_to_peer_only(), Duration::from_millis(200));
/// let plan = p.plan(&c, &ThroughputTable::new());
/// assert_eq!(plan.swarm.unwrap().members, [1]);
/// assert_eq!(plan.order, [1, 0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swarm<P> {
    inner: P,
    window: usize,
    members: SwarmMembers,
}

impl<P: DownloadPolicy> Swarm<P> {
    /// Chunk requests each store keeps in flight unless told otherwise.
    pub const DEFAULT_WINDOW: usize = 4;

    /// Swarm over every candidate, ordered by `inner`.
    pub fn new(inner: P) -> Self {
        Swarm {
            inner,
            window: Self::DEFAULT_WINDOW,
            members: SwarmMembers::All,
        }
    }

    /// Keep `window` chunk requests in flight per store (at least 1).
    #[must_use]
    pub fn window(mut self, window: usize) -> Self {
        self.window = window.max(1);
        self
    }

    /// Swarm over the peer-to-peer stores only; the others are reserves.
    #[must_use]
    pub fn peer_to_peer_only(mut self) -> Self {
        self.members = SwarmMembers::PeerToPeer;
        self
    }
}

impl<P: DownloadPolicy> DownloadPolicy for Swarm<P> {
    fn plan(&self, candidates: &[Candidate], throughput: &ThroughputTable) -> DownloadPlan {
        let inner = self.inner.plan(candidates, throughput);
        let mut members: Vec<usize> = inner
            .order
            .iter()
            .copied()
            .filter(|&i| match self.members {
                SwarmMembers::All => true,
                SwarmMembers::PeerToPeer => candidates[i].p2p,
            })
            .collect();
        if members.is_empty() {
            // No peer-to-peer store holds it: swarm over what there is.
            members = inner.order.clone();
        }
        DownloadPlan {
            swarm: Some(SwarmPlan {
                members,
                window: self.window,
            }),
            ..inner
        }
    }
}

/// The download policy called `name`, the one parser for policy names in configuration
/// files and command lines: `p2p`, `cdn`, `fastest`, `swarm` (every store at once, fastest
/// first), `swarm-p2p` (the P2P stores at once, the CDN in reserve), and `hedged` (P2P
/// first, hedged) or `hedged-<name>` (any of the others, hedged after `hedge_after`).
///
/// ```
/// use std::time::Duration;
/// let p = media_core::download_policy_named("hedged-fastest", Duration::from_millis(100)).unwrap();
/// assert!(format!("{p:?}").contains("Fastest"));
/// assert!(media_core::download_policy_named("quickest", Duration::ZERO).is_err());
/// ```
pub fn download_policy_named(
    name: &str,
    hedge_after: Duration,
) -> crate::Result<std::sync::Arc<dyn DownloadPolicy>> {
    use std::sync::Arc;
    Ok(match name {
        "p2p" => Arc::new(PreferP2p),
        "cdn" => Arc::new(PreferCdn),
        "fastest" => Arc::new(Fastest),
        "swarm" => Arc::new(Swarm::new(Fastest)),
        "swarm-p2p" => Arc::new(Swarm::new(PreferP2p).peer_to_peer_only()),
        "hedged" => Arc::new(Hedge::new(PreferP2p, hedge_after)),
        other => match other.strip_prefix("hedged-") {
            Some(base) if DOWNLOAD_POLICY_BASES.contains(&base) && base != "hedged" => Arc::new(
                Hedge::new(download_policy_named(base, hedge_after)?, hedge_after),
            ),
            _ => {
                return Err(crate::MediaError::invalid_input(
                    crate::Operation::Configure,
                    format!(
                        "download policy {:?}: one of {}",
                        other.chars().take(40).collect::<String>(),
                        download_policy_names().join(", ")
                    ),
                ))
            }
        },
    })
}

/// The policies [`download_policy_named`] builds by name; each but `hedged` also exists
/// hedged, as `hedged-<name>`.
pub const DOWNLOAD_POLICY_BASES: &[&str] =
    &["p2p", "cdn", "fastest", "swarm", "swarm-p2p", "hedged"];

/// Every name [`download_policy_named`] accepts, in the order help texts list them: the one
/// list the configuration, the CLI and error messages read.
pub fn download_policy_names() -> Vec<String> {
    let mut names: Vec<String> = DOWNLOAD_POLICY_BASES
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    names.extend(
        DOWNLOAD_POLICY_BASES
            .iter()
            .filter(|n| **n != "hedged")
            .map(|n| format!("hedged-{n}")),
    );
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Vec<Candidate> {
        vec![
            Candidate::new("cdn", BackendKind::CDN),
            Candidate::new("torrent", BackendKind::TORRENT).with_p2p(true),
            Candidate::new("ipfs", BackendKind::IPFS).with_p2p(true),
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
            names(&c, &PreferP2p.plan(&c, &t)),
            ["torrent", "ipfs", "cdn"]
        );
        assert_eq!(
            names(&c, &PreferCdn.plan(&c, &t)),
            ["cdn", "torrent", "ipfs"]
        );
        let hedged = Hedge::new(PreferP2p, Duration::from_millis(5)).plan(&c, &t);
        assert_eq!(names(&c, &hedged), ["torrent", "ipfs", "cdn"]);
        assert_eq!(hedged.hedge_after, Some(Duration::from_millis(5)));
        let hedged_cdn = Hedge::new(PreferCdn, Duration::from_millis(5)).plan(&c, &t);
        assert_eq!(names(&c, &hedged_cdn), ["cdn", "torrent", "ipfs"]);
    }

    #[test]
    fn fastest_explores_then_ranks_by_rate() {
        let c = three();
        let mut t = ThroughputTable::new();
        t.observe("cdn", 100_000_000, Duration::from_secs(1));
        t.observe("torrent", 1_000, Duration::from_secs(1));
        // ipfs unmeasured → first; then cdn (fast), then torrent (slow).
        assert_eq!(names(&c, &Fastest.plan(&c, &t)), ["ipfs", "cdn", "torrent"]);
        t.observe("ipfs", 10_000, Duration::from_secs(1));
        assert_eq!(names(&c, &Fastest.plan(&c, &t)), ["cdn", "ipfs", "torrent"]);
    }

    #[test]
    fn a_failing_store_sinks_in_fastest() {
        let c = three();
        let mut t = ThroughputTable::new();
        for name in ["cdn", "torrent", "ipfs"] {
            t.observe(name, 10_000_000, Duration::from_secs(1));
        }
        assert_eq!(names(&c, &Fastest.plan(&c, &t))[0], "torrent");
        t.penalize("torrent");
        assert_eq!(names(&c, &Fastest.plan(&c, &t))[2], "torrent");
    }

    #[test]
    fn policy_names_parse_and_compose() {
        let c = three();
        let t = ThroughputTable::new();
        let after = Duration::from_millis(7);
        for (name, first, hedged) in [
            ("p2p", "torrent", false),
            ("cdn", "cdn", false),
            ("fastest", "torrent", false),
            ("hedged", "torrent", true),
            ("hedged-cdn", "cdn", true),
            ("hedged-fastest", "torrent", true),
            ("swarm", "torrent", false),
            ("swarm-p2p", "torrent", false),
            ("hedged-swarm-p2p", "torrent", true),
        ] {
            let plan = download_policy_named(name, after).unwrap().plan(&c, &t);
            assert_eq!(names(&c, &plan)[0], first, "{name}");
            assert_eq!(plan.hedge_after.is_some(), hedged, "{name}");
            assert_eq!(plan.swarm.is_some(), name.contains("swarm"), "{name}");
        }
        let p2p = download_policy_named("swarm-p2p", after)
            .unwrap()
            .plan(&c, &t);
        assert_eq!(p2p.swarm.unwrap().members, [1, 2]);
        let all = download_policy_named("swarm", after).unwrap().plan(&c, &t);
        assert_eq!(all.swarm.unwrap().members.len(), 3);
        // Only a CDN holds it: the P2P-only swarm swarms over what there is.
        let cdn_only = [Candidate::new("cdn", BackendKind::CDN)];
        let plan = Swarm::new(PreferP2p)
            .peer_to_peer_only()
            .plan(&cdn_only, &t);
        assert_eq!(plan.swarm.unwrap().members, [0]);
        assert_eq!(
            Swarm::new(Fastest)
                .window(0)
                .plan(&c, &t)
                .swarm
                .unwrap()
                .window,
            1
        );
        for bad in ["", "hedged-", "hedged-hedged", "fast", "hedged-quick"] {
            assert!(download_policy_named(bad, after).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn upload_required_is_clamped() {
        let c = three();
        assert_eq!(UploadToAll::at_least(0).plan(&c).required, 1);
        assert_eq!(UploadToAll::at_least(9).plan(&c).required, 3);
        assert_eq!(UploadToAll::all_required().plan(&c).targets, vec![0, 1, 2]);
    }
}
