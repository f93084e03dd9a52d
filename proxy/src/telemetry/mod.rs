//! OpenTelemetry traces and metrics through the OpenTelemetry SDK, exported over OTLP (gRPC or
//! HTTP/protobuf, TLS and client certificates to the collector) when `[telemetry]` is set — and
//! nothing leaves otherwise.
//!
//! Each request gets a **server span**, each upstream call a **client span** under it. An
//! institution system's W3C `traceparent` is honoured (the server span joins its trace, and its
//! sampling decision is followed); a partner's is not ([`crate::tracecontext`]: the trust
//! boundary). Trace context is never sent on to partners or upstreams: trace ids are internal
//! data.
//!
//! This module is the only place a span attribute is set: [`attributes`] describes a request
//! through typed methods, and the generic setters behind them are private here. Keys are the
//! variants of one private enum (`Key`), each naming its exported key — HTTP semantic-convention
//! keys (`http.request.method`, `http.route` as the route *template*,
//! `http.response.status_code`, `server.address` as the upstream's configured name) and
//! `sluice.*` keys (partner, contract, flow, verdict, records, field counts by action, bytes,
//! disclosure sequence number) — and there is no path, query, header or body value to put in
//! one: no generic bridge from log fields to span attributes exists, so personal data cannot
//! leak through one. Unknown HTTP
//! methods are recorded as `_OTHER`, as the conventions say. Metric labels are built in
//! [`crate::metrics`] the same way.
//!
//! A span ends when its last handle drops — the server span when the response body has ended
//! (its counts are known then). The SDK's batch processor queues it; when the queue is full the
//! span is dropped, never waited for, and counted on `/metrics` ([`admission`]).

pub mod admission;
pub mod attributes;
pub mod http_client;
pub mod ids;
pub mod names;
pub mod pipeline;

use std::sync::{Arc, Mutex};

use opentelemetry::trace::{Span as _, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{KeyValue, trace::SpanKind};
use opentelemetry_sdk::trace::{SdkTracer, Span};

pub use pipeline::Telemetry;

/// The most attributes a server span gets (see [`attributes`]); a client span gets three.
const SERVER_ATTRIBUTES: usize = 20;
const CLIENT_ATTRIBUTES: usize = 3;

/// Every attribute key a span can carry: the keys are these variants, so a span cannot carry
/// one that is not listed (and reviewed) here — and finding a key already set compares a byte,
/// not a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Method,
    Scheme,
    ProtocolVersion,
    RequestId,
    Route,
    Partner,
    Contract,
    Flow,
    DisclosureSeq,
    Verdict,
    Records,
    FieldsKept,
    FieldsMasked,
    FieldsHashed,
    FieldsRedacted,
    FieldsStripped,
    BytesIn,
    BytesOut,
    StatusCode,
    ErrorType,
    ServerAddress,
}

impl Key {
    /// Every key.
    #[cfg(test)]
    const ALL: [Key; 21] = [
        Key::Method,
        Key::Scheme,
        Key::ProtocolVersion,
        Key::RequestId,
        Key::Route,
        Key::Partner,
        Key::Contract,
        Key::Flow,
        Key::DisclosureSeq,
        Key::Verdict,
        Key::Records,
        Key::FieldsKept,
        Key::FieldsMasked,
        Key::FieldsHashed,
        Key::FieldsRedacted,
        Key::FieldsStripped,
        Key::BytesIn,
        Key::BytesOut,
        Key::StatusCode,
        Key::ErrorType,
        Key::ServerAddress,
    ];

    /// The exported key: the HTTP semantic conventions' where one exists, else `sluice.*`.
    const fn name(self) -> &'static str {
        match self {
            Key::Method => "http.request.method",
            Key::Scheme => "url.scheme",
            Key::ProtocolVersion => "network.protocol.version",
            Key::RequestId => "sluice.request_id",
            Key::Route => "http.route",
            Key::Partner => "sluice.partner",
            Key::Contract => "sluice.contract",
            Key::Flow => "sluice.flow",
            Key::DisclosureSeq => "sluice.disclosure.seq",
            Key::Verdict => "sluice.verdict",
            Key::Records => "sluice.records",
            Key::FieldsKept => "sluice.fields.kept",
            Key::FieldsMasked => "sluice.fields.masked",
            Key::FieldsHashed => "sluice.fields.hashed",
            Key::FieldsRedacted => "sluice.fields.redacted",
            Key::FieldsStripped => "sluice.fields.stripped",
            Key::BytesIn => "sluice.bytes.in",
            Key::BytesOut => "sluice.bytes.out",
            Key::StatusCode => "http.response.status_code",
            Key::ErrorType => "error.type",
            Key::ServerAddress => "server.address",
        }
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// A string (ids, templates — never data).
    Str(String),
    /// A code or constant written in sluice's source.
    Static(&'static str),
    /// An integer.
    Int(i64),
}

#[derive(Debug)]
struct State {
    span: Span,
    /// The sampler kept the span: attributes are worth collecting.
    recording: bool,
    /// Attributes, in the order first set; a key set twice keeps the last value.
    attributes: Vec<(Key, Value)>,
    name: Option<String>,
    error: bool,
}

impl State {
    /// Sets `key` (replacing its earlier value).
    fn put(&mut self, key: Key, value: Value) {
        match self.attributes.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((key, value)),
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    tracer: SdkTracer,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        // One call: the SDK grows its attribute list once.
        let attributes = std::mem::take(&mut state.attributes);
        state
            .span
            .set_attributes(attributes.into_iter().map(|(k, v)| {
                let k = k.name();
                match v {
                    Value::Str(s) => KeyValue::new(k, s),
                    Value::Static(s) => KeyValue::new(k, s),
                    Value::Int(i) => KeyValue::new(k, i),
                }
            }));
        if let Some(name) = state.name.take() {
            state.span.update_name(name);
        }
        if state.error {
            state.span.set_status(Status::error(""));
        }
        state.span.end();
    }
}

/// A live span; cheap to clone. The span ends when the last clone drops.
#[derive(Debug, Clone)]
pub struct SpanHandle(Arc<Inner>);

impl SpanHandle {
    /// A handle on `span`, with room for `attributes` buffered attributes.
    fn new(span: Span, tracer: SdkTracer, attributes: usize) -> Self {
        SpanHandle(Arc::new(Inner {
            state: Mutex::new(State {
                recording: span.is_recording(),
                span,
                attributes: Vec::with_capacity(attributes),
                name: None,
                error: false,
            }),
            tracer,
        }))
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.0.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Sets an attribute (replacing an earlier value of the same key). The value is built only
    /// when the sampler kept the span.
    fn set(&self, key: Key, value: impl FnOnce() -> Value) {
        self.with(|s| {
            if s.recording {
                s.put(key, value());
            }
        });
    }

    /// Sets a string attribute.
    fn set_str(&self, key: Key, value: &str) {
        self.set(key, || Value::Str(value.to_string()));
    }

    /// Sets a string attribute from sluice's own source (no copy is made while buffering).
    fn set_static(&self, key: Key, value: &'static str) {
        self.set(key, || Value::Static(value));
    }

    /// Sets an integer attribute.
    fn set_int(&self, key: Key, value: i64) {
        self.set(key, || Value::Int(value));
    }

    /// Sets integer attributes, under one lock.
    fn set_ints(&self, values: &[(Key, i64)]) {
        self.with(|s| {
            if s.recording {
                for &(key, value) in values {
                    s.put(key, Value::Int(value));
                }
            }
        });
    }

    /// Renames the span (once the route template is known); the name is built only when the
    /// sampler kept the span.
    fn rename(&self, name: impl FnOnce() -> String) {
        self.with(|s| {
            if s.recording {
                s.name = Some(name());
            }
        });
    }

    /// Marks the span as failed.
    fn fail(&self) {
        self.with(|s| s.error = true);
    }

    /// A client span under this one.
    fn child(&self, name: &'static str) -> SpanHandle {
        let parent = self.with(|s| s.span.span_context().clone());
        let cx = opentelemetry::Context::new().with_remote_span_context(parent);
        let span = self
            .0
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_attributes(Vec::with_capacity(CLIENT_ATTRIBUTES))
            .start_with_context(&self.0.tracer, &cx);
        SpanHandle::new(span, self.0.tracer.clone(), CLIENT_ATTRIBUTES)
    }

    /// The span's trace id when the trace is sampled (exported, so worth pointing at).
    pub fn sampled_trace(&self) -> Option<opentelemetry::trace::TraceId> {
        self.with(|s| {
            let cx = s.span.span_context();
            cx.is_sampled().then(|| cx.trace_id())
        })
    }

    /// The span's trace id (32 hex digits).
    pub fn trace_id(&self) -> String {
        self.with(|s| s.span.span_context().trace_id().to_string())
    }
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

#[cfg(test)]
mod tests {
    use super::Key;

    #[test]
    fn no_two_keys_share_an_exported_name() {
        let mut names: Vec<_> = Key::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Key::ALL.len(), "two keys share a name");
    }
}
