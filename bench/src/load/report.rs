//! What a load run measured: counts, bytes, errors by kind and an HDR latency histogram, as JSON
//! (for scripts and the bench suite) and as a short human summary.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Latencies are recorded in microseconds, from 1 µs to 10 minutes, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// The result of one run (or one worker's share of it, before [`Report::merge`]).
#[derive(Debug, Clone)]
pub struct Report {
    /// Requests that completed with a 2xx status and a whole body.
    pub requests: u64,
    /// Response body bytes of those requests.
    pub bytes: u64,
    /// Connections opened (TCP + TLS + HTTP handshake) during the run.
    pub connections: u64,
    /// Failed requests by kind (`connect`, `tls`, `status 429`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Latency of successful requests in µs (from the scheduled send time in open-loop runs).
    pub latency: Histogram<u64>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Default for Report {
    fn default() -> Self {
        Report {
            requests: 0,
            bytes: 0,
            connections: 0,
            errors: BTreeMap::new(),
            latency: histogram(),
            elapsed: Duration::ZERO,
        }
    }
}

impl Report {
    /// Adds another worker's counts into this one.
    pub fn merge(&mut self, other: &Report) {
        self.requests += other.requests;
        self.bytes += other.bytes;
        self.connections += other.connections;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.latency
            .add(&other.latency)
            .expect("histograms share their bounds");
    }

    /// All failed requests.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Response body throughput in MiB/s.
    pub fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / (1 << 20) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A latency quantile in milliseconds (0 when nothing completed).
    pub fn ms(&self, quantile: f64) -> f64 {
        if self.latency.is_empty() {
            return 0.0;
        }
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// The report as a JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests,
            "errors": self.error_count(),
            "errors_by_kind": self.errors,
            "connections": self.connections,
            "bytes": self.bytes,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "requests_per_s": self.rate(),
            "mib_per_s": self.mib_per_s(),
            "latency_ms": {
                "p50": self.ms(0.5),
                "p90": self.ms(0.9),
                "p99": self.ms(0.99),
                "p99_9": self.ms(0.999),
                "max": self.latency.max() as f64 / 1000.0,
                "mean": self.latency.mean() / 1000.0,
            },
        })
    }

    /// A few lines for a person.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} requests in {:.2} s: {:.0} req/s, {:.1} MiB/s, {} connections opened\n\
             latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}\n",
            self.requests,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.mib_per_s(),
            self.connections,
            self.ms(0.5),
            self.ms(0.9),
            self.ms(0.99),
            self.ms(0.999),
            self.latency.max() as f64 / 1000.0,
        );
        if self.errors.is_empty() {
            s.push_str("errors: none\n");
        } else {
            let kinds: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            s.push_str(&format!(
                "errors: {} ({})\n",
                self.error_count(),
                kinds.join(", ")
            ));
        }
        s
    }
}
