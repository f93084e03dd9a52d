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

/// The median of `values`: the middle one once sorted, or the mean of the two middle ones (as
/// `bench/ab.sh` takes it). Sorts `values` in place; `NaN` for none.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

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

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_of_an_even_number_of_pairs_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&mut [10.0, 2.0, 3.0, 1.0]), 2.5);
        assert_eq!(median(&mut [10.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0]), 4.0);
        assert!(median(&mut []).is_nan());
    }
}
