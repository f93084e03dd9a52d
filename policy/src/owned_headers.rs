//! Header fields a route's `headers` allow-list can never name, by class.
//!
//! A route may let extra headers through (`headers = ["x-page-token"]`), but some fields describe
//! the message sluice *sends*, not the one it received: copying the institution's value onto a
//! filtered body makes the message lie. `Content-Length` of the unfiltered body gives an empty or
//! cut reply (or an HTTP/2 PROTOCOL_ERROR) while the ledger says `sent`; `Content-Encoding: gzip`
//! labels a masked identity body; the institution's `Content-Digest` vouches for bytes the partner
//! never got; a second `Cache-Control` contradicts sluice's `no-store`. Each class below is owned
//! by sluice (or by the connection), so the allow-list refuses the class, not a list of spellings:
//! every name in a class, and every prefix a class owns (`sluice-`, `x-forwarded-`, `proxy-`).

/// Sluice's own fields and the trace context: what sluice says about a message (who asked, under
/// which contract, which disclosure, which request and trace), which no peer may say for it.
const SLUICES_OWN: &[&str] = &["x-request-id", "traceparent", "tracestate", "baggage"];
const SLUICES_OWN_PREFIXES: &[&str] = &["sluice-"];

/// Whether `name` (any case) is one of sluice's own fields or trace context: never copied from
/// one side to the other, whichever way a message goes (the partner's answer to a push
/// included, which otherwise crosses with its end-to-end fields).
pub fn is_sluices_own(name: &str) -> bool {
    in_class(name, SLUICES_OWN, SLUICES_OWN_PREFIXES)
}

/// Whether `name` is one of `names` or starts with one of `prefixes`, in any case — without a
/// lowered copy: the proxy asks again for each allow-listed header of each request.
fn in_class(name: &str, names: &[&str], prefixes: &[&str]) -> bool {
    names.iter().any(|n| n.eq_ignore_ascii_case(name))
        || prefixes.iter().any(|p| {
            name.get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p))
        })
}

/// The classes, each as the expectation a refusal states, with its names and prefixes.
const CLASSES: &[(&str, &[&str], &[&str])] = &[
    (
        "a header sluice does not own (this one is message framing, which sluice sets for the body it sends)",
        &[
            "content-length",
            "transfer-encoding",
            "trailer",
            "te",
            "connection",
            "keep-alive",
            "upgrade",
            "proxy-connection",
            "http2-settings",
            "host",
            "expect",
        ],
        &[],
    ),
    (
        "a header sluice does not own (this one is the body's representation (type, coding, ranges), which sluice sets for the filtered body)",
        &[
            "content-type",
            "content-encoding",
            "content-range",
            "content-location",
            "accept-ranges",
            "range",
            "if-range",
        ],
        &[],
    ),
    (
        "a header sluice does not own (this one is integrity metadata, which covers the bytes sluice sends and is made by sluice)",
        &[
            "content-digest",
            "repr-digest",
            "want-content-digest",
            "want-repr-digest",
            "digest",
            "want-digest",
            "content-md5",
            "signature",
            "signature-input",
            "accept-signature",
        ],
        &[],
    ),
    (
        "a header sluice does not own (this one is caching, which sluice sets (no-store) so that no cache keeps a disclosure)",
        &[
            "cache-control",
            "expires",
            "pragma",
            "age",
            "etag",
            "last-modified",
            "vary",
            "surrogate-control",
            "cdn-cache-control",
        ],
        &[],
    ),
    (
        "a header sluice does not own (this one is sluice's own fields and trace context, which never cross to the other side)",
        SLUICES_OWN,
        SLUICES_OWN_PREFIXES,
    ),
    (
        "a header sluice does not own (this one is credentials or client identity, which are never forwarded)",
        &[
            "authorization",
            "proxy-authorization",
            "proxy-authenticate",
            "www-authenticate",
            "authentication-info",
            "cookie",
            "set-cookie",
            "forwarded",
            "x-real-ip",
            "x-client-cert",
            "x-ssl-client-cert",
            "x-forwarded-client-cert",
        ],
        &["x-forwarded-", "proxy-"],
    ),
];

/// What a header allow-list expected instead of `name` (any case), when a class owns it: such a
/// header can never be allow-listed.
pub fn owner(name: &str) -> Option<&'static str> {
    CLASSES
        .iter()
        .find_map(|(class, names, prefixes)| in_class(name, names, prefixes).then_some(*class))
}

#[cfg(test)]
mod tests {
    use super::owner;

    #[test]
    fn every_class_refuses_its_names_in_any_case_and_ordinary_headers_pass() {
        for name in [
            "Content-Length",
            "content-encoding",
            "TRANSFER-ENCODING",
            "trailer",
            "content-digest",
            "Cache-Control",
            "expires",
            "sluice-disclosure",
            "Sluice-Anything",
            "x-forwarded-host",
            "proxy-status",
            "traceparent",
            "signature-input",
            "etag",
        ] {
            assert!(owner(name).is_some(), "{name}");
        }
        for name in ["x-page-token", "x-total-count", "link", "accept-language"] {
            assert_eq!(owner(name), None, "{name}");
        }
    }

    #[test]
    fn sluices_own_fields_are_its_names_and_prefix_in_any_case() {
        for name in [
            "Sluice-Partner",
            "sluice-x",
            "X-Request-Id",
            "traceparent",
            "BAGGAGE",
        ] {
            assert!(super::is_sluices_own(name), "{name}");
        }
        for name in ["etag", "x-sluice", "sluice", "content-digest", "x-request"] {
            assert!(!super::is_sluices_own(name), "{name}");
        }
    }
}
