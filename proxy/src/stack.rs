//! The request path, assembled in one place, outermost layer first. Reading this file top to
//! bottom is reading what happens to every request (DESIGN §2):
//!
//! 0. [`TrackLayer`] — the request counts as in flight on its connection until its response
//!    body ends, and the body tells the connection's watchdog when it waits on the partner
//!    ([`crate::conn`]: idle close, send deadline).
//! 1. [`RequestIdLayer`] — gives the request its id before anything can fail, so every refusal,
//!    log line and response carries it; on the way out, sets `x-request-id`, and closes HTTP/1.1
//!    connections after chunked request bodies (see [`crate::framing`]).
//! 2. [`TraceLayer`] — one `request` span per request, with the id and method only (no path: paths
//!    carry ids of people), and the access-log line for refusals.
//! 3. [`RefusalLayer`] — everything below fails with a typed error; this is the one place that
//!    turns it into a response ([`crate::errors::error_response`]).
//! 4. load shedding over a process-wide concurrency limit — refuse at once with
//!    `503 overloaded` instead of queueing without bound.
//! 5. (rate limits per partner and contract: their own issue)
//! 6. timeout — the whole-request deadline, up to the response head.
//! 7. [`ProxyService`] — framing checks, partner and contract resolution, content checks, the
//!    upstream call and the redaction of the partner-bound body ([`crate::service`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response, header};
use hyper::body::Incoming;
use tower::{BoxError, Layer, Service, ServiceBuilder};

use crate::body::ProxyBody;
use crate::errors::{classify, error_response};
use crate::service::ConnInfo;
use crate::state::Shared;

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

/// The id of a request, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// Builds the stack for one connection. `in_flight` is shared by every connection.
pub fn stack(
    shared: Arc<Shared>,
    conn: Arc<ConnInfo>,
    in_flight: Arc<tokio::sync::Semaphore>,
) -> impl Service<
    Request<Incoming>,
    Response = Response<ProxyBody>,
    Error = std::convert::Infallible,
    Future: Send,
> + Clone
+ Send {
    let timeout = shared.config.limits.request_timeout;
    let trace = TraceLayer {
        metrics: shared.metrics.clone(),
        telemetry: shared.telemetry.clone(),
        kind: match conn.kind {
            crate::config::ListenerKind::Partner => "partner",
            crate::config::ListenerKind::Internal => "internal",
        },
    };
    ServiceBuilder::new()
        .layer(TrackLayer(conn.activity.clone()))
        .layer(RequestIdLayer)
        .layer(trace)
        .layer(RefusalLayer)
        .load_shed()
        .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
            in_flight,
        ))
        .timeout(timeout)
        .service(ProxyService { shared, conn })
}

/// Layer 0: the request's place in its connection's activity.
#[derive(Debug, Clone)]
pub struct TrackLayer(Arc<crate::conn::Activity>);

impl<S> Layer<S> for TrackLayer {
    type Service = TrackService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TrackService(inner, self.0.clone())
    }
}

/// See [`TrackLayer`].
#[derive(Debug, Clone)]
pub struct TrackService<S>(S, Arc<crate::conn::Activity>);

impl<S> Service<Request<Incoming>> for TrackService<S>
where
    S: Service<Request<Incoming>, Response = Response<ProxyBody>> + Send,
    S::Future: Send + 'static,
{
    type Response = Response<ProxyBody>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Incoming>) -> Self::Future {
        // In flight from here; if the future is dropped first, the guard goes with it.
        let guard = self.1.request();
        req.extensions_mut().insert(guard.send_timed_out());
        let fut = self.0.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(resp.map(|b| {
                http_body_util::BodyExt::boxed_unsync(crate::conn::Tracked::new(b, guard))
            }))
        })
    }
}

/// Layer 1: the request id.
#[derive(Debug, Clone, Copy)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService(inner)
    }
}

/// See [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub struct RequestIdService<S>(S);

impl<S> Service<Request<Incoming>> for RequestIdService<S>
where
    S: Service<Request<Incoming>, Response = Response<ProxyBody>> + Send,
    S::Future: Send + 'static,
{
    type Response = Response<ProxyBody>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Incoming>) -> Self::Future {
        let id: Arc<str> = crate::tracecontext::request_id().into();
        req.extensions_mut().insert(RequestId(id.clone()));
        let chunked = req.version() == http::Version::HTTP_11
            && req.headers().contains_key(header::TRANSFER_ENCODING);
        let fut = self.0.call(req);
        Box::pin(async move {
            let mut resp = fut.await?;
            if let Ok(v) = HeaderValue::from_str(&id) {
                resp.headers_mut().insert(crate::headers::X_REQUEST_ID, v);
            }
            if chunked {
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(resp)
        })
    }
}

/// Layer 2: the span, the refusal log line, and the request metrics.
#[derive(Debug, Clone)]
pub struct TraceLayer {
    metrics: crate::metrics::Metrics,
    telemetry: Option<Arc<crate::telemetry::Telemetry>>,
    kind: &'static str,
}

impl<S> Layer<S> for TraceLayer {
    type Service = TraceService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TraceService(inner, self.clone())
    }
}

/// See [`TraceLayer`].
#[derive(Debug, Clone)]
pub struct TraceService<S>(S, TraceLayer);

impl<S> Service<Request<Incoming>> for TraceService<S>
where
    S: Service<Request<Incoming>, Response = Response<ProxyBody>> + Send,
    S::Future: Send + 'static,
{
    type Response = Response<ProxyBody>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Incoming>) -> Self::Future {
        use tracing::Instrument;
        let id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_else(|| "".into());
        let span = tracing::info_span!("request", request.id = %id, http.request.method = %req.method(), trace_id = tracing::field::Empty);
        // The caller's trace (W3C traceparent) or a new one; the OTLP server span joins it.
        let (trace, parent) = crate::tracecontext::TraceId::with_parent(req.headers());
        let otel = self.1.telemetry.as_ref().and_then(|t| {
            let s = t.server_span(&trace.0, parent.as_ref(), req.method())?;
            s.request(&id, req.version());
            Some(s)
        });
        req.extensions_mut().insert(trace);
        if let Some(s) = &otel {
            req.extensions_mut().insert(s.clone());
        }
        let fut = self.0.call(req);
        let TraceLayer { metrics, kind, .. } = self.1.clone();
        let started = std::time::Instant::now();
        Box::pin(
            async move {
                let resp = fut.await?;
                let exemplar = otel.as_ref().and_then(|s| s.sampled_trace());
                metrics.request(kind, resp.status().as_u16(), started.elapsed(), exemplar);
                if let Some(s) = &otel {
                    let refused = resp.extensions().get::<crate::errors::Refused>();
                    s.answered(resp.status(), refused.map(|r| r.0));
                }
                if let Some(reason) = resp.extensions().get::<crate::errors::Refused>() {
                    metrics.rejection(reason.0);
                    tracing::info!(
                        status = resp.status().as_u16(),
                        reason = reason.0,
                        "refused"
                    );
                }
                Ok(resp)
            }
            .instrument(span),
        )
    }
}

/// Layer 3: failures to responses.
#[derive(Debug, Clone, Copy)]
pub struct RefusalLayer;

impl<S> Layer<S> for RefusalLayer {
    type Service = RefusalService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RefusalService(inner)
    }
}

/// See [`RefusalLayer`].
#[derive(Debug, Clone)]
pub struct RefusalService<S>(S);

impl<S> Service<Request<Incoming>> for RefusalService<S>
where
    S: Service<Request<Incoming>, Response = Response<ProxyBody>, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<ProxyBody>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, std::convert::Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is decided below by load shedding, which never waits.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_else(|| "".into());
        // Clone, then wait for readiness on the clone (tower's usual pattern).
        let mut inner = self.0.clone();
        Box::pin(async move {
            let result = match std::future::poll_fn(|cx| inner.poll_ready(cx)).await {
                Ok(()) => inner.call(req).await,
                Err(e) => Err(e),
            };
            Ok(result.unwrap_or_else(|e| error_response(&classify(&e), &id)))
        })
    }
}

/// Layer 7: the proxy itself.
#[derive(Debug, Clone)]
pub struct ProxyService {
    shared: Arc<Shared>,
    conn: Arc<ConnInfo>,
}

impl Service<Request<Incoming>> for ProxyService {
    type Response = Response<ProxyBody>;
    type Error = BoxError;
    type Future = BoxFuture<Self::Response, BoxError>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let (shared, conn) = (self.shared.clone(), self.conn.clone());
        Box::pin(async move {
            let id = req
                .extensions()
                .get::<RequestId>()
                .map(|r| r.0.clone())
                .unwrap_or_else(|| "".into());
            crate::service::route(&shared, &conn, req, id)
                .await
                .map_err(|r| Box::new(r) as BoxError)
        })
    }
}
