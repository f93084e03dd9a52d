//! The request path, assembled in one place, outermost step first. Reading [`Requests::handle`]
//! top to bottom is reading what happens to every request (DESIGN §2):
//!
//! 0. tracking — the request counts as in flight on its connection until its response body
//!    ends, and the body tells the connection's watchdog when it waits on the partner
//!    ([`crate::conn`]: idle close, send deadline).
//! 1. the request id — given before anything can fail, so every refusal, log line and response
//!    carries it; on the way out, `x-request-id` is set, and HTTP/1.1 connections are closed
//!    after chunked request bodies (see [`crate::framing`]).
//! 2. tracing — one `request` span per request, with the id and method only (no path: paths
//!    carry ids of people), the OTLP server span, the request metrics, and the access-log line
//!    for refusals.
//! 3. refusals — everything below fails with a typed [`Reason`]; this is the one place that
//!    turns it into a response ([`crate::errors::error_response`]).
//! 4. load shedding over a process-wide concurrency limit — refuse at once with
//!    `503 overloaded` instead of queueing without bound.
//! 5. (the partner's share of the requests in flight, held until the response body ends
//!    ([`crate::conn::shares`]), and rate limits per partner and contract are taken once the
//!    partner and contract are known, in [`crate::service`])
//! 6. the whole-request deadline, up to the response head (`request_timeout`).
//! 7. the proxy itself — framing checks, partner and contract resolution, content checks, the
//!    upstream call and the redaction of the partner-bound body ([`crate::service`]).
//!
//! The steps are one function rather than a tower layer each: a layer per step cost a boxed
//! future, and hyper's adapter a clone of the whole stack, per request (measured in
//! `bench/results/2026-12-07-fewer-layers.md`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Request, Response, header};
use hyper::body::Incoming;
use tracing::Instrument;

use crate::body::ProxyBody;
use crate::errors::{Reason, error_response};
use crate::service::ConnInfo;
use crate::state::Shared;

/// The request path of one connection (a hyper service; cloning it is cloning an `Arc`).
#[derive(Debug, Clone)]
pub struct Requests(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    conn: Arc<ConnInfo>,
    /// Shared by every connection: the process-wide concurrency limit.
    in_flight: Arc<tokio::sync::Semaphore>,
    timeout: Duration,
    /// The listener's kind, as the request metrics label it.
    kind: &'static str,
}

/// Builds the request path for one connection. `in_flight` is shared by every connection.
pub fn stack(
    shared: Arc<Shared>,
    conn: Arc<ConnInfo>,
    in_flight: Arc<tokio::sync::Semaphore>,
) -> Requests {
    let kind = match conn.kind {
        crate::config::ListenerKind::Partner => "partner",
        crate::config::ListenerKind::Internal => "internal",
    };
    Requests(Arc::new(Inner {
        timeout: shared.config.limits.request_timeout,
        shared,
        conn,
        in_flight,
        kind,
    }))
}

impl hyper::service::Service<Request<Incoming>> for Requests {
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        // 0. In flight from here, before the future is first polled (HTTP/2 spawns it); if the
        //    future is dropped first, the guard goes with it.
        let guard = self.0.conn.activity.request();
        Box::pin(Requests::handle(self.0.clone(), req, guard))
    }
}

impl Requests {
    /// Every request, from its head to the response handed to hyper (see the module docs).
    async fn handle(
        this: Arc<Inner>,
        mut req: Request<Incoming>,
        mut guard: crate::conn::RequestGuard,
    ) -> Result<Response<ProxyBody>, Infallible> {
        // 0. The connection's watchdog learns from the request when it waits on the partner.
        req.extensions_mut().insert(guard.send_timed_out());
        // 1. The request id.
        let id: Arc<str> = crate::tracecontext::request_id().into();
        let chunked = req.version() == http::Version::HTTP_11
            && req.headers().contains_key(header::TRANSFER_ENCODING);
        // 2. The span; an institution system's trace (W3C traceparent) or a new one — never a
        //    partner's (see `tracecontext`) — which the OTLP server span joins.
        let span = tracing::info_span!("request", request.id = %id, http.request.method = %req.method(), trace_id = tracing::field::Empty);
        let inside = matches!(this.conn.kind, crate::config::ListenerKind::Internal);
        let (trace, parent) = crate::tracecontext::TraceId::of_request(req.headers(), inside);
        let otel = this.shared.telemetry.as_ref().and_then(|t| {
            let s = t.server_span(&trace.0, parent.as_ref(), req.method())?;
            s.request(&id, req.version());
            Some(s)
        });
        req.extensions_mut().insert(trace);
        if let Some(s) = &otel {
            req.extensions_mut().insert(s.clone());
        }
        let started = std::time::Instant::now();
        let mut resp = async {
            // 3–7. Refusals become responses here, and only here.
            let resp = match Self::admitted(&this, req, &id, &mut guard).await {
                Ok(resp) => resp,
                Err(reason) => error_response(&reason, &id),
            };
            let metrics = &this.shared.metrics;
            let exemplar = otel.as_ref().and_then(|s| s.sampled_trace());
            metrics.request(
                this.kind,
                resp.status().as_u16(),
                started.elapsed(),
                exemplar,
            );
            let refused = resp.extensions().get::<crate::errors::Refused>();
            if let Some(s) = &otel {
                s.answered(resp.status(), refused.map(|r| r.0));
            }
            if let Some(reason) = refused {
                metrics.rejection(reason.0);
                tracing::info!(
                    status = resp.status().as_u16(),
                    reason = reason.0,
                    "refused"
                );
            }
            resp
        }
        .instrument(span)
        .await;
        // 1, on the way out.
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert(crate::headers::X_REQUEST_ID, v);
        }
        if chunked {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        // 0, on the way out: in flight until the body ends.
        Ok(
            resp.map(|b| {
                http_body_util::BodyExt::boxed_unsync(crate::conn::Tracked::new(b, guard))
            }),
        )
    }

    /// 4. Load shedding, 6. the deadline, 7. the proxy.
    async fn admitted(
        this: &Inner,
        req: Request<Incoming>,
        id: &Arc<str>,
        guard: &mut crate::conn::RequestGuard,
    ) -> Result<Response<ProxyBody>, Reason> {
        // Held until the response head, as a concurrency limit's permit is.
        let _permit = this
            .in_flight
            .try_acquire()
            .map_err(|_| Reason::Overloaded)?;
        let proxied = crate::service::route(&this.shared, &this.conn, req, id.clone(), guard);
        tokio::time::timeout(this.timeout, proxied)
            .await
            .unwrap_or(Err(Reason::Timeout))
    }
}
