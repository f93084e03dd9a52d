//! The push flow: an institution system sends, and the request body to the partner's API is what
//! is disclosed; the partner's answer goes back to the system.

use std::sync::{Arc, OnceLock};

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::{Flow, bodies, pass_through_logged, request_id_value, target_of};
use crate::body::ProxyBody;
use crate::disclosure::Disclosure;
use crate::errors::Reason;

/// Serves one push request (see the module docs of [`crate::flow`]).
pub(crate) async fn push(
    f: &Flow<'_>,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Reason> {
    let partner = f.state.policy.partner_of(f.r.contract).id.clone();
    let (parts, mut body) = req.into_parts();
    let read_timeout = f.shared.config.limits.body_read_timeout;
    bodies::none_on_bodiless_method(&parts.method, &mut body, read_timeout).await?;
    // Two Content-Type fields: which one a downstream parser believes is anyone's guess.
    let ct =
        crate::allow::single_content_type(&parts.headers).ok_or(Reason::UnsupportedMediaType)?;
    let media = if crate::allow::passes_through(ct, &f.r.route.pass_through) {
        None
    } else {
        Some(f.filtered_media(ct).ok_or(Reason::UnsupportedMediaType)?)
    };
    let coding = crate::decode::coding(&parts.headers).ok_or(Reason::UnsupportedEncoding)?;
    let digest = f.incoming_digest(&parts.headers)?;
    let limit = f.shared.config.limits.max_request_body_bytes;
    if bodies::announced_over(&parts.headers, limit) {
        return Err(Reason::BodyTooLarge);
    }
    let (mut up, named) = partner_request(f, &parts)?;
    let target = up.uri_ref().map(target_of).unwrap_or_default();
    let rec = &f.shared.recorder;
    let to = f.recipient(&partner, None, (&target, &named));
    let disclosure = Disclosure::begin(rec, &f.ctx, to).await?;
    let headers = up.headers_mut().expect("a fresh builder has headers");
    headers.insert(crate::headers::SLUICE_DISCLOSURE, disclosure.header());
    let answer_disclosure = disclosure.header();
    // Why the body stopped, when it did: the institution system is told (a path, never a value).
    let failure: Arc<OnceLock<Reason>> = Arc::default();
    let (finish, sink) = disclosure.into_body();
    let finish = bodies::noting_failure(finish, failure.clone());
    let source = bodies::verified(bodies::limited(body, limit, read_timeout), digest);
    let body = match media {
        Some(media) => {
            let tap = f.shadow_tap(parts.method.as_str(), &target, media);
            let body =
                bodies::redacted(f.state, &f.r, source, (media, coding), (finish, sink), tap);
            let target_uri = up.uri_ref().map(|u| u.to_string()).unwrap_or_default();
            let signing =
                crate::outgoing::Signing::Request(parts.method.as_str().to_string(), target_uri);
            let headers = up.headers_mut().expect("builder has headers");
            headers.insert(http::header::CONTENT_TYPE, media.content_type());
            let signer = f.shared.signer.as_ref();
            // A failure before anything is sent (`failure` says why): the partner is never called.
            crate::outgoing::send(body, headers, signer, signing, f.r.route.buffer_limit)
                .await
                .ok()
        }
        None => {
            pass_through_logged(f, &partner);
            let headers = up.headers_mut().expect("builder has headers");
            crate::allow::copy_pass_through(&parts.headers, headers);
            let body = crate::passthrough::PassThroughBody::new(source, finish);
            Some(body.boxed_unsync())
        }
    };
    let result = match body {
        Some(body) => {
            let up = up.body(body).map_err(|_| Reason::UpstreamProtocol)?;
            Some(f.send(up).await)
        }
        None => None,
    };
    if let Some(reason) = failure.get() {
        return Err(reason.clone());
    }
    let resp = result.ok_or(Reason::UpstreamProtocol)??;
    // The partner's answer goes back to the institution system (no disclosure in this direction).
    let (rparts, rbody) = resp.into_parts();
    let mut out = Response::builder().status(rparts.status);
    let h = out.headers_mut().expect("a fresh builder has headers");
    crate::allow::copy_end_to_end(&rparts.headers, h);
    h.insert(crate::headers::SLUICE_DISCLOSURE, answer_disclosure);
    // Cut if the partner stops sending it, as any upstream's response body is; its trailers
    // dropped, as from every body sluice forwards.
    let body = crate::stall::StallGuard::new(
        crate::frames::DataOnly::new(rbody),
        f.upstream.cfg.body_stall_timeout,
    );
    out.body(body.boxed_unsync())
        .map_err(|_| Reason::UpstreamProtocol)
}

/// The request to the partner's API: method, the target as the route's parameter rules make
/// it (its path parameters and listed query parameters each through its rule, nothing else of
/// the query), the route's allow-listed headers, and the request id; and the named header
/// fields as sent (for the ledger).
fn partner_request(
    f: &Flow<'_>,
    parts: &http::request::Parts,
) -> Result<(http::request::Builder, crate::allow::Crossed), Reason> {
    let target = f.target(&parts.uri)?;
    let mut up = Request::builder()
        .method(parts.method.clone())
        .uri(f.upstream.uri(&target)?);
    let headers = up.headers_mut().expect("a fresh builder has headers");
    // Only what the route names crosses, as written or through its rule; the body's type is
    // sluice's.
    let named = crate::allow::copy_route(
        &parts.headers,
        headers,
        (&f.r.route.headers, &f.r.route.header_rules),
        &f.state.keys[&f.r.contract.id],
    )
    .map_err(|(code, name)| Reason::PolicyViolation(format!("{code} at header {name}")))?;
    headers.insert(crate::headers::X_REQUEST_ID, request_id_value(&f.ctx));
    Ok((up, named))
}
