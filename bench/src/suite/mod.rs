//! The bench suite: every target × every scenario in one run, so that the ratios between them
//! hold on a noisy machine. Driven by the `bench-suite` binary (see `bench/run.sh`).
//!
//! For each scenario the suite resets the measured process's peak RSS, reads its CPU time, runs
//! [`crate::load`] in this process, and reads both again: requests/s, MiB/s, latency quantiles,
//! proxy CPU per request and proxy peak RSS come from the same interval.

pub mod chart;
pub mod markdown;
pub mod otlp_sink;
pub mod procs;
#[path = "../../../tests/src/scratch.rs"]
pub mod scratch;
pub mod targets;

use std::time::Duration;

use crate::load::{self, Protocol, Report, Spec};
use targets::{Setup, Target};

/// One load shape, run against every target.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Label in the report.
    pub name: &'static str,
    /// Query string selecting the mock's response.
    pub query: String,
    /// HTTP version.
    pub protocol: Protocol,
    /// Connections.
    pub connections: usize,
    /// Streams per HTTP/2 connection.
    pub streams: usize,
    /// New TLS connection per request.
    pub new_connections: bool,
    /// Stop after this many requests (the 1 GiB stream is one request).
    pub count: Option<u64>,
    /// Length of the upstream's response body (measured from the mock before the run).
    pub body_bytes: u64,
}

/// The scenarios of the issue: 1 KiB (h1 at 16 and 256 connections), 64 KiB, 16 MiB bodies over
/// h1 and h2; new mTLS
/// connections per request; one 1 GiB NDJSON stream.
pub fn scenarios(stream_mib: u64) -> Vec<Scenario> {
    let s = |name, query: &str, protocol, connections, streams| Scenario {
        name,
        query: query.to_string(),
        protocol,
        connections,
        streams,
        new_connections: false,
        count: None,
        body_bytes: 0,
    };
    vec![
        s("1 KiB h1", "size=1024", Protocol::Http1, 16, 1),
        // At 16 connections the ledger's sync latency bounds throughput; at 256 batches grow.
        s("1 KiB h1 x256", "size=1024", Protocol::Http1, 256, 1),
        s("1 KiB h2", "size=1024", Protocol::Http2, 4, 16),
        s("64 KiB h1", "size=65536", Protocol::Http1, 16, 1),
        s("64 KiB h2", "size=65536", Protocol::Http2, 4, 4),
        s("16 MiB h1 x8", "size=16777216", Protocol::Http1, 8, 1),
        s("16 MiB h2 x8", "size=16777216", Protocol::Http2, 1, 8),
        Scenario {
            new_connections: true,
            ..s("1 KiB new conn", "size=1024", Protocol::Http1, 16, 1)
        },
        Scenario {
            count: Some(1),
            ..s(
                "NDJSON stream",
                &format!("ndjson={}", stream_mib << 20),
                Protocol::Http1,
                1,
                1,
            )
        },
    ]
}

/// One measured cell of the report.
#[derive(Debug, Clone)]
pub struct Row {
    /// Target name.
    pub target: &'static str,
    /// Scenario name.
    pub scenario: &'static str,
    /// What the load generator saw.
    pub report: Report,
    /// Upstream body bytes per second carried to the client, in MiB/s (requests × the mock's
    /// body length): comparable across targets whether or not they rewrite the body.
    pub input_mib_per_s: f64,
    /// Length of the upstream's response body in this scenario.
    pub body_bytes: u64,
    /// CPU seconds of the measured process per successful request (µs).
    pub cpu_us_per_request: f64,
    /// CPU seconds of the measured process over the scenario.
    pub cpu_seconds: f64,
    /// Peak RSS of the measured process during the scenario (MiB).
    pub peak_rss_mib: f64,
}

impl Row {
    /// Adds a later round of the same target and scenario: counts, latencies, wall and CPU time
    /// summed, the peak RSS the larger of the two, the per-second and per-request figures
    /// recomputed over the whole.
    pub fn absorb(&mut self, later: &Row) {
        self.report.merge(&later.report);
        self.report.elapsed += later.report.elapsed;
        self.cpu_seconds += later.cpu_seconds;
        self.peak_rss_mib = self.peak_rss_mib.max(later.peak_rss_mib);
        let elapsed = self.report.elapsed.as_secs_f64().max(1e-9);
        self.input_mib_per_s = input_mib_per_s(self.report.requests, self.body_bytes, elapsed);
        self.cpu_us_per_request = self.cpu_seconds * 1e6 / self.report.requests.max(1) as f64;
    }
}

/// Upstream body MiB per second of `requests` bodies of `body_bytes` in `seconds`.
fn input_mib_per_s(requests: u64, body_bytes: u64, seconds: f64) -> f64 {
    (requests * body_bytes) as f64 / (1 << 20) as f64 / seconds
}

/// Runs `scenario` against `target` for `seconds` (the stream runs to its end).
pub async fn measure(
    setup: &Setup,
    target: &Target,
    scenario: &Scenario,
    seconds: f64,
) -> Result<Row, String> {
    let pki = setup.dir.join("pki");
    let spec = Spec {
        url: format!("{}/feed?{}", target.base, scenario.query)
            .parse()
            .map_err(|e| format!("{e}"))?,
        protocol: scenario.protocol,
        connections: scenario.connections,
        streams: scenario.streams,
        new_connection_per_request: scenario.new_connections,
        rate: None,
        duration: if scenario.count.is_some() {
            Duration::from_secs(600)
        } else {
            Duration::from_secs_f64(seconds)
        },
        count: scenario.count,
        tls: target.tls.then(|| targets::partner_tls(&pki)),
        method: http::Method::GET,
        body: bytes::Bytes::new(),
        headers: http::HeaderMap::new(),
        progress: false,
    };
    procs::reset_peak_rss(target.measured);
    let cpu_before = procs::cpu_seconds(target.measured);
    let report = load::run(spec).await?;
    let cpu_seconds = procs::cpu_seconds(target.measured) - cpu_before;
    let peak_rss_mib = procs::peak_rss_mib(target.measured);
    Ok(Row {
        target: target.name,
        scenario: scenario.name,
        input_mib_per_s: input_mib_per_s(
            report.requests,
            scenario.body_bytes,
            report.elapsed.as_secs_f64().max(1e-9),
        ),
        body_bytes: scenario.body_bytes,
        cpu_us_per_request: cpu_seconds * 1e6 / report.requests.max(1) as f64,
        cpu_seconds,
        peak_rss_mib,
        report,
    })
}

/// The length of the upstream's response body in `scenario`, asked of the mock directly.
pub async fn body_length(
    setup: &Setup,
    direct: &Target,
    scenario: &Scenario,
) -> Result<u64, String> {
    let once = Scenario {
        connections: 1,
        streams: 1,
        new_connections: false,
        count: Some(1),
        ..scenario.clone()
    };
    let row = measure(setup, direct, &once, 60.0).await?;
    match row.report.requests {
        1 => Ok(row.report.bytes),
        _ => Err(format!(
            "the mock did not answer {:?}: {:?}",
            scenario.query, row.report.errors
        )),
    }
}

/// A one-line summary of a row, printed as the run goes.
pub fn line(row: &Row) -> String {
    let r = &row.report;
    format!(
        "{:<20} {:<16} {:>9.0} req/s {:>8.1} MiB/s in  p50 {:>7.2} ms  p99 {:>7.2} ms  {:>7.1} µs CPU/req  {:>6.1} MiB RSS  {} errors",
        row.target,
        row.scenario,
        r.rate(),
        row.input_mib_per_s,
        r.ms(0.5),
        r.ms(0.99),
        row.cpu_us_per_request,
        row.peak_rss_mib,
        r.error_count()
    )
}

/// The note on how far the rounds of one scenario agreed: `ours` ÷ `base` round by round, for
/// CPU per request and for requests/s (MiB/s in for the stream), with the median. `None` when
/// either target was not measured.
pub fn round_spread(
    scenario: &str,
    per_round: &[(u32, Row)],
    ours: &str,
    base: &str,
) -> Option<String> {
    let of = |target: &str| -> Vec<(u32, &Row)> {
        per_round
            .iter()
            .filter(|(_, r)| r.target == target)
            .map(|(n, r)| (*n, r))
            .collect()
    };
    let (a, b) = (of(ours), of(base));
    if a.is_empty() || a.len() != b.len() {
        return None;
    }
    let pairs: Vec<(&Row, &Row)> = a
        .iter()
        .zip(&b)
        .filter(|((a, _), (b, _))| a == b)
        .map(|((_, o), (_, b))| (*o, *b))
        .collect();
    let listed = |f: &dyn Fn(&Row) -> f64| -> String {
        let mut ratios: Vec<f64> = pairs.iter().map(|(o, b)| f(o) / f(b).max(1e-9)).collect();
        let text: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        format!(
            "{} (median {:.2})",
            text.join(", "),
            crate::median(&mut ratios)
        )
    };
    let stream = scenario.contains("stream");
    Some(format!(
        "Round by round, {ours} ÷ {base}, {scenario}: CPU µs/request {}; {} {}.",
        listed(&|r| r.cpu_us_per_request),
        if stream { "MiB/s in" } else { "requests/s" },
        listed(&|r| if stream {
            r.input_mib_per_s
        } else {
            r.report.rate()
        }),
    ))
}
