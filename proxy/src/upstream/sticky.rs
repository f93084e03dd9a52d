//! An HTTP/1.1 client connection — a partner's, or the institution's on an internal listener —
//! keeps its own HTTP/1.1 connection to each upstream it uses.
//!
//! An HTTP/1.1 connection carries one request at a time, so the upstream connection that served
//! its last request is free again when the next one arrives (its response body ended before
//! hyper read the next request head). Reusing it directly skips what a shared pool costs per
//! request: the pool's lock and bookkeeping, the URI-keyed checkout, and the task the pool spawns
//! after every HTTP/1.1 response to learn when the connection is idle again. It is nginx's model
//! too (a keep-alive upstream connection per busy worker connection), and it costs no more
//! connections than the pool under the same load: the pool holds one per request in flight.
//!
//! Rules, so that reuse never changes what is sent or where:
//! - A connection is reused only for the same upstream (the same [`UpstreamClient`]), only when
//!   hyper reports it ready (idle, open), and only if it was last used within the upstream's
//!   `idle_timeout`; otherwise it is dropped (closed) and a new one opened.
//! - A held connection idle past its upstream's `idle_timeout` is closed even when no request
//!   comes: the client connection's watchdog calls [`Slot::expire`] on every tick (at most a
//!   second apart), so a partner connection left open and idle does not hold one of the
//!   institution's connections for as long as the partner keeps it.
//! - A request the upstream never received — the connection closed just before it was written —
//!   is sent once more on a new connection (as the pool retries it); a request that was written
//!   is never resent.
//! - HTTP/2 client connections multiplex requests and keep using the shared pool
//!   ([`super::UpstreamClient::send`]).
//!
//! The upstream connection is HTTP/1.1 whatever the upstream offers (ALPN `http/1.1` only), with
//! the request in origin form and `Host` from the upstream's URL, as the pool sends it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use http::{Request, Response, header};
use hyper::body::Incoming;
use hyper::client::conn::http1;

use super::UpstreamClient;
use crate::body::ProxyBody;
use crate::errors::Reason;

/// The upstream connections of one client connection: one per request it has in flight to an
/// upstream (HTTP/1.1: at most one), kept for its next requests.
#[derive(Debug, Default)]
pub struct Slot(Mutex<Vec<Held>>);

#[derive(Debug)]
struct Held {
    upstream: Arc<UpstreamClient>,
    sender: http1::SendRequest<ProxyBody>,
    last_used: Instant,
}

impl Held {
    /// Worth keeping: open, and either busy or last used within its upstream's `idle_timeout`.
    fn keep(&self) -> bool {
        !self.sender.is_closed()
            && (!self.sender.is_ready()
                || self.last_used.elapsed() < self.upstream.cfg.idle_timeout)
    }
}

impl Slot {
    /// Closes (drops) the held connections that are closed already or idle past their
    /// upstream's `idle_timeout`; busy ones stay.
    pub fn expire(&self) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(Held::keep);
    }

    /// An idle connection to this upstream, if there is one. Closed ones, and idle ones unused
    /// for longer than their upstream's `idle_timeout`, are dropped on the way; busy ones stay.
    fn take(&self, upstream: &Arc<UpstreamClient>) -> Option<http1::SendRequest<ProxyBody>> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        held.retain(Held::keep);
        let i = held
            .iter()
            .position(|h| Arc::ptr_eq(&h.upstream, upstream) && h.sender.is_ready())?;
        Some(held.swap_remove(i).sender)
    }

    /// Keeps a connection, busy with the response just received, for a later request.
    fn put(&self, upstream: &Arc<UpstreamClient>, sender: http1::SendRequest<ProxyBody>) {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        held.push(Held {
            upstream: upstream.clone(),
            sender,
            last_used: Instant::now(),
        });
    }
}

/// Sends `req` on the slot's connection to `upstream`, or on a new one.
pub(super) async fn send(
    upstream: &Arc<UpstreamClient>,
    slot: &Slot,
    mut req: Request<ProxyBody>,
) -> Result<Response<Incoming>, Reason> {
    origin_form(upstream, &mut req);
    if let Some(mut sender) = slot.take(upstream) {
        match sender.try_send_request(req).await {
            Ok(resp) => {
                slot.put(upstream, sender);
                return Ok(resp);
            }
            Err(mut e) => match e.take_message() {
                // Closed before a byte was written: a new connection gets it.
                Some(unsent) => req = unsent,
                None => return Err(Reason::UpstreamProtocol),
            },
        }
    }
    let mut sender = connect(upstream).await?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|_| Reason::UpstreamProtocol)?;
    slot.put(upstream, sender);
    Ok(resp)
}

/// The request target in origin form and `Host` from the upstream's URL (RFC 9112 §3.2).
fn origin_form(upstream: &UpstreamClient, req: &mut Request<ProxyBody>) {
    if let Some(pq) = req.uri().path_and_query().cloned() {
        *req.uri_mut() = pq.into();
    }
    req.headers_mut()
        .entry(header::HOST)
        .or_insert_with(|| upstream.host.clone());
}

/// A new HTTP/1.1 connection to the upstream (TCP, then TLS for `https`), its driver spawned.
async fn connect(upstream: &UpstreamClient) -> Result<http1::SendRequest<ProxyBody>, Reason> {
    let mut connector = upstream.h1_connector.clone();
    let io = tower::Service::call(&mut connector, upstream.cfg.base.clone())
        .await
        .map_err(|_| Reason::UpstreamUnavailable)?;
    let (sender, conn) = http1::handshake(io)
        .await
        .map_err(|_| Reason::UpstreamUnavailable)?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "upstream connection ended");
        }
    });
    Ok(sender)
}
