//! Latency histograms: one updated with atomics only, and one that also keeps exemplars.
//!
//! [`AtomicHistogram`]: each bucket counts the observations that fall in it (not cumulatively);
//! the count exported is the sum of the buckets read, so a scrape never shows a count that
//! disagrees with its buckets. The sum of seconds is kept as nanoseconds in an integer, so it too
//! is one atomic add.
//!
//! [`TracedHistogram`]: prometheus-client's histogram with exemplars, for the request latency —
//! each bucket carries the trace id of the last sampled request that fell in it, so a dashboard
//! goes from a slow bucket to a trace. The library keeps exemplars only beside its own counts,
//! under a per-series lock (no global one) held for the update of one bucket; the criterion
//! bench `metrics` measures what that costs a request (bench/README.md). The label set is a trace
//! id, written as hex when scraped: an update allocates nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, seconds (a last `+Inf` bucket is implied).
pub const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Observations by bucket, and their sum.
#[derive(Debug)]
pub struct AtomicHistogram {
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Default for AtomicHistogram {
    fn default() -> Self {
        AtomicHistogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

impl AtomicHistogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS.partition_point(|bound| *bound < secs);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Per-bucket counts (the last is `+Inf`) and the sum in seconds.
    pub fn read(&self) -> (Vec<(f64, u64)>, f64) {
        let buckets = BUCKETS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(&self.buckets)
            .map(|(bound, n)| (bound, n.load(Ordering::Relaxed)))
            .collect();
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        (buckets, sum)
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|n| n.load(Ordering::Relaxed)).sum()
    }
}

/// The request-latency histogram of one listener kind, with trace ids as exemplars.
pub type TracedHistogram =
    prometheus_client::metrics::exemplar::HistogramWithExemplars<TraceExemplar>;

/// A new [`TracedHistogram`] with sluice's buckets.
pub fn traced() -> TracedHistogram {
    TracedHistogram::new(BUCKETS.iter().copied())
}

/// An exemplar's label set: `{trace_id="<32 hex digits>"}` — an id sluice made or the caller's
/// `traceparent` carried, never data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceExemplar(pub opentelemetry::trace::TraceId);

/// The trace id as a label value, formatted when scraped.
#[derive(Debug)]
struct Hex(opentelemetry::trace::TraceId);

impl prometheus_client::encoding::EncodeLabelValue for Hex {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        use std::fmt::Write as _;
        write!(encoder, "{}", self.0)
    }
}

impl prometheus_client::encoding::EncodeLabelSet for TraceExemplar {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        [("trace_id", Hex(self.0))].encode(encoder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_whose_bound_holds_them() {
        let h = AtomicHistogram::default();
        h.observe(Duration::from_micros(500)); // exactly the first bound
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60)); // past the last bound
        assert_eq!(h.count(), 3);
        let (buckets, sum) = h.read();
        let counts: Vec<u64> = buckets.iter().map(|b| b.1).collect();
        // le=0.0005 holds the first, le=0.005 the second, +Inf the third; nothing else.
        let mut want = vec![0; BUCKETS.len() + 1];
        (want[0], want[3], want[BUCKETS.len()]) = (1, 1, 1);
        assert_eq!(counts, want);
        assert_eq!(buckets[3].0, 0.005);
        assert!(buckets[BUCKETS.len()].0.is_infinite());
        assert!((sum - 60.0035).abs() < 1e-9);
    }
}
