//! The OTLP/JSON documents sluice sends (`ExportTraceServiceRequest` to `/v1/traces`,
//! `ExportMetricsServiceRequest` to `/v1/metrics`, OTLP 1.x protobuf-JSON mapping: ids as hex,
//! times and 64-bit integers as decimal strings). This file is the whole of what leaves the
//! process through telemetry.

use std::time::SystemTime;

use serde_json::{Value as Json, json};

use super::{Kind, SpanData, Value};
use crate::metrics::{FAMILIES, Gauge, Snapshot};

fn nanos(t: SystemTime) -> String {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        .to_string()
}

fn attributes<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Json {
    Json::Array(
        pairs
            .into_iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::Str(s) => json!({ "stringValue": s }),
                    Value::Int(i) => json!({ "intValue": i.to_string() }),
                };
                json!({ "key": k, "value": value })
            })
            .collect(),
    )
}

fn resource(service_name: &str) -> Json {
    json!({
        "attributes": [
            { "key": "service.name", "value": { "stringValue": service_name } },
            { "key": "service.version", "value": { "stringValue": env!("CARGO_PKG_VERSION") } },
        ]
    })
}

fn scope() -> Json {
    json!({ "name": "sluice", "version": env!("CARGO_PKG_VERSION") })
}

/// `ExportTraceServiceRequest` for `spans`.
pub fn traces(service_name: &str, spans: &[SpanData]) -> Json {
    let spans: Vec<Json> = spans
        .iter()
        .map(|s| {
            let mut span = json!({
                "traceId": s.trace_id,
                "spanId": s.span_id,
                "name": s.name,
                "kind": match s.kind { Kind::Server => 2, Kind::Client => 3 },
                "startTimeUnixNano": nanos(s.start),
                "endTimeUnixNano": nanos(s.end),
                "attributes": attributes(s.attributes.iter().map(|(k, v)| (*k, v))),
                "status": { "code": if s.error { 2 } else { 0 } },
            });
            if let Some(p) = &s.parent_span_id {
                span["parentSpanId"] = json!(p);
            }
            span
        })
        .collect();
    json!({
        "resourceSpans": [{
            "resource": resource(service_name),
            "scopeSpans": [{ "scope": scope(), "spans": spans }],
        }]
    })
}

/// The OpenTelemetry name and unit of a Prometheus family:
/// `http_server_request_duration_seconds` → (`http.server.request.duration`, `s`).
pub fn otel_name(family: &str) -> (String, &'static str) {
    let (base, unit) = if let Some(b) = family.strip_suffix("_seconds") {
        (b, "s")
    } else if let Some(b) = family.strip_suffix("_total") {
        (b, if b == "sluice_bytes" { "By" } else { "1" })
    } else {
        (family, "1")
    };
    (base.replace('_', "."), unit)
}

fn labels(l: &[(&'static str, String)]) -> Json {
    Json::Array(
        l.iter()
            .map(|(k, v)| json!({ "key": k, "value": { "stringValue": v } }))
            .collect(),
    )
}

/// `ExportMetricsServiceRequest`: cumulative sums and histograms since `start`, gauges now.
pub fn metrics(
    service_name: &str,
    start: SystemTime,
    snapshot: &Snapshot,
    gauges: &[Gauge],
) -> Json {
    let (start, now) = (nanos(start), nanos(SystemTime::now()));
    let mut out = Vec::new();
    for (family, kind, help) in FAMILIES {
        let (name, unit) = otel_name(family);
        let metric = match *kind {
            "counter" => {
                let points: Vec<Json> = snapshot
                    .counters
                    .iter()
                    .filter(|(n, _, _)| n == family)
                    .map(|(_, l, v)| json!({ "attributes": labels(l), "startTimeUnixNano": start, "timeUnixNano": now, "asInt": v.to_string() }))
                    .collect();
                json!({ "sum": { "dataPoints": points, "aggregationTemporality": 2, "isMonotonic": true } })
            }
            "histogram" => {
                let points: Vec<Json> = snapshot
                    .histograms
                    .iter()
                    .filter(|(n, _, _)| n == family)
                    .map(|(_, l, h)| {
                        // Per-bucket counts (OTLP) from cumulative ones (Prometheus), plus overflow.
                        let mut counts = Vec::with_capacity(h.cumulative.len() + 1);
                        let mut below = 0;
                        for c in &h.cumulative {
                            counts.push((c - below).to_string());
                            below = *c;
                        }
                        counts.push((h.count - below).to_string());
                        json!({ "attributes": labels(l), "startTimeUnixNano": start, "timeUnixNano": now,
                                "count": h.count.to_string(), "sum": h.sum, "bucketCounts": counts, "explicitBounds": h.bounds })
                    })
                    .collect();
                json!({ "histogram": { "dataPoints": points, "aggregationTemporality": 2 } })
            }
            _ => {
                let points: Vec<Json> = gauges
                    .iter()
                    .filter(|(n, _, _)| n == family)
                    .map(|(_, l, v)| json!({ "attributes": labels(l), "timeUnixNano": now, "asDouble": v }))
                    .collect();
                json!({ "gauge": { "dataPoints": points } })
            }
        };
        let mut metric = metric;
        metric["name"] = json!(name);
        metric["description"] = json!(help);
        metric["unit"] = json!(unit);
        out.push(metric);
    }
    json!({
        "resourceMetrics": [{
            "resource": resource(service_name),
            "scopeMetrics": [{ "scope": scope(), "metrics": out }],
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_families_map_to_otel_names() {
        assert_eq!(
            otel_name("http_server_request_duration_seconds"),
            ("http.server.request.duration".to_string(), "s")
        );
        assert_eq!(
            otel_name("sluice_disclosures_total"),
            ("sluice.disclosures".to_string(), "1")
        );
        assert_eq!(
            otel_name("sluice_bytes_total"),
            ("sluice.bytes".to_string(), "By")
        );
        assert_eq!(
            otel_name("sluice_ledger_healthy"),
            ("sluice.ledger.healthy".to_string(), "1")
        );
    }

    #[test]
    fn histogram_buckets_become_per_bucket_counts() {
        let m = crate::metrics::Metrics::default();
        for ms in [1, 3, 3, 20_000] {
            m.request("partner", 200, std::time::Duration::from_millis(ms));
        }
        let doc = metrics("sluice", SystemTime::now(), &m.snapshot(), &[]);
        let metric = doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "http.server.request.duration")
            .unwrap()
            .clone();
        let point = &metric["histogram"]["dataPoints"][0];
        let counts: Vec<u64> = point["bucketCounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().parse().unwrap())
            .collect();
        // Bounds 0.0005, 0.001, 0.0025, 0.005, ...: 1 ms in the second, 3 ms twice in the
        // fourth, 20 s beyond the last bound.
        assert_eq!(counts.iter().sum::<u64>(), 4);
        assert_eq!((counts[1], counts[3], *counts.last().unwrap()), (1, 2, 1));
        assert_eq!(point["count"], "4");
    }
}
