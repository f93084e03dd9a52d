//! `engine-report`: the engine on the reference workload, with its same-run baselines.
//!
//! ```text
//! cargo run --release -p sluice-bench --bin engine-report -- [--size 64MiB] [--rounds 5]
//! ```
//! Prints, for the 64 MiB reference feed fed in 64 KiB chunks: memcpy, the digests (sha-256,
//! sha-512, sm3) that integrity adds on the body path, the naive DOM filter, the
//! engine with `reference-policy.toml` and with `passthrough-policy.toml` (MB/s, best of N
//! rounds, and ratios), the engine's ratio to the naive filter measured pair by pair (the two
//! alternate, round by round), allocations per record, and the peak live heap while one body
//! streams.

use std::alloc::System;

use sluice_bench::{best, floor, median, naive, workload};
use sluice_policy::engine::{Format, Redactor};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CHUNK: usize = 64 * 1024;

fn engine_run(
    cfg: &sluice_policy::engine::EngineConfig,
    feed: &[u8],
    out: &mut Vec<u8>,
    mut on_chunk: impl FnMut(),
) -> usize {
    let mut r = Redactor::new(cfg.clone());
    let mut total = 0;
    for chunk in feed.chunks(CHUNK) {
        out.clear();
        r.feed(chunk, out).expect("reference feed passes");
        total += out.len();
        // As the proxy does: subject hashes go to the ledger as they come.
        drop(r.take_subjects());
        on_chunk();
    }
    out.clear();
    let s = r.finish(out).expect("reference feed passes");
    total += out.len();
    assert_eq!(s.bytes_out as usize, total);
    total
}

/// The reference contract's fixed work next to the engine's best time, per record, and what a
/// throughput of 500 MB/s (the issue's bar) would leave for everything else.
fn print_floor(f: &floor::Floor, t_engine: f64, records: usize, bytes: usize) {
    let us = |t: f64| t / records as f64 * 1e6;
    let budget = bytes as f64 / 500e6;
    println!("fixed work of the reference contract (no parser can remove it), µs per record:");
    for (name, t) in [
        ("UTF-8 validation of the input", f.utf8),
        ("SHA-256 of the output (ring)", f.output_sha256),
        (
            &*format!("HMAC-SHA256 x {} (pseudonyms, subjects)", f.hmacs),
            f.hmac,
        ),
        ("together", f.total()),
        ("the engine, reference-policy (best)", t_engine),
    ] {
        println!("  {name:<44} {:>7.3}", us(t));
    }
    println!(
        "  fixed work = {:.0}% of the engine's time; at 500 MB/s a record has {:.3} µs, {:.3} of it left after the fixed work (the engine spends {:.3} there now)",
        f.total() / t_engine * 100.0,
        us(budget),
        us(budget - f.total()),
        us(t_engine - f.total()),
    );
}

/// `--help`.
const USAGE: &str = "The engine on the reference workload, with its same-run baselines (memcpy, digests, the naive filter).

Usage: engine-report [--size 64MiB] [--rounds 5] [--profile reference|passthrough|strip-all|POLICY.toml]";

fn main() {
    if sluice_bench::help_requested(USAGE) {
        return;
    }
    let arg = sluice_bench::arg;
    let size = arg("--size", "64MiB");
    let rounds: usize = arg("--rounds", "5").parse().expect("--rounds N");
    let path = std::env::temp_dir().join(format!("sluice-feed-{size}.json"));
    let feed = workload::feed(&path, &size, "json");
    let records = feed.windows(6).filter(|w| w == b"{\"id\":").count().max(1);
    let mb = feed.len() as f64 / 1e6;

    let reference = workload::policy("reference-policy.toml");
    let passthrough = workload::policy("passthrough-policy.toml");
    let ref_cfg = workload::config(&reference, Format::Json);
    let pass_cfg = workload::config(&passthrough, Format::Json);
    let keys = workload::keys(&reference.contracts[0].id);

    if let Some(which) = sluice_bench::arg_opt("--profile") {
        // One configuration only, for a profiler: reference, passthrough or strip-all.
        let cfg = match which.as_str() {
            "reference" => ref_cfg.clone(),
            "passthrough" => pass_cfg.clone(),
            file if file.ends_with(".toml") => {
                let text = std::fs::read_to_string(file).expect("policy file");
                let p = sluice_policy::CompiledPolicy::load(file, &text)
                    .unwrap_or_else(|e| panic!("{e}"));
                workload::config(&p, Format::Json)
            }
            _ => {
                let text = "version = 1\n[[partner]]\nid = \"p\"\nidentity = { uri_san = \"x:p\" }\njurisdiction = \"CN\"\n[[contract]]\nid = \"c\"\npartner = \"p\"\npurpose = \"x\"\nlegal_basis = \"consent\"\nvalid_from = 2026-01-01\nvalid_until = 2099-01-01\n[[contract.route]]\nflow = \"pull\"\nmethod = \"GET\"\npath = \"/x\"\nupstream = \"u\"\n[contract.fields]\n\"$.nothing\" = \"keep\"\n";
                let p = sluice_policy::CompiledPolicy::load("strip-all", text)
                    .expect("strip-all policy");
                workload::config(&p, Format::Json)
            }
        };
        let mut out = Vec::with_capacity(2 * CHUNK);
        let (t, _) = best(rounds, || engine_run(&cfg, &feed, &mut out, || {}));
        println!("engine, {which}: {:.0} MB/s", mb / t);
        return;
    }
    let mut sink = Vec::with_capacity(feed.len());
    let (t_memcpy, _) = best(rounds, || {
        sink.clear();
        for c in feed.chunks(CHUNK) {
            sink.extend_from_slice(c);
        }
        sink.len()
    });
    // The naive filter and the engine take turns, round by round: each pair runs on the same
    // machine minute, so the pair's ratio holds even when the machine's speed moves between
    // minutes (by ±30% on these machines); best-of figures from different minutes do not.
    let mut out = Vec::with_capacity(2 * CHUNK);
    let (mut t_naive, mut t_ref) = (f64::MAX, f64::MAX);
    let (mut naive_len, mut ref_len) = (0, 0);
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let (n, len) = best(1, || naive::filter(&ref_cfg.program, &keys, &feed).len());
        let (e, elen) = best(1, || engine_run(&ref_cfg, &feed, &mut out, || {}));
        (t_naive, t_ref) = (t_naive.min(n), t_ref.min(e));
        (naive_len, ref_len) = (len, elen);
        ratios.push(n / e);
    }
    let (t_pass, _) = best(rounds, || engine_run(&pass_cfg, &feed, &mut out, || {}));
    // What integrity costs on the body path: digesting the same chunks (issue 7).
    let digest = |alg: &'static ring::digest::Algorithm| {
        best(rounds, || {
            let mut ctx = ring::digest::Context::new(alg);
            for c in feed.chunks(CHUNK) {
                ctx.update(c);
            }
            ctx.finish().as_ref().len()
        })
        .0
    };
    let t_sha256 = digest(&ring::digest::SHA256);
    let t_sha512 = digest(&ring::digest::SHA512);
    let (t_sm3, _) = best(rounds, || {
        use sm3::Digest as _;
        let mut h = sm3::Sm3::new();
        for c in feed.chunks(CHUNK) {
            h.update(c);
        }
        h.finalize().len()
    });

    // Allocations and live heap for one body (output buffer reused, as the proxy does).
    let reg = Region::new(GLOBAL);
    let base = GLOBAL.stats();
    let mut peak: isize = 0;
    let mut n = 0;
    let trace_cfg = match std::env::var("SLUICE_BENCH_TRACE_POLICY") {
        Ok(file) => {
            let text = std::fs::read_to_string(&file).expect("policy file");
            workload::config(
                &sluice_policy::CompiledPolicy::load(&file, &text)
                    .unwrap_or_else(|e| panic!("{e}")),
                Format::Json,
            )
        }
        Err(_) => ref_cfg.clone(),
    };
    engine_run(&trace_cfg, &feed, &mut out, || {
        n += 1;
        // stats_alloc folds realloc growth into bytes_allocated (and shrinkage into bytes_deallocated).
        let live =
            |s: stats_alloc::Stats| s.bytes_allocated as isize - s.bytes_deallocated as isize;
        let live = live(GLOBAL.stats()) - live(base);
        peak = peak.max(live);
        if std::env::var_os("SLUICE_BENCH_TRACE").is_some() && (n < 5 || n % 200 == 0) {
            eprintln!("chunk {n}: live {live}");
        }
    });
    let allocs = reg.change();

    // The reference contract's fixed work, on the same bytes (outside the allocation region).
    let ids = floor::values_of(&feed, "id_number");
    let fixed = floor::measure(&ref_cfg, &feed, CHUNK, &ids, rounds);

    let mbps = |t: f64| mb / t;
    println!(
        "reference workload: {:.1} MB, {records} records, {CHUNK}-byte chunks, best of {rounds}",
        mb
    );
    println!(
        "{:<34} {:>10} {:>12} {:>12}",
        "", "MB/s", "x memcpy", "x naive"
    );
    for (name, t) in [
        ("memcpy", t_memcpy),
        ("naive serde_json DOM filter", t_naive),
        ("engine, reference-policy", t_ref),
        ("engine, passthrough-policy", t_pass),
        ("digest sha-256 (ring)", t_sha256),
        ("digest sha-512 (ring)", t_sha512),
        ("digest sm3 (RustCrypto)", t_sm3),
    ] {
        println!(
            "{:<34} {:>10.0} {:>12.3} {:>12.2}",
            name,
            mbps(t),
            t_memcpy / t,
            t_naive / t
        );
    }
    // `median` sorts the ratios: the first and last are then the range.
    let m = median(&mut ratios);
    if let (Some(lo), Some(hi)) = (ratios.first(), ratios.last()) {
        println!(
            "engine reference-policy / naive, round by round: median {m:.2}x (range {lo:.2}-{hi:.2}x, {} pairs)",
            ratios.len()
        );
    }
    println!("output bytes: engine {ref_len}, naive {naive_len}");
    print_floor(&fixed, t_ref, records, feed.len());
    println!(
        "engine allocations: {} ({:.3} per record), peak live heap during the body {:.1} KiB",
        allocs.allocations + allocs.reallocations,
        (allocs.allocations + allocs.reallocations) as f64 / records as f64,
        peak as f64 / 1024.0
    );
}
