//! `sluice-load`: the load generator of the bench harness.
//!
//! A hyper client over rustls that presents a client certificate (mutual TLS), speaks HTTP/1.1
//! or HTTP/2 (several streams per connection), keeps connections alive or opens a new one for
//! every request (to measure handshakes), and runs in one of two modes:
//!
//! - **closed loop**: each worker sends its next request as soon as the previous one finished —
//!   the maximum throughput;
//! - **open loop** at a fixed rate: the rate is split over the workers and each worker sends on a
//!   fixed schedule; latency is measured from the *scheduled* time, so a server that stalls pays
//!   for every request it delayed, not only for the one it held (no coordinated omission).
//!
//! A run ends at its duration or its request count, whichever comes first.

pub mod conn;
pub mod report;
pub mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use rustls_pki_types::ServerName;

pub use report::Report;
pub use tls::TlsFiles;

use conn::{Failure, Sender};
use tls::Endpoint;

/// The HTTP version under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1.
    Http1,
    /// HTTP/2 (over TLS with ALPN `h2`, or prior knowledge over plain TCP).
    Http2,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    /// `http://` or `https://` URL of the target.
    pub url: http::Uri,
    /// HTTP version.
    pub protocol: Protocol,
    /// Concurrent connections.
    pub connections: usize,
    /// Concurrent streams per connection (HTTP/2 only; HTTP/1.1 always uses 1).
    pub streams: usize,
    /// Open a new connection (TCP + TLS handshake) for every request.
    pub new_connection_per_request: bool,
    /// Open loop at this many requests per second in total; `None` is closed loop.
    pub rate: Option<f64>,
    /// How long to run.
    pub duration: Duration,
    /// Stop after this many requests (successful or not), if given.
    pub count: Option<u64>,
    /// CA and client certificate for `https://`.
    pub tls: Option<TlsFiles>,
    /// Request method.
    pub method: http::Method,
    /// Request body (empty for GET).
    pub body: Bytes,
    /// Extra request headers.
    pub headers: http::HeaderMap,
    /// Print a progress line to stderr every second.
    pub progress: bool,
}

/// Counters the progress line reads while the run goes on.
#[derive(Debug, Default)]
struct Live {
    sent: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
}

/// Runs `spec` and returns what it measured.
pub async fn run(spec: Spec) -> Result<Report, String> {
    let endpoint = endpoint(&spec)?;
    let workers_per_connection = match spec.protocol {
        Protocol::Http1 => 1,
        Protocol::Http2 => spec.streams.max(1),
    };
    let workers = spec.connections.max(1) * workers_per_connection;
    let spec = Arc::new(spec);
    let live = Arc::new(Live::default());
    let start = Instant::now();
    let deadline = start + spec.duration;

    let progress = spec.progress.then(|| {
        let live = live.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                let secs = start.elapsed().as_secs_f64();
                let ok = live.ok.load(Ordering::Relaxed);
                eprint!(
                    "\r{:>5.0} s  {:>9} ok  {:>7} failed  {:>9.0} req/s   ",
                    secs,
                    ok,
                    live.failed.load(Ordering::Relaxed),
                    ok as f64 / secs
                );
            }
        })
    });

    let mut tasks = Vec::with_capacity(workers);
    for connection in 0..spec.connections.max(1) {
        // The streams of one HTTP/2 connection share its sender; each HTTP/1.1 worker owns one.
        let mut shared = if spec.new_connection_per_request {
            None
        } else {
            conn::open(&endpoint, spec.protocol).await.ok()
        };
        for stream in 0..workers_per_connection {
            let index = connection * workers_per_connection + stream;
            let opened_shared = shared.is_some() && stream == 0;
            let sender = if stream + 1 == workers_per_connection {
                shared.take()
            } else {
                shared.as_ref().and_then(Sender::share)
            };
            let worker = Worker {
                spec: spec.clone(),
                endpoint: endpoint.clone(),
                live: live.clone(),
                sender,
                opened_shared,
                first_send: spec
                    .rate
                    .map(|rate| start + Duration::from_secs_f64(index as f64 / rate)),
                interval: spec
                    .rate
                    .map(|rate| Duration::from_secs_f64(workers as f64 / rate)),
                deadline,
            };
            tasks.push(tokio::spawn(worker.run()));
        }
    }
    let mut report = Report::default();
    for task in tasks {
        report.merge(&task.await.map_err(|e| format!("a worker failed: {e}"))?);
    }
    report.elapsed = start.elapsed();
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    Ok(report)
}

fn endpoint(spec: &Spec) -> Result<Endpoint, String> {
    endpoint_for(&spec.url, spec.tls.as_ref(), spec.protocol)
}

/// Where to connect for `url`: its host and port, with TLS (`files`' client certificate, ALPN
/// for `protocol`) for an `https://` URL.
pub fn endpoint_for(
    url: &http::Uri,
    files: Option<&TlsFiles>,
    protocol: Protocol,
) -> Result<Endpoint, String> {
    let host = url
        .host()
        .ok_or_else(|| format!("{url}: no host"))?
        .to_string();
    let https = match url.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("{url}: the scheme must be http or https")),
    };
    let port = url.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tls = if https {
        let files = files.ok_or_else(|| "an https URL needs --ca".to_string())?;
        let name = ServerName::try_from(host.clone()).map_err(|e| format!("{host}: {e}"))?;
        Some((tls::client_config(files, protocol)?, name))
    } else {
        None
    };
    Ok(Endpoint {
        address: format!("{host}:{port}"),
        tls,
    })
}

/// One request loop: a connection's HTTP/1.1 client or one stream of an HTTP/2 connection.
struct Worker {
    spec: Arc<Spec>,
    endpoint: Endpoint,
    live: Arc<Live>,
    sender: Option<Sender>,
    /// This worker counts the shared connection opened for it before the run.
    opened_shared: bool,
    /// Open loop: when the first request is due, and the interval between requests.
    first_send: Option<Instant>,
    interval: Option<Duration>,
    deadline: Instant,
}

impl Worker {
    async fn run(mut self) -> Report {
        let mut report = Report {
            connections: u64::from(self.opened_shared),
            ..Report::default()
        };
        let mut due = self.first_send;
        loop {
            let scheduled = match due {
                Some(at) => {
                    if at >= self.deadline {
                        break;
                    }
                    tokio::time::sleep_until(at.into()).await;
                    at
                }
                None => Instant::now(),
            };
            if scheduled >= self.deadline {
                break;
            }
            if let Some(limit) = self.spec.count
                && self.live.sent.fetch_add(1, Ordering::Relaxed) >= limit
            {
                break;
            }
            match self.once(&mut report).await {
                Ok(bytes) => {
                    report.requests += 1;
                    report.bytes += bytes;
                    let micros = scheduled.elapsed().as_micros().max(1) as u64;
                    report.latency.saturating_record(micros);
                    self.live.ok.fetch_add(1, Ordering::Relaxed);
                }
                Err(failure) => {
                    *report.errors.entry(failure.label()).or_default() += 1;
                    self.live.failed.fetch_add(1, Ordering::Relaxed);
                    if matches!(
                        failure,
                        Failure::Connect | Failure::Tls | Failure::Handshake
                    ) && due.is_none()
                    {
                        // Closed loop against a refusing server: do not spin.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            if let (Some(at), Some(step)) = (due, self.interval) {
                due = Some(at + step);
            }
        }
        report
    }

    async fn once(&mut self, report: &mut Report) -> Result<u64, Failure> {
        let reuse = !self.spec.new_connection_per_request;
        let mut sender = match self.sender.take() {
            Some(s) if reuse && !s.is_closed() => s,
            _ => {
                report.connections += 1;
                conn::open(&self.endpoint, self.spec.protocol).await?
            }
        };
        let result = sender.exchange(self.request()).await;
        if reuse && result.is_ok() {
            self.sender = Some(sender);
        }
        result
    }

    fn request(&self) -> http::Request<Full<Bytes>> {
        let spec = &self.spec;
        let uri = match spec.protocol {
            // HTTP/2 carries scheme and authority as pseudo-headers.
            Protocol::Http2 => spec.url.clone(),
            Protocol::Http1 => spec
                .url
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
                .parse()
                .expect("a path taken from a valid URI"),
        };
        let mut request = http::Request::builder()
            .method(spec.method.clone())
            .uri(uri)
            .body(Full::new(spec.body.clone()))
            .expect("a request from a valid method and URI");
        *request.headers_mut() = spec.headers.clone();
        if spec.protocol == Protocol::Http1
            && let Some(authority) = spec.url.authority()
        {
            request.headers_mut().insert(
                http::header::HOST,
                http::HeaderValue::from_str(authority.as_str()).expect("a valid authority"),
            );
        }
        request
    }
}
