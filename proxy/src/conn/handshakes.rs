//! TLS handshakes in progress, per source address (`max_handshakes_per_source`).
//!
//! A connection is counted against its listener's cap (`max_connections`) from `accept`, and may
//! take `header_read_timeout_ms` to finish its handshake — before any certificate names anyone.
//! Without a cap per source, one host that opens connections and never finishes a handshake
//! holds the whole listener: a thousand silent connections renewed every ten seconds, and no
//! partner gets in. So each source address may have only so many handshakes in progress at
//! once; a connection over it is closed at accept
//! (`sluice_connections_refused_total{reason="source_limit"}`). Finished handshakes do not count:
//! partners behind one NAT address open connections as they like, within their own caps.
//!
//! A source is an IPv4 address, or an IPv6 /64: one host is routinely given a whole /64, and
//! counting its addresses one by one would give it 2^64 caps. An IPv4-mapped IPv6 address is
//! its IPv4 address.

use std::net::IpAddr;
use std::sync::Arc;

use super::counted::{Counted, Place};

/// Handshakes in progress by source.
#[derive(Debug)]
pub struct Handshakes(Arc<Counted<IpAddr>>);

/// One handshake in progress; dropping it (the handshake ended, either way) frees its place.
pub type Pending = Place<IpAddr>;

impl Handshakes {
    /// At most `limit` handshakes in progress per source.
    pub fn new(limit: usize) -> Self {
        // Sources come and go: no entry outlives its last handshake.
        Self(Counted::new(limit, true))
    }

    /// A place for a handshake from `source`, or `None` when it has `limit` in progress.
    pub fn begin(&self, source: IpAddr) -> Option<Pending> {
        self.0.take(&counted_as(source), |a| *a).ok()
    }

    /// Handshakes in progress from `source`.
    pub fn count(&self, source: IpAddr) -> usize {
        self.0.count(&counted_as(source))
    }
}

/// The source `addr` counts under: itself for IPv4, its /64 for IPv6 (see the module docs).
fn counted_as(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_per_source_and_freed_when_a_handshake_ends() {
        let h = Handshakes::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let one = h.begin(a).unwrap();
        let _two = h.begin(a).unwrap();
        assert!(h.begin(a).is_none());
        let _other = h.begin(b).unwrap();
        drop(one);
        assert_eq!(h.count(a), 1);
        assert!(h.begin(a).is_some());
        drop(_two);
        assert_eq!(h.count(a), 0);
        assert!(!h.0.has_entry(&a), "no entry outlives its last handshake");
    }

    #[test]
    fn an_ipv6_64_is_one_source_and_a_mapped_ipv4_address_is_its_ipv4_address() {
        let h = Handshakes::new(2);
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let other_in_the_64: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:fffe".parse().unwrap();
        let next_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _a = h.begin(one).unwrap();
        let _b = h.begin(other_in_the_64).unwrap();
        assert!(h.begin("2001:db8:1:2::42".parse().unwrap()).is_none());
        assert!(h.begin(next_64).is_some());
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let _c = h.begin(v4).unwrap();
        let _d = h.begin(mapped).unwrap();
        assert!(h.begin(v4).is_none());
        assert_eq!(h.count(mapped), 2);
    }
}
