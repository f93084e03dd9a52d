//! One request, from head to response: framing checks, partner, contract and route, the
//! upstream call, and the partner-bound body through the engine. The order of checks follows
//! DESIGN §2; every refusal goes through [`error_response`](crate::errors::error_response).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sluice_certs::PeerIdentity;
use sluice_policy::engine::{EngineConfig, Limits, Redactor};
use sluice_policy::{Flow, Identity, Instant, Resolved};

use crate::body::{Outcome, ProxyBody, RedactedBody, media_type};
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
}

/// A random request id (128 bits, hex).
pub fn request_id() -> String {
    let mut b = [0u8; 16];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    sluice_policy::hex::hex(&b)
}

/// The policy partner whose identity the certificate carries. A certificate that carries the
/// identities of two partners is refused whatever the policy's order (`ambiguous_identity`).
pub fn partner_of<'p>(
    policy: &'p sluice_policy::CompiledPolicy,
    peer: &PeerIdentity,
) -> Result<&'p sluice_policy::Partner, Reason> {
    let mut found = policy.partners.iter().filter(|p| match &p.identity {
        Identity::UriSan(u) => peer.uri_sans.iter().any(|x| x == u),
        Identity::DnsSan(d) => peer.dns_sans.iter().any(|x| x == d),
        Identity::SpkiSha256(h) => &peer.spki_sha256 == h,
    });
    let first = found.next().ok_or(Reason::UnknownPartner)?;
    match found.next() {
        Some(_) => Err(Reason::AmbiguousIdentity),
        None => Ok(first),
    }
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
    id: &str,
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
        .unwrap_or_else(|| crate::tracecontext::TraceId::from_headers(req.headers()));
    let otel = req
        .extensions()
        .get::<crate::telemetry::SpanHandle>()
        .cloned();
    tracing::Span::current().record("trace_id", trace.0.as_str());
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    match conn.kind {
        ListenerKind::Partner => {
            let peer = conn.peer.as_ref().ok_or(Reason::UnknownPartner)?;
            // Revoked since this connection's handshake: refused, and the connection closed.
            if shared.tls[conn.listener].is_revoked(peer) {
                conn.activity.close(crate::conn::CloseReason::Revoked);
                return Err(Reason::CertificateRevoked);
            }
            let partner = partner_of(&state.policy, peer)?;
            let resolved =
                state
                    .policy
                    .resolve(&partner.id, Flow::Pull, &method, &path, Instant::now())?;
            describe_span(otel.as_ref(), &partner.id, &resolved, req.method());
            admit(&state, &partner.id, &resolved.contract.id)?;
            check_signature(resolved.contract, partner, &req)?;
            pull(
                shared,
                &state,
                resolved,
                &partner.id,
                peer,
                req,
                (id, &trace),
            )
            .await
        }
        ListenerKind::Internal => {
            let resolved = state.policy.resolve_push(&method, &path, Instant::now())?;
            let partner = &state.policy.partner_of(resolved.contract).id;
            describe_span(otel.as_ref(), partner, &resolved, req.method());
            admit(&state, partner, &resolved.contract.id)?;
            push(shared, &state, resolved, req, (id, &trace)).await
        }
    }
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
    let template = r.route.path.as_str();
    span.rename(format!(
        "{} {template}",
        crate::telemetry::method_attribute(method)
    ));
    span.set_str("http.route", template);
    span.set_str("sluice.partner", partner);
    span.set_str("sluice.contract", &r.contract.id);
    span.set_str("sluice.flow", r.route.flow.as_str());
}

/// Calls the upstream under a client span (method, the upstream's configured name, status).
async fn send_upstream(
    upstream: &crate::upstream::UpstreamClient,
    name: &str,
    parent: Option<&crate::telemetry::SpanHandle>,
    req: Request<ProxyBody>,
) -> Result<Response<Incoming>, Reason> {
    let span = parent.map(|p| {
        let m = crate::telemetry::method_attribute(req.method());
        let s = p.child(m.to_string());
        s.set_str("http.request.method", m);
        s.set_str("server.address", name);
        s
    });
    let result = upstream.send(req).await;
    if let Some(s) = span {
        match &result {
            Ok(resp) => {
                s.set_int(
                    "http.response.status_code",
                    i64::from(resp.status().as_u16()),
                );
                if resp.status().is_server_error() {
                    s.fail();
                }
            }
            Err(reason) => {
                s.set_str("error.type", reason.code());
                s.fail();
            }
        }
    }
    result
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

fn engine_config(
    state: &PolicyState,
    r: &Resolved<'_>,
    format: sluice_policy::engine::Format,
) -> EngineConfig {
    EngineConfig {
        program: r.route.program.clone(),
        format,
        limits: Limits::default(),
        keys: state.keys[&r.contract.id].clone(),
        consent: None,
    }
}

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
];

/// Copies the route's extra allow-listed headers (never one sluice owns: the policy refuses
/// those at load, and this checks again).
fn copy_route_headers(from: &HeaderMap, to: &mut HeaderMap, names: &[String]) {
    for name in names {
        if sluice_policy::owned_headers::owner(name).is_some() {
            continue;
        }
        if let Ok(n) = http::HeaderName::from_bytes(name.as_bytes()) {
            for v in from.get_all(&n) {
                to.append(n.clone(), v.clone());
            }
        }
    }
}

/// Content type and coding of an unfiltered pass-through body.
fn headers_pass_through(from: &HeaderMap, to: &mut HeaderMap) {
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_ENCODING,
        header::CONTENT_LENGTH,
    ] {
        if let Some(v) = from.get(&name) {
            to.insert(name, v.clone());
        }
    }
}

/// True when the route lets this content type through unfiltered.
fn passes_through(content_type: &str, allowed: &[String]) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    allowed.contains(&essence)
}

/// The query string with only allow-listed parameters, in their original order and encoding.
fn allowed_query(query: Option<&str>, allowed: &[String]) -> Option<String> {
    let kept: Vec<&str> = query?
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            allowed.iter().any(|a| a == name)
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// Marks a request body that went over the size limit while streaming.
const TOO_LARGE: &str = "body_too_large";
const DIGEST_MISMATCH: &str = "digest_mismatch";
const BAD_CODING: &str = "unsupported_encoding";

/// The headers of the partner's request that reach the institution in the pull flow. Identity
/// headers a client could spoof are never forwarded: the partner is who its certificate says.
const PULL_REQUEST_HEADERS: &[&str] = &[
    "accept",
    "accept-language",
    "content-type",
    "if-none-match",
    "if-modified-since",
    "user-agent",
];

/// The headers that reach the partner with a body (DESIGN §5: default allow-list).
const TO_PARTNER_HEADERS: &[&str] = &["accept", "content-type", "date"];

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, allowed: &[&'static str]) {
    for name in allowed {
        for v in from.get_all(*name) {
            to.append(http::HeaderName::from_static(name), v.clone());
        }
    }
}

fn limited_body(body: Incoming, max: u64) -> ProxyBody {
    http_body_util::Limited::new(body, max as usize)
        .map_err(|e| -> crate::body::BoxError { e })
        .boxed_unsync()
}

async fn pull(
    shared: &Arc<Shared>,
    state: &Arc<PolicyState>,
    r: Resolved<'_>,
    partner: &str,
    peer: &PeerIdentity,
    req: Request<Incoming>,
    (id, trace): (&str, &crate::tracecontext::TraceId),
) -> Result<Response<ProxyBody>, Reason> {
    let upstream = shared
        .upstreams
        .get(&r.route.upstream)
        .ok_or(Reason::UpstreamUnavailable)?;
    let (parts, body) = req.into_parts();
    // A body the partner sends is checked against its Content-Digest as it streams, like a push.
    let request_digest = crate::digest::expected(&parts.headers).map_err(|_| Reason::BadDigest)?;
    if r.route.require_digest && request_digest.is_none() {
        return Err(Reason::DigestRequired);
    }
    let pq = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |p| p.as_str());
    let uri = upstream.uri(pq)?;
    let sent_target = target_of(&uri);
    let mut up = Request::builder().method(parts.method.clone()).uri(uri);
    let headers = up.headers_mut().expect("a fresh builder has headers");
    copy_headers(&parts.headers, headers, PULL_REQUEST_HEADERS);
    headers.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    headers.insert("x-request-id", HeaderValue::from_str(id).expect("hex"));
    if let Ok(v) = HeaderValue::from_str(partner) {
        headers.insert("sluice-partner", v);
    }
    if let Ok(v) = HeaderValue::from_str(&r.contract.id) {
        headers.insert("sluice-contract", v);
    }
    let up = up
        .body(verified(
            limited_body(body, shared.config.limits.max_request_body_bytes),
            request_digest,
        ))
        .map_err(|_| Reason::UpstreamProtocol)?;
    let otel = parts
        .extensions
        .get::<crate::telemetry::SpanHandle>()
        .cloned();
    let resp = send_upstream(upstream, &r.route.upstream, otel.as_ref(), up).await?;
    let status = resp.status();
    if status == StatusCode::SWITCHING_PROTOCOLS || status == StatusCode::PARTIAL_CONTENT {
        return Err(Reason::UpstreamProtocol);
    }
    let bodiless = parts.method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if !status.is_success() && !bodiless {
        return Err(Reason::UpstreamStatus(status));
    }
    let (rparts, rbody) = resp.into_parts();
    let mut out = Response::builder().status(status);
    let h = out.headers_mut().expect("a fresh builder has headers");
    h.insert("x-request-id", HeaderValue::from_str(id).expect("hex"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if bodiless {
        if !rbody.is_end_stream() && parts.method != Method::HEAD {
            return Err(Reason::UpstreamProtocol);
        }
        return out
            .body(
                http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .map_err(|_| Reason::UpstreamProtocol);
    }
    if rparts.headers.get_all(header::CONTENT_TYPE).iter().count() > 1 {
        return Err(Reason::UpstreamProtocol);
    }
    let ct = rparts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or(Reason::UpstreamProtocol)?;
    copy_headers(&rparts.headers, h, &["content-type"]);
    copy_route_headers(&rparts.headers, h, &r.route.headers);
    // The institution's digest covers what it sent, not what the partner receives: verified here,
    // never forwarded (except with an unmodified pass-through body).
    let digest = crate::digest::expected(&rparts.headers).map_err(|_| Reason::UpstreamProtocol)?;
    let rbody = verified(
        crate::body::StallGuard::new(rbody, upstream.cfg.body_stall_timeout),
        digest,
    );
    // A filtered body's type and coding are checked before anything is recorded.
    let filtered = if passes_through(ct, &r.route.pass_through) {
        None
    } else {
        Some((
            media_type(ct).ok_or(Reason::UpstreamProtocol)?,
            crate::decode::coding(&rparts.headers).ok_or(Reason::UpstreamProtocol)?,
        ))
    };
    let (disclosure, on_finish, sink) = begin_disclosure(
        shared,
        state,
        (id, trace, otel),
        (partner, &sent_target),
        &r,
        (Some(peer), parts.extensions.get().cloned()),
    )
    .await?;
    if let Ok(v) = HeaderValue::from_str(&disclosure) {
        h.insert("sluice-disclosure", v);
    }
    let Some((media, coding)) = filtered else {
        tracing::warn!(request_id = %id, partner = %partner, contract = %r.contract.id, route = %r.route.path, "pass_through: body sent unfiltered, as the route allows for this content type");
        copy_headers(
            &rparts.headers,
            h,
            &["content-encoding", "content-length", "content-digest"],
        );
        let body = crate::passthrough::PassThroughBody::new(rbody, on_finish);
        return out
            .body(body.boxed_unsync())
            .map_err(|_| Reason::UpstreamProtocol);
    };
    let redactor = Redactor::new(engine_config(state, &r, media.format()));
    let mut body =
        RedactedBody::new(decoded(rbody, coding), redactor, on_finish).with_subject_sink(sink);
    if r.contract.digest == sluice_policy::DigestAlgorithm::Sm3 {
        body = body.with_sm3();
    }
    let signing = crate::outgoing::Signing::Response(status.as_u16());
    match crate::outgoing::send(
        body,
        h,
        shared.signer.as_ref(),
        signing,
        r.route.buffer_limit,
    )
    .await
    {
        Ok(body) => out.body(body).map_err(|_| Reason::UpstreamProtocol),
        Err(e) => Err(
            if crate::errors::chain_has::<crate::body::BodyViolation>(e.as_ref()) {
                Reason::ResponseViolation
            } else if crate::errors::chain_has::<crate::digest::DigestMismatch>(e.as_ref()) {
                Reason::UpstreamDigestMismatch
            } else {
                Reason::UpstreamProtocol
            },
        ),
    }
}

async fn push(
    shared: &Arc<Shared>,
    state: &Arc<PolicyState>,
    r: Resolved<'_>,
    req: Request<Incoming>,
    (id, trace): (&str, &crate::tracecontext::TraceId),
) -> Result<Response<ProxyBody>, Reason> {
    let upstream = shared
        .upstreams
        .get(&r.route.upstream)
        .ok_or(Reason::UpstreamUnavailable)?;
    let partner = state.policy.partner_of(r.contract).id.clone();
    let (parts, body) = req.into_parts();
    // Two Content-Type fields: which one a downstream parser believes is anyone's guess.
    if parts.headers.get_all(header::CONTENT_TYPE).iter().count() > 1 {
        return Err(Reason::UnsupportedMediaType);
    }
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or(Reason::UnsupportedMediaType)?;
    let pass = passes_through(ct, &r.route.pass_through);
    let media = if pass {
        None
    } else {
        Some(media_type(ct).ok_or(Reason::UnsupportedMediaType)?)
    };
    let coding = crate::decode::coding(&parts.headers).ok_or(Reason::UnsupportedEncoding)?;
    let digest = crate::digest::expected(&parts.headers).map_err(|_| Reason::BadDigest)?;
    if r.route.require_digest && digest.is_none() {
        return Err(Reason::DigestRequired);
    }
    if let Some(len) = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len > shared.config.limits.max_request_body_bytes
    {
        return Err(Reason::BodyTooLarge);
    }
    // Only allow-listed query parameters reach the partner (default: none).
    let target = match allowed_query(parts.uri.query(), &r.route.query) {
        Some(q) => format!("{}?{q}", parts.uri.path()),
        None => parts.uri.path().to_string(),
    };
    let uri = upstream.uri(&target)?;
    let sent_target = target_of(&uri);
    let mut up = Request::builder().method(parts.method.clone()).uri(uri);
    let headers = up.headers_mut().expect("a fresh builder has headers");
    copy_headers(&parts.headers, headers, TO_PARTNER_HEADERS);
    copy_route_headers(&parts.headers, headers, &r.route.headers);
    headers.insert("x-request-id", HeaderValue::from_str(id).expect("hex"));
    // A violation while the request streams aborts it; the caller learns where (never what).
    let violation: Arc<Mutex<Option<String>>> = Arc::default();
    let seen = violation.clone();
    let otel = parts
        .extensions
        .get::<crate::telemetry::SpanHandle>()
        .cloned();
    let (disclosure, log, sink) = begin_disclosure(
        shared,
        state,
        (id, trace, otel.clone()),
        (&partner, &sent_target),
        &r,
        (None, None),
    )
    .await?;
    if let Ok(v) = HeaderValue::from_str(&disclosure) {
        up.headers_mut()
            .expect("a fresh builder has headers")
            .insert("sluice-disclosure", v);
    }
    let on_finish: crate::body::OnFinish = Box::new(move |outcome| {
        if let Outcome::SourceFailed(e) = &outcome {
            let decode = crate::errors::chain_find::<crate::decode::DecodeError>(e.as_ref());
            let code = if crate::errors::chain_has::<http_body_util::LengthLimitError>(e.as_ref())
                || decode.is_some_and(|d| d.is_over_limit())
            {
                Some(TOO_LARGE)
            } else if decode.is_some() {
                Some(BAD_CODING)
            } else if crate::errors::chain_has::<crate::digest::DigestMismatch>(e.as_ref()) {
                Some(DIGEST_MISMATCH)
            } else {
                None
            };
            if let Some(code) = code {
                *seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(code.to_string());
            }
        }
        if let Outcome::Violation(v) = &outcome {
            *seen.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(format!("{} at {}", v.kind.code(), v.path));
        }
        log(outcome);
    });
    let limited =
        http_body_util::Limited::new(body, shared.config.limits.max_request_body_bytes as usize);
    let source = verified(BodyAdapter(limited), digest);
    let body = match media {
        Some(media) => {
            let redactor = Redactor::new(engine_config(state, &r, media.format()));
            let mut body = RedactedBody::new(decoded(source, coding), redactor, on_finish)
                .with_subject_sink(sink);
            if r.contract.digest == sluice_policy::DigestAlgorithm::Sm3 {
                body = body.with_sm3();
            }
            let target_uri = up.uri_ref().map(|u| u.to_string()).unwrap_or_default();
            let signing =
                crate::outgoing::Signing::Request(parts.method.as_str().to_string(), target_uri);
            let headers = up.headers_mut().expect("builder has headers");
            // A failure before anything is sent (on_finish records why): the partner is never
            // called.
            crate::outgoing::send(
                body,
                headers,
                shared.signer.as_ref(),
                signing,
                r.route.buffer_limit,
            )
            .await
            .ok()
        }
        None => {
            tracing::warn!(request_id = %id, partner = %partner, contract = %r.contract.id, route = %r.route.path, "pass_through: body sent unfiltered, as the route allows for this content type");
            headers_pass_through(
                &parts.headers,
                up.headers_mut().expect("builder has headers"),
            );
            let body = crate::passthrough::PassThroughBody::new(source, on_finish);
            Some(body.boxed_unsync())
        }
    };
    let result = match body {
        Some(body) => {
            let up = up.body(body).map_err(|_| Reason::UpstreamProtocol)?;
            Some(send_upstream(upstream, &r.route.upstream, otel.as_ref(), up).await)
        }
        None => None,
    };
    match violation.lock().unwrap_or_else(|e| e.into_inner()).take() {
        Some(code) if code == TOO_LARGE => return Err(Reason::BodyTooLarge),
        Some(code) if code == DIGEST_MISMATCH => return Err(Reason::DigestMismatch),
        Some(code) if code == BAD_CODING => return Err(Reason::UnsupportedEncoding),
        Some(code) => return Err(Reason::PolicyViolation(code)),
        None => {}
    }
    let resp = result.ok_or(Reason::UpstreamProtocol)??;
    // The partner's answer goes back to the institution system (no disclosure in this direction).
    let (rparts, rbody) = resp.into_parts();
    let mut out = Response::builder().status(rparts.status);
    let h = out.headers_mut().expect("a fresh builder has headers");
    for (name, value) in &rparts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            h.append(name.clone(), value.clone());
        }
    }
    h.insert("x-request-id", HeaderValue::from_str(id).expect("hex"));
    if let Ok(v) = HeaderValue::from_str(&disclosure) {
        h.insert("sluice-disclosure", v);
    }
    out.body(
        rbody
            .map_err(|e| -> crate::body::BoxError { Box::new(e) })
            .boxed_unsync(),
    )
    .map_err(|_| Reason::UpstreamProtocol)
}

/// The body as received, checked against its `Content-Digest` when it has one.
fn verified<B>(body: B, digest: Option<crate::digest::Expected>) -> ProxyBody
where
    B: http_body::Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<crate::body::BoxError>,
{
    match digest {
        Some(d) => crate::digest::Verified::new(body, d).boxed_unsync(),
        None => body.map_err(Into::into).boxed_unsync(),
    }
}

/// The body to filter: decoded first when it has a content coding (the partner always gets
/// identity-encoded bytes).
fn decoded<B>(body: B, coding: crate::decode::Coding) -> ProxyBody
where
    B: http_body::Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<crate::body::BoxError>,
{
    match coding {
        crate::decode::Coding::Identity => body.map_err(Into::into).boxed_unsync(),
        c => crate::decode::Decoded::new(body, c, crate::decode::Caps::default()).boxed_unsync(),
    }
}

/// Adapts a `Limited<Incoming>` (whose error is boxed) to a body of `Bytes` frames.
struct BodyAdapter(http_body_util::Limited<Incoming>);

impl http_body::Body for BodyAdapter {
    type Data = Bytes;
    type Error = crate::body::BoxError;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::pin::Pin::new(&mut self.0).poll_frame(cx)
    }
}

/// The path and query of an upstream request, exactly as it goes out (what the ledger's
/// `target_hmac` covers).
fn target_of(uri: &http::Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string())
}

/// Records `disclosure.begin` (durable before the first byte goes out) and returns the
/// `Sluice-Disclosure` value, what to do when the body ends (the access-log line and
/// `disclosure.end` with the digest of the bytes actually sent), and where the body's subject
/// hashes go while it streams.
async fn begin_disclosure(
    shared: &Shared,
    state: &PolicyState,
    (id, trace, otel): (
        &str,
        &crate::tracecontext::TraceId,
        Option<crate::telemetry::SpanHandle>,
    ),
    (partner, target): (&str, &str),
    r: &Resolved<'_>,
    (peer, timed_out): (Option<&PeerIdentity>, Option<crate::conn::SendTimedOut>),
) -> Result<(String, crate::body::OnFinish, crate::body::SubjectSink), Reason> {
    use crate::ledger::{Begin, Entry};
    let begin = Begin {
        request_id: id.to_string(),
        trace_id: trace.0.clone(),
        partner: partner.to_string(),
        spki_sha256: peer.map_or([0; 32], |p| p.spki_sha256),
        serial: peer.map_or(String::new(), |p| p.serial.clone()),
        contract: r.contract.id.clone(),
        route: r.route.path.as_str().to_string(),
        flow: r.route.flow.as_str().to_string(),
        policy_version: state.policy.version.0,
        target: Some(shared.target_key.target_hash(target)),
    };
    let ledger = shared.ledger.clone().ok_or(Reason::LedgerUnavailable)?;
    let started = std::time::Instant::now();
    let appended = ledger.append_begin(begin).await;
    shared.metrics.observe(
        "sluice_ledger_append_duration_seconds",
        &[],
        started.elapsed(),
    );
    let seq = appended.map_err(|e| {
        tracing::error!(request_id = %id, error = %e, "ledger unavailable: disclosure refused");
        Reason::LedgerUnavailable
    })?;
    let origin = ledger.origin().to_string();
    if let Some(s) = &otel {
        s.set_int("sluice.disclosure.seq", seq as i64);
    }
    let log = access_logger(id, partner, r, shared.metrics.clone(), otel);
    let spill = Arc::new(Mutex::new(Some(
        crate::ledger::subjects::SubjectSpill::new(shared.config.ledger.dir.join("subjects")),
    )));
    let feeding = spill.clone();
    let sink: crate::body::SubjectSink = Box::new(move |subjects| {
        match feeding.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(s) => s.push(subjects),
            None => Ok(()),
        }
    });
    let on_finish: crate::body::OnFinish = Box::new(move |outcome| {
        let spill = spill.lock().unwrap_or_else(|e| e.into_inner()).take();
        let stored = match (&outcome, spill) {
            (Outcome::Sent(s), Some(spill)) => Some(spill.finish(s.subjects.clone())),
            _ => None, // an abandoned spill removes its partial file
        };
        let mut end = end_entry(seq, &outcome, stored);
        // Dropped because the partner left the response unread: say so, not `client_gone`.
        if matches!(outcome, Outcome::Dropped) && timed_out.as_ref().is_some_and(|t| t.is_set()) {
            end.outcome = crate::ledger::Outcome::SendTimeout;
        }
        log(outcome);
        ledger.append_detached(Entry::End(Box::new(end)));
    });
    Ok((format!("{origin}/{seq}"), on_finish, sink))
}

/// The `disclosure.end` for how a body ended; `stored` says where a sent body's subjects went
/// (inline, or a side file whose digest the entry keeps — see [`crate::ledger::subjects`]).
fn end_entry(
    begin: u64,
    outcome: &Outcome<'_>,
    stored: Option<std::io::Result<crate::ledger::subjects::Stored>>,
) -> crate::ledger::End {
    use crate::ledger::{End, FieldCounts, Outcome as O};
    let mut end = End::new(begin, O::Sent);
    match outcome {
        Outcome::Sent(s) => {
            end.bytes_sent = s.bytes_out;
            end.sha256_sent = s.output_sha256;
            end.records = s.records;
            end.records_dropped = s.records_dropped;
            end.fields = s
                .fields
                .iter()
                .map(|f| FieldCounts {
                    path: f.path.clone(),
                    counts: [f.kept, f.masked, f.hashed, f.redacted, f.stripped],
                })
                .collect();
            end.subject_count = s.subject_count;
            match stored {
                Some(Ok(crate::ledger::subjects::Stored::Inline(subjects))) => {
                    end.subjects = subjects;
                }
                Some(Ok(crate::ledger::subjects::Stored::Side { digest, .. })) => {
                    end.subjects_digest = digest;
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, "writing the subject side file failed; the entry records the count only");
                }
                None => {}
            }
        }
        Outcome::Violation(_) => end.outcome = O::AbortedPolicy,
        Outcome::SourceFailed(e)
            if crate::errors::chain_has::<crate::digest::DigestMismatch>(e.as_ref()) =>
        {
            end.outcome = O::AbortedIntegrity
        }
        Outcome::SourceFailed(_) => end.outcome = O::UpstreamError,
        Outcome::Dropped => end.outcome = O::ClientGone,
    }
    end
}

/// The access-log line for a disclosure: ids, counts and the outcome — never values.
fn access_logger(
    id: &str,
    partner: &str,
    r: &Resolved<'_>,
    metrics: Arc<crate::metrics::Metrics>,
    otel: Option<crate::telemetry::SpanHandle>,
) -> crate::body::OnFinish {
    let (id, partner, contract, route) = (
        id.to_string(),
        partner.to_string(),
        r.contract.id.clone(),
        r.route.path.as_str().to_string(),
    );
    Box::new(move |outcome| {
        let name = match &outcome {
            Outcome::Sent(_) => "sent",
            Outcome::Violation(_) => "aborted_policy",
            Outcome::SourceFailed(e)
                if crate::errors::chain_has::<crate::digest::DigestMismatch>(e.as_ref()) =>
            {
                "aborted_integrity"
            }
            Outcome::SourceFailed(_) => "upstream_error",
            Outcome::Dropped => "client_gone",
        };
        let pc = [
            ("partner", partner.as_str()),
            ("contract", contract.as_str()),
        ];
        metrics.add(
            "sluice_disclosures_total",
            &[pc[0], pc[1], ("outcome", name)],
            1,
        );
        if let Some(span) = &otel {
            // The server span ends when this last handle drops, with the body's counts.
            span.set_str("sluice.verdict", name);
            if let Outcome::Sent(s) = &outcome {
                let t = s.totals();
                for (key, n) in [
                    ("sluice.records", s.records),
                    ("sluice.fields.kept", t.kept),
                    ("sluice.fields.masked", t.masked),
                    ("sluice.fields.hashed", t.hashed),
                    ("sluice.fields.redacted", t.redacted),
                    ("sluice.fields.stripped", t.stripped),
                    ("sluice.bytes.in", s.bytes_in),
                    ("sluice.bytes.out", s.bytes_out),
                ] {
                    span.set_int(key, n as i64);
                }
            } else {
                span.fail();
            }
        }
        if let Outcome::Sent(s) = &outcome {
            let t = s.totals();
            metrics.add("sluice_records_total", &pc, s.records);
            for (action, n) in [
                ("kept", t.kept),
                ("masked", t.masked),
                ("hashed", t.hashed),
                ("redacted", t.redacted),
                ("stripped", t.stripped),
            ] {
                metrics.add("sluice_fields_total", &[("action", action)], n);
            }
            metrics.add("sluice_bytes_total", &[("direction", "in")], s.bytes_in);
            metrics.add("sluice_bytes_total", &[("direction", "out")], s.bytes_out);
        }
        log_disclosure(&id, &partner, &contract, &route, name, outcome);
    })
}

/// The access-log line itself.
fn log_disclosure(
    id: &str,
    partner: &str,
    contract: &str,
    route: &str,
    name: &str,
    outcome: Outcome<'_>,
) {
    match outcome {
        Outcome::Sent(s) => {
            let t = s.totals();
            tracing::info!(request_id = %id, partner = %partner, contract = %contract, route = %route, outcome = "sent", bytes_in = s.bytes_in, bytes_out = s.bytes_out, records = s.records, kept = t.kept, masked = t.masked, hashed = t.hashed, redacted = t.redacted, stripped = t.stripped, "disclosure");
        }
        Outcome::Violation(v) => {
            tracing::warn!(request_id = %id, partner = %partner, contract = %contract, route = %route, outcome = "aborted_policy", reason = v.kind.code(), path = %v.path, offset = v.offset, "disclosure");
        }
        Outcome::SourceFailed(_) => {
            tracing::warn!(request_id = %id, partner = %partner, contract = %contract, route = %route, outcome = name, "disclosure");
        }
        Outcome::Dropped => {
            tracing::warn!(request_id = %id, partner = %partner, contract = %contract, route = %route, outcome = "client_gone", "disclosure");
        }
    }
}

impl std::fmt::Debug for BodyAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyAdapter")
    }
}
