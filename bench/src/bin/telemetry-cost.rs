//! What one request's telemetry costs sluice, alone: the calls a served pull makes on its spans
//! and metrics (server span, client span under it, every typed attribute, the latency
//! histograms with their exemplar), run N times with export off and then on — the SDK's batch
//! processor and OTLP/HTTP exporter sending to a sink in this process — and the CPU of every
//! thread but the sink's, per request.
//!
//! `bench/otel-ab.sh` judges the cost against a whole request (the ratio); this isolates
//! the telemetry so that a change to it can be measured in a minute, and under
//! `valgrind --tool=callgrind` (instructions, repeatable) with `--requests 20000`.

use std::time::Duration;

use http::{Method, StatusCode, Version};
use sluice::config::{TelemetryConfig, TelemetryProtocol};
use sluice::metrics::Metrics;
use sluice::telemetry::Telemetry;
use sluice::telemetry::attributes::Carried;
use sluice::tracecontext::TraceId;

const USAGE: &str = "Measures the CPU one request's telemetry costs (export off, then on).

Usage: telemetry-cost [--requests 100000] [--sampler-ratio 1.0] [--on-only]   (10 000 requests a second)

--sampler-ratio R: the fraction of traces sampled (`telemetry.sampler_ratio`); the requests
carry no traceparent, so the ratio decides for each.";

/// The telemetry of one served pull, as `stack.rs` and the pull flow make it.
fn one_request(telemetry: Option<&Telemetry>, metrics: &Metrics, seq: u64) {
    let trace = TraceId::random();
    let span = telemetry.and_then(|t| t.server_span(&trace.0, None, &Method::GET));
    if let Some(s) = &span {
        s.request("3f2a9c1e5b7d4a60", Version::HTTP_11);
        s.routed(
            &Method::GET,
            "/v1/applicants/{id}",
            "acme-loans",
            "acme-prescreen-2026",
            "pull",
        );
    }
    metrics.ledger_append(Duration::from_micros(300));
    if let Some(s) = &span {
        s.disclosed(seq);
        let call = s.upstream_call(&Method::GET, "institution");
        call.upstream_answered(Ok(StatusCode::OK));
    }
    metrics.disclosure("acme-loans", "acme-prescreen-2026", "sent");
    let carried = Carried {
        records: 1,
        kept: 7,
        masked: 4,
        hashed: 2,
        redacted: 0,
        stripped: 5,
        bytes_in: 1024,
        bytes_out: 610,
    };
    metrics.sent(
        "acme-loans",
        "acme-prescreen-2026",
        carried.records,
        &[
            ("kept", carried.kept),
            ("masked", carried.masked),
            ("hashed", carried.hashed),
            ("stripped", carried.stripped),
        ],
        (carried.bytes_in, carried.bytes_out),
    );
    let exemplar = span.as_ref().and_then(|s| s.sampled_trace());
    metrics.request("partner", 200, Duration::from_micros(900), exemplar);
    if let Some(s) = &span {
        s.disclosure_ended("sent", Some(carried));
        s.answered(StatusCode::OK, None);
    }
}

/// CPU nanoseconds of this process's threads by thread name (from schedstat), but the sink's.
fn cpu_by_thread() -> std::collections::BTreeMap<String, u64> {
    let mut by = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return by;
    };
    for t in tasks.flatten() {
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(t.path().join("comm")),
            std::fs::read_to_string(t.path().join("schedstat")),
        ) else {
            continue;
        };
        let comm = comm.trim().to_string();
        if comm == "otlp-sink" {
            continue;
        }
        let ns: u64 = stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        *by.entry(comm).or_default() += ns;
    }
    by
}

/// Per request, CPU nanoseconds by thread name between two readings.
fn per_request(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
    n: u64,
) -> Vec<(String, f64)> {
    after
        .iter()
        .map(|(name, ns)| {
            let was = before.get(name).copied().unwrap_or(0);
            (name.clone(), ns.saturating_sub(was) as f64 / n as f64)
        })
        .collect()
}

/// Runs `n` requests' telemetry at 10 000 requests a second (the rate the 1 KiB scenarios
/// reach; a faster loop only overflows the span queue) and returns CPU nanoseconds per request.
async fn measure(telemetry: Option<&Telemetry>, metrics: &Metrics, n: u64) -> Vec<(String, f64)> {
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let before = cpu_by_thread();
    for seq in 0..n {
        if seq % 10 == 0 {
            tick.tick().await;
        }
        one_request(telemetry, metrics, seq);
    }
    // Let the exporter finish what is queued, so its CPU is counted.
    if let Some(t) = telemetry {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let _ = t;
    }
    per_request(&before, &cpu_by_thread(), n)
}

/// The sum of a breakdown.
fn total(by: &[(String, f64)]) -> f64 {
    by.iter().map(|b| b.1).sum()
}

fn main() -> Result<(), String> {
    if sluice_bench::help_requested(USAGE) {
        return Ok(());
    }
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = sluice_bench::arg("--requests", "100000")
        .parse()
        .map_err(|e| format!("--requests: {e}"))?;
    let ratio: f64 = sluice_bench::arg("--sampler-ratio", "1.0")
        .parse()
        .map_err(|e| format!("--sampler-ratio: {e}"))?;
    if !(0.0..=1.0).contains(&ratio) {
        return Err(format!("--sampler-ratio: got {ratio}, expected 0.0 to 1.0"));
    }
    let (sink, received) = sluice_bench::suite::otlp_sink::start()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let metrics = Metrics::default();
        // `--on-only` skips the run with export off (for a profiler's sake).
        let off = if args.iter().any(|a| a == "--on-only") {
            vec![]
        } else {
            measure(None, &metrics, n).await
        };
        let config = TelemetryConfig {
            endpoint: format!("http://{sink}")
                .parse()
                .map_err(|e| format!("{e}"))?,
            protocol: TelemetryProtocol::HttpProtobuf,
            service_name: Some("sluice-bench".into()),
            export_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            headers: vec![],
            tls: Default::default(),
            sampler_ratio: Some(ratio),
            max_queued_spans: 8192,
        };
        let telemetry = Telemetry::new(config).map_err(|e| e.to_string())?;
        telemetry
            .start(&metrics, Box::new(|| Some(vec![])))
            .map_err(|e| e.to_string())?;
        let on = measure(Some(&telemetry), &metrics, n).await;
        let dropped: u64 = metrics
            .counter_series("sluice_telemetry_spans_dropped_total")
            .iter()
            .map(|s| s.1)
            .sum();
        println!(
            "telemetry of one request, CPU ns (all threads but the sink's), {n} requests: \
             export off {:.0}, on {:.0}, cost {:.0} ns/request; {} bytes exported, \
             {dropped} spans dropped",
            total(&off),
            total(&on),
            total(&on) - total(&off),
            received.bytes()
        );
        for (name, ns) in &on {
            let was = off.iter().find(|o| o.0 == *name).map_or(0.0, |o| o.1);
            println!("  {name:<24} off {was:>7.0}  on {ns:>7.0} ns/request");
        }
        telemetry.flush().await;
        Ok(())
    })
}
