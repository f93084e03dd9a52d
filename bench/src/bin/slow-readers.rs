//! `slow-readers`: how much memory a proxy holds for responses its clients do not read.
//!
//! A partner that asks for large responses and then reads none of them makes the proxy hold,
//! for each, whatever it buffered before the partner's window closed — until `send_timeout`
//! ends them. This bench opens `--streams` such responses (a long NDJSON stream each) over
//! `--connections` HTTP/2 connections whose flow-control windows are never opened past their
//! initial 64 KiB (or, with `--http1`, over as many HTTP/1.1 connections whose sockets are never
//! read), waits `--hold` seconds, and reports the proxy's resident memory before, while they
//! are held, and after they are dropped: the difference ÷ the streams is what one unread
//! response costs. Every target is measured in the same run, in front of the same mock.
//!
//! ```text
//! slow-readers [--streams 1000] [--connections 10] [--http1] [--hold 5]
//!              [--targets nginx,sluice-reference] [--sluice target/release/sluice]
//!              [--candidate /tmp/other/sluice] [--proxy-core 0]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sluice_bench::load::Protocol;
use sluice_bench::load::tls::Endpoint;
use sluice_bench::suite::{procs, targets};
use sluice_bench::{arg, arg_opt};

const USAGE: &str = "slow-readers [--streams 1000] [--connections 10] [--http1] [--hold 5] \
[--targets nginx,sluice-reference] [--sluice BINARY] [--candidate BINARY] [--proxy-core 0]\n\
Holds --streams responses unread and reports each proxy's resident memory before, during and after.";

/// A response held unread: its connection's sender and the response (the body never polled).
type Held = Vec<Box<dyn std::any::Any + Send>>;

/// What one target held.
struct Row {
    target: &'static str,
    before: f64,
    held: f64,
    after: f64,
    answered: usize,
}

/// A request's outcome: the sender to keep its connection open, and the response or why not.
type Asked = tokio::task::JoinHandle<(
    Box<dyn std::any::Any + Send>,
    Result<http::Response<hyper::body::Incoming>, hyper::Error>,
)>;

/// What was asked so far, collected: the responses kept unread and the refusals counted.
#[derive(Default)]
struct Outcomes {
    kept: Held,
    answered: usize,
    failed: std::collections::BTreeMap<String, usize>,
}

impl Outcomes {
    async fn collect(&mut self, asked: Vec<Asked>) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        for a in asked {
            let Ok(a) = tokio::time::timeout_at(deadline, a).await else {
                *self.failed.entry("no head within 10 s".into()).or_default() += 1;
                continue;
            };
            match a {
                Ok((sender, Ok(resp))) => {
                    if resp.status().is_success() {
                        self.answered += 1;
                        self.kept.push(Box::new(resp));
                    } else {
                        let status = resp.status();
                        let body = http_body_util::BodyExt::collect(resp.into_body()).await;
                        let body = body.map(|b| b.to_bytes()).unwrap_or_default();
                        let why = serde_json::from_slice::<serde_json::Value>(&body)
                            .ok()
                            .and_then(|v| Some(v["error"].as_str()?.to_string()))
                            .unwrap_or_default();
                        *self.failed.entry(format!("{status} {why}")).or_default() += 1;
                    }
                    self.kept.push(sender);
                }
                Ok((_, Err(e))) => *self.failed.entry(e.to_string()).or_default() += 1,
                Err(e) => *self.failed.entry(e.to_string()).or_default() += 1,
            }
        }
    }
}

/// Opens the connections and asks for every stream, a connection's streams (or 100 HTTP/1.1
/// connections) at a time, each batch answered before the next is asked: a burst of a thousand
/// new upstream connections at once measures the mock's accept queue and the upstream connect
/// timeout, not what a held response costs. A response whose head does not come within 10 s
/// is counted as not answered (nginx sends no head on a stream once the connection's window is
/// spent).
async fn hold(endpoint: &Endpoint, streams: usize, connections: usize, h1: bool) -> Outcomes {
    let mut out = Outcomes::default();
    let mut asked: Vec<Asked> = Vec::new();
    let request = || {
        http::Request::get("/feed?ndjson=68719476736")
            .header(http::header::HOST, "localhost")
            .body(Full::new(Bytes::new()))
            .expect("a valid request")
    };
    let conns = if h1 { streams } else { connections.max(1) };
    for c in 0..conns {
        let Ok(io) = endpoint.connect().await else {
            *out.failed.entry("connect".into()).or_default() += 1;
            continue;
        };
        let io = TokioIo::new(io);
        if h1 {
            let Ok((mut s, conn)) = hyper::client::conn::http1::handshake(io).await else {
                continue;
            };
            tokio::spawn(conn);
            let req = request();
            asked.push(tokio::spawn(async move {
                let r = s.send_request(req).await;
                (Box::new(s) as Box<dyn std::any::Any + Send>, r)
            }));
            if asked.len() == 100 {
                out.collect(std::mem::take(&mut asked)).await;
            }
        } else {
            // hyper's default windows (64 KiB), never opened further: the body is never read.
            let Ok((s, conn)) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .handshake(io)
                .await
            else {
                continue;
            };
            tokio::spawn(conn);
            let per = streams / conns + usize::from(c < streams % conns);
            for _ in 0..per {
                let mut s = s.clone();
                let req = request();
                asked.push(tokio::spawn(async move {
                    let r = s.send_request(req).await;
                    (Box::new(s) as Box<dyn std::any::Any + Send>, r)
                }));
            }
            out.collect(std::mem::take(&mut asked)).await;
        }
    }
    out.collect(asked).await;
    if !out.failed.is_empty() {
        eprintln!("not answered: {:?}", out.failed);
    }
    out
}

async fn measure(
    target: &targets::Target,
    pki: &std::path::Path,
    streams: usize,
    connections: usize,
    h1: bool,
    hold_for: Duration,
) -> Result<Row, String> {
    let protocol = if h1 { Protocol::Http1 } else { Protocol::Http2 };
    let url: http::Uri = format!("{}/feed?ndjson=68719476736", target.base)
        .parse()
        .map_err(|e| format!("{e}"))?;
    let tls = target.tls.then(|| targets::partner_tls(pki));
    let endpoint = sluice_bench::load::endpoint_for(&url, tls.as_ref(), protocol)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = procs::rss_mib(target.measured);
    let out = hold(&endpoint, streams, connections, h1).await;
    tokio::time::sleep(hold_for).await;
    let held = procs::rss_mib(target.measured);
    let answered = out.answered;
    drop(out);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = procs::rss_mib(target.measured);
    Ok(Row {
        target: target.name,
        before,
        held,
        after,
        answered,
    })
}

fn run() -> Result<(), String> {
    let streams: usize = arg("--streams", "1000")
        .parse()
        .map_err(|e| format!("--streams: {e}"))?;
    let connections: usize = arg("--connections", "10")
        .parse()
        .map_err(|e| format!("--connections: {e}"))?;
    let hold_for = Duration::from_secs_f64(
        arg("--hold", "5")
            .parse()
            .map_err(|e| format!("--hold: {e}"))?,
    );
    let h1 = std::env::args().any(|a| a == "--http1");
    let only: Vec<String> = arg("--targets", "nginx,sluice-reference")
        .split(',')
        .map(str::to_string)
        .collect();
    let core = match arg("--proxy-core", "0").as_str() {
        "none" => None,
        c => Some(c.parse().map_err(|e| format!("--proxy-core: {e}"))?),
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no repository root")?;
    let release = root.join("target/release");
    let (mut setup, _mock) = targets::prepare("slow-readers", &release, core)?;
    if let Some(s) = arg_opt("--sluice") {
        setup.sluice = PathBuf::from(s);
    }
    let pki = setup.dir.join("pki");
    let mut all = Vec::new();
    if only.iter().any(|t| t == "nginx") {
        let nginx = targets::nginx_binary().ok_or("nginx is not installed")?;
        all.push(targets::nginx(&setup, &nginx)?);
    }
    if only.iter().any(|t| t == "sluice-reference") {
        all.push(targets::sluice(
            &setup,
            "sluice-reference",
            "reference-policy.toml",
        )?);
    }
    if let Some(c) = arg_opt("--candidate") {
        all.push(targets::sluice_candidate(&setup, &PathBuf::from(c))?);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    println!(
        "{streams} unread responses over {}, held {:.0} s\n",
        if h1 {
            format!("{streams} HTTP/1.1 connections")
        } else {
            format!("{connections} HTTP/2 connections")
        },
        hold_for.as_secs_f64()
    );
    println!(
        "| target | answered | RSS before, MiB | held, MiB | after, MiB | KiB per unread response |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for t in &all {
        let r = runtime.block_on(measure(t, &pki, streams, connections, h1, hold_for))?;
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.0} |",
            r.target,
            r.answered,
            r.before,
            r.held,
            r.after,
            (r.held - r.before) * 1024.0 / r.answered.max(1) as f64
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    if sluice_bench::help_requested(USAGE) {
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slow-readers: {e}");
            ExitCode::FAILURE
        }
    }
}
