//! The body adapters the flows chain: a size limit, `Content-Digest` verification, content
//! decoding, and the engine.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sluice_policy::Resolved;
use sluice_policy::engine::{EngineConfig, Limits, Redactor};

use crate::body::{BoxError, OnFinish, Outcome, ProxyBody, RedactedBody, SubjectSink};
use crate::errors::{BodySource, Reason};
use crate::state::PolicyState;

/// Refuses a body on a request whose method has none. GET, HEAD and DELETE define no meaning
/// for one (RFC 9110 §9.3.1, §9.3.2, §9.3.5), and a server that ignores such a body without
/// reading it reads it as the next request on the connection — a request no route allowed,
/// whose answer would be taken for the next request's. Refused however it is framed: an
/// announced length, or data frames (chunks, HTTP/2 DATA) read here before the upstream is
/// called; a body that turns out empty (`Content-Length: 0`, a lone empty frame ending the
/// stream, as some HTTP/2 clients send) is no body. The wait for it is the body read timeout.
pub(super) async fn none_on_bodiless_method(
    method: &http::Method,
    body: &mut hyper::body::Incoming,
    timeout: std::time::Duration,
) -> Result<(), Reason> {
    use http::Method;
    if !matches!(*method, Method::GET | Method::HEAD | Method::DELETE) {
        return Ok(());
    }
    none_sent(body, timeout).await
}

/// Refuses a body on a request that may carry none: a bodiless method's (above), or one on a
/// pull route whose contract describes no request body (`request_fields`). An empty body is
/// no body; data is `400 body_not_allowed` before the upstream is called.
pub(super) async fn none_sent(
    body: &mut hyper::body::Incoming,
    timeout: std::time::Duration,
) -> Result<(), Reason> {
    use http_body::Body as _;
    if body.is_end_stream() {
        return Ok(());
    }
    if body.size_hint().lower() > 0 {
        return Err(Reason::BodyNotAllowed);
    }
    let read = async {
        while let Some(frame) = body.frame().await {
            // A body that breaks its own framing.
            let frame = frame.map_err(|_| Reason::BadFraming)?;
            if frame.data_ref().is_some_and(|d| !d.is_empty()) {
                return Err(Reason::BodyNotAllowed);
            }
        }
        Ok(())
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(Reason::BodyTimeout))
}

/// Whether a request announces a body longer than `max` (refused before anything is sent).
pub(super) fn announced_over(headers: &http::HeaderMap, max: u64) -> bool {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|len| len > max)
}

/// `body`, noting in `failure` why it failed when that is the caller's doing (too large, a
/// digest mismatch): the reason the caller gets, whatever the upstream made of the cut body.
pub(super) fn noting(body: ProxyBody, failure: Arc<OnceLock<Reason>>) -> ProxyBody {
    body.map_err(move |e| {
        if let Some(r) = crate::errors::body_reason(e.as_ref(), BodySource::Request) {
            let _ = failure.set(r);
        }
        e
    })
    .boxed_unsync()
}

/// A request body cut off with an error past `max` bytes, or when it sends nothing for
/// `stall` while asked for more ([`crate::stall`]); its trailers dropped ([`crate::frames`]).
pub(super) fn limited(body: Incoming, max: u64, stall: std::time::Duration) -> ProxyBody {
    let body = crate::stall::StallGuard::new(crate::frames::DataOnly::new(body), stall);
    http_body_util::Limited::new(body, max as usize)
        .map_err(|e| -> BoxError { e })
        .boxed_unsync()
}

/// The body as received, checked against its `Content-Digest` when it has one.
pub(super) fn verified<B>(body: B, digest: Option<crate::digest::Expected>) -> ProxyBody
where
    B: http_body::Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    match digest {
        Some(d) => crate::digest::Verified::new(body, d).boxed_unsync(),
        None => body.map_err(Into::into).boxed_unsync(),
    }
}

/// The body to filter: decoded first when it has a content coding (the partner always gets
/// identity-encoded bytes).
fn decoded(body: ProxyBody, coding: crate::decode::Coding) -> ProxyBody {
    match coding {
        crate::decode::Coding::Identity => body,
        c => crate::decode::Decoded::new(body, c, crate::decode::Caps::default()).boxed_unsync(),
    }
}

/// The engine's configuration for a body on a route: its `program` (the contract's fields, or
/// the route's `request_fields`) and its format.
fn engine_config(
    state: &PolicyState,
    r: &Resolved<'_>,
    program: std::sync::Arc<sluice_policy::program::FieldProgram>,
    media: crate::body::Media,
) -> EngineConfig {
    EngineConfig {
        program,
        format: media.format(),
        limits: Limits::default(),
        keys: state.keys[&r.contract.id].clone(),
        consent: None,
        charset: media.charset,
    }
}

/// `source` decoded and filtered through the route's contract, ending the disclosure (`finish`,
/// `sink`) when it ends; digested with SM3 where the contract says so.
pub(super) fn redacted(
    state: &PolicyState,
    r: &Resolved<'_>,
    source: ProxyBody,
    (media, coding): (crate::body::Media, crate::decode::Coding),
    (finish, sink): (OnFinish, SubjectSink),
    shadow: Option<crate::shadow::Tap>,
) -> RedactedBody<ProxyBody> {
    let redactor = Redactor::new(engine_config(state, r, r.route.program.clone(), media));
    let body = RedactedBody::new(decoded(source, coding), redactor, finish)
        .with_subject_sink(sink)
        .with_shadow(shadow);
    if r.contract.digest == sluice_policy::DigestAlgorithm::Sm3 {
        body.with_sm3()
    } else {
        body
    }
}

/// A partner's request body on a pull route, filtered through the route's `request_fields`
/// (`program`) on its way to the institution: unlisted fields dropped, kept ones checked. Why it
/// stopped, when it did, is noted in `failure` (a policy violation names the path, never the
/// value). Nothing is recorded: what a partner asks is not a disclosure.
pub(super) fn asked(
    state: &PolicyState,
    r: &Resolved<'_>,
    program: std::sync::Arc<sluice_policy::program::FieldProgram>,
    source: ProxyBody,
    (media, coding): (crate::body::Media, crate::decode::Coding),
    failure: Arc<OnceLock<Reason>>,
) -> ProxyBody {
    let redactor = Redactor::new(engine_config(state, r, program, media));
    let finish = noting_failure(Box::new(|_| {}), failure);
    RedactedBody::new(decoded(source, coding), redactor, finish).boxed_unsync()
}

/// `finish`, noting first in `failure` why the request body stopped, when that is the caller's
/// doing (too large, bad coding, digest mismatch, a policy violation).
pub(super) fn noting_failure(finish: OnFinish, failure: Arc<OnceLock<Reason>>) -> OnFinish {
    Box::new(move |outcome| {
        let reason = match &outcome {
            Outcome::SourceFailed(e) => crate::errors::body_reason(e.as_ref(), BodySource::Request),
            Outcome::Violation(v) => Some(Reason::PolicyViolation(format!(
                "{} at {}",
                v.kind.code(),
                v.path
            ))),
            _ => None,
        };
        if let Some(r) = reason {
            let _ = failure.set(r);
        }
        finish(outcome);
    })
}

/// How much of a partner's filtered question is held before the institution is called: a search
/// body is small, and one that ends within this is checked whole first — a refused question
/// never reaches the institution, not even in part. A longer one streams after it.
pub(super) const QUESTION_HOLD: usize = 64 * 1024;

/// Reads `body` until it ends or passes `limit` bytes: the whole body, or what was read put back
/// before the rest. An error means it failed first (nothing was sent; its reason is noted where
/// the body notes one).
pub(super) async fn held(mut body: ProxyBody, limit: usize) -> Result<ProxyBody, BoxError> {
    let mut data = bytes::BytesMut::new();
    while data.len() <= limit {
        match body.frame().await {
            None => {
                let whole = http_body_util::Full::new(data.freeze());
                return Ok(whole.map_err(|never| match never {}).boxed_unsync());
            }
            Some(Err(e)) => return Err(e),
            // Data only: the source's trailers were dropped (`limited`).
            Some(Ok(frame)) => {
                if let Ok(d) = frame.into_data() {
                    data.extend_from_slice(&d);
                }
            }
        }
    }
    let first = Some(http_body::Frame::data(data.freeze()));
    Ok(crate::body::Prepend::new(first, body).boxed_unsync())
}
