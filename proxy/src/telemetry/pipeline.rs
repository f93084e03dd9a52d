//! The export pipeline: the SDK's tracer provider (a bounded batch span processor) and meter
//! provider (a periodic reader), both exporting over OTLP to the collector `[telemetry]` names.
//!
//! The pipeline is built when sluice starts serving, on its runtime (the gRPC channel and the
//! HTTP client run there). Counters and gauges reach the SDK as observable instruments read from
//! [`crate::metrics`] at each export, so a request pays nothing more for them; the two latency
//! histograms are recorded into the SDK as well as into `/metrics`. A collector that is down or
//! slow costs dropped telemetry (counted on `/metrics`, see [`super::admission`]), never a delayed
//! or refused request.

use std::sync::{Arc, OnceLock};

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _, WithTonicConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider,
};

pub use crate::config::TelemetryConfig;
use crate::config::TelemetryProtocol as Protocol;

/// What the exporter reads at each metrics export besides the counters: the gauges, computed
/// then; `None` once the instance is gone.
pub type GaugeSource = Box<dyn Fn() -> Option<Vec<crate::metrics::Gauge>> + Send + Sync>;

/// Why the pipeline could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A TLS file for the collector.
    #[error("telemetry: {0}")]
    Tls(String),
    /// The exporter refused its configuration.
    #[error("telemetry: the OTLP exporter: {0}")]
    Exporter(String),
}

#[derive(Debug)]
struct Pipeline {
    tracer: SdkTracer,
    traces: SdkTracerProvider,
    meters: SdkMeterProvider,
}

/// The telemetry of one sluice instance.
#[derive(Debug)]
pub struct Telemetry {
    config: TelemetryConfig,
    /// The TLS settings for the collector, built once from the files when the configuration
    /// loads.
    tls: CollectorTls,
    pipeline: OnceLock<Pipeline>,
}

impl Telemetry {
    /// Telemetry to the collector `config` names; nothing is exported before
    /// [`Telemetry::start`]. The collector's CA and client certificate are read and checked now,
    /// so that `sluice config check` finds a missing or broken file as `run` would.
    pub fn new(config: TelemetryConfig) -> Result<Arc<Self>, TelemetryError> {
        let tls = match config.protocol {
            Protocol::Grpc => CollectorTls::Grpc(grpc_tls(&config)?),
            Protocol::HttpProtobuf => CollectorTls::Http(http_tls(&config)?),
        };
        Ok(Arc::new(Telemetry {
            config,
            tls,
            pipeline: OnceLock::new(),
        }))
    }

    /// Starts a server span for a request: in the caller's trace when `parent` is set (a trusted
    /// caller's valid `traceparent`; its sampling decision stands), else a root span with the
    /// request's own trace id. `None` before the pipeline runs.
    pub fn server_span(
        &self,
        trace_id: &str,
        parent: Option<&crate::tracecontext::Parent>,
        method: &http::Method,
    ) -> Option<super::SpanHandle> {
        let p = self.pipeline.get()?;
        let trace = TraceId::from_hex(trace_id).unwrap_or(TraceId::INVALID);
        let m = super::method_attribute(method);
        // Room for every attribute a server span gets, so that ending it does not grow the
        // SDK's list attribute by attribute.
        let builder = p
            .tracer
            .span_builder(m)
            .with_kind(SpanKind::Server)
            .with_attributes(Vec::with_capacity(super::SERVER_ATTRIBUTES));
        let span = match parent.and_then(|p| Some((SpanId::from_hex(&p.span_id).ok()?, p.sampled)))
        {
            Some((parent, sampled)) => {
                let remote = SpanContext::new(
                    trace,
                    parent,
                    if sampled {
                        TraceFlags::SAMPLED
                    } else {
                        TraceFlags::default()
                    },
                    true,
                    TraceState::default(),
                );
                let cx = opentelemetry::Context::new().with_remote_span_context(remote);
                builder.start_with_context(&p.tracer, &cx)
            }
            None => super::ids::with_trace_id(trace, || {
                builder.start_with_context(&p.tracer, &opentelemetry::Context::new())
            }),
        };
        let span = super::SpanHandle::new(span, p.tracer.clone(), super::SERVER_ATTRIBUTES);
        span.set_static(super::Key::Method, m);
        span.set_static(super::Key::Scheme, "https");
        Some(span)
    }

    /// Builds the exporters and providers on the current runtime and registers the metric
    /// instruments (once; later calls do nothing).
    pub fn start(
        &self,
        metrics: &crate::metrics::Metrics,
        gauges: GaugeSource,
    ) -> Result<(), TelemetryError> {
        if self.pipeline.get().is_some() {
            return Ok(());
        }
        let c = &self.config;
        let mut resource = Resource::builder()
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
        if let Some(name) = &c.service_name {
            resource = resource.with_service_name(name.clone());
        }
        let resource = resource.build();
        let (spans, metric_exporter) = exporters(c, &self.tls)?;
        // The SDK's queue and sluice's admission have the same size: the admission drops (and
        // counts) first, so the SDK's own queue is never found full.
        let admission = super::admission::Admission::new(c.max_queued_spans, metrics.clone());
        let spans = super::admission::Released {
            inner: spans,
            admission: admission.clone(),
        };
        let processor = BatchSpanProcessor::builder(spans)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(c.max_queued_spans)
                    .with_max_export_batch_size(512.min(c.max_queued_spans))
                    .with_scheduled_delay(c.export_interval.min(std::time::Duration::from_secs(1)))
                    .build(),
            )
            .build();
        let processor = super::admission::Admitted {
            inner: processor,
            admission,
        };
        let mut traces = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_id_generator(super::ids::RequestIds::default())
            .with_resource(resource.clone());
        if let Some(ratio) = c.sampler_ratio {
            traces = traces.with_sampler(Sampler::ParentBased(Box::new(
                Sampler::TraceIdRatioBased(ratio),
            )));
        }
        let traces = traces.build();
        let reader = PeriodicReader::builder(metric_exporter)
            .with_interval(c.export_interval)
            .build();
        let meters = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(resource)
            .build();
        instruments(&meters, metrics, gauges);
        let _ = self.pipeline.set(Pipeline {
            tracer: traces.tracer("sluice"),
            traces,
            meters,
        });
        Ok(())
    }

    /// Sends what is queued and stops the exporters, waiting at most the export timeout; call
    /// when the instance stops serving.
    pub async fn flush(self: &Arc<Self>) {
        let this = self.clone();
        // The SDK waits on its export threads, which hand their requests back to this runtime:
        // wait off the runtime's threads.
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(p) = this.pipeline.get() {
                let _ = p.traces.force_flush();
                let _ = p.traces.shutdown();
                let _ = p.meters.shutdown();
            }
        })
        .await;
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        // The SDK's providers shut down (and export once more) when dropped, waiting on threads
        // that need this runtime: never on one of its threads.
        if let Some(p) = self.pipeline.take() {
            let _ = std::thread::Builder::new()
                .name("sluice-telemetry-stop".into())
                .spawn(move || drop(p));
        }
    }
}

/// The span and metric exporters for `c`.
fn exporters(
    c: &TelemetryConfig,
    tls: &CollectorTls,
) -> Result<
    (
        opentelemetry_otlp::SpanExporter,
        opentelemetry_otlp::MetricExporter,
    ),
    TelemetryError,
> {
    let base = c.endpoint.to_string().trim_end_matches('/').to_string();
    let fail = |e: opentelemetry_otlp::ExporterBuildError| TelemetryError::Exporter(e.to_string());
    match tls {
        CollectorTls::Grpc(tls) => {
            let mut headers = http::HeaderMap::new();
            for (k, v) in &c.headers {
                // Validated when the configuration was read.
                if let (Ok(k), Ok(v)) = (
                    http::HeaderName::from_bytes(k.as_bytes()),
                    http::HeaderValue::from_str(v),
                ) {
                    headers.insert(k, v);
                }
            }
            let metadata =
                opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(headers);
            let spans = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(base.clone())
                .with_timeout(c.timeout)
                .with_metadata(metadata.clone());
            let spans = match tls {
                Some(t) => spans.with_tls_config(t.clone()),
                None => spans,
            };
            let metrics = opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(base)
                .with_timeout(c.timeout)
                .with_metadata(metadata);
            let metrics = match tls {
                Some(t) => metrics.with_tls_config(t.clone()),
                None => metrics,
            };
            Ok((spans.build().map_err(fail)?, metrics.build().map_err(fail)?))
        }
        CollectorTls::Http(tls) => {
            let client = super::http_client::RuntimeClient::new(tls.clone(), c.timeout);
            let headers: std::collections::HashMap<String, String> =
                c.headers.iter().cloned().collect();
            let spans = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(format!("{base}/v1/traces"))
                .with_timeout(c.timeout)
                .with_headers(headers.clone())
                .with_http_client(client.clone())
                .build()
                .map_err(fail)?;
            let metrics = opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(format!("{base}/v1/metrics"))
                .with_timeout(c.timeout)
                .with_headers(headers)
                .with_http_client(client)
                .build()
                .map_err(fail)?;
            Ok((spans, metrics))
        }
    }
}

/// TLS to the collector, as the chosen protocol's client takes it.
#[derive(Debug)]
enum CollectorTls {
    /// tonic's settings (`None` for `http://`).
    Grpc(Option<opentelemetry_otlp::tonic_types::transport::ClientTlsConfig>),
    /// sluice's rustls client configuration.
    Http(rustls::ClientConfig),
}

/// The rustls client configuration for an `https://` collector (or an unused one for `http://`).
fn http_tls(c: &TelemetryConfig) -> Result<rustls::ClientConfig, TelemetryError> {
    if c.endpoint.scheme_str() != Some("https") {
        return Ok(
            rustls::ClientConfig::builder_with_provider(sluice_certs::provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| TelemetryError::Tls(e.to_string()))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        );
    }
    let mut tls = (*sluice_certs::client::client_config(&c.tls, sluice_certs::inspect::now())
        .map_err(|e| TelemetryError::Tls(format!("the collector's TLS files: {e}")))?)
    .clone();
    // hyper-rustls sets ALPN itself from the enabled protocols.
    tls.alpn_protocols.clear();
    Ok(tls)
}

/// tonic's TLS settings for an `https://` collector.
fn grpc_tls(
    c: &TelemetryConfig,
) -> Result<Option<opentelemetry_otlp::tonic_types::transport::ClientTlsConfig>, TelemetryError> {
    use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
    if c.endpoint.scheme_str() != Some("https") {
        return Ok(None);
    }
    let read = |p: &std::path::Path, what: &str| {
        std::fs::read(p).map_err(|e| TelemetryError::Tls(format!("{what} {}: {e}", p.display())))
    };
    let mut tls = ClientTlsConfig::new();
    if let Some(ca) = &c.tls.ca_bundle {
        tls = tls.ca_certificate(Certificate::from_pem(read(ca, "telemetry.ca")?));
    }
    if let (Some(cert), Some(key)) = (&c.tls.cert, &c.tls.key) {
        tls = tls.identity(Identity::from_pem(
            read(cert, "telemetry.client_cert")?,
            read(key, "telemetry.client_key")?,
        ));
    }
    if let Some(host) = c.endpoint.host() {
        tls = tls.domain_name(host.trim_start_matches('[').trim_end_matches(']'));
    }
    Ok(Some(tls))
}

/// Label pairs as OpenTelemetry attributes.
fn attributes(labels: &crate::metrics::Labels) -> Vec<KeyValue> {
    labels
        .iter()
        .map(|(k, v)| KeyValue::new(*k, v.clone()))
        .collect()
}

/// Observable counters and gauges over sluice's own series, and the two latency histograms.
fn instruments(meters: &SdkMeterProvider, metrics: &crate::metrics::Metrics, gauges: GaugeSource) {
    let meter = meters.meter("sluice");
    let gauges = Arc::new(gauges);
    for (family, kind, help) in crate::metrics::FAMILIES {
        let (name, unit) = super::names::otel_name(family);
        match *kind {
            "counter" => {
                let m = metrics.clone();
                meter
                    .u64_observable_counter(name)
                    .with_description(*help)
                    .with_unit(unit)
                    .with_callback(move |o| {
                        for (labels, v) in m.counter_series(family) {
                            o.observe(v, &attributes(&labels));
                        }
                    })
                    .build();
            }
            "gauge" => {
                let g = gauges.clone();
                meter
                    .f64_observable_gauge(name)
                    .with_description(*help)
                    .with_unit(unit)
                    .with_callback(move |o| {
                        for (n, labels, v) in g().unwrap_or_default() {
                            if n == *family {
                                o.observe(v, &attributes(&labels));
                            }
                        }
                    })
                    .build();
            }
            _ => {}
        }
    }
    let histogram = |family: &str| {
        let (name, unit) = super::names::otel_name(family);
        meter
            .f64_histogram(name)
            .with_description(crate::metrics::families::help(family))
            .with_unit(unit)
            .with_boundaries(crate::metrics::histogram::BUCKETS.to_vec())
            .build()
    };
    metrics.export_histograms(
        histogram("http_server_request_duration_seconds"),
        histogram("sluice_ledger_append_duration_seconds"),
    );
}
