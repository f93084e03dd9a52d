//! Criterion: the metric updates one disclosure makes (what `access_logger` and the request
//! layers record per request), on the proxy's registry, single-threaded and from two threads.
//! Compare builds with `--save-baseline NAME` / `--baseline NAME`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sluice::metrics::Metrics;

/// The updates of one served pull request.
fn one_request(m: &Metrics, partner: &str, contract: &str) {
    // A sampled request: its trace id becomes the latency bucket's exemplar.
    m.request(
        "partner",
        200,
        Duration::from_micros(900),
        Some(opentelemetry::trace::TraceId::from(
            0x4bf92f3577b34da6a3ce929d0e0e4736_u128,
        )),
    );
    m.ledger_append(Duration::from_micros(300));
    m.disclosure(partner, contract, "sent");
    m.sent(
        partner,
        contract,
        3,
        &[
            ("kept", 7),
            ("masked", 7),
            ("hashed", 7),
            ("redacted", 7),
            ("stripped", 7),
        ],
        (1024, 400),
    );
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
