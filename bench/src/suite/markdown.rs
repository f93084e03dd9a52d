//! The bench report as Markdown: the machine, the table, the ratios of each target to `direct`
//! and to `nginx`, and notes on what was and was not measured.

use std::fmt::Write;

use super::Row;

/// What the report says about where and how it was produced.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Date (UTC) of the run.
    pub date: String,
    /// Commit the binaries were built from.
    pub commit: String,
    /// CPU, cores, memory, kernel, toolchain, nginx version.
    pub machine: Vec<String>,
    /// How the run was invoked (seconds per scenario, pinning, ...).
    pub settings: Vec<String>,
    /// Notes (skipped targets, profiling).
    pub notes: Vec<String>,
    /// Profile of the worst scenario (perf report text), if taken.
    pub profile: Option<String>,
    /// File name of the SVG chart next to the report.
    pub chart: String,
}

fn find<'a>(rows: &'a [Row], target: &str, scenario: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.target == target && r.scenario == scenario)
}

/// `value / base` as `0.42×`, or `—` when there is no base.
fn ratio(value: f64, base: Option<f64>) -> String {
    match base {
        Some(b) if b > 0.0 => format!("{:.2}×", value / b),
        _ => "—".into(),
    }
}

/// Renders the report.
pub fn render(rows: &[Row], ctx: &Context) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# sluice bench report — {} ({})\n",
        ctx.date, ctx.commit
    );
    let _ = writeln!(
        md,
        "Produced by `bench/run.sh`; every figure below comes from the same run.\n"
    );
    let _ = writeln!(md, "## Machine and settings\n");
    for m in ctx.machine.iter().chain(&ctx.settings) {
        let _ = writeln!(md, "- {m}");
    }
    let _ = writeln!(
        md,
        "\n![throughput and p99 per target and scenario]({})\n",
        ctx.chart
    );
    let _ = writeln!(md, "## Results\n");
    let _ = writeln!(
        md,
        "`MiB/s in` counts the upstream's body bytes delivered (requests × the mock's body \
         length), `MiB/s out` what the client received (sluice-reference strips and masks, so it \
         sends less). Ratios compare requests/s (MiB/s in for the stream) with `direct` and \
         `nginx` in the same scenario. CPU and RSS are the measured process's: the proxy, or the \
         mock for `direct`.\n"
    );
    let _ = writeln!(
        md,
        "| scenario | target | req/s | MiB/s in | MiB/s out | p50 ms | p99 ms | p99.9 ms | errors | CPU µs/req | peak RSS MiB | × direct | × nginx |"
    );
    let _ = writeln!(
        md,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let mut scenarios: Vec<&str> = Vec::new();
    for r in rows {
        if !scenarios.contains(&r.scenario) {
            scenarios.push(r.scenario);
        }
    }
    for scenario in &scenarios {
        let stream = scenario.contains("stream");
        let metric = |r: &Row| {
            if stream {
                r.input_mib_per_s
            } else {
                r.report.rate()
            }
        };
        let direct = find(rows, "direct", scenario).map(metric);
        let nginx = find(rows, "nginx", scenario).map(metric);
        for r in rows.iter().filter(|r| r.scenario == *scenario) {
            let rep = &r.report;
            let _ = writeln!(
                md,
                "| {} | {} | {:.0} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {:.1} | {} | {} |",
                scenario,
                r.target,
                rep.rate(),
                r.input_mib_per_s,
                rep.mib_per_s(),
                rep.ms(0.5),
                rep.ms(0.99),
                rep.ms(0.999),
                rep.error_count(),
                r.cpu_us_per_request,
                r.peak_rss_mib,
                if r.target == "direct" {
                    "—".into()
                } else {
                    ratio(metric(r), direct)
                },
                if r.target == "nginx" {
                    "—".into()
                } else {
                    ratio(metric(r), nginx)
                },
            );
        }
    }
    if !ctx.notes.is_empty() {
        let _ = writeln!(md, "\n## Notes\n");
        for n in &ctx.notes {
            let _ = writeln!(md, "- {n}");
        }
    }
    if let Some(profile) = &ctx.profile {
        let _ = writeln!(
            md,
            "\n## Profile of the worst scenario\n\n```text\n{profile}\n```"
        );
    }
    md
}

/// The rows as JSON (for scripts comparing runs).
pub fn json(rows: &[Row], ctx: &Context) -> serde_json::Value {
    serde_json::json!({
        "date": ctx.date,
        "commit": ctx.commit,
        "machine": ctx.machine,
        "settings": ctx.settings,
        "rows": rows.iter().map(|r| serde_json::json!({
            "target": r.target,
            "scenario": r.scenario,
            "load": r.report.to_json(),
            "input_mib_per_s": r.input_mib_per_s,
            "cpu_seconds": r.cpu_seconds,
            "cpu_us_per_request": r.cpu_us_per_request,
            "peak_rss_mib": r.peak_rss_mib,
        })).collect::<Vec<_>>(),
    })
}
