//! # sluice-bench
//!
//! Benchmarks for sluice. Every figure is reported next to a baseline measured in the same run
//! (see `bench/README.md`): these machines are shared and absolute numbers move.
//!
//! - `engine-report` (binary): the engine on the reference workload against `memcpy` and the
//!   naive filter ([`naive`]), with allocations per record and peak heap per body.
//! - `format-bench` (binary): the CSV, form and XML engines against naive filters ([`flat`],
//!   [`xml_feed`]).
//! - `benches/engine.rs` (criterion): the same comparisons as a criterion group.

pub mod feed;
pub mod flat;
pub mod floor;
pub mod ledgers;
pub mod load;
pub mod mock;
pub mod naive;
pub mod suite;
pub mod workload;
pub mod xml_feed;

/// Runs `f` `rounds` times: the shortest time in seconds, and what the last run returned
/// (kept from the optimiser).
pub fn best<F: FnMut() -> usize>(rounds: usize, mut f: F) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut out = 0;
    for _ in 0..rounds {
        let t = std::time::Instant::now();
        out = std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, out)
}

/// The value after `name` (e.g. `--seconds`) on the command line, if given.
/// With `--help` or `-h` among the arguments, prints `usage` and returns true: the binary then
/// exits without running anything.
pub fn help_requested(usage: &str) -> bool {
    let asked = std::env::args().skip(1).any(|a| a == "--help" || a == "-h");
    if asked {
        println!("{}", usage.trim());
    }
    asked
}

/// The value after `name` on the command line.
pub fn arg_opt(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

/// The value after `name` on the command line, or `default`.
pub fn arg(name: &str, default: &str) -> String {
    arg_opt(name).unwrap_or_else(|| default.to_string())
}
