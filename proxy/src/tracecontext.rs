//! W3C Trace Context (`traceparent`) from callers. A valid trace id is kept, so that a disclosure
//! in the ledger and the caller's own traces line up; otherwise sluice starts a trace of its own.
//! The id is recorded in the ledger's `begin` entry and on the request span. It is never sent on
//! to a partner: trace ids are internal data, and `traceparent` is not on any header allow-list
//! unless a route names it.

use http::HeaderMap;

/// A request's 128-bit trace id, 32 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceId(pub String);

impl TraceId {
    /// The caller's trace id when `traceparent` is valid, else a new random one.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self::with_parent(headers).0
    }

    /// As [`TraceId::from_headers`], with the caller's span id (the parent of sluice's server
    /// span) when `traceparent` is valid.
    pub fn with_parent(headers: &HeaderMap) -> (Self, Option<Parent>) {
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
            TraceId::from_headers(&h).0,
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
            let id = TraceId::from_headers(&headers(bad)).0;
            assert_ne!(id, "4bf92f3577b34da6a3ce929d0e0e4736", "{bad}");
            assert_eq!(id.len(), 32, "{bad}");
        }
        assert_eq!(TraceId::from_headers(&HeaderMap::new()).0.len(), 32);
    }
}
