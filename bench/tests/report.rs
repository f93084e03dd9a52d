//! The bench report: ratios against `direct` and `nginx` come from the rows of the same
//! scenario, and the chart names every scenario and target.

use std::time::Duration;

use sluice_bench::load::Report;
use sluice_bench::suite::{Row, chart, markdown, round_spread};

fn row(target: &'static str, scenario: &'static str, requests: u64) -> Row {
    let mut report = Report {
        requests,
        bytes: requests * 1000,
        elapsed: Duration::from_secs(2),
        ..Report::default()
    };
    for v in [800u64, 900, 4000] {
        report.latency.record(v).unwrap();
    }
    Row {
        target,
        scenario,
        // 2^20 / 2 bytes per body over 2 s: MiB/s in is requests / 4.
        input_mib_per_s: requests as f64 / 4.0,
        body_bytes: 1 << 19,
        cpu_us_per_request: 10.0,
        cpu_seconds: 1.0,
        peak_rss_mib: 12.5,
        report,
    }
}

#[test]
fn ratios_are_taken_against_direct_and_nginx_in_the_same_scenario() {
    let rows = vec![
        row("direct", "1 KiB h1", 8000),
        row("nginx", "1 KiB h1", 4000),
        row("sluice-reference", "1 KiB h1", 2000),
        row("direct", "64 KiB h1", 1000),
        row("sluice-reference", "64 KiB h1", 900),
    ];
    let md = markdown::render(&rows, &markdown::Context::default());
    let line = |target: &str, scenario: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| {scenario} | {target} |")))
            .unwrap_or_else(|| panic!("no row for {target} {scenario} in\n{md}"))
            .to_string()
    };
    // 2000 req/s: 0.25× direct, 0.50× nginx.
    assert!(line("sluice-reference", "1 KiB h1").ends_with("| 0.25× | 0.50× |"));
    assert!(line("nginx", "1 KiB h1").ends_with("| 0.50× | — |"));
    // No nginx row in that scenario: no nginx ratio.
    assert!(line("sluice-reference", "64 KiB h1").ends_with("| 0.90× | — |"));
    // req/s, p50 and p99 from the report.
    assert!(line("direct", "1 KiB h1").starts_with("| 1 KiB h1 | direct | 4000 |"));
}

#[test]
fn the_chart_names_every_scenario_and_target() {
    let rows = vec![
        row("direct", "1 KiB h1", 8000),
        row("sluice-reference", "1 KiB h1", 2000),
        row("sluice-reference", "NDJSON stream", 1),
    ];
    let path = std::env::temp_dir().join(format!("sluice-chart-{}.svg", std::process::id()));
    chart::draw(&rows, &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    for name in ["1 KiB h1", "NDJSON stream", "direct", "sluice-reference"] {
        assert!(svg.contains(name), "{name} missing from the chart");
    }
    assert!(
        svg.matches("<rect").count() >= 3 + 2,
        "bars and legend boxes"
    );
}

#[test]
fn rounds_are_summed_not_averaged() {
    // Round 1: 2000 requests in 2 s with 1 CPU second; round 2: 6000 in 2 s with 2 CPU seconds.
    let mut sum = row("sluice-reference", "1 KiB h1", 2000);
    let mut later = row("sluice-reference", "1 KiB h1", 6000);
    later.cpu_seconds = 2.0;
    later.peak_rss_mib = 20.0;
    later.report.errors.insert("status 503".into(), 3);
    sum.absorb(&later);
    assert_eq!(sum.report.requests, 8000);
    assert_eq!(sum.report.elapsed, Duration::from_secs(4));
    assert_eq!(sum.report.rate(), 2000.0);
    // 3 CPU seconds over 8000 requests, not the mean of the two rounds' 500 and 333 µs.
    assert!(
        (sum.cpu_us_per_request - 375.0).abs() < 1e-9,
        "{}",
        sum.cpu_us_per_request
    );
    // 8000 bodies of half a MiB in 4 s.
    assert!(
        (sum.input_mib_per_s - 1000.0).abs() < 1e-9,
        "{}",
        sum.input_mib_per_s
    );
    assert_eq!(sum.peak_rss_mib, 20.0);
    assert_eq!(sum.report.error_count(), 3);
    assert_eq!(sum.report.latency.len(), 6);
}

#[test]
fn the_round_spread_pairs_each_round_with_nginx_in_the_same_round() {
    let round = |n: u32, target: &'static str, requests: u64, cpu: f64| {
        let mut r = row(target, "1 KiB h1", requests);
        r.cpu_us_per_request = cpu;
        (n, r)
    };
    let rounds = vec![
        round(1, "nginx", 4000, 20.0),
        round(1, "sluice-reference", 2000, 50.0),
        round(2, "nginx", 2000, 40.0),
        round(2, "sluice-reference", 1000, 60.0),
        round(3, "nginx", 4000, 20.0),
        round(3, "sluice-reference", 1000, 60.0),
    ];
    let note =
        round_spread("1 KiB h1", &rounds, "sluice-reference", "nginx").expect("both measured");
    assert_eq!(
        note,
        "Round by round, sluice-reference ÷ nginx, 1 KiB h1: CPU µs/request 2.50, 1.50, 3.00 \
         (median 2.50); requests/s 0.50, 0.50, 0.25 (median 0.50)."
    );
    // Without nginx there is nothing to pair.
    assert_eq!(
        round_spread("1 KiB h1", &rounds[1..2], "sluice-reference", "nginx"),
        None
    );
    // Any two targets: nginx against sluice-reference, the other way round.
    let back = round_spread("1 KiB h1", &rounds, "nginx", "sluice-reference").expect("measured");
    assert!(back.contains("nginx ÷ sluice-reference, 1 KiB h1: CPU µs/request 0.40, 0.67, 0.33"));
}
