//! `format-bench`: the CSV, form and XML engines on the reference records, each against its
//! naive filter in the same run.
//!
//! ```text
//! cargo run --release -p sluice-bench --bin format-bench -- [--size 64MiB] [--forms 20000] [--rounds 5]
//! ```
//! CSV: one body of `--size` fed in 64 KiB chunks, the engine and the `csv`-crate filter taking
//! turns round by round (the ratio of each pair is taken: the machine's speed drifts between
//! minutes), and the peak live heap while the body streams. Forms: `--forms` bodies of one
//! record each, a new redactor per body as the proxy does, against `form_urlencoded`. XML: one
//! body of `--size`, against a `roxmltree` DOM filter, and the peak live heap. The filters write
//! the same bytes (CSV, forms) or the same leaves (XML), checked before timing.

use std::alloc::System;

use sluice_bench::{best, flat, floor, median, workload, xml_feed};
use sluice_policy::engine::{EngineConfig, Format, Redactor};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CHUNK: usize = 64 * 1024;

const USAGE: &str =
    "The CSV, form and XML engines on the reference records, against naive filters in the same run.

Usage: format-bench [--size 64MiB] [--forms 20000] [--rounds 5] [--only csv|form|xml] [--engine-only]

--engine-only: the CSV, form and XML engines alone, best of --rounds, nothing else timed: to compare
two builds of the engine (alternate them, or run each under `perf stat -e cycles:u`).";

/// One body through the engine in `CHUNK`s; calls `on_chunk` after each.
fn engine(cfg: &EngineConfig, body: &[u8], out: &mut Vec<u8>, mut on_chunk: impl FnMut()) -> usize {
    let mut r = Redactor::new(cfg.clone());
    let mut total = 0;
    for chunk in body.chunks(CHUNK) {
        out.clear();
        r.feed(chunk, out)
            .unwrap_or_else(|v| panic!("the feed passes: {v}"));
        total += out.len();
        drop(r.take_subjects());
        on_chunk();
    }
    out.clear();
    r.finish(out)
        .unwrap_or_else(|v| panic!("the feed passes: {v}"));
    total + out.len()
}

/// Each form body through a new redactor, as a proxy filters one request after another.
fn engine_forms(cfg: &EngineConfig, bodies: &[Vec<u8>], out: &mut Vec<u8>) -> usize {
    bodies
        .iter()
        .map(|b| {
            out.clear();
            let mut r = Redactor::new(cfg.clone());
            r.feed(b, out).expect("passes");
            r.finish(out).expect("passes");
            out.len()
        })
        .sum()
}

fn whole(cfg: &EngineConfig, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut r = Redactor::new(cfg.clone());
    r.feed(body, &mut out)
        .unwrap_or_else(|v| panic!("the feed passes: {v}"));
    r.finish(&mut out)
        .unwrap_or_else(|v| panic!("the feed passes: {v}"));
    out
}

/// The naive filter and the engine timed alternately, `rounds` times.
struct Compared {
    /// Best seconds of each.
    t_naive: f64,
    t_engine: f64,
    /// naive ÷ engine per round.
    ratios: Vec<f64>,
}

/// Times `naive` and `engine` one after the other, round by round (the machine drifts: a ratio
/// is only taken within a round).
fn compare(
    rounds: usize,
    mut naive: impl FnMut() -> usize,
    mut engine: impl FnMut() -> usize,
) -> Compared {
    let mut c = Compared {
        t_naive: f64::MAX,
        t_engine: f64::MAX,
        ratios: Vec::new(),
    };
    for _ in 0..rounds {
        let (n, _) = best(1, &mut naive);
        let (e, _) = best(1, &mut engine);
        c.ratios.push(n / e);
        (c.t_engine, c.t_naive) = (c.t_engine.min(e), c.t_naive.min(n));
    }
    c
}

impl Compared {
    /// The throughput of each over a body of `mb` megabytes.
    fn print_rates(&self, naive: &str, mb: f64) {
        println!("  {naive:<37}{:>7.0} MB/s", mb / self.t_naive);
        println!("  {:<37}{:>7.0} MB/s", "engine", mb / self.t_engine);
    }

    /// The median ratio line.
    fn print_ratio(mut self) {
        let m = median(&mut self.ratios);
        let (lo, hi) = (self.ratios[0], self.ratios[self.ratios.len() - 1]);
        println!("  engine / naive, round by round: median {m:.2}x (range {lo:.2}-{hi:.2}x)");
    }
}

/// The contract's fixed work on this body (UTF-8 check, the output's SHA-256, the HMACs of
/// pseudonyms and subjects), per record, beside the naive filter's whole time per record: no
/// parser can go below the first, so `naive ÷ fixed` bounds the ratio any engine reaches.
fn print_floor(cfg: &EngineConfig, body: &[u8], records: usize, t_naive: f64, rounds: usize) {
    print_floor_of(cfg, &[body], records, t_naive, rounds);
}

/// [`print_floor`] for many bodies (forms: one record each).
fn print_floor_of(
    cfg: &EngineConfig,
    bodies: &[&[u8]],
    records: usize,
    t_naive: f64,
    rounds: usize,
) {
    let mut ndjson = Vec::new();
    sluice_bench::feed::generate(
        &mut ndjson,
        sluice_bench::feed::Shape::Ndjson,
        1,
        sluice_bench::feed::Amount::Records(2000),
    )
    .expect("writing to memory");
    let ids = floor::values_of(&ndjson, "id_number");
    let f = floor::measure_bodies(cfg, bodies, CHUNK, &ids, rounds);
    let us = |t: f64| t / records as f64 * 1e6;
    println!(
        "  fixed work of the contract: {:.3} µs per record ({} HMACs in all); the naive filter takes {:.3}: at most {:.1}x for any engine",
        us(f.total()),
        f.hmacs,
        us(t_naive),
        t_naive / f.total()
    );
}

fn live() -> isize {
    let s = GLOBAL.stats();
    s.bytes_allocated as isize - s.bytes_deallocated as isize
}

fn main() {
    if sluice_bench::help_requested(USAGE) {
        return;
    }
    let size = sluice_bench::feed::parse_size(&sluice_bench::arg("--size", "64MiB"))
        .expect("--size like 64MiB") as usize;
    let forms: u64 = sluice_bench::arg("--forms", "20000")
        .parse()
        .expect("--forms N");
    let rounds: usize = sluice_bench::arg("--rounds", "5")
        .parse()
        .expect("--rounds N");
    let only = sluice_bench::arg_opt("--only");
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let policy = workload::policy("reference-flat-policy.toml");
    let keys = workload::keys(&policy.contracts[0].id);

    let mut out = Vec::with_capacity(2 * CHUNK);
    if std::env::args().any(|a| a == "--engine-only") {
        for (name, policy, format, body) in [
            (
                "csv",
                "reference-flat-policy.toml",
                Format::Csv,
                flat::csv_feed as fn(usize) -> Vec<u8>,
            ),
            (
                "xml",
                "reference-xml-policy.toml",
                Format::Xml,
                xml_feed::xml_feed,
            ),
        ] {
            if run(name) {
                let cfg = workload::config(&workload::policy(policy), format);
                let body = body(size);
                let (t, _) = best(rounds, || engine(&cfg, &body, &mut out, || {}));
                println!(
                    "{name} engine: {:.0} MB/s (best of {rounds})",
                    body.len() as f64 / 1e6 / t
                );
            }
        }
        if run("form") {
            let cfg = workload::config(&policy, Format::Form);
            let bodies = flat::form_bodies(forms);
            let (t, _) = best(rounds, || engine_forms(&cfg, &bodies, &mut out));
            println!(
                "form engine: {:.2} µs a body (best of {rounds})",
                t * 1e6 / bodies.len() as f64
            );
        }
        return;
    }
    if run("csv") {
        csv_section(&policy, &keys, size, rounds, &mut out);
    }
    if run("form") {
        form_section(&policy, &keys, forms, rounds, &mut out);
    }
    if run("xml") {
        xml_section(size, rounds, &mut out);
    }
}

fn csv_section(
    policy: &sluice_policy::CompiledPolicy,
    keys: &sluice_policy::engine::EngineKeys,
    size: usize,
    rounds: usize,
    out: &mut Vec<u8>,
) {
    let body = flat::csv_feed(size);
    let cfg = workload::config(policy, Format::Csv);
    let program = cfg.program.clone();
    let naive = flat::naive_csv(&program, keys, &body);
    assert_eq!(
        whole(&cfg, &body),
        naive,
        "the engine and the naive filter agree"
    );
    let rows = body.iter().filter(|&&b| b == b'\n').count() - 1;
    let mb = body.len() as f64 / 1e6;
    let c = compare(
        rounds,
        || flat::naive_csv(&program, keys, &body).len(),
        || engine(&cfg, &body, out, || {}),
    );
    let base = live();
    let mut peak = 0isize;
    engine(&cfg, &body, out, || peak = peak.max(live() - base));
    let base = live();
    let naive_peak = {
        let out = flat::naive_csv(&program, keys, &body);
        live() - base - out.capacity() as isize
    };
    println!("CSV: {mb:.1} MB, {rows} rows, {CHUNK}-byte chunks, best of {rounds}");
    print_floor(&cfg, &body, rows, c.t_naive, rounds);
    c.print_rates("naive (csv crate, record by record)", mb);
    c.print_ratio();
    println!(
        "  peak live heap while the body streams: engine {:.1} KiB (input and output buffers aside); naive, held besides its output: {:.1} KiB",
        peak as f64 / 1024.0,
        naive_peak as f64 / 1024.0
    );
}

fn form_section(
    policy: &sluice_policy::CompiledPolicy,
    keys: &sluice_policy::engine::EngineKeys,
    forms: u64,
    rounds: usize,
    out: &mut Vec<u8>,
) {
    let bodies = flat::form_bodies(forms);
    let program = workload::config(policy, Format::Csv).program;
    let cfg = workload::config(policy, Format::Form);
    for b in bodies.iter().take(100) {
        assert_eq!(
            whole(&cfg, b),
            flat::naive_form(&program, keys, b),
            "the filters agree"
        );
    }
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let mb = bytes as f64 / 1e6;
    let c = compare(
        rounds,
        || {
            bodies
                .iter()
                .map(|b| flat::naive_form(&program, keys, b).len())
                .sum()
        },
        || engine_forms(&cfg, &bodies, out),
    );
    println!(
        "forms: {forms} bodies of one record, {:.0} bytes each on average, a new redactor per body, best of {rounds}",
        bytes as f64 / forms as f64
    );
    println!(
        "  naive (form_urlencoded)              {:>7.0} MB/s  {:>8.0} bodies/s",
        mb / c.t_naive,
        forms as f64 / c.t_naive
    );
    println!(
        "  engine                               {:>7.0} MB/s  {:>8.0} bodies/s",
        mb / c.t_engine,
        forms as f64 / c.t_engine
    );
    let all: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    print_floor_of(&cfg, &all, bodies.len(), c.t_naive, rounds);
    c.print_ratio();
}

fn xml_section(size: usize, rounds: usize, out: &mut Vec<u8>) {
    let policy = workload::policy("reference-xml-policy.toml");
    let keys = workload::keys(&policy.contracts[0].id);
    let body = xml_feed::xml_feed(size);
    let cfg = workload::config(&policy, Format::Xml);
    let program = cfg.program.clone();
    let (ours, theirs) = (
        xml_feed::leaf_texts(&whole(&cfg, &body)),
        xml_feed::leaf_texts(&xml_feed::naive_xml(&program, &keys, &body)),
    );
    if let Some(i) = (0..ours.len().max(theirs.len())).find(|&i| ours.get(i) != theirs.get(i)) {
        panic!(
            "the engine and the naive filter disagree at leaf {i}: {:?} against {:?}",
            ours.get(i),
            theirs.get(i)
        );
    }
    let records = body.windows(8).filter(|w| w == b"<record>").count();
    let mb = body.len() as f64 / 1e6;
    let c = compare(
        rounds,
        || xml_feed::naive_xml(&program, &keys, &body).len(),
        || engine(&cfg, &body, out, || {}),
    );
    let base = live();
    let mut peak = 0isize;
    engine(&cfg, &body, out, || peak = peak.max(live() - base));
    println!("XML: {mb:.1} MB, {records} records, {CHUNK}-byte chunks, best of {rounds}");
    print_floor(&cfg, &body, records, c.t_naive, rounds);
    c.print_rates("naive (roxmltree DOM, written back)", mb);
    c.print_ratio();
    println!(
        "  peak live heap while the body streams: engine {:.1} KiB (input and output buffers aside)",
        peak as f64 / 1024.0
    );
}
