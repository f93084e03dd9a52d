//! Spans the exporter loses, counted where operators look: `sluice_telemetry_spans_dropped_total`
//! on `/metrics` (and over OTLP with the other counters).
//!
//! The SDK's batch processor drops a span when its queue is full, counts it and only logs the
//! count. [`Admitted`] puts an admission count of sluice's own in front of it: a span ending is
//! admitted while fewer than the queue's capacity are admitted and not yet handed to the
//! exporter; otherwise it is dropped here, at once (a request never waits), and counted as
//! `queue_full`. [`Released`] wraps the exporter and releases each batch as its export starts —
//! after the SDK took the batch off its queue — so the SDK's queue never holds more spans than
//! are admitted, and never drops one itself. A batch the collector does not take (an error,
//! retries exhausted, a timeout) is counted as `export_failed`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

use crate::metrics::Metrics;

/// Spans admitted to the queue and not yet handed to the exporter.
#[derive(Debug)]
pub struct Admission {
    pending: AtomicUsize,
    capacity: usize,
    metrics: Metrics,
}

impl Admission {
    /// Room for `capacity` spans (the SDK queue's size); losses are counted in `metrics`.
    pub fn new(capacity: usize, metrics: Metrics) -> Arc<Self> {
        Arc::new(Admission {
            pending: AtomicUsize::new(0),
            capacity,
            metrics,
        })
    }

    /// Takes a place for one span; `false` (and the drop counted) when the queue is full.
    fn admit(&self) -> bool {
        // Concurrent callers may push the count past the capacity for a moment; each of them
        // gives its place back, so no more than `capacity` are ever admitted.
        if self.pending.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            self.metrics.spans_dropped("queue_full", 1);
            return false;
        }
        true
    }

    /// `n` spans left the queue for the exporter.
    fn release(&self, n: usize) {
        self.pending.fetch_sub(n, Ordering::AcqRel);
    }
}

/// A span processor (the SDK's batch processor) behind sluice's admission count.
#[derive(Debug)]
pub struct Admitted<P> {
    pub inner: P,
    pub admission: Arc<Admission>,
}

impl<P: SpanProcessor> SpanProcessor for Admitted<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if self.admission.admit() {
            self.inner.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A span exporter that gives each batch's places back as its export starts, and counts a
/// batch the collector did not take.
#[derive(Debug)]
pub struct Released<E> {
    pub inner: E,
    pub admission: Arc<Admission>,
}

impl<E: SpanExporter> SpanExporter for Released<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        self.admission.release(n);
        let result = self.inner.export(batch).await;
        if result.is_err() {
            self.admission
                .metrics
                .spans_dropped("export_failed", n as u64);
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_past_the_capacity_are_dropped_and_counted_until_a_batch_is_released() {
        let metrics = Metrics::default();
        let a = Admission::new(2, metrics.clone());
        assert!(a.admit());
        assert!(a.admit());
        assert!(!a.admit());
        assert!(!a.admit());
        a.release(2);
        assert!(a.admit());
        assert_eq!(
            metrics.counter_series("sluice_telemetry_spans_dropped_total"),
            vec![(vec![("reason", "queue_full".to_string())], 2)]
        );
    }
}
