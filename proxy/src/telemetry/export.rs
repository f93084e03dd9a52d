//! The exporter: finished spans go into a bounded queue; one task sends them in batches to
//! `{otlp_endpoint}/v1/traces`, and the metrics to `{otlp_endpoint}/v1/metrics`, every
//! `export_interval_ms`. A collector that is down or slow costs dropped telemetry (counted and
//! logged), never a delayed or refused request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use tokio::sync::mpsc;

use super::SpanData;

/// Spans waiting to be sent; beyond this they are dropped.
const QUEUE: usize = 8192;
/// Spans per request to the collector.
const BATCH: usize = 512;

pub use crate::config::TelemetryConfig;

/// What the exporter reads at each metrics export: the counters and histograms, and the gauges
/// computed then; `None` once the instance is gone (the exporter stops).
pub type MetricsSource =
    Box<dyn Fn() -> Option<(crate::metrics::Snapshot, Vec<crate::metrics::Gauge>)> + Send>;

/// The telemetry pipeline of one sluice instance.
#[derive(Debug)]
pub struct Telemetry {
    config: TelemetryConfig,
    tx: mpsc::Sender<SpanData>,
    rx: Mutex<Option<mpsc::Receiver<SpanData>>>,
    dropped: AtomicU64,
}

impl Telemetry {
    /// A pipeline whose exporting task starts with [`Telemetry::spawn`].
    pub fn new(config: TelemetryConfig) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        Arc::new(Telemetry {
            config,
            tx,
            rx: Mutex::new(Some(rx)),
            dropped: AtomicU64::new(0),
        })
    }

    /// Starts a server span for a request: in the caller's trace when its `traceparent` is
    /// valid.
    pub fn server_span(
        self: &Arc<Self>,
        trace_id: String,
        parent_span_id: Option<String>,
        method: &http::Method,
    ) -> super::SpanHandle {
        let m = super::method_attribute(method);
        let span = super::SpanHandle::start(
            self.clone(),
            trace_id,
            parent_span_id,
            m.to_string(),
            super::Kind::Server,
        );
        span.set_str("http.request.method", m);
        span.set_str("url.scheme", "https");
        span
    }

    /// Queues a finished span (dropped, and counted, when the queue is full).
    pub(crate) fn finished(&self, span: SpanData) {
        if self.tx.try_send(span).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Spans dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Starts the exporting task (once; later calls do nothing).
    pub fn spawn(self: &Arc<Self>, source: MetricsSource) {
        let Some(mut rx) = self.rx.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let config = self.config.clone();
        let started = SystemTime::now();
        tokio::spawn(async move {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<Full<Bytes>>();
            let mut tick = tokio::time::interval(config.export_interval);
            let mut batch = Vec::new();
            loop {
                tokio::select! {
                    span = rx.recv() => match span {
                        Some(span) => {
                            batch.push(span);
                            if batch.len() < BATCH {
                                continue;
                            }
                        }
                        None => break,
                    },
                    _ = tick.tick() => {
                        let Some((snapshot, gauges)) = source() else { break };
                        let doc = super::otlp::metrics(
                            &config.service_name,
                            started,
                            &snapshot,
                            &gauges,
                        );
                        post(&client, &config.otlp_endpoint, "/v1/metrics", &doc).await;
                    }
                }
                if !batch.is_empty() {
                    let doc = super::otlp::traces(&config.service_name, &batch);
                    batch.clear();
                    post(&client, &config.otlp_endpoint, "/v1/traces", &doc).await;
                }
            }
        });
    }
}

async fn post(
    client: &hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
    endpoint: &http::Uri,
    path: &str,
    doc: &serde_json::Value,
) {
    let uri = format!("{}{path}", endpoint.to_string().trim_end_matches('/'));
    let Ok(req) = http::Request::post(uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(doc.to_string())))
    else {
        return;
    };
    match tokio::time::timeout(Duration::from_secs(10), client.request(req)).await {
        Ok(Ok(resp)) if resp.status().is_success() => {}
        Ok(Ok(resp)) => {
            tracing::warn!(status = resp.status().as_u16(), path, "OTLP export refused")
        }
        Ok(Err(_)) | Err(_) => tracing::warn!(path, "OTLP export failed"),
    }
}
