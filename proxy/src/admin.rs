//! The admin listener (loopback by default; plain HTTP, so keep it there or behind a network
//! policy): `/livez`, `/readyz` (ready = the ledger can write and no listener certificate has
//! expired), `/metrics` (Prometheus text), and `POST /admin/reload` (policy and certificates:
//! validate, then swap, as SIGHUP does; the answer says what was reloaded or why nothing
//! changed).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::state::Shared;

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

/// Why this instance should not get traffic, if it should not: the ledger cannot write, or a
/// listener's certificate (or a CA it trusts) has expired — partners' handshakes would fail.
fn readiness(shared: &Shared) -> Option<String> {
    if !shared.ledger.as_ref().is_some_and(|l| l.healthy()) {
        return Some("the ledger cannot write".into());
    }
    let now = sluice_certs::inspect::now();
    if let Some(c) = shared
        .tls
        .iter()
        .flat_map(|t| t.crl_deadlines())
        .find(|(_, next_update)| *next_update <= now)
    {
        return Some(format!(
            "{} is stale (past its nextUpdate): every partner handshake fails",
            c.0
        ));
    }
    shared
        .tls
        .iter()
        .flat_map(|t| t.expiries())
        .find(|e| e.not_after <= now)
        .map(|e| format!("{} has expired", e.label))
}

/// How long before a CRL's `nextUpdate` readiness starts warning.
const CRL_WARNING_SECS: i64 = 24 * 3600;

/// Warnings a ready instance still reports on `/readyz` (it stays ready): CRLs whose
/// `nextUpdate` is less than a day away, and an evidence store that lags or refused the log.
fn warnings(shared: &Shared) -> Vec<String> {
    let now = sluice_certs::inspect::now();
    let mut out = store_warnings(shared);
    out.extend(crl_warnings(shared, now));
    out
}

/// The evidence store's lag past its bounds, or its refusal (paths and counts, no values).
fn store_warnings(shared: &Shared) -> Vec<String> {
    let (Some(status), Some(ledger), Some(store)) =
        (&shared.shipper, &shared.ledger, &shared.config.ledger.store)
    else {
        return Vec::new();
    };
    if let Some(why) = status.refused() {
        return vec![format!(
            "warning: the evidence store refused this ledger and shipping stopped: {why}"
        )];
    }
    let (entries, seconds) = status.lag(ledger.durable_entries());
    if entries > store.lag_warn_entries || seconds > store.lag_warn.as_secs_f64() {
        vec![format!(
            "warning: the evidence store is {entries} entries and {seconds:.0} s behind the ledger ({}; the ledger keeps them locally)",
            if status.connected() {
                "shipping"
            } else {
                "not connected"
            }
        )]
    } else {
        Vec::new()
    }
}

fn crl_warnings(shared: &Shared, now: i64) -> Vec<String> {
    shared
        .tls
        .iter()
        .flat_map(|t| t.crl_deadlines())
        .filter(|(_, next_update)| next_update - now < CRL_WARNING_SECS)
        .map(|(label, next_update)| {
            format!(
                "warning: {label} reaches its nextUpdate in {} minutes; install a fresh CRL and reload",
                (next_update - now).max(0) / 60
            )
        })
        .collect()
}

/// Gauges computed at scrape (or export) time.
pub fn gauges(shared: &Shared) -> Vec<crate::metrics::Gauge> {
    let mut gauges = Vec::new();
    let healthy = shared.ledger.as_ref().is_some_and(|l| l.healthy());
    gauges.push((
        "sluice_ledger_healthy",
        vec![],
        f64::from(u8::from(healthy)),
    ));
    let now = sluice_certs::inspect::now();
    for (listener, tls) in shared.config.listeners.iter().zip(&shared.tls) {
        for e in tls.expiries() {
            let days = e.days_left_at(now) as f64;
            gauges.push((
                "sluice_certificate_expiry_days",
                vec![
                    ("listener", listener.name.clone()),
                    ("certificate", e.label),
                ],
                days,
            ));
        }
    }
    for (listener, tls) in shared.config.listeners.iter().zip(&shared.tls) {
        for (label, next_update) in tls.crl_deadlines() {
            gauges.push((
                "sluice_crl_next_update_seconds",
                vec![("listener", listener.name.clone()), ("crl", label)],
                (next_update - now) as f64,
            ));
        }
    }
    if let (Some(status), Some(ledger)) = (&shared.shipper, &shared.ledger) {
        let (entries, seconds) = status.lag(ledger.durable_entries());
        gauges.push(("sluice_ledger_store_lag_entries", vec![], entries as f64));
        gauges.push(("sluice_ledger_store_lag_seconds", vec![], seconds));
        let connected = f64::from(u8::from(status.connected()));
        gauges.push(("sluice_ledger_store_connected", vec![], connected));
        let refused = f64::from(u8::from(status.refused().is_some()));
        gauges.push(("sluice_ledger_store_refused", vec![], refused));
    }
    let contracts = shared.policy().policy.contracts.len();
    gauges.push(("sluice_policy_contracts", vec![], contracts as f64));
    gauges
}

fn metrics_text(shared: &Shared) -> String {
    shared.metrics.render(&gauges(shared))
}

/// Whether `req` may use a protected endpoint: no token configured, or the right bearer token.
/// The SHA-256 of the presented token is compared with the configured token's, so the time a
/// comparison takes says nothing about the token itself.
fn authorised(shared: &Shared, req: &Request<hyper::body::Incoming>) -> bool {
    let Some(expected) = &shared.admin_token else {
        return true;
    };
    req.headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .is_some_and(|given| crate::keys::token_digest(given) == *expected)
}

async fn serve(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    // Metrics and reloads need the token when one is configured; probes stay open.
    let path = req.uri().path();
    let protected = path == "/metrics" || path.starts_with("/admin/");
    if protected && !authorised(&shared, &req) {
        let mut r = reply(StatusCode::UNAUTHORIZED, "bearer token required\n");
        r.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"sluice-admin\""),
        );
        return Ok(r);
    }
    Ok(match (req.method(), req.uri().path()) {
        (&Method::POST, "/admin/reload") => {
            // Reloading reads files and may sign a ledger entry: off the async workers.
            let s = shared.clone();
            match tokio::task::spawn_blocking(move || s.reload()).await {
                Ok(Ok(what)) => {
                    tracing::info!(result = %what, "reload (admin)");
                    reply(StatusCode::OK, format!("{what}\n"))
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "reload refused; the current policy and certificates stay");
                    reply(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("reload refused; the current policy and certificates stay:\n{e}\n"),
                    )
                }
                Err(_) => reply(StatusCode::INTERNAL_SERVER_ERROR, "reload failed\n"),
            }
        }
        (_, "/admin/reload") => reply(StatusCode::METHOD_NOT_ALLOWED, "use POST\n"),
        (_, "/metrics") => {
            let mut r = reply(StatusCode::OK, metrics_text(&shared));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            r
        }
        (_, "/livez") => reply(StatusCode::OK, "ok\n"),
        (_, "/readyz") => match readiness(&shared) {
            None => {
                let mut text = String::from("ready\n");
                for w in warnings(&shared) {
                    text.push_str(&w);
                    text.push('\n');
                }
                reply(StatusCode::OK, text)
            }
            Some(why) => reply(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {why}\n"),
            ),
        },
        _ => reply(StatusCode::NOT_FOUND, "not found\n"),
    })
}

/// The most admin connections open at once; past it a new one is closed at once. Probes and
/// scrapes need a handful; the cap keeps a client that opens connection after connection from
/// taking the descriptors the partner listeners need.
pub const MAX_CONNECTIONS: usize = 32;

/// Serves the admin listener (bound by [`crate::server::bind`]); returns its address.
///
/// Each connection is bounded: HTTP/1.1 only, a request head must arrive within
/// `header_read_timeout` (hyper's timer, which also closes a connection idle between requests:
/// scrapers reconnect), and a connection lives at most `idle_timeout` however it is used.
pub fn start(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let bound = listener.local_addr()?;
    let (head, lifetime) = (
        shared.config.limits.header_read_timeout,
        shared.config.limits.idle_timeout,
    );
    let open = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                break;
            };
            let Ok(permit) = open.clone().try_acquire_owned() else {
                tracing::debug!("admin connection refused: {MAX_CONNECTIONS} are open");
                continue;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let svc = hyper::service::service_fn(move |req| serve(shared.clone(), req));
                // HTTP/1.1 only (probes and scrapes speak it): with protocol detection, a
                // connection that sends nothing would wait for its first bytes with no deadline.
                let mut codec =
                    hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).http1_only();
                codec
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(head);
                let connection = codec.serve_connection(TokioIo::new(tcp), svc);
                let _ = tokio::time::timeout(lifetime, connection).await;
            });
        }
    });
    Ok((bound, task))
}
