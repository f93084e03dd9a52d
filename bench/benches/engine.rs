//! Criterion: engine vs. memcpy vs. the naive DOM filter on the reference feed (8 MiB here, to
//! keep a criterion run short; `engine-report` runs the full 64 MiB workload).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sluice_bench::{naive, workload};
use sluice_policy::engine::{Format, Redactor};

fn engine(c: &mut Criterion) {
    let path = std::env::temp_dir().join("sluice-feed-8MiB.json");
    let feed = workload::feed(&path, "8MiB", "json");
    let reference = workload::policy("reference-policy.toml");
    let cfg = workload::config(&reference, Format::Json);
    let keys = workload::keys(&reference.contracts[0].id);
    let mut g = c.benchmark_group("reference-feed");
    g.throughput(Throughput::Bytes(feed.len() as u64));
    g.sample_size(10);
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            feed.chunks(65536)
                .fold(Vec::with_capacity(feed.len()), |mut v, c| {
                    v.extend_from_slice(c);
                    v
                })
        })
    });
    g.bench_function("naive", |b| {
        b.iter(|| naive::filter(&cfg.program, &keys, &feed))
    });
    g.bench_function("engine", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            let mut r = Redactor::new(cfg.clone());
            for chunk in feed.chunks(65536) {
                out.clear();
                r.feed(chunk, &mut out).unwrap();
            }
            r.finish(&mut out).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
