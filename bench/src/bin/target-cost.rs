//! What writing a request's upstream target costs per request: the pull route's path parameters
//! and listed query parameters through their rules, the query in sluice's writing
//! (`sluice_policy::param::target`), against copying the partner's path and query as they came
//! (what the pull flow did before it read the query).
//!
//! ```text
//! cargo run --release -p sluice-bench --bin target-cost -- [--requests 2000000] [--rounds 5]
//! ```
//! Best of `--rounds`, each target in turn within a round, on the bench's reference route
//! (`/feed?size=1024`, one listed number) and on `bench/workload/paged-policy.toml`'s (a path
//! parameter with a pattern, two listed numbers).

use sluice_bench::{best, workload};

const USAGE: &str = "Measures what writing a request's upstream target costs per request.

Usage: target-cost [--requests 2000000] [--rounds 5]";

fn main() {
    if sluice_bench::help_requested(USAGE) {
        return;
    }
    let requests: usize = sluice_bench::arg("--requests", "2000000")
        .parse()
        .expect("--requests N");
    let rounds: usize = sluice_bench::arg("--rounds", "5")
        .parse()
        .expect("--rounds N");
    let reference = workload::policy("reference-policy.toml");
    let paged = workload::policy("paged-policy.toml");
    for (name, policy, keys, path, query) in [
        (
            "reference route, /feed?size=1024",
            &reference,
            workload::keys(&reference.contracts[0].id),
            "/feed",
            "size=1024",
        ),
        (
            "path pattern and two numbers",
            &paged,
            workload::keys(&paged.contracts[0].id),
            "/v1/branches/B0042/applicants",
            "page=2&per_page=50",
        ),
    ] {
        let route = &policy.contracts[0].routes[0];
        let (written, _) = best(rounds, || {
            (0..requests)
                .map(|_| {
                    sluice_policy::param::target(route, path, Some(query), &keys)
                        .expect("the target passes")
                        .len()
                })
                .sum()
        });
        let (copied, _) = best(rounds, || {
            (0..requests)
                .map(|_| std::hint::black_box(format!("{path}?{query}")).len())
                .sum()
        });
        let ns = |t: f64| t / requests as f64 * 1e9;
        println!(
            "{name}: written by sluice {:.0} ns, copied as sent {:.0} ns a request (best of {rounds})",
            ns(written),
            ns(copied)
        );
    }
}
