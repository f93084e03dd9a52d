//! Criterion: the metric updates one disclosure makes (what `access_logger` and the request
//! layers record per request), on the proxy's registry, single-threaded and from two threads.
//! Compare builds with `--save-baseline NAME` / `--baseline NAME`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sluice::metrics::Metrics;

/// The updates of one served pull request.
fn one_request(m: &Metrics, partner: &str, contract: &str) {
    let pc = [("partner", partner), ("contract", contract)];
    m.add(
        "sluice_requests_total",
        &[("kind", "partner"), ("status", "2xx")],
        1,
    );
    m.observe(
        "http_server_request_duration_seconds",
        &[("kind", "partner")],
        Duration::from_micros(900),
    );
    m.observe(
        "sluice_ledger_append_duration_seconds",
        &[],
        Duration::from_micros(300),
    );
    m.add(
        "sluice_disclosures_total",
        &[pc[0], pc[1], ("outcome", "sent")],
        1,
    );
    m.add("sluice_records_total", &pc, 3);
    for action in ["kept", "masked", "hashed", "redacted", "stripped"] {
        m.add("sluice_fields_total", &[("action", action)], 7);
    }
    m.add("sluice_bytes_total", &[("direction", "in")], 1024);
    m.add("sluice_bytes_total", &[("direction", "out")], 400);
}

fn metrics(c: &mut Criterion) {
    let mut g = c.benchmark_group("metrics-per-request");
    let m = Metrics::default();
    g.bench_function("one thread", |b| {
        b.iter(|| one_request(&m, "acme-loans", "acme-prescreen-2026"))
    });
    let m = Arc::new(Metrics::default());
    g.bench_function("two threads", |b| {
        b.iter_custom(|iters| {
            let other = {
                let m = m.clone();
                std::thread::spawn(move || {
                    let start = std::time::Instant::now();
                    for _ in 0..iters {
                        one_request(&m, "safe-insure", "safe-insure-claims-2026");
                    }
                    start.elapsed()
                })
            };
            let start = std::time::Instant::now();
            for _ in 0..iters {
                one_request(&m, "acme-loans", "acme-prescreen-2026");
            }
            let mine = start.elapsed();
            mine.max(other.join().unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, metrics);
criterion_main!(benches);
