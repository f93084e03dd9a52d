//! Trace and span ids for the SDK, so that a request's server span carries the trace id sluice
//! already gave the request.
//!
//! Every request has a trace id before any span exists: the caller's (from `traceparent`) or a
//! new random one, written into sluice's own log lines. When the caller sent a trace, the span
//! joins it through its parent context. When it did not, the SDK would draw a second, different
//! id for the new root span; instead, [`with_trace_id`] hands the request's id to this generator
//! for the one synchronous call that starts the span, so logs and traces agree.

use std::cell::Cell;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

thread_local! {
    static NEXT_TRACE: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// Runs `f` (which starts a root span) with `trace` as the id the generator gives out.
pub fn with_trace_id<R>(trace: TraceId, f: impl FnOnce() -> R) -> R {
    NEXT_TRACE.with(|c| c.set(Some(trace)));
    let r = f();
    NEXT_TRACE.with(|c| c.set(None));
    r
}

/// The SDK's random generator, except for a trace id handed over by [`with_trace_id`].
#[derive(Debug, Default)]
pub struct RequestIds(RandomIdGenerator);

impl IdGenerator for RequestIds {
    fn new_trace_id(&self) -> TraceId {
        NEXT_TRACE
            .with(|c| c.take())
            .unwrap_or_else(|| self.0.new_trace_id())
    }

    fn new_span_id(&self) -> SpanId {
        self.0.new_span_id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handed_over_id_is_given_out_once_then_random_ids_again() {
        let ids = RequestIds::default();
        let want = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        let got = with_trace_id(want, || (ids.new_trace_id(), ids.new_trace_id()));
        assert_eq!(got.0, want);
        assert_ne!(got.1, want);
        assert_ne!(ids.new_trace_id(), want);
    }
}
