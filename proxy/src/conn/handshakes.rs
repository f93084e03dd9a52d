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

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Handshakes in progress by source address.
#[derive(Debug)]
pub struct Handshakes {
    limit: usize,
    pending: Mutex<HashMap<IpAddr, usize>>,
}

/// One handshake in progress; dropping it (the handshake ended, either way) frees its place.
#[derive(Debug)]
pub struct Pending {
    handshakes: Arc<Handshakes>,
    source: IpAddr,
}

impl Handshakes {
    /// At most `limit` handshakes in progress per source address.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            pending: Mutex::new(HashMap::new()),
        })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a handshake from `source`, or `None` when it has `limit` in progress.
    pub fn begin(self: &Arc<Self>, source: IpAddr) -> Option<Pending> {
        let mut pending = self.pending();
        let n = pending.entry(source).or_default();
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(Pending {
            handshakes: self.clone(),
            source,
        })
    }

    /// Handshakes in progress from `source`.
    pub fn count(&self, source: IpAddr) -> usize {
        self.pending().get(&source).copied().unwrap_or(0)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut pending = self.handshakes.pending();
        if let Some(n) = pending.get_mut(&self.source) {
            *n -= 1;
            // Sources come and go: no entry outlives its last handshake.
            if *n == 0 {
                pending.remove(&self.source);
            }
        }
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
        assert!(
            h.pending().get(&a).is_none(),
            "no entry outlives its last handshake"
        );
    }
}
