//! OpenTelemetry traces and metrics, exported over OTLP/HTTP (JSON encoding) when
//! `[telemetry] otlp_endpoint` is set — and nothing leaves otherwise.
//!
//! Each request gets a **server span**, each upstream call a **client span** under it. A caller's
//! W3C `traceparent` is honoured (the server span joins the caller's trace); trace context is never
//! sent on to partners or upstreams: trace ids are internal data.
//!
//! Spans are built from typed, named attributes only — HTTP semantic-convention keys
//! (`http.request.method`, `http.route` as the route *template*, `http.response.status_code`,
//! `server.address` as the upstream's configured name) and `sluice.*` keys (partner, contract,
//! flow, verdict, records, field counts by action, bytes, disclosure sequence number). There is
//! no path, query, header or body value to put in one: no generic bridge from log fields to span
//! attributes exists, so personal data cannot leak through one. Unknown HTTP methods are recorded
//! as `_OTHER`, as the conventions say.
//!
//! The exporter is written here on purpose instead of pulling in the OpenTelemetry SDK and an OTLP
//! client stack: it is about 300 lines, has no dependency beyond hyper and serde_json, and the
//! whole of what can leave the process is visible in [`otlp`]. A span ends when its last handle
//! drops — the server span when the response body has ended (its counts are known then) — and
//! goes into a bounded queue; when the queue is full, spans are dropped and counted, never
//! waited for.

pub mod export;
pub mod otlp;

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

pub use export::Telemetry;

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string (ids, codes, templates — never data).
    Str(String),
    /// An integer.
    Int(i64),
}

/// OTLP span kinds used by sluice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request sluice serves.
    Server,
    /// A call sluice makes.
    Client,
}

/// One span, as exported.
#[derive(Debug, Clone)]
pub struct SpanData {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// The parent's span id, if any.
    pub parent_span_id: Option<String>,
    /// Span name (`GET /v1/applicants/{id}`, `GET`).
    pub name: String,
    /// Server or client.
    pub kind: Kind,
    /// Start.
    pub start: SystemTime,
    /// End (set when the span ends).
    pub end: SystemTime,
    /// Attributes, in the order set (a key set twice keeps the last value).
    pub attributes: Vec<(&'static str, Value)>,
    /// The request failed (5xx, an abort).
    pub error: bool,
}

#[derive(Debug)]
struct Inner {
    data: Mutex<SpanData>,
    sink: Arc<Telemetry>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let mut data = std::mem::replace(
            self.data.get_mut().unwrap_or_else(|e| e.into_inner()),
            SpanData::empty(),
        );
        data.end = SystemTime::now();
        self.sink.finished(data);
    }
}

impl SpanData {
    fn empty() -> Self {
        SpanData {
            trace_id: String::new(),
            span_id: String::new(),
            parent_span_id: None,
            name: String::new(),
            kind: Kind::Server,
            start: SystemTime::UNIX_EPOCH,
            end: SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            error: false,
        }
    }
}

/// A live span; cheap to clone. The span ends when the last clone drops.
#[derive(Debug, Clone)]
pub struct SpanHandle(Arc<Inner>);

impl SpanHandle {
    pub(crate) fn start(
        sink: Arc<Telemetry>,
        trace_id: String,
        parent_span_id: Option<String>,
        name: String,
        kind: Kind,
    ) -> Self {
        SpanHandle(Arc::new(Inner {
            data: Mutex::new(SpanData {
                trace_id,
                span_id: random_hex(8),
                parent_span_id,
                name,
                kind,
                start: SystemTime::now(),
                end: SystemTime::now(),
                attributes: Vec::new(),
                error: false,
            }),
            sink,
        }))
    }

    fn with<R>(&self, f: impl FnOnce(&mut SpanData) -> R) -> R {
        f(&mut self.0.data.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Sets an attribute (replacing an earlier value of the same key).
    pub fn set(&self, key: &'static str, value: Value) {
        self.with(|d| {
            d.attributes.retain(|(k, _)| *k != key);
            d.attributes.push((key, value));
        });
    }

    /// Sets a string attribute.
    pub fn set_str(&self, key: &'static str, value: &str) {
        self.set(key, Value::Str(value.to_string()));
    }

    /// Sets an integer attribute.
    pub fn set_int(&self, key: &'static str, value: i64) {
        self.set(key, Value::Int(value));
    }

    /// Renames the span (once the route template is known).
    pub fn rename(&self, name: String) {
        self.with(|d| d.name = name);
    }

    /// Marks the span as failed.
    pub fn fail(&self) {
        self.with(|d| d.error = true);
    }

    /// A client span under this one.
    pub fn child(&self, name: String) -> SpanHandle {
        let (trace, parent) = self.with(|d| (d.trace_id.clone(), d.span_id.clone()));
        SpanHandle::start(self.0.sink.clone(), trace, Some(parent), name, Kind::Client)
    }

    /// The span's trace id.
    pub fn trace_id(&self) -> String {
        self.with(|d| d.trace_id.clone())
    }
}

/// `n` random bytes as lower-case hex (span ids: 8 bytes).
fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // A failing system RNG leaves a zero id, which collectors treat as invalid: acceptable for
    // telemetry, never used for security.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    sluice_policy::hex::hex(&bytes)
}

/// The method as the semantic conventions want it: a known method, else `_OTHER` (an extension
/// method is free text).
pub fn method_attribute(method: &http::Method) -> &'static str {
    const KNOWN: &[&str] = &[
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    KNOWN
        .iter()
        .find(|m| **m == method.as_str())
        .copied()
        .unwrap_or("_OTHER")
}
