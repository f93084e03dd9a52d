//! The pull flow: a partner asks over mTLS, and the institution's response is what is disclosed.

use std::sync::{Arc, OnceLock};

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sluice_certs::PeerIdentity;

use super::{Flow, bodies, pass_through_logged, request_id_value, target_of};
use crate::body::ProxyBody;
use crate::disclosure::Disclosure;
use crate::errors::{BodySource, Reason};

/// Serves one pull request (see the module docs of [`crate::flow`]).
pub(crate) async fn pull(
    f: &Flow<'_>,
    partner: &str,
    peer: &PeerIdentity,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Reason> {
    let (parts, mut body) = req.into_parts();
    let read_timeout = f.shared.config.limits.body_read_timeout;
    // A partner's body is its question as much as its query string is: a route whose contract
    // lists no `request_fields` takes none (nor does a bodiless method's; such a route has none).
    let asks_with = f.r.route.request_program.clone();
    if asks_with.is_none() {
        bodies::none_sent(&mut body, read_timeout).await?;
    }
    // A body the partner sends is checked against its Content-Digest as it streams, like a push.
    let digest = f.incoming_digest(&parts.headers)?;
    let limit = f.shared.config.limits.max_request_body_bytes;
    if bodies::announced_over(&parts.headers, limit) {
        return Err(Reason::BodyTooLarge);
    }
    // What the body is, checked before anything is sent: a type the route filters, a coding
    // sluice decodes.
    let asked = match asks_with.filter(|_| !body.is_end_stream()) {
        Some(program) => {
            let ct = crate::allow::single_content_type(&parts.headers)
                .ok_or(Reason::UnsupportedMediaType)?;
            let media = f.filtered_media(ct).ok_or(Reason::UnsupportedMediaType)?;
            let coding =
                crate::decode::coding(&parts.headers).ok_or(Reason::UnsupportedEncoding)?;
            Some((program, media, coding))
        }
        None => None,
    };
    // Why the partner's body failed, when it did: its reason, not the institution's answer to a
    // cut body (nothing to note, and nothing allocated, for the usual request without one).
    let failure: Option<Arc<OnceLock<Reason>>> = (!body.is_end_stream()).then(Arc::default);
    let body = bodies::verified(bodies::limited(body, limit, read_timeout), digest);
    let mut up = institution_request(f, &parts, partner)?;
    let body = match (&failure, asked) {
        (Some(failure), Some((program, media, coding))) => {
            let headers = up.headers_mut().expect("a fresh builder has headers");
            headers.insert(header::CONTENT_TYPE, media.content_type());
            let (state, r) = (f.state, &f.r);
            let question = bodies::asked(state, r, program, body, (media, coding), failure.clone());
            // Checked whole before the institution is called, when it is a question's size.
            match bodies::held(question, bodies::QUESTION_HOLD).await {
                Ok(held) => held,
                Err(_) => return Err(failure.get().cloned().unwrap_or(Reason::BadFraming)),
            }
        }
        (Some(failure), None) => bodies::noting(body, failure.clone()),
        (None, _) => body,
    };
    let up = up.body(body).map_err(|_| Reason::UpstreamProtocol)?;
    let target = target_of(up.uri());
    let resp = f.send(up).await;
    if let Some(reason) = failure.as_ref().and_then(|f| f.get()) {
        return Err(reason.clone());
    }
    let resp = resp?;
    let status = status_as_sent(resp.status()).ok_or(Reason::UpstreamProtocol)?;
    let bodiless = parts.method == Method::HEAD || status == StatusCode::NO_CONTENT;
    // A 304 answers a condition sluice never sends (`allow::PULL_REQUEST_HEADERS`): a status
    // alone, no body to filter or record.
    if status == StatusCode::SWITCHING_PROTOCOLS
        || status == StatusCode::PARTIAL_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Err(Reason::UpstreamProtocol);
    }
    if !status.is_success() && !bodiless {
        return Err(Reason::UpstreamStatus(status));
    }
    let (rparts, rbody) = resp.into_parts();
    let mut out = Response::builder().status(status);
    let h = out.headers_mut().expect("a fresh builder has headers");
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if bodiless {
        if !rbody.is_end_stream() && parts.method != Method::HEAD {
            return Err(Reason::UpstreamProtocol);
        }
        // A status alone still says something of the resource the target names (that it
        // exists): a disclosure of no bytes, recorded like any other before the answer goes.
        let to = f.recipient(partner, Some(peer), (&target, &[]));
        let disclosure = Disclosure::begin(&f.shared.recorder, &f.ctx, to).await?;
        h.insert(crate::headers::SLUICE_DISCLOSURE, disclosure.header());
        let (finish, _) = disclosure.into_body();
        finish(crate::body::Outcome::Sent(&nothing_sent()));
        let empty = http_body_util::Empty::new().map_err(|never| match never {});
        return out
            .body(empty.boxed_unsync())
            .map_err(|_| Reason::UpstreamProtocol);
    }
    let ct = crate::allow::single_content_type(&rparts.headers).ok_or(Reason::UpstreamProtocol)?;
    // The institution's header values through their rules, as its body's fields: a value that
    // fails one is the institution's data, so the partner is told no more than for a body.
    let keys = &f.state.keys[&f.r.contract.id];
    let named = crate::allow::copy_route(
        &rparts.headers,
        h,
        (&f.r.route.headers, &f.r.route.header_rules),
        keys,
    )
    .map_err(|_| Reason::ResponseViolation)?;
    // The institution's digest covers what it sent, not what the partner receives: verified here,
    // never forwarded (except with an unmodified pass-through body).
    let digest = crate::digest::expected(&rparts.headers).map_err(|_| Reason::UpstreamProtocol)?;
    let stall = f.upstream.cfg.body_stall_timeout;
    let rbody = bodies::verified(crate::stall::StallGuard::new(rbody, stall), digest);
    // A filtered body's type and coding are checked before anything is recorded.
    let filtered = if crate::allow::passes_through(ct, &f.r.route.pass_through) {
        None
    } else {
        Some((
            f.filtered_media(ct).ok_or(Reason::UpstreamProtocol)?,
            crate::decode::coding(&rparts.headers).ok_or(Reason::UpstreamProtocol)?,
        ))
    };
    let rec = &f.shared.recorder;
    let to = f.recipient(partner, Some(peer), (&target, &named));
    let disclosure = Disclosure::begin(rec, &f.ctx, to).await?;
    h.insert(crate::headers::SLUICE_DISCLOSURE, disclosure.header());
    let Some(filtered) = filtered else {
        pass_through_logged(f, partner);
        // The route lets this type through as it is: its fields describe the body sent.
        crate::allow::copy_pass_through(&rparts.headers, h);
        crate::allow::copy(&rparts.headers, h, &["content-digest"]);
        let (finish, _) = disclosure.into_body();
        let body = crate::passthrough::PassThroughBody::new(rbody, finish);
        return out
            .body(body.boxed_unsync())
            .map_err(|_| Reason::UpstreamProtocol);
    };
    h.insert(header::CONTENT_TYPE, filtered.0.content_type());
    let tap = f.shadow_tap(parts.method.as_str(), &target, filtered.0);
    let body = bodies::redacted(f.state, &f.r, rbody, filtered, disclosure.into_body(), tap);
    let signing = crate::outgoing::Signing::Response(status.as_u16());
    let signer = f.shared.signer.as_ref();
    match crate::outgoing::send(body, h, signer, signing, f.r.route.buffer_limit).await {
        Ok(body) => out.body(body).map_err(|_| Reason::UpstreamProtocol),
        Err(e) => Err(crate::errors::body_reason(e.as_ref(), BodySource::Upstream)
            .unwrap_or(Reason::UpstreamProtocol)),
    }
}

/// The request to the institution: the partner's method and path (checked canonical before
/// routing, its parameters through any rules the route gives them), the query parameters the
/// route lists in sluice's writing (any other refuses the request), the partner's allow-listed
/// headers, identity coding only, and who asks.
fn institution_request(
    f: &Flow<'_>,
    parts: &http::request::Parts,
    partner: &str,
) -> Result<http::request::Builder, Reason> {
    let target = f.target(&parts.uri)?;
    let mut up = Request::builder()
        .method(parts.method.clone())
        .uri(f.upstream.uri(&target)?);
    let headers = up.headers_mut().expect("a fresh builder has headers");
    crate::allow::copy(&parts.headers, headers, crate::allow::PULL_REQUEST_HEADERS);
    headers.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    headers.insert(crate::headers::X_REQUEST_ID, request_id_value(&f.ctx));
    if let Ok(v) = HeaderValue::from_str(partner) {
        headers.insert(crate::headers::SLUICE_PARTNER, v);
    }
    if let Ok(v) = HeaderValue::from_str(&f.r.contract.id) {
        headers.insert(crate::headers::SLUICE_CONTRACT, v);
    }
    Ok(up)
}

/// What a bodiless answer sends: no bytes, the digest of none.
fn nothing_sent() -> sluice_policy::engine::Summary {
    let digest = ring::digest::digest(&ring::digest::SHA256, b"");
    sluice_policy::engine::Summary {
        output_sha256: digest.as_ref().try_into().expect("SHA-256 is 32 bytes"),
        ..Default::default()
    }
}

/// The status a partner gets for the institution's: a registered code as it is, any other as the
/// `x00` of its class (what RFC 9110 §15 tells a client to read it as), so the code is one of a
/// few dozen and not one of nine hundred the institution's system could choose to say something
/// with; `None` outside 100–599, which is no HTTP status.
fn status_as_sent(status: StatusCode) -> Option<StatusCode> {
    if status.canonical_reason().is_some() {
        return Some(status);
    }
    match status.as_u16() / 100 {
        1..=5 => StatusCode::from_u16(status.as_u16() / 100 * 100).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_goes_out_registered_or_as_its_class() {
        let sent =
            |code: u16| status_as_sent(StatusCode::from_u16(code).unwrap()).map(|s| s.as_u16());
        for code in [200, 201, 204, 304, 404, 429, 451, 500, 503] {
            assert_eq!(sent(code), Some(code));
        }
        assert_eq!(sent(299), Some(200));
        assert_eq!(sent(250), Some(200));
        assert_eq!(sent(499), Some(400));
        assert_eq!(sent(599), Some(500));
        assert_eq!(sent(600), None);
        assert_eq!(sent(999), None);
    }
}
