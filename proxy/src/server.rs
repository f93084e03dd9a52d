//! Listeners: accept, TLS handshake (a fresh config per connection, so reloads apply to new
//! handshakes only), HTTP/1.1 or HTTP/2 by ALPN, and graceful drain on shutdown.
//!
//! The request path, outermost first — one line per stage, each with why it sits there:
//! 1. connection limit (a semaphore): shed load before spending a handshake on it;
//! 2. TLS handshake with a deadline (`header_read_timeout`): the partner is its certificate;
//! 3. hyper's HTTP/1.1 or HTTP/2 codec with head-size, head-read-time and stream limits;
//! 4. the tower stack of [`crate::stack`]: request id, span, refusals, load shedding, deadline,
//!    then framing checks, contract resolution, content checks, the upstream call and body
//!    redaction, in that order.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::service::ConnInfo;
use crate::state::{Shared, StartError};

/// A running proxy.
#[derive(Debug)]
pub struct Running {
    shared: Arc<Shared>,
    addrs: Vec<(String, SocketAddr)>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    admin_task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// The bound address of the listener called `name`.
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.addrs.iter().find(|(n, _)| n == name).map(|(_, a)| *a)
    }

    /// The shared state (for reloads).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops accepting, lets requests in flight finish (up to the drain timeout), and returns.
    pub async fn shutdown(self) {
        if let Some(t) = &self.admin_task {
            t.abort();
        }
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Binds every listener and starts serving.
pub async fn start(shared: Arc<Shared>) -> Result<Running, StartError> {
    let (stop, stopped) = watch::channel(false);
    if let Some(t) = &shared.telemetry {
        t.spawn(Arc::downgrade(&shared));
    }
    let connections = Arc::new(Semaphore::new(shared.config.limits.max_connections));
    let in_flight = Arc::new(Semaphore::new(shared.config.limits.max_in_flight));
    let mut addrs = Vec::new();
    let mut tasks = Vec::new();
    for (i, l) in shared.config.listeners.iter().enumerate() {
        let listener = TcpListener::bind(l.address)
            .await
            .map_err(|e| StartError::Io(format!("listener {:?} on {}: {e}", l.name, l.address)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Io(e.to_string()))?;
        tracing::info!(listener = %l.name, address = %addr, "listening");
        addrs.push((l.name.clone(), addr));
        tasks.push(tokio::spawn(accept_loop(
            listener,
            i,
            shared.clone(),
            connections.clone(),
            in_flight.clone(),
            stopped.clone(),
        )));
    }
    let mut admin_task = None;
    if let Some(addr) = shared.config.admin {
        let (bound, task) = crate::admin::start(shared.clone(), addr)
            .await
            .map_err(|e| StartError::Io(format!("admin listener on {addr}: {e}")))?;
        tracing::info!(listener = "admin", address = %bound, "listening");
        addrs.push(("admin".to_string(), bound));
        admin_task = Some(task);
    }
    Ok(Running {
        shared,
        addrs,
        stop,
        tasks,
        admin_task,
    })
}

async fn accept_loop(
    listener: TcpListener,
    index: usize,
    shared: Arc<Shared>,
    connections: Arc<Semaphore>,
    in_flight: Arc<Semaphore>,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let kind = shared.config.listeners[index].kind;
    let limits = shared.config.limits.clone();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_streams_per_connection);
    let builder = Arc::new(builder);
    loop {
        let (tcp, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!("connection limit reached; connection dropped");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let tls = shared.tls[index].config();
        let shared = shared.clone();
        let in_flight = in_flight.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let handshake_timeout = limits.header_read_timeout;
        let max_head = limits.max_header_bytes.max(8192);
        tokio::spawn(async move {
            let _permit = permit;
            let acceptor = tokio_rustls::TlsAcceptor::from(tls);
            let stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::info!(error = %e, "TLS handshake refused");
                    return;
                }
                Err(_) => return,
            };
            let peer = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|der| sluice_certs::PeerIdentity::from_leaf(der).ok());
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            // HTTP/1.1 connections get framing verdicts from the raw bytes (framing.rs).
            let verdicts = (!h2).then(crate::framing::Verdicts::default);
            let conn = Arc::new(ConnInfo {
                kind,
                peer,
                verdicts: verdicts.clone(),
            });
            let svc = hyper_util::service::TowerToHyperService::new(crate::stack::stack(
                shared, conn, in_flight,
            ));
            let io = crate::framing::SniffedIo::new(stream, verdicts.unwrap_or_default(), max_head);
            let connection = builder.serve_connection(TokioIo::new(io), svc).into_owned();
            let _ = watcher.watch(connection).await;
        });
    }
    drop(listener);
    let drain = limits.drain_timeout;
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("drain timeout: connections still open were closed");
    }
}
