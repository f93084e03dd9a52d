//! `sluice-load`: load-test an HTTP(S) endpoint — sluice, a peer proxy or the API behind them —
//! with mutual TLS, HTTP/1.1 or HTTP/2, closed or open loop. See `bench/README.md`.
//!
//! ```text
//! sluice-load https://localhost:8443/feed --ca ca.pem --cert partner.pem --key partner.key \
//!     --http2 --connections 4 --streams 8 --duration 10s [--rate 5000] [--json]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use sluice_bench::load::{self, Protocol, Spec, TlsFiles};

#[derive(Debug, Parser)]
#[command(
    name = "sluice-load",
    about = "Load-test an HTTP(S) endpoint with mutual TLS"
)]
struct Args {
    /// Target URL (http:// or https://).
    url: http::Uri,
    /// CA certificate(s) that sign the server certificate (PEM); needed for https.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Client certificate chain (PEM), for mutual TLS.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Speak HTTP/2 (ALPN h2, or prior knowledge over http://).
    #[arg(long)]
    http2: bool,
    /// Concurrent connections.
    #[arg(long, short = 'c', default_value_t = 16)]
    connections: usize,
    /// Concurrent streams per HTTP/2 connection.
    #[arg(long, default_value_t = 1)]
    streams: usize,
    /// Open a new connection (and TLS handshake) for every request.
    #[arg(long)]
    new_connections: bool,
    /// Open loop at this many requests per second (latency from the scheduled send time).
    #[arg(long)]
    rate: Option<f64>,
    /// How long to run: `30s`, `2m`, `500ms`, or seconds.
    #[arg(long, short = 'd', default_value = "10s", value_parser = duration)]
    duration: Duration,
    /// Stop after this many requests.
    #[arg(long, short = 'n')]
    count: Option<u64>,
    /// Request method.
    #[arg(long, short = 'X', default_value = "GET")]
    method: http::Method,
    /// Send this file as the request body.
    #[arg(long)]
    body: Option<PathBuf>,
    /// Extra request header, `name: value` (repeatable).
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
    /// Print the report as JSON on stdout (the summary goes to stderr).
    #[arg(long)]
    json: bool,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

fn duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a duration such as 30s, 2m or 500ms"))?;
    let seconds = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("{text:?}: the unit must be ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut headers = http::HeaderMap::new();
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            eprintln!("--header {h:?}: expected `name: value`");
            return ExitCode::from(2);
        };
        match (
            http::HeaderName::from_bytes(name.trim().as_bytes()),
            http::HeaderValue::from_str(value.trim()),
        ) {
            (Ok(n), Ok(v)) => {
                headers.append(n, v);
            }
            _ => {
                eprintln!("--header {h:?}: not a valid header");
                return ExitCode::from(2);
            }
        }
    }
    let body = match &args.body {
        Some(p) => match std::fs::read(p) {
            Ok(b) => b.into(),
            Err(e) => {
                eprintln!("--body {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
        None => bytes::Bytes::new(),
    };
    let spec = Spec {
        url: args.url.clone(),
        protocol: if args.http2 {
            Protocol::Http2
        } else {
            Protocol::Http1
        },
        connections: args.connections,
        streams: args.streams,
        new_connection_per_request: args.new_connections,
        rate: args.rate,
        duration: args.duration,
        count: args.count,
        tls: args.ca.clone().map(|ca| TlsFiles {
            ca,
            cert: args.cert.clone(),
            key: args.key.clone(),
        }),
        method: args.method.clone(),
        body,
        headers,
        progress: !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(load::run(spec)) {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
                eprint!("{}", report.summary());
            } else {
                print!("{}", report.summary());
            }
            if report.requests == 0 {
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sluice-load: {e}");
            ExitCode::from(2)
        }
    }
}
