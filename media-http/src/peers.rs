//! Per-peer counters: how many connections, or uploads, one peer has open.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// A peer as the limits see it: an IPv4 address (IPv4-mapped IPv6 included), or the /64 an
/// IPv6 address is in (one host commonly holds a whole /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer(IpAddr);

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl Peer {
    /// The peer an address belongs to.
    pub fn of(ip: IpAddr) -> Peer {
        match ip {
            IpAddr::V4(_) => Peer(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Peer(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Peer(IpAddr::V6(std::net::Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
        }
    }
}

/// Counts per peer, each bounded by `cap`.
#[derive(Debug, Clone)]
pub(crate) struct PeerCounts {
    cap: usize,
    counts: Arc<Mutex<HashMap<Peer, usize>>>,
}

impl PeerCounts {
    pub fn new(cap: usize) -> Self {
        PeerCounts {
            cap: cap.max(1),
            counts: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// One more for `peer`, unless it has `cap` already.
    pub fn try_take(&self, peer: Peer) -> Option<PeerSlot> {
        let mut counts = self.counts.lock().ok()?;
        let count = counts.entry(peer).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(PeerSlot {
            peer,
            counts: Arc::clone(&self.counts),
        })
    }
}

/// One of a peer's slots, given back on drop.
#[derive(Debug)]
pub(crate) struct PeerSlot {
    peer: Peer,
    counts: Arc<Mutex<HashMap<Peer, usize>>>,
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock() {
            if let Some(count) = counts.get_mut(&self.peer) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    counts.remove(&self.peer);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_peer_and_given_back() {
        let counts = PeerCounts::new(2);
        let a = Peer::of("10.0.0.1".parse().unwrap());
        let mapped = Peer::of("::ffff:10.0.0.1".parse().unwrap());
        assert_eq!(a, mapped);
        let one = counts.try_take(a).unwrap();
        let _two = counts.try_take(mapped).unwrap();
        assert!(counts.try_take(a).is_none());
        assert!(counts
            .try_take(Peer::of("10.0.0.2".parse().unwrap()))
            .is_some());
        drop(one);
        assert!(counts.try_take(a).is_some());
        // One host's /64 is one peer.
        let v6 = Peer::of("2001:db8:1:2::1".parse().unwrap());
        assert_eq!(v6, Peer::of("2001:db8:1:2:ffff::9".parse().unwrap()));
        assert_ne!(v6, Peer::of("2001:db8:1:3::1".parse().unwrap()));
    }
}

/// The connections a server holds, by peer: at most `max` in all and `per_peer` from one
/// peer. When the server is full, a newcomer takes the oldest connection of the peer that
/// holds the most (if it holds more than one), so a few peers holding many connections
/// cannot keep anyone else out.
#[derive(Debug)]
pub(crate) struct Connections {
    max: usize,
    per_peer: usize,
    inner: Arc<Mutex<Held>>,
}

#[derive(Debug, Default)]
struct Held {
    next: u64,
    total: usize,
    by_peer: HashMap<Peer, std::collections::VecDeque<(u64, Option<tokio::task::AbortHandle>)>>,
}

/// One admitted connection: given back on drop (also when it is aborted).
#[derive(Debug)]
pub(crate) struct Admitted {
    peer: Peer,
    id: u64,
    inner: Arc<Mutex<Held>>,
}

impl Connections {
    pub fn new(max: usize, per_peer: usize) -> Self {
        Connections {
            max: max.max(1),
            per_peer: per_peer.max(1),
            inner: Arc::new(Mutex::new(Held::default())),
        }
    }

    /// Admit a connection of `peer`, making room if need be; `None`: close it.
    pub fn admit(&self, peer: Peer) -> Option<Admitted> {
        let mut held = self.inner.lock().ok()?;
        if held.by_peer.get(&peer).map_or(0, |c| c.len()) >= self.per_peer {
            return None;
        }
        if held.total >= self.max {
            let heaviest = held
                .by_peer
                .iter()
                .max_by_key(|(_, c)| c.len())
                .filter(|(_, c)| c.len() >= 2)
                .map(|(p, _)| *p)?;
            let evicted = held.by_peer.get_mut(&heaviest).and_then(|c| c.pop_front());
            if let Some((_, handle)) = evicted {
                if let Some(handle) = handle {
                    handle.abort();
                }
                held.total -= 1;
            }
        }
        held.next += 1;
        let id = held.next;
        held.by_peer.entry(peer).or_default().push_back((id, None));
        held.total += 1;
        Some(Admitted {
            peer,
            id,
            inner: Arc::clone(&self.inner),
        })
    }

    /// How many connections are held.
    #[cfg(test)]
    pub fn total(&self) -> usize {
        self.inner.lock().map(|h| h.total).unwrap_or(0)
    }
}

impl Admitted {
    /// The task serving this connection, so that a newcomer can take its place.
    pub fn serving(&self, handle: tokio::task::AbortHandle) {
        if let Ok(mut held) = self.inner.lock() {
            if let Some(entry) = held
                .by_peer
                .get_mut(&self.peer)
                .and_then(|c| c.iter_mut().find(|(id, _)| *id == self.id))
            {
                entry.1 = Some(handle);
            }
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Ok(mut held) = self.inner.lock() {
            let Some(conns) = held.by_peer.get_mut(&self.peer) else {
                return;
            };
            let before = conns.len();
            conns.retain(|(id, _)| *id != self.id);
            let removed = before - conns.len();
            if conns.is_empty() {
                held.by_peer.remove(&self.peer);
            }
            held.total -= removed;
        }
    }
}

#[cfg(test)]
mod connection_tests {
    use super::*;

    #[tokio::test]
    async fn a_full_server_makes_room_from_the_heaviest_peer() {
        let conns = Connections::new(4, 3);
        let greedy = Peer::of("10.0.0.1".parse().unwrap());
        let other = Peer::of("10.0.0.2".parse().unwrap());
        let newcomer = Peer::of("10.0.0.3".parse().unwrap());
        let mut kept = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let a = conns.admit(greedy).unwrap();
            let task = tokio::spawn(std::future::pending::<()>());
            a.serving(task.abort_handle());
            tasks.push(task);
            kept.push(a);
        }
        // Its own cap.
        assert!(conns.admit(greedy).is_none());
        kept.push(conns.admit(other).unwrap());
        assert_eq!(conns.total(), 4);
        // Full: the newcomer takes the greedy peer's oldest connection.
        let _new = conns.admit(newcomer).unwrap();
        assert_eq!(conns.total(), 4);
        let first = tasks.remove(0);
        assert!(first.await.unwrap_err().is_cancelled());
        // Everyone holds one or two; dropping what was evicted counts nothing twice.
        drop(kept.remove(0));
        assert_eq!(conns.total(), 4);
    }

    #[test]
    fn when_every_peer_holds_one_the_newcomer_waits_outside() {
        let conns = Connections::new(2, 8);
        let _a = conns.admit(Peer::of("10.0.0.1".parse().unwrap())).unwrap();
        let _b = conns.admit(Peer::of("10.0.0.2".parse().unwrap())).unwrap();
        assert!(conns.admit(Peer::of("10.0.0.3".parse().unwrap())).is_none());
    }
}
