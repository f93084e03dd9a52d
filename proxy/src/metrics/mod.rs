//! The metrics sluice exports: `/metrics` in the OpenMetrics text format (encoded by
//! `prometheus-client`) and the same series for the OTLP exporter.
//!
//! This module is the only place a metric label is built. Recording goes through typed methods
//! ([`Metrics::request`], [`Metrics::disclosure`], ...), one per family, whose closed-set label
//! values are `&'static str` (a code written in sluice's source, which no request can supply) and
//! whose open-set values are ids from the configuration and the policy (partner, contract, route
//! template, rule path) — never a value from a body, header, path or query. Each family is
//! declared once in [`FAMILIES`] with its type and help.
//!
//! Nothing on the request path takes a global lock: counters are atomics found by borrowed label
//! values in a map read under a shared lock ([`family`]); the ledger's latency histogram is atomic
//! buckets, the request latency's (which carries trace ids as exemplars) takes its series' own
//! lock for one bucket's update ([`histogram`]). Gauges are computed when scraped.

mod exposition;
pub mod families;
pub mod family;
pub mod histogram;

use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use family::{CounterFamily, Rows};
use histogram::{AtomicHistogram, TraceExemplar, TracedHistogram};

pub use families::FAMILIES;

/// Label pairs of one series.
pub type Labels = Vec<(&'static str, String)>;

/// Families by exported name, each with its series.
type Families<T> = Vec<(&'static str, Vec<(Labels, T)>)>;

/// One series of a histogram family.
#[derive(Debug, Clone)]
pub(crate) enum Histogram {
    /// Counts only.
    Plain(Arc<AtomicHistogram>),
    /// Counts, and trace ids as exemplars.
    Traced(Arc<TracedHistogram>),
}

/// A gauge's current value, computed at scrape time.
pub type Gauge = (&'static str, Labels, f64);

/// The series of one sluice instance.
#[derive(Debug)]
struct Tables {
    requests: CounterFamily<2>,
    rejections: CounterFamily<1>,
    disclosures: CounterFamily<3>,
    records: CounterFamily<2>,
    fields: CounterFamily<1>,
    bytes: CounterFamily<1>,
    connections_refused: CounterFamily<1>,
    connections_closed: CounterFamily<1>,
    shadow_bodies: CounterFamily<3>,
    shadow_differences: CounterFamily<4>,
    spans_dropped: CounterFamily<1>,
    /// By listener kind; a handful of kinds, added on first use.
    request_duration: RwLock<Vec<(&'static str, Arc<TracedHistogram>)>>,
    ledger_append: Arc<AtomicHistogram>,
    /// The same two latencies into the OpenTelemetry SDK, once telemetry runs.
    otel: OnceLock<OtelHistograms>,
}

/// Request and ledger-append latency instruments of the OpenTelemetry SDK.
#[derive(Debug)]
struct OtelHistograms {
    request: opentelemetry::metrics::Histogram<f64>,
    ledger_append: opentelemetry::metrics::Histogram<f64>,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            requests: CounterFamily::new(["kind", "status"]),
            rejections: CounterFamily::new(["reason"]),
            disclosures: CounterFamily::new(["partner", "contract", "outcome"]),
            records: CounterFamily::new(["partner", "contract"]),
            fields: CounterFamily::new(["action"]),
            bytes: CounterFamily::new(["direction"]),
            connections_refused: CounterFamily::new(["reason"]),
            connections_closed: CounterFamily::new(["reason"]),
            shadow_bodies: CounterFamily::new(["contract", "route", "result"]),
            shadow_differences: CounterFamily::new(["contract", "route", "path", "kind"]),
            spans_dropped: CounterFamily::new(["reason"]),
            request_duration: RwLock::default(),
            ledger_append: Arc::default(),
            otel: OnceLock::new(),
        }
    }
}

/// The registry of one sluice instance; cheap to share.
#[derive(Debug, Default, Clone)]
pub struct Metrics(Arc<Tables>);

/// A response status as its class label.
fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl Metrics {
    /// A request answered by a listener of `kind`, with its status, `elapsed` after its head;
    /// `trace` is its trace id when its trace was sampled (the latency bucket's exemplar).
    pub fn request(
        &self,
        kind: &'static str,
        status: u16,
        elapsed: Duration,
        trace: Option<opentelemetry::trace::TraceId>,
    ) {
        let t = &self.0;
        t.requests.add([kind, status_class(status)], 1);
        let observe =
            |h: &TracedHistogram| h.observe(elapsed.as_secs_f64(), trace.map(TraceExemplar), None);
        // A handful of kinds, each added once: observed under the shared read, written only
        // for a kind's first request.
        let by_kind = &t.request_duration;
        let observed = by_kind
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, h)| observe(h))
            .is_some();
        if !observed {
            let mut all = by_kind.write().unwrap_or_else(|e| e.into_inner());
            match all.iter().find(|(k, _)| *k == kind) {
                Some((_, h)) => observe(h),
                None => {
                    let h = Arc::new(histogram::traced());
                    observe(&h);
                    all.push((kind, h));
                }
            }
        }
        if let Some(o) = t.otel.get() {
            o.request.record(
                elapsed.as_secs_f64(),
                &[opentelemetry::KeyValue::new("kind", kind)],
            );
        }
    }

    /// A request refused, by its reason code.
    pub fn rejection(&self, reason: &'static str) {
        self.0.rejections.add([reason], 1);
    }

    /// A disclosure ended with `outcome`.
    pub fn disclosure(&self, partner: &str, contract: &str, outcome: &'static str) {
        self.0.disclosures.add([partner, contract, outcome], 1);
    }

    /// What a sent disclosure carried: records, field occurrences by action, bytes in and out.
    pub fn sent(
        &self,
        partner: &str,
        contract: &str,
        records: u64,
        fields: &[(&'static str, u64)],
        bytes: (u64, u64),
    ) {
        let t = &self.0;
        t.records.add([partner, contract], records);
        for (action, n) in fields {
            t.fields.add([action], *n);
        }
        t.bytes.add(["in"], bytes.0);
        t.bytes.add(["out"], bytes.1);
    }

    /// A connection refused by a cap (`listener_limit`, `source_limit`, `partner_limit`).
    pub fn connection_refused(&self, cap: &'static str) {
        self.0.connections_refused.add([cap], 1);
    }

    /// A connection sluice closed, by reason.
    pub fn connection_closed(&self, reason: &'static str) {
        self.0.connections_closed.add([reason], 1);
    }

    /// The time a disclosure's begin entry took to become durable.
    pub fn ledger_append(&self, elapsed: Duration) {
        self.0.ledger_append.observe(elapsed);
        if let Some(o) = self.0.otel.get() {
            o.ledger_append.record(elapsed.as_secs_f64(), &[]);
        }
    }

    /// Also records the two latency histograms into these OpenTelemetry instruments (once).
    pub fn export_histograms(
        &self,
        request: opentelemetry::metrics::Histogram<f64>,
        ledger_append: opentelemetry::metrics::Histogram<f64>,
    ) {
        let _ = self.0.otel.set(OtelHistograms {
            request,
            ledger_append,
        });
    }

    /// A body the shadow candidate saw (`same`, `different`, `skipped`).
    pub fn shadow_body(&self, contract: &str, route: &str, result: &'static str) {
        self.0.shadow_bodies.add([contract, route, result], 1);
    }

    /// One difference the shadow candidate would make at a rule path.
    pub fn shadow_difference(&self, contract: &str, route: &str, path: &str, kind: &'static str) {
        self.0
            .shadow_differences
            .add([contract, route, path, kind], 1);
    }

    /// `n` spans the OTLP exporter lost, by reason (`queue_full`, `export_failed`).
    pub fn spans_dropped(&self, reason: &'static str, n: u64) {
        self.0.spans_dropped.add([reason], n);
    }

    /// The counter families with their exported names.
    fn counters(&self) -> Families<u64> {
        self.counter_families()
            .into_iter()
            .map(|(name, f)| (name, f.rows()))
            .collect()
    }

    /// The series of the counter family exported as `family` (none for another name).
    pub fn counter_series(&self, family: &str) -> Vec<(Labels, u64)> {
        self.counter_families()
            .into_iter()
            .find(|(name, _)| *name == family)
            .map(|(_, f)| f.rows())
            .unwrap_or_default()
    }

    /// The counter families by exported name.
    fn counter_families(&self) -> [(&'static str, &dyn Rows); 12] {
        let t = &self.0;
        [
            ("sluice_requests_total", &t.requests),
            ("sluice_rejections_total", &t.rejections),
            ("sluice_disclosures_total", &t.disclosures),
            ("sluice_records_total", &t.records),
            ("sluice_fields_total", &t.fields),
            ("sluice_bytes_total", &t.bytes),
            ("sluice_connections_refused_total", &t.connections_refused),
            ("sluice_connections_closed_total", &t.connections_closed),
            ("sluice_shadow_bodies_total", &t.shadow_bodies),
            ("sluice_shadow_differences_total", &t.shadow_differences),
            ("sluice_telemetry_spans_dropped_total", &t.spans_dropped),
            ("sluice_log_lines_dropped_total", &family::LogLinesDropped),
        ]
    }

    /// The histogram families with their exported names.
    fn histograms(&self) -> Families<Histogram> {
        let t = &self.0;
        let mut by_kind: Vec<_> = t
            .request_duration
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, h)| {
                (
                    vec![("kind", (*k).to_string())],
                    Histogram::Traced(h.clone()),
                )
            })
            .collect();
        by_kind.sort_by(|a, b| a.0.cmp(&b.0));
        vec![
            ("http_server_request_duration_seconds", by_kind),
            (
                "sluice_ledger_append_duration_seconds",
                if t.ledger_append.count() == 0 {
                    vec![]
                } else {
                    vec![(vec![], Histogram::Plain(t.ledger_append.clone()))]
                },
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_histograms_and_gauges_render_as_openmetrics() {
        let m = Metrics::default();
        m.rejection("rate_limited");
        m.rejection("rate_limited");
        m.rejection("rate_limited");
        m.disclosure("a\"b", "c", "sent");
        m.request("partner", 200, Duration::from_millis(3), None);
        let text = m.render(&[("sluice_ledger_healthy", vec![], 1.0)]);
        for want in [
            "# TYPE sluice_rejections counter\n",
            "sluice_rejections_total{reason=\"rate_limited\"} 3\n",
            "sluice_disclosures_total{partner=\"a\\\"b\",contract=\"c\",outcome=\"sent\"} 1\n",
            "sluice_requests_total{kind=\"partner\",status=\"2xx\"} 1\n",
            "# TYPE http_server_request_duration_seconds histogram\n",
            "http_server_request_duration_seconds_bucket{le=\"0.0025\",kind=\"partner\"} 0\n",
            "http_server_request_duration_seconds_bucket{le=\"0.005\",kind=\"partner\"} 1\n",
            "http_server_request_duration_seconds_bucket{le=\"+Inf\",kind=\"partner\"} 1\n",
            "http_server_request_duration_seconds_count{kind=\"partner\"} 1\n",
            "sluice_ledger_healthy 1",
        ] {
            assert!(text.contains(want), "{want} not in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(
            m.counter_series("sluice_rejections_total"),
            vec![(vec![("reason", "rate_limited".to_string())], 3)]
        );
        assert!(m.counter_series("sluice_nothing_total").is_empty());
        let (name, series) = &m.histograms()[0];
        assert_eq!(*name, "http_server_request_duration_seconds");
        assert_eq!(series.len(), 1);
    }

    #[test]
    fn a_sampled_requests_trace_id_is_its_latency_buckets_exemplar() {
        let m = Metrics::default();
        let trace = opentelemetry::trace::TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736_u128);
        m.request("partner", 200, Duration::from_millis(3), Some(trace));
        m.request("partner", 200, Duration::from_millis(30), None);
        let text = m.render(&[]);
        let bucket = |le: &str| {
            let head = format!(
                "http_server_request_duration_seconds_bucket{{le=\"{le}\",kind=\"partner\"}} "
            );
            text.lines()
                .find_map(|l| l.strip_prefix(&head))
                .unwrap_or_else(|| panic!("no bucket {le} in\n{text}"))
                .to_string()
        };
        assert_eq!(
            bucket("0.005"),
            "1 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 0.003"
        );
        // The unsampled request counts, and names no trace.
        assert_eq!(bucket("0.05"), "2");
    }

    #[test]
    fn every_recorded_family_is_declared() {
        let m = Metrics::default();
        for (name, _) in m.counters() {
            assert!(
                FAMILIES.iter().any(|f| f.0 == name && f.1 == "counter"),
                "{name}"
            );
        }
        for (name, _) in m.histograms() {
            assert!(
                FAMILIES.iter().any(|f| f.0 == name && f.1 == "histogram"),
                "{name}"
            );
        }
    }
}
