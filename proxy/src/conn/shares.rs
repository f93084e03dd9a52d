//! Each partner's share of the requests sluice serves at once (`max_in_flight_per_partner`).
//!
//! `max_in_flight` bounds the requests of the whole process, and is shared: without a share per
//! partner, one partner could hold all of it — a partner trickling request bodies, reading its
//! responses slowly, or an API of its own that answers pushes slowly — and every other partner
//! would be refused `503 overloaded` for as long. A share is taken once the request's partner
//! is known (the certificate's partner for a pull, the contract's recipient for a push) and held
//! until the response body ends or is dropped, not only until the response head as the
//! process-wide permit is: a response the partner is slow to take holds memory and an upstream
//! request as long as it streams. A request over its partner's share is refused at once with
//! `503 in_flight_limit` and `Retry-After: 1`, before any upstream is called or anything is
//! recorded.
//!
//! The count is per process and survives reloads (a reload cannot hand a partner a fresh
//! share while its earlier requests still stream). Partners are few and named by the policy, so
//! their entries are kept once made.

use std::sync::Arc;

use super::counted::{Counted, Place};

/// The requests in flight per partner, and the share each may hold.
#[derive(Debug)]
pub struct Shares(Arc<Counted<Arc<str>>>);

/// The partner already has as many requests in flight as its share allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the partner has {0} requests in flight already (max_in_flight_per_partner)")]
pub struct OverShare(pub usize);

/// One request's place in its partner's share; dropping it gives the place back.
pub type Share = Place<Arc<str>>;

impl Shares {
    /// Shares of `limit` requests each.
    pub fn new(limit: usize) -> Self {
        // Partners are named by the policy: their entries stay (no allocation per request).
        Self(Counted::new(limit, false))
    }

    /// A place in `partner`'s share, or `Err` when it holds `limit` already.
    pub fn take(&self, partner: &str) -> Result<Share, OverShare> {
        self.0.take(partner, |p| Arc::from(p)).map_err(OverShare)
    }

    /// Requests of `partner` in flight now.
    pub fn count(&self, partner: &str) -> usize {
        self.0.count(partner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_is_per_partner_and_given_back_on_drop() {
        let s = Shares::new(2);
        let one = s.take("acme").unwrap();
        let _two = s.take("acme").unwrap();
        assert_eq!(s.take("acme").unwrap_err(), OverShare(2));
        let _other = s.take("safe").unwrap();
        assert_eq!((s.count("acme"), s.count("safe")), (2, 1));
        drop(one);
        assert_eq!(s.count("acme"), 1);
        assert!(s.take("acme").is_ok());
    }
}
