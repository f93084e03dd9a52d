//! Every open connection that has completed its handshake, by partner: the per-partner
//! connection cap, and the list a reload walks to close the connections it no longer trusts.
//!
//! The per-listener cap is a semaphore taken at `accept` (before the handshake: a connection
//! costs a handshake before it names anyone); the per-partner cap is taken here, once the
//! certificate names the partner. Connections whose certificate matches no partner are counted
//! under their key's SPKI hash, so a stranger with a valid certificate is capped as well.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use sluice_certs::PeerIdentity;

use super::{Activity, CloseReason};

/// One open connection, as a reload sees it.
#[derive(Debug)]
pub struct Live {
    /// Index of its listener in the configuration.
    pub listener: usize,
    /// The verified client certificate, if one was presented.
    pub peer: Option<PeerIdentity>,
    activity: Weak<Activity>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    live: HashMap<u64, (Live, Option<String>)>,
    per_partner: HashMap<String, usize>,
}

/// The open connections of a process.
#[derive(Debug, Default)]
pub struct Registry(Arc<Mutex<Inner>>);

/// A partner already holds as many connections as it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the partner holds {0} connections already (max_connections_per_partner)")]
pub struct OverPartnerCap(pub usize);

/// A connection's place in the [`Registry`]; dropping it removes the connection.
#[derive(Debug)]
pub struct Registration {
    registry: Arc<Mutex<Inner>>,
    id: u64,
}

impl Registry {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a connection counted under `partner` (its partner id, or its SPKI hash when it
    /// names none; `None` for connections without a certificate). `Err` when `partner` holds
    /// `limit` connections already.
    pub fn admit(
        &self,
        listener: usize,
        peer: Option<PeerIdentity>,
        partner: Option<String>,
        activity: &Arc<Activity>,
        limit: usize,
    ) -> Result<Registration, OverPartnerCap> {
        let mut inner = self.inner();
        if let Some(p) = &partner {
            let n = inner.per_partner.entry(p.clone()).or_default();
            if *n >= limit {
                return Err(OverPartnerCap(*n));
            }
            *n += 1;
        }
        let id = inner.next;
        inner.next += 1;
        let live = Live {
            listener,
            peer,
            activity: Arc::downgrade(activity),
        };
        inner.live.insert(id, (live, partner));
        Ok(Registration {
            registry: self.0.clone(),
            id,
        })
    }

    /// Connections open now under `partner`.
    pub fn count(&self, partner: &str) -> usize {
        self.inner().per_partner.get(partner).copied().unwrap_or(0)
    }

    /// Asks every connection to close gracefully (the server is stopping).
    pub fn close_all(&self, reason: CloseReason) {
        for (live, _) in self.inner().live.values() {
            if let Some(a) = live.activity.upgrade() {
                a.close(reason);
            }
        }
    }

    /// Asks every connection for which `untrusted` says so to close gracefully; returns how many.
    pub fn sweep(&self, untrusted: impl Fn(&Live) -> bool) -> usize {
        let inner = self.inner();
        let mut n = 0;
        for (live, _) in inner.live.values() {
            if untrusted(live)
                && let Some(a) = live.activity.upgrade()
            {
                a.close(CloseReason::Revoked);
                n += 1;
            }
        }
        n
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut inner = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, Some(p))) = inner.live.remove(&self.id)
            && let Some(n) = inner.per_partner.get_mut(&p)
        {
            *n -= 1;
            if *n == 0 {
                inner.per_partner.remove(&p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partner_cap_is_per_partner_and_freed_on_drop() {
        let r = Registry::default();
        let a = Arc::new(Activity::default());
        let one = r.admit(0, None, Some("acme".into()), &a, 2).unwrap();
        let _two = r.admit(0, None, Some("acme".into()), &a, 2).unwrap();
        assert!(r.admit(0, None, Some("acme".into()), &a, 2).is_err());
        let _other = r.admit(0, None, Some("safe".into()), &a, 2).unwrap();
        let _anonymous = r.admit(1, None, None, &a, 2).unwrap();
        assert_eq!(r.count("acme"), 2);
        drop(one);
        assert_eq!(r.count("acme"), 1);
        assert!(r.admit(0, None, Some("acme".into()), &a, 2).is_ok());
    }
}
