//! Per-peer counters: how many connections, or uploads, one peer has open.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// A peer as the limits see it: an IPv4 address (IPv4-mapped IPv6 included), or the /64 an
/// IPv6 address is in (one host commonly holds a whole /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Peer(IpAddr);

impl Peer {
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
