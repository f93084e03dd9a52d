//! One request, from head to flow: framing checks, a canonical path, partner, contract and
//! route, rate limits and the partner's signature — then the pull or push flow
//! ([`crate::flow`]). Every refusal is a [`Reason`], turned into a response in one place
//! ([`error_response`](crate::errors::error_response)).

use std::sync::Arc;

use http::{HeaderMap, Method, Request, Response, header};
use hyper::body::Incoming;
use sluice_certs::PeerIdentity;
use sluice_policy::{Flow, Instant, Resolved};

use crate::identity::partner_of;

use crate::body::ProxyBody;
use crate::config::ListenerKind;
use crate::errors::Reason;
use crate::state::{PolicyState, Shared};

/// What a connection knows about its peer.
#[derive(Debug)]
pub struct ConnInfo {
    /// The listener's flow.
    pub kind: ListenerKind,
    /// The listener's index in the configuration.
    pub listener: usize,
    /// The verified client certificate's identity, if one was presented.
    pub peer: Option<PeerIdentity>,
    /// Framing verdicts of an HTTP/1.1 connection (see [`crate::framing`]).
    pub verdicts: Option<crate::framing::Verdicts>,
    /// What the connection is doing, for its watchdog (see [`crate::conn`]).
    pub activity: Arc<crate::conn::Activity>,
    /// Its own upstream connections, when it is HTTP/1.1 (see [`crate::upstream::sticky`]).
    pub upstreams: Option<crate::upstream::sticky::Slot>,
}

/// Message framing a filter in front of other parsers must not pass on (RFC 9112 §6.1).
fn check_framing(method: &Method, headers: &HeaderMap) -> Result<(), Reason> {
    let cl = headers.get_all(header::CONTENT_LENGTH).iter().count();
    let te: Vec<_> = headers.get_all(header::TRANSFER_ENCODING).iter().collect();
    if cl > 1 || (cl == 1 && !te.is_empty()) {
        return Err(Reason::BadFraming);
    }
    if !te.is_empty() && (te.len() != 1 || !te[0].as_bytes().eq_ignore_ascii_case(b"chunked")) {
        return Err(Reason::BadFraming);
    }
    if let Some(v) = headers.get(header::CONTENT_LENGTH)
        && (v.is_empty() || !v.as_bytes().iter().all(u8::is_ascii_digit))
    {
        return Err(Reason::BadFraming);
    }
    if method == Method::CONNECT || headers.contains_key(header::UPGRADE) {
        return Err(Reason::UpgradeRefused);
    }
    Ok(())
}

/// Routes one request to its flow; a refusal is a [`Reason`].
pub async fn route(
    shared: &Arc<Shared>,
    conn: &ConnInfo,
    req: Request<Incoming>,
    id: Arc<str>,
    guard: &mut crate::conn::RequestGuard,
) -> Result<Response<ProxyBody>, Reason> {
    // HTTP/1.1: the raw head's verdict; none at all means the sniffer lost track (fail closed).
    if let Some(v) = &conn.verdicts
        && v.next() != Some(crate::framing::Framing::Ok)
    {
        return Err(Reason::BadFraming);
    }
    check_framing(req.method(), req.headers())?;
    // Before any route is matched: a path an upstream could read as another resource is refused.
    sluice_policy::target::check_path(req.uri().path()).map_err(|p| Reason::BadPath(p.code()))?;
    let state = shared.policy();
    let trace = req
        .extensions()
        .get::<crate::tracecontext::TraceId>()
        .cloned()
        .unwrap_or_else(crate::tracecontext::TraceId::random);
    let otel = req
        .extensions()
        .get::<crate::telemetry::SpanHandle>()
        .cloned();
    tracing::Span::current().record("trace_id", trace.0.as_str());
    let ctx = crate::disclosure::RequestCtx {
        id,
        trace,
        otel,
        send_timed_out: req.extensions().get().cloned(),
    };
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    // Revoked since this connection's handshake (the listener's current CRLs), on either kind
    // of listener: refused, and the connection closed.
    if let Some(peer) = conn.peer.as_ref()
        && shared.tls[conn.listener].is_revoked(peer)
    {
        conn.activity.close(crate::conn::CloseReason::Revoked);
        return Err(Reason::CertificateRevoked);
    }
    match conn.kind {
        ListenerKind::Partner => {
            let peer = conn.peer.as_ref().ok_or(Reason::UnknownPartner)?;
            let partner = partner_of(&state.policy, peer)?;
            let resolved =
                state
                    .policy
                    .resolve(&partner.id, Flow::Pull, &method, &path, Instant::now())?;
            describe_span(ctx.otel.as_ref(), &partner.id, &resolved, req.method());
            guard.hold(take_share(shared, &partner.id)?);
            admit(&state, &partner.id, &resolved.contract.id)?;
            check_signature(resolved.contract, partner, &req)?;
            let flow =
                crate::flow::Flow::new(shared, &state, resolved, ctx, conn.upstreams.as_ref())?;
            crate::flow::pull(&flow, &partner.id, peer, req).await
        }
        ListenerKind::Internal => {
            // The same CA may sign partners' certificates and the institution systems': one
            // that names a partner (or two) is a partner's, whichever listener it reaches.
            if conn
                .peer
                .as_ref()
                .is_some_and(|peer| crate::identity::names_a_partner(&state.policy, peer))
            {
                return Err(Reason::PartnerCertificate);
            }
            // Named callers only, when the listener names them.
            let callers = &shared.config.listeners[conn.listener].callers;
            if !callers.is_empty()
                && !conn
                    .peer
                    .as_ref()
                    .is_some_and(|peer| callers.iter().any(|c| crate::identity::carries(peer, c)))
            {
                return Err(Reason::UnknownCaller);
            }
            let resolved = state.policy.resolve_push(&method, &path, Instant::now())?;
            let partner = &state.policy.partner_of(resolved.contract).id;
            describe_span(ctx.otel.as_ref(), partner, &resolved, req.method());
            guard.hold(take_share(shared, partner)?);
            admit(&state, partner, &resolved.contract.id)?;
            let flow =
                crate::flow::Flow::new(shared, &state, resolved, ctx, conn.upstreams.as_ref())?;
            crate::flow::push(&flow, req).await
        }
    }
}

/// A place in the partner's share of the requests in flight ([`crate::conn::shares`]), taken
/// before the rate limits so that a refusal here spends none of the partner's allowance.
fn take_share(shared: &Shared, partner: &str) -> Result<crate::conn::Share, Reason> {
    shared
        .shares
        .take(partner)
        .map_err(|_| Reason::InFlightLimit)
}

/// The rate limits, checked once the contract is known and before any body or upstream.
fn admit(state: &PolicyState, partner: &str, contract: &str) -> Result<(), Reason> {
    state
        .limits
        .admit(partner, contract)
        .map_err(|wait| Reason::RateLimited(crate::ratelimit::retry_after_secs(wait)))
}

/// Names the server span after the route template and records who and under which contract.
fn describe_span(
    span: Option<&crate::telemetry::SpanHandle>,
    partner: &str,
    r: &Resolved<'_>,
    method: &Method,
) {
    let Some(span) = span else { return };
    span.routed(
        method,
        r.route.path.as_str(),
        partner,
        &r.contract.id,
        r.route.flow.as_str(),
    );
}

/// The partner's RFC 9421 request signature, when its contract requires one: checked on the
/// head, before any body is read or upstream called (the body's digest is checked as it streams).
fn check_signature(
    contract: &sluice_policy::Contract,
    partner: &sluice_policy::Partner,
    req: &Request<Incoming>,
) -> Result<(), Reason> {
    let Some(policy) = contract.signatures else {
        return Ok(());
    };
    let bad = |e: crate::signature::SignatureError| Reason::BadSignature(e.code());
    // HTTP/2 carries the authority in the URI; HTTP/1.1 in Host.
    let authority = match req.uri().authority() {
        Some(a) => a.as_str(),
        None => req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or(bad(crate::signature::SignatureError::Malformed))?,
    };
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let target = format!("https://{authority}{pq}");
    let has_body = !http_body::Body::is_end_stream(req.body())
        && req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() != b"0");
    let msg = crate::signature::base::Message {
        method: Some(req.method().as_str()),
        target_uri: Some(&target),
        status: None,
        headers: req.headers(),
        trailers: None,
    };
    crate::signature::verify_request(
        &msg,
        &partner.signature_keys,
        policy,
        has_body,
        crate::outgoing::unix_now(),
    )
    .map(|_| ())
    .map_err(bad)
}
