//! Listeners: accept, TLS handshake (a fresh config per connection, so reloads apply to new
//! handshakes only), HTTP/1.1 or HTTP/2 by ALPN, and graceful drain on shutdown.
//!
//! The request path, outermost first — one line per stage, each with why it sits there:
//! 1. the listener's connection cap (a semaphore per listener): shed load before spending a
//!    handshake on it, without one listener's clients starving another's;
//! 2. TLS handshake with a deadline (`header_read_timeout`): the partner is its certificate;
//! 3. the partner's connection cap ([`crate::conn::Registry`]): one partner cannot hold every
//!    connection;
//! 4. hyper's HTTP/1.1 or HTTP/2 codec (chosen by ALPN alone) with head-size, head-read-time and
//!    stream limits, under the connection's watchdog ([`crate::conn::drive`]: idle, age, send
//!    deadline, reload);
//! 5. the request path of [`crate::stack`]: request id, span, refusals, load shedding, deadline,
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
        // The last spans and a final metrics export go out before the instance ends.
        if let Some(t) = &self.shared.telemetry {
            t.flush().await;
        }
    }
}

/// Every listening socket of a configuration, bound and not yet served.
#[derive(Debug)]
pub struct Bound {
    listeners: Vec<(TcpListener, SocketAddr)>,
    admin: Option<TcpListener>,
}

/// Binds every listener and the admin listener. `sluice run` binds before it opens the ledger,
/// so that a port in use stops start-up before this instance records anything.
pub async fn bind(config: &crate::config::Config) -> Result<Bound, StartError> {
    let mut listeners = Vec::new();
    for l in &config.listeners {
        let listener = TcpListener::bind(l.address)
            .await
            .map_err(|e| StartError::Io(format!("listener {:?} on {}: {e}", l.name, l.address)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Io(e.to_string()))?;
        listeners.push((listener, addr));
    }
    let admin = match config.admin {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| StartError::Io(format!("admin listener on {addr}: {e}")))?,
        ),
        None => None,
    };
    Ok(Bound { listeners, admin })
}

/// Binds every listener and starts serving.
pub async fn start(shared: Arc<Shared>) -> Result<Running, StartError> {
    let bound = bind(&shared.config).await?;
    serve_bound(shared, bound)
}

/// Starts serving on sockets from [`bind`].
pub fn serve_bound(shared: Arc<Shared>, bound: Bound) -> Result<Running, StartError> {
    let (stop, stopped) = watch::channel(false);
    if let Some(t) = &shared.telemetry {
        // The exporter gets what it reads, not the whole state.
        let weak = Arc::downgrade(&shared);
        t.start(
            &shared.metrics,
            Box::new(move || {
                let shared = weak.upgrade()?;
                Some(crate::admin::gauges(&shared))
            }),
        )
        .map_err(|e| StartError::Telemetry(e.to_string()))?;
    }
    let in_flight = Arc::new(Semaphore::new(shared.config.limits.max_in_flight));
    let mut addrs = Vec::new();
    let mut tasks = Vec::new();
    if let (Some(status), Some(ledger), Some(store)) =
        (&shared.shipper, &shared.ledger, &shared.config.ledger.store)
    {
        let opts = crate::evidence::ship::ShipOptions {
            store: store.settings.clone(),
            dir: ledger.dir().to_path_buf(),
            origin: ledger.origin().to_string(),
            public: ledger.public_key().to_vec(),
            batch: store.batch,
        };
        let weak = Arc::downgrade(ledger);
        let durable = move || weak.upgrade().map_or(0, |l| l.durable_entries());
        tasks.push(tokio::spawn(crate::evidence::ship::run(
            opts,
            status.clone(),
            durable,
            stopped.clone(),
        )));
    }
    for (i, (listener, addr)) in bound.listeners.into_iter().enumerate() {
        let l = &shared.config.listeners[i];
        tracing::info!(listener = %l.name, address = %addr, "listening");
        addrs.push((l.name.clone(), addr));
        // Each listener has its own connection cap: partners cannot starve the internal one.
        let connections = Arc::new(Semaphore::new(shared.config.limits.max_connections));
        let handshakes =
            crate::conn::Handshakes::new(shared.config.limits.max_handshakes_per_source);
        tasks.push(tokio::spawn(accept_loop(
            listener,
            i,
            shared.clone(),
            (connections, handshakes),
            in_flight.clone(),
            stopped.clone(),
        )));
    }
    let mut admin_task = None;
    if let Some(listener) = bound.admin {
        let (bound, task) = crate::admin::start(shared.clone(), listener)
            .map_err(|e| StartError::Io(format!("admin listener: {e}")))?;
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

/// hyper's HTTP/1.1 and HTTP/2 servers with the configured limits. ALPN decides which one a
/// connection gets: a connection that negotiated `http/1.1` (or nothing) is served HTTP/1.1
/// only, so an HTTP/2 preface on it is refused rather than served past the HTTP/1.1 framing
/// checks.
struct Codecs {
    h1: auto::Builder<TokioExecutor>,
    h2: auto::Builder<TokioExecutor>,
}

impl Codecs {
    fn new(limits: &crate::config::Limits) -> Self {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            // The head deadline is the watchdog's (`conn::drive`): hyper's would also run
            // between requests, closing idle keep-alive connections long before `idle_timeout`.
            .header_read_timeout(None)
            .max_buf_size(limits.max_header_bytes);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.max_streams_per_connection)
            // The same head limit as HTTP/1.1's, counted as RFC 9113 counts a header list
            // (name + value + 32 per field); hyper's own default was a fixed 16 KiB.
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
        Self {
            h1: builder.clone().http1_only(),
            h2: builder.http2_only(),
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    index: usize,
    shared: Arc<Shared>,
    (connections, handshakes): (Arc<Semaphore>, crate::conn::Handshakes),
    in_flight: Arc<Semaphore>,
    mut stopped: watch::Receiver<bool>,
) {
    let codecs = Arc::new(Codecs::new(&shared.config.limits));
    let mut open = tokio::task::JoinSet::new();
    loop {
        while open.try_join_next().is_some() {}
        let (tcp, source) = tokio::select! {
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
            tracing::warn!(
                listener = index,
                "connection limit of the listener reached; connection closed"
            );
            shared.metrics.connection_refused("listener_limit");
            continue;
        };
        let Some(pending) = handshakes.begin(source.ip()) else {
            tracing::warn!(
                listener = index,
                "handshakes in progress from one source reached their limit; connection closed"
            );
            shared.metrics.connection_refused("source_limit");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        open.spawn(serve(
            tcp,
            (permit, pending),
            index,
            shared.clone(),
            in_flight.clone(),
            codecs.clone(),
            stopped.clone(),
        ));
    }
    drop(listener);
    // Each connection closes gracefully now and is dropped `drain_timeout` later.
    shared
        .connections
        .close_all(crate::conn::CloseReason::Shutdown);
    let drain = shared.config.limits.drain_timeout + std::time::Duration::from_millis(100);
    let all = async { while open.join_next().await.is_some() {} };
    if tokio::time::timeout(drain, all).await.is_err() {
        tracing::warn!("drain timeout: connections still open were closed");
        open.abort_all();
    }
}

/// One connection: handshake, per-partner admission, then hyper under the watchdog.
async fn serve(
    tcp: tokio::net::TcpStream,
    (permit, pending): (tokio::sync::OwnedSemaphorePermit, crate::conn::Pending),
    index: usize,
    shared: Arc<Shared>,
    in_flight: Arc<Semaphore>,
    codecs: Arc<Codecs>,
    stopped: watch::Receiver<bool>,
) {
    let _permit = permit;
    let limits = shared.config.limits.clone();
    let kind = shared.config.listeners[index].kind;
    let acceptor = tokio_rustls::TlsAcceptor::from(shared.tls[index].config());
    let stream = match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(tcp)).await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::info!(error = %e, "TLS handshake refused");
            return;
        }
        Err(_) => return,
    };
    // The handshake is over: its source may start another.
    drop(pending);
    let peer = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|der| sluice_certs::PeerIdentity::from_leaf(der).ok());
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    let codec = if h2 { &codecs.h2 } else { &codecs.h1 };
    let activity = Arc::new(crate::conn::Activity::default());
    // Counted under its partner (or its key, when it names none) against the partner cap.
    let counted_as = peer.as_ref().map(|p| {
        crate::identity::partner_of(&shared.policy().policy, p).map_or_else(
            |_| format!("spki:{}", p.spki_hex()),
            |partner| partner.id.clone(),
        )
    });
    let registration = shared.connections.admit(
        index,
        peer.clone(),
        counted_as,
        &activity,
        limits.max_connections_per_partner,
    );
    let Ok(_registration) = registration else {
        tracing::warn!(
            listener = index,
            "connection limit of the partner reached; connection refused"
        );
        shared.metrics.connection_refused("partner_limit");
        let refuse = hyper::service::service_fn(|_req| async {
            let mut resp = crate::errors::error_response(
                &crate::errors::Reason::ConnectionLimit,
                &crate::tracecontext::request_id(),
            );
            resp.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
            Ok::<_, std::convert::Infallible>(resp)
        });
        let connection = codec.serve_connection(TokioIo::new(stream), refuse);
        let _ = tokio::time::timeout(limits.header_read_timeout, connection).await;
        return;
    };
    // HTTP/1.1 connections get framing verdicts from the raw bytes (framing.rs).
    let verdicts = (!h2).then(crate::framing::Verdicts::default);
    let conn = Arc::new(ConnInfo {
        kind,
        listener: index,
        peer,
        upstreams: verdicts.as_ref().map(|_| Default::default()),
        verdicts: verdicts.clone(),
        activity: activity.clone(),
    });
    let held = conn.clone();
    let svc = crate::stack::stack(shared.clone(), conn, in_flight);
    let max_head = limits.max_header_bytes;
    // An HTTP/1.1 connection owes its first request head from now.
    let heads = verdicts.is_some().then(|| activity.clone());
    if let Some(a) = &heads {
        a.head_started();
    }
    let io = crate::framing::SniffedIo::new(stream, verdicts.unwrap_or_default(), max_head, heads);
    let connection = codec.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(connection);
    let lifetimes = crate::conn::Lifetimes {
        idle: limits.idle_timeout,
        max_age: limits.max_connection_age,
        send: limits.send_timeout,
        head: limits.header_read_timeout,
        grace: limits.drain_timeout,
    };
    let ended = crate::conn::drive(
        connection,
        |c| c.graceful_shutdown(),
        || {
            if let Some(upstreams) = &held.upstreams {
                upstreams.expire();
            }
        },
        &activity,
        lifetimes,
        stopped,
    )
    .await;
    let reason = match ended {
        crate::conn::drive::Ended::Finished(None) => return,
        crate::conn::drive::Ended::Finished(Some(r)) | crate::conn::drive::Ended::Dropped(r) => r,
    };
    tracing::info!(
        listener = index,
        reason = reason.as_str(),
        "connection closed by sluice"
    );
    shared.metrics.connection_closed(reason.as_str());
}
