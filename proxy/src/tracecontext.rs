//! W3C Trace Context (`traceparent`) from callers, followed only across no trust boundary.
//!
//! An institution system (a caller on an internal listener) is inside the boundary: its valid
//! trace id is kept, so that a disclosure in the ledger and that system's own traces line up, and
//! its sampling decision stands. A partner is outside it, and its trace context is not followed:
//! were it, the partner would choose the trace id written into the institution's evidence and
//! telemetry (every disclosure in one trace it names, or in another caller's), and decide whether
//! its own requests are traced at all — `sampled` cleared hides them from the institution's traces
//! under a parent-based sampler, set on every request forces the export of each (the W3C
//! recommendation's §8 "restart the trace" at a trust boundary). A partner's request starts a
//! trace of sluice's own, sampled by sluice's sampler.
//!
//! The id is recorded in the ledger's `begin` entry and on the request span. It is never sent on
//! to a partner: trace ids are internal data, and `traceparent` is not on any header allow-list
//! unless a route names it.

use http::HeaderMap;

/// A request's 128-bit trace id, 32 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceId(pub String);

impl TraceId {
    /// The trace a request belongs to: the caller's, with its span as the parent of sluice's
    /// server span, when the caller is `trusted` (inside the institution) and its `traceparent`
    /// is valid; else a new trace with no parent.
    pub fn of_request(headers: &HeaderMap, trusted: bool) -> (Self, Option<Parent>) {
        if !trusted {
            return (Self::random(), None);
        }
        Self::with_parent(headers)
    }

    /// The caller's trace id and span when `traceparent` is valid, whoever the caller is.
    fn with_parent(headers: &HeaderMap) -> (Self, Option<Parent>) {
        match headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(parse)
        {
            Some((trace, parent)) => (Self(trace), Some(parent)),
            None => (Self::random(), None),
        }
    }

    /// A new random trace id.
    pub fn random() -> Self {
        Self(request_id())
    }
}

/// The caller's span, parent of sluice's server span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    /// Its span id (16 hex digits).
    pub span_id: String,
    /// The caller sampled the trace (the `sampled` bit of the trace flags).
    pub sampled: bool,
}

/// The trace id and parent of a version-00 `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), if
/// valid. Later versions may append fields; their first four are read the same way.
fn parse(value: &str) -> Option<(String, Parent)> {
    let mut parts = value.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.next().is_none())
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    let sampled = u8::from_str_radix(flags, 16).is_ok_and(|f| f & 1 == 1);
    valid.then(|| {
        (
            trace.to_string(),
            Parent {
                span_id: parent.to_string(),
                sampled,
            },
        )
    })
}

/// A random request id (128 bits, hex), from the thread's CSPRNG (ChaCha, seeded and reseeded
/// from the operating system): not a `getrandom` system call per id, which was two of the
/// dozen system calls of a small request (its trace id and its request id).
pub fn request_id() -> String {
    let b: [u8; 16] = rand::random();
    sluice_policy::hex::hex(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("traceparent", v.parse().unwrap());
        h
    }

    #[test]
    fn a_valid_traceparent_keeps_its_trace_id() {
        // The example from the W3C Trace Context recommendation.
        let h = headers("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        assert_eq!(
            TraceId::of_request(&h, true).0.0,
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(
            TraceId::with_parent(&h).1,
            Some(Parent {
                span_id: "00f067aa0ba902b7".into(),
                sampled: true
            })
        );
        let unsampled = headers("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
        assert!(!TraceId::with_parent(&unsampled).1.unwrap().sampled);
    }

    #[test]
    fn invalid_traceparents_start_a_new_trace() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "garbage",
        ] {
            let id = TraceId::of_request(&headers(bad), true).0.0;
            assert_ne!(id, "4bf92f3577b34da6a3ce929d0e0e4736", "{bad}");
            assert_eq!(id.len(), 32, "{bad}");
        }
        assert_eq!(TraceId::of_request(&HeaderMap::new(), true).0.0.len(), 32);
    }

    #[test]
    fn a_partners_traceparent_is_not_followed() {
        let h = headers("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
        let (id, parent) = TraceId::of_request(&h, false);
        assert_ne!(id.0, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(id.0.len(), 32);
        assert_eq!(parent, None, "nor its sampling decision");
    }
}
