//! Counters and histograms for the admin listener's `/metrics` (Prometheus text format 0.0.4).
//!
//! Labels are ids and codes only — partner, contract, outcome, reason, field action, listener —
//! never a value from a body, header, path or query. Each family is declared once in [`FAMILIES`]
//! with its type and help; recording into an undeclared family is a bug caught by a test.
//! Counters sit behind one mutex: a handful of increments per request, far below the cost of
//! the TLS and filtering work around them (see `bench/` for the proxy's figures).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// (name, type, help) of every family sluice exports.
pub const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "sluice_requests_total",
        "counter",
        "Requests answered, by listener kind and status class.",
    ),
    (
        "sluice_rejections_total",
        "counter",
        "Requests refused, by reason code.",
    ),
    (
        "sluice_disclosures_total",
        "counter",
        "Disclosures ended, by partner, contract and outcome.",
    ),
    (
        "sluice_records_total",
        "counter",
        "Records disclosed, by partner and contract.",
    ),
    (
        "sluice_fields_total",
        "counter",
        "Field occurrences by what the contract did to them.",
    ),
    (
        "sluice_bytes_total",
        "counter",
        "Body bytes filtered, in (from the source) and out (to the recipient).",
    ),
    (
        "http_server_request_duration_seconds",
        "histogram",
        "Time from request head to response head.",
    ),
    (
        "sluice_ledger_append_duration_seconds",
        "histogram",
        "Time for a disclosure's begin entry to become durable.",
    ),
    (
        "sluice_ledger_healthy",
        "gauge",
        "1 while the ledger can write, else 0.",
    ),
    (
        "sluice_certificate_expiry_days",
        "gauge",
        "Whole days until a listener certificate (or a CA it trusts) expires.",
    ),
    (
        "sluice_policy_contracts",
        "gauge",
        "Contracts in the loaded policy.",
    ),
    (
        "sluice_crl_next_update_seconds",
        "gauge",
        "Seconds until a listener's client CRL reaches its nextUpdate (negative once stale).",
    ),
    (
        "sluice_connections_refused_total",
        "counter",
        "Connections refused, by cap (listener_limit, partner_limit).",
    ),
    (
        "sluice_shadow_bodies_total",
        "counter",
        "Bodies the shadow candidate policy saw, by contract, route and result (same, different, skipped).",
    ),
    (
        "sluice_shadow_differences_total",
        "counter",
        "What the candidate policy would do differently, by contract, route, rule path and kind.",
    ),
    (
        "sluice_connections_closed_total",
        "counter",
        "Connections sluice closed, by reason (idle, max_age, send_timeout, revoked, shutdown).",
    ),
];

const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Label pairs of one series.
pub type Labels = Vec<(&'static str, String)>;

/// A series: family name and label pairs.
type Key = (&'static str, Labels);

/// A gauge's current value, computed at scrape time.
pub type Gauge = (&'static str, Labels, f64);

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    counters: BTreeMap<Key, u64>,
    histograms: BTreeMap<Key, Histogram>,
}

/// The registry of one sluice instance.
#[derive(Debug, Default)]
pub struct Metrics(Mutex<Inner>);

fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
    debug_assert!(
        FAMILIES.iter().any(|f| f.0 == name),
        "undeclared family {name}"
    );
    (
        name,
        labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect(),
    )
}

impl Metrics {
    /// Adds `by` to a counter.
    pub fn add(&self, name: &'static str, labels: &[(&'static str, &str)], by: u64) {
        if by == 0 {
            return;
        }
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *inner.counters.entry(key(name, labels)).or_default() += by;
    }

    /// Records one observation in a histogram.
    pub fn observe(&self, name: &'static str, labels: &[(&'static str, &str)], d: Duration) {
        let secs = d.as_secs_f64();
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let h = inner.histograms.entry(key(name, labels)).or_default();
        if h.buckets.is_empty() {
            h.buckets = vec![0; BUCKETS.len()];
        }
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// The exposition text; `gauges` are current values computed by the caller at scrape time.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        for (name, kind, help) in FAMILIES {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((n, labels), v) in &inner.counters {
                if n == name {
                    let _ = writeln!(out, "{name}{} {v}", labels_text(labels, None));
                }
            }
            for ((n, labels), h) in &inner.histograms {
                if n != name {
                    continue;
                }
                for (bound, c) in BUCKETS.iter().zip(&h.buckets) {
                    let le = bound.to_string();
                    let _ = writeln!(out, "{name}_bucket{} {c}", labels_text(labels, Some(&le)));
                }
                let _ = writeln!(
                    out,
                    "{name}_bucket{} {}",
                    labels_text(labels, Some("+Inf")),
                    h.count
                );
                let _ = writeln!(out, "{name}_sum{} {}", labels_text(labels, None), h.sum);
                let _ = writeln!(out, "{name}_count{} {}", labels_text(labels, None), h.count);
            }
            for (n, labels, v) in gauges {
                if n == name {
                    let _ = writeln!(out, "{name}{} {v}", labels_text(labels, None));
                }
            }
        }
        out
    }
}

/// A histogram series at one instant.
#[derive(Debug, Clone)]
pub struct HistogramPoint {
    /// Upper bounds of the buckets, seconds.
    pub bounds: &'static [f64],
    /// Observations at or below each bound (cumulative, as Prometheus counts them).
    pub cumulative: Vec<u64>,
    /// All observations.
    pub count: u64,
    /// Their sum, seconds.
    pub sum: f64,
}

/// Every counter and histogram series at one instant, for exporters other than `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// (family, labels, value).
    pub counters: Vec<(&'static str, Labels, u64)>,
    /// (family, labels, point).
    pub histograms: Vec<(&'static str, Labels, HistogramPoint)>,
}

impl Metrics {
    /// A copy of every series.
    pub fn snapshot(&self) -> Snapshot {
        let inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Snapshot {
            counters: inner
                .counters
                .iter()
                .map(|((n, l), v)| (*n, l.clone(), *v))
                .collect(),
            histograms: inner
                .histograms
                .iter()
                .map(|((n, l), h)| {
                    (
                        *n,
                        l.clone(),
                        HistogramPoint {
                            bounds: BUCKETS,
                            cumulative: h.buckets.clone(),
                            count: h.count,
                            sum: h.sum,
                        },
                    )
                })
                .collect(),
        }
    }
}

/// `{a="x",b="y"}` with Prometheus escaping; empty when there are no labels.
fn labels_text(labels: &[(&'static str, String)], le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_histograms_and_gauges_render_in_text_format() {
        let m = Metrics::default();
        m.add("sluice_rejections_total", &[("reason", "rate_limited")], 1);
        m.add("sluice_rejections_total", &[("reason", "rate_limited")], 2);
        m.add(
            "sluice_disclosures_total",
            &[("partner", "a\"b"), ("contract", "c"), ("outcome", "sent")],
            1,
        );
        m.observe(
            "http_server_request_duration_seconds",
            &[("kind", "partner")],
            Duration::from_millis(3),
        );
        let text = m.render(&[("sluice_ledger_healthy", vec![], 1.0)]);
        assert!(text.contains("# TYPE sluice_rejections_total counter\n"));
        assert!(text.contains("sluice_rejections_total{reason=\"rate_limited\"} 3\n"));
        assert!(text.contains(
            "sluice_disclosures_total{partner=\"a\\\"b\",contract=\"c\",outcome=\"sent\"} 1\n"
        ));
        assert!(text.contains(
            "http_server_request_duration_seconds_bucket{kind=\"partner\",le=\"0.0025\"} 0\n"
        ));
        assert!(text.contains(
            "http_server_request_duration_seconds_bucket{kind=\"partner\",le=\"0.005\"} 1\n"
        ));
        assert!(text.contains(
            "http_server_request_duration_seconds_bucket{kind=\"partner\",le=\"+Inf\"} 1\n"
        ));
        assert!(text.contains("http_server_request_duration_seconds_count{kind=\"partner\"} 1\n"));
        assert!(text.contains("sluice_ledger_healthy 1\n"));
    }
}
