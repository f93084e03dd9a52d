//! The two flows, as short sequences of shared phases.
//!
//! - **pull** ([`pull`]): a partner asks; the institution's *response* is the disclosure. What
//!   the partner asks with reaches the institution only as the route describes it: the query
//!   parameters it lists ([`sluice_policy::param`]) and the body fields of its `request_fields`
//!   (`bodies::asked`); a route that lists none takes no body.
//! - **push** ([`push`]): an institution system sends; the *request* body to the partner's API is
//!   the disclosure, and the partner's answer goes back to the system as it came.
//!
//! Both: pick the route's upstream; check the incoming body's `Content-Digest` (required where the
//! route says so); build the upstream request with only allow-listed headers ([`crate::allow`]);
//! decide filtered (type and coding checked) or pass-through *before* anything is recorded; make
//! the [`Disclosure`](crate::disclosure::Disclosure) durable; then stream the partner-bound body
//! through the engine (`bodies::redacted`) with its digest and signature
//! ([`crate::outgoing`]). A failing body becomes a [`Reason`] in one place,
//! [`crate::errors::body_reason`].

mod bodies;
mod pull;
mod push;

pub(crate) use pull::pull;
pub(crate) use push::push;

use std::sync::Arc;

use http::{HeaderMap, Request, Response};
use hyper::body::Incoming;
use sluice_policy::Resolved;

use crate::body::ProxyBody;
use crate::disclosure::RequestCtx;
use crate::errors::Reason;
use crate::state::{PolicyState, Shared};
use crate::upstream::UpstreamClient;

/// What both flows work with: the process, the policy snapshot, the contract and route, the
/// request's context, and the route's upstream.
pub(crate) struct Flow<'a> {
    pub shared: &'a Arc<Shared>,
    pub state: &'a Arc<PolicyState>,
    pub r: Resolved<'a>,
    pub ctx: RequestCtx,
    pub upstream: &'a Arc<UpstreamClient>,
    /// The client connection's own upstream connections, when it is HTTP/1.1.
    pub slot: Option<&'a crate::upstream::sticky::Slot>,
}

impl<'a> Flow<'a> {
    /// The flow of a resolved request (`upstream_unavailable` when the route's upstream is not
    /// configured).
    pub fn new(
        shared: &'a Arc<Shared>,
        state: &'a Arc<PolicyState>,
        r: Resolved<'a>,
        ctx: RequestCtx,
        slot: Option<&'a crate::upstream::sticky::Slot>,
    ) -> Result<Self, Reason> {
        let upstream = shared
            .upstreams
            .get(&r.route.upstream)
            .ok_or(Reason::UpstreamUnavailable)?;
        Ok(Self {
            shared,
            state,
            r,
            ctx,
            upstream,
            slot,
        })
    }

    /// The `Content-Digest` an incoming body must match, if it has one (`bad_digest` when it is
    /// malformed, `digest_required` when the route requires one and there is none).
    fn incoming_digest(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<crate::digest::Expected>, Reason> {
        let digest = crate::digest::expected(headers).map_err(|_| Reason::BadDigest)?;
        if self.r.route.require_digest && digest.is_none() {
            return Err(Reason::DigestRequired);
        }
        Ok(digest)
    }

    /// Calls the upstream under a client span (method, the upstream's configured name, status).
    async fn send(&self, req: Request<ProxyBody>) -> Result<Response<Incoming>, Reason> {
        let span = self
            .ctx
            .otel
            .as_ref()
            .map(|p| p.upstream_call(req.method(), &self.r.route.upstream));
        let result = self.upstream.send(req, self.slot).await;
        if let Some(s) = span {
            s.upstream_answered(match &result {
                Ok(resp) => Ok(resp.status()),
                Err(reason) => Err(reason.code()),
            });
        }
        result
    }

    /// The disclosure's recipient, for `Disclosure::begin`.
    fn recipient<'b>(
        &'b self,
        partner: &'b str,
        peer: Option<&'b sluice_certs::PeerIdentity>,
        (target, headers): (&'b str, &'b [(String, Vec<u8>)]),
    ) -> crate::disclosure::Recipient<'b> {
        crate::disclosure::Recipient {
            partner,
            peer,
            resolved: &self.r,
            policy_version: self.state.policy.version.0,
            target,
            headers,
        }
    }
}

/// The path and query of an upstream request, exactly as it goes out (what the ledger's
/// `target_hmac` covers).
impl Flow<'_> {
    /// The format a body of this `Content-Type` is filtered as, when sluice filters the type
    /// and the route lists its format (`formats`); `None` refuses the body.
    fn filtered_media(&self, content_type: &str) -> Option<crate::body::Media> {
        crate::body::media_type(content_type).filter(|m| self.r.route.formats.contains(&m.format()))
    }

    /// The target sent upstream for `uri` on this flow's route: its parameters through their
    /// rules, the query in sluice's writing ([`sluice_policy::param::target`]); a refusal
    /// names the check and the parameter, never the value.
    fn target(&self, uri: &http::Uri) -> Result<String, Reason> {
        let keys = &self.state.keys[&self.r.contract.id];
        sluice_policy::param::target(self.r.route, uri.path(), uri.query(), keys)
            .map_err(|r| Reason::PolicyViolation(format!("{} at {}", r.code, r.param)))
    }

    /// A shadow tap for the body filtered under this flow's route, when `[shadow]` is set and
    /// the body is sampled (`target`: the path and query sent upstream).
    fn shadow_tap(
        &self,
        method: &str,
        target: &str,
        media: crate::body::Media,
    ) -> Option<crate::shadow::Tap> {
        let runner = self.shared.shadow.as_ref()?;
        let candidate = self.state.shadow.as_ref()?;
        let path = target.split('?').next().unwrap_or(target);
        runner.tap(candidate, &self.r, method, path, media)
    }
}

fn target_of(uri: &http::Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string())
}

/// The request id as a header value (hex, always valid).
fn request_id_value(ctx: &RequestCtx) -> http::HeaderValue {
    http::HeaderValue::from_str(&ctx.id).expect("a request id is hex")
}

/// The log line of an unfiltered body (an explicit decision of the route).
fn pass_through_logged(f: &Flow<'_>, partner: &str) {
    tracing::warn!(request_id = %f.ctx.id, partner = %partner, contract = %f.r.contract.id, route = %f.r.route.path, "pass_through: body sent unfiltered, as the route allows for this content type");
}
