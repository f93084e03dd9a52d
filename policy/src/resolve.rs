//! From a verified partner and a request to the contract and route that govern it.
//!
//! Order of questions, each with its own reason so that operators can tell them apart:
//! is there any route for this method and path at all (`NoRoute`)? does one of them belong to a
//! contract with this partner (`NoContract`)? is that contract in force now
//! (`ContractNotYetValid`, `ContractExpired`)? Load-time validation guarantees that at most one
//! contract of a partner is in force for a given method and path.

use crate::CompiledPolicy;
use crate::date::Instant;
use crate::document::{Contract, Flow, Route};

/// Why a request has no contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// No contract of any partner has a route for this method and path.
    #[error("no route matches the request")]
    NoRoute,
    /// Routes match, but none in a contract with this partner.
    #[error("the partner has no contract for this route")]
    NoContract,
    /// The partner's contract for this route starts later.
    #[error("the contract is not yet valid")]
    ContractNotYetValid,
    /// The partner's contract for this route has ended.
    #[error("the contract has expired")]
    ContractExpired,
}

impl ResolveError {
    /// Stable machine-readable reason code.
    pub fn code(self) -> &'static str {
        match self {
            ResolveError::NoRoute => "no_route",
            ResolveError::NoContract => "no_contract",
            ResolveError::ContractNotYetValid => "contract_not_yet_valid",
            ResolveError::ContractExpired => "contract_expired",
        }
    }
}

/// The contract and route that govern a request.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'p> {
    /// The contract.
    pub contract: &'p Contract,
    /// Index of the route in the contract.
    pub route_index: usize,
    /// The route.
    pub route: &'p Route,
}

impl CompiledPolicy {
    /// Resolves `(partner, method, path)` at `now`. `flow` restricts the routes considered (a
    /// partner listener serves pull routes; the internal listener serves push routes).
    pub fn resolve(
        &self,
        partner_id: &str,
        flow: Flow,
        method: &str,
        path: &str,
        now: Instant,
    ) -> Result<Resolved<'_>, ResolveError> {
        self.resolve_among(flow, method, path, now, Some(partner_id))
    }

    /// Resolves a push request from an institution system: the route alone names the contract
    /// (and so the partner). Push routes never overlap across the whole policy (checked at load).
    pub fn resolve_push(
        &self,
        method: &str,
        path: &str,
        now: Instant,
    ) -> Result<Resolved<'_>, ResolveError> {
        self.resolve_among(Flow::Push, method, path, now, None)
    }

    /// The routes of `flow` matching the request, of `partner` when given; the first one whose
    /// contract is in force wins.
    fn resolve_among(
        &self,
        flow: Flow,
        method: &str,
        path: &str,
        now: Instant,
        partner: Option<&str>,
    ) -> Result<Resolved<'_>, ResolveError> {
        let mut any_route = false;
        let mut best: Option<ResolveError> = None;
        for contract in &self.contracts {
            for (route_index, route) in contract.routes.iter().enumerate() {
                if route.flow != flow || route.method != method || !route.path.matches(path) {
                    continue;
                }
                any_route = true;
                if partner.is_some_and(|p| self.partners[contract.partner].id != p) {
                    continue;
                }
                if contract.in_force(now) {
                    return Ok(Resolved {
                        contract,
                        route_index,
                        route,
                    });
                } else if now < contract.valid_from {
                    best = Some(ResolveError::ContractNotYetValid);
                } else {
                    // A not-yet-valid successor is the more useful answer than an expired predecessor.
                    best = best.or(Some(ResolveError::ContractExpired));
                }
            }
        }
        Err(best.unwrap_or(if any_route && partner.is_some() {
            ResolveError::NoContract
        } else {
            ResolveError::NoRoute
        }))
    }
}
