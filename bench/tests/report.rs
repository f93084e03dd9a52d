//! The bench report: ratios against `direct` and `nginx` come from the rows of the same
//! scenario, and the chart names every scenario and target.

use std::time::Duration;

use sluice_bench::load::Report;
use sluice_bench::suite::{Row, chart, markdown};

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
        input_mib_per_s: requests as f64 / 2.0,
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
