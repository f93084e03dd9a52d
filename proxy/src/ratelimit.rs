//! Rate limits from the policy: one token bucket (GCRA, via governor) per contract with a `rate`,
//! and one per partner with a `rate` across all its contracts. A request over either limit is
//! refused with 429 `rate_limited` and a `Retry-After` from the limiter, before any body is read or
//! any upstream is called.
//!
//! Limits live next to the policy they come from and are rebuilt on reload; a limiter whose
//! contract (or partner) and rate are unchanged is carried over, so a reload neither resets nor
//! disturbs partners it did not touch. Limits are per instance: with N replicas, write global ÷ N.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sluice_policy::{CompiledPolicy, Rate};

/// One limiter and the rate it was built from.
#[derive(Debug, Clone)]
struct Bucket {
    rate: Rate,
    limiter: Arc<DefaultDirectRateLimiter>,
}

impl Bucket {
    fn new(rate: Rate) -> Self {
        let per_minute = NonZeroU32::new(rate.per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Self {
            rate,
            limiter: Arc::new(RateLimiter::direct(quota)),
        }
    }

    /// Takes one cell, or says how long until one is free.
    fn take(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The limiters of one policy.
#[derive(Debug, Default)]
pub struct RateLimits {
    contracts: HashMap<String, Bucket>,
    partners: HashMap<String, Bucket>,
}

impl RateLimits {
    /// Limiters for `policy`, carrying over those of `previous` whose id and rate are unchanged.
    pub fn build(policy: &CompiledPolicy, previous: Option<&RateLimits>) -> Self {
        fn keep_or_new(old: Option<&HashMap<String, Bucket>>, id: &str, rate: Rate) -> Bucket {
            match old.and_then(|m| m.get(id)) {
                Some(b) if b.rate == rate => b.clone(),
                _ => Bucket::new(rate),
            }
        }
        let mut limits = RateLimits::default();
        for c in &policy.contracts {
            if let Some(rate) = c.rate {
                let old = previous.map(|p| &p.contracts);
                limits
                    .contracts
                    .insert(c.id.clone(), keep_or_new(old, &c.id, rate));
            }
        }
        for p in &policy.partners {
            if let Some(rate) = p.rate {
                let old = previous.map(|p| &p.partners);
                limits
                    .partners
                    .insert(p.id.clone(), keep_or_new(old, &p.id, rate));
            }
        }
        limits
    }

    /// Admits one request of `partner` under `contract`, or returns how long to wait. The partner's
    /// limit is checked first, so a request it refuses does not use up the contract's allowance.
    pub fn admit(&self, partner: &str, contract: &str) -> Result<(), Duration> {
        if let Some(b) = self.partners.get(partner) {
            b.take()?;
        }
        if let Some(b) = self.contracts.get(contract) {
            b.take()?;
        }
        Ok(())
    }
}

/// `Retry-After` in whole seconds, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_nanos().div_ceil(1_000_000_000).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(contract_rate: &str, partner_rate: &str) -> CompiledPolicy {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/examples/policy.toml"
        ))
        .unwrap()
        .replace("rate        = { per_second = 200, burst = 50 }", contract_rate)
        // safe-insure's contract refills a cell a minute, not every 100 ms: a test that spends
        // its burst and expects the next request refused must not see a cell come back on a
        // slow machine (the reload test builds a policy between the two).
        .replace(
            "rate        = { per_minute = 600, burst = 20 }",
            "rate        = { per_minute = 1, burst = 20 }",
        )
        .replace(
            "jurisdiction = \"CN\"\n\n[[partner]]\nid           = \"safe-insure\"",
            &format!("jurisdiction = \"CN\"\n{partner_rate}\n\n[[partner]]\nid           = \"safe-insure\""),
        );
        CompiledPolicy::load("policy.toml", &text).unwrap()
    }

    const ACME: (&str, &str) = ("acme-loans", "acme-prescreen-2026");
    const SAFE: (&str, &str) = ("safe-insure", "safe-insure-claims-2026");

    #[test]
    fn the_burst_is_admitted_and_the_next_request_waits() {
        let limits = RateLimits::build(&policy("rate = { per_minute = 1, burst = 3 }", ""), None);
        for _ in 0..3 {
            assert_eq!(limits.admit(ACME.0, ACME.1), Ok(()));
        }
        let wait = limits.admit(ACME.0, ACME.1).unwrap_err();
        // One cell per minute: the next is free in (0, 60] seconds.
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert!((1..=60).contains(&retry_after_secs(wait)));
        // Another contract has its own allowance (20 at once per its rate).
        assert_eq!(limits.admit(SAFE.0, SAFE.1), Ok(()));
    }

    #[test]
    fn a_partner_limit_spans_its_contracts_and_spares_the_contract_allowance() {
        let p = policy(
            "rate = { per_minute = 1, burst = 5 }",
            "rate = { per_minute = 1, burst = 2 }",
        );
        let limits = RateLimits::build(&p, None);
        assert_eq!(limits.admit(ACME.0, ACME.1), Ok(()));
        assert_eq!(limits.admit(ACME.0, ACME.1), Ok(()));
        assert!(
            limits.admit(ACME.0, ACME.1).is_err(),
            "the partner's burst of 2 is spent"
        );
        assert_eq!(
            limits.admit(SAFE.0, SAFE.1),
            Ok(()),
            "other partners unaffected"
        );
    }

    #[test]
    fn reload_keeps_unchanged_limiters_and_resets_changed_ones() {
        let first = RateLimits::build(&policy("rate = { per_minute = 1, burst = 1 }", ""), None);
        assert_eq!(first.admit(ACME.0, ACME.1), Ok(()));
        for _ in 0..20 {
            assert_eq!(first.admit(SAFE.0, SAFE.1), Ok(()));
        }
        assert!(first.admit(SAFE.0, SAFE.1).is_err());
        // Same policy again: nothing resets, both stay exhausted.
        let same = RateLimits::build(
            &policy("rate = { per_minute = 1, burst = 1 }", ""),
            Some(&first),
        );
        assert!(same.admit(ACME.0, ACME.1).is_err());
        assert!(same.admit(SAFE.0, SAFE.1).is_err());
        // acme's rate changes: its bucket is new; safe-insure's is untouched and still exhausted.
        let changed = RateLimits::build(
            &policy("rate = { per_minute = 2, burst = 1 }", ""),
            Some(&same),
        );
        assert_eq!(changed.admit(ACME.0, ACME.1), Ok(()));
        assert!(changed.admit(SAFE.0, SAFE.1).is_err());
    }
}
