//! What crosses sluice besides the body: header and query allow-lists, in one pure module.
//!
//! Default deny, as for fields. Towards the institution (pull) only a few request headers that
//! describe what the partner accepts. Towards the partner (either flow) only what the route's
//! `headers` names (never a header sluice owns, see `sluice_policy::owned_headers`) and, in the
//! push flow, the query parameters the route's `query` names — beside the fields sluice writes
//! itself: a filtered body's type is sluice's rendering (`body::Media::content_type`), a
//! pass-through body's type, coding and length describe it as it is. The partner's answer to an
//! institution system (push) comes back with every header but the hop-by-hop ones and sluice's
//! own (`sluice-*`, the request id, trace context): that is the institution's own traffic, not
//! a disclosure, but only sluice speaks for sluice.

use http::{HeaderMap, HeaderName, header};

/// Connection-level headers, never forwarded in either direction (RFC 9110 §7.6.1).
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
];

/// The partner's request headers that reach the institution (pull). Identity headers a client
/// could spoof are never forwarded: the partner is who its certificate says. Nor are
/// conditional ones (`If-None-Match`, `If-Modified-Since`, …): no validator ever reaches a
/// partner (`ETag` and `Last-Modified` are caching fields no route can name), so a condition
/// could only make the institution answer with a status alone — `304` or not, one bit a request
/// about a record's last change, outside the contract and outside the ledger. A body's
/// `Content-Type` is sluice's, written when it filters one (`request_fields`): none goes on a
/// request without a body.
pub const PULL_REQUEST_HEADERS: &[&str] = &["accept", "accept-language", "user-agent"];

/// The headers of an unfiltered pass-through body: type, coding and length describe it as is.
pub const PASS_THROUGH_HEADERS: &[&str] = &["content-type", "content-encoding", "content-length"];

/// Appends every value of each header in `names` from `from` to `to`.
pub fn copy(from: &HeaderMap, to: &mut HeaderMap, names: &[&'static str]) {
    for name in names {
        for v in from.get_all(*name) {
            to.append(HeaderName::from_static(name), v.clone());
        }
    }
}

/// Header fields as sent, name and value: those a route names, for the ledger's `headers_hmac`.
pub type Crossed = Vec<(String, Vec<u8>)>;

/// Copies the route's allow-listed headers — never one sluice owns (the policy refuses those at
/// load, and this checks again) — every value of each, through its rule when the route gives
/// one (`headers` written as a table). Returns the fields it wrote, name and value as sent (what
/// the ledger's `headers_hmac` covers; empty, and nothing allocated, for a route that names
/// none). `Err` names the check a value failed and the header.
pub fn copy_route(
    from: &HeaderMap,
    to: &mut HeaderMap,
    (names, rules): (&[String], &[(String, sluice_policy::rule::Action)]),
    keys: &sluice_policy::engine::EngineKeys,
) -> Result<Crossed, (&'static str, String)> {
    let mut crossed = Vec::new();
    let mut out = String::new();
    for name in names {
        if sluice_policy::owned_headers::owner(name).is_some() {
            continue;
        }
        let Ok(n) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        let rule = rules.iter().find(|(h, _)| h == name);
        for v in from.get_all(&n) {
            let value = match rule {
                None => v.clone(),
                Some((_, action)) => {
                    let refused = |code| (code, name.clone());
                    // A rule reads text: bytes outside visible ASCII are no value it can check.
                    let text = v.to_str().map_err(|_| refused("invalid_value"))?;
                    sluice_policy::param::apply(action, text, keys, &mut out).map_err(refused)?;
                    http::HeaderValue::from_str(&out).map_err(|_| refused("invalid_value"))?
                }
            };
            crossed.push((name.clone(), value.as_bytes().to_vec()));
            to.append(n.clone(), value);
        }
    }
    Ok(crossed)
}

/// Type, coding and length of a pass-through body, every value as its source wrote it (the
/// route lets this type through unfiltered; a coding left out would misdescribe the body).
pub fn copy_pass_through(from: &HeaderMap, to: &mut HeaderMap) {
    copy(from, to, PASS_THROUGH_HEADERS);
}

/// Every header but the hop-by-hop ones (the fixed ones and those the message's `Connection`
/// names, RFC 9110 §7.6.1) and sluice's own fields and trace context (the partner's answer to an
/// institution system: a partner cannot say which partner, contract, disclosure, request or
/// trace its answer belongs to; sluice says it).
pub fn copy_end_to_end(from: &HeaderMap, to: &mut HeaderMap) {
    let nominated = |name: &str| {
        from.get_all(header::CONNECTION).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(name)))
        })
    };
    for (name, value) in from {
        let name_str = name.as_str();
        if !HOP_BY_HOP.contains(&name_str)
            && !sluice_policy::owned_headers::is_sluices_own(name_str)
            && !nominated(name_str)
        {
            to.append(name.clone(), value.clone());
        }
    }
}

/// True when the route lets this content type through unfiltered (its essence, any case).
pub fn passes_through(content_type: &str, allowed: &[String]) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    allowed.contains(&essence)
}

/// The one `Content-Type` of a message; `None` when it has none, several, or one that is not
/// text (which one a downstream parser believes would be anyone's guess).
pub fn single_content_type(headers: &HeaderMap) -> Option<&str> {
    let mut all = headers.get_all(header::CONTENT_TYPE).iter();
    let first = all.next()?;
    if all.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn only_named_headers_cross_with_every_value() {
        let from = map(&[
            ("accept", "application/json"),
            ("accept", "text/plain"),
            ("authorization", "Bearer secret"),
            ("cookie", "a=b"),
            ("x-forwarded-for", "10.0.0.1"),
            ("user-agent", "curl"),
        ]);
        let mut to = HeaderMap::new();
        copy(&from, &mut to, PULL_REQUEST_HEADERS);
        assert_eq!(to.get_all("accept").iter().count(), 2);
        assert_eq!(to["user-agent"], "curl");
        assert_eq!(to.len(), 3);
    }

    #[test]
    fn a_route_never_lets_an_owned_header_through_even_if_named() {
        let from = map(&[
            ("x-page-token", "t1"),
            ("content-length", "5"),
            ("content-digest", "sha-256=:x:"),
            ("cache-control", "public"),
        ]);
        let mut to = HeaderMap::new();
        let names: Vec<String> = [
            "X-Page-Token",
            "content-length",
            "content-digest",
            "cache-control",
            "bad name",
        ]
        .map(String::from)
        .to_vec();
        copy_route(&from, &mut to, (&names, &[]), &keys()).unwrap();
        assert_eq!(to.len(), 1);
        assert_eq!(to["x-page-token"], "t1");
    }

    fn keys() -> sluice_policy::engine::EngineKeys {
        sluice_policy::engine::EngineKeys::derive(&[1; 32], &[2; 32], "c")
    }

    /// Rules of a `headers` table, as a policy writes them.
    fn rules(table: &str) -> Vec<(String, sluice_policy::rule::Action)> {
        let text = format!(
            "version = 1\n[[partner]]\nid = \"p\"\nidentity = {{ uri_san = \"spiffe://t/p\" }}\njurisdiction = \"CN\"\n[[contract]]\nid = \"c\"\npartner = \"p\"\npurpose = \"t\"\nlegal_basis = \"consent\"\nvalid_from = 2026-01-01\nvalid_until = 2099-01-01\n[[contract.route]]\nflow = \"pull\"\nmethod = \"GET\"\npath = \"/x\"\nupstream = \"u\"\nheaders = {table}\n[contract.fields]\n\"$.a\" = \"keep\"\n"
        );
        let p = sluice_policy::CompiledPolicy::load("policy.toml", &text).unwrap();
        p.contracts[0].routes[0].header_rules.clone()
    }

    #[test]
    fn a_headers_value_goes_through_its_rule_every_value_of_it() {
        let rules = rules(
            r#"{ "x-batch" = { keep = "string", pattern = "b-[0-9]+" }, "x-holder" = "hash", "x-free" = "keep" }"#,
        );
        let names: Vec<String> = ["x-batch", "x-holder", "x-free"].map(String::from).to_vec();
        let from = map(&[
            ("x-batch", "b-7"),
            ("x-holder", "zhang-san"),
            ("x-free", "anything"),
        ]);
        let mut to = HeaderMap::new();
        let crossed = copy_route(&from, &mut to, (&names, &rules), &keys()).unwrap();
        // What went out is what the ledger is given: the hashed value, not the source's.
        let sent: Crossed = to
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect();
        assert_eq!(crossed, sent);
        assert_eq!(to["x-batch"], "b-7");
        assert_eq!(to["x-free"], "anything");
        let holder = to["x-holder"].to_str().unwrap();
        assert!(holder.len() == 64 && holder != "zhang-san", "{holder}");
        // The second value of a checked header is checked too; refusals name the header only.
        let mut two = map(&[("x-batch", "b-7"), ("x-batch", "11010519491231002X")]);
        let got = copy_route(&two, &mut HeaderMap::new(), (&names, &rules), &keys());
        assert_eq!(got, Err(("pattern_mismatch", "x-batch".to_string())));
        // Bytes that are not visible ASCII (here UTF-8 text) are no value a rule can read.
        two.clear();
        two.append(
            "x-batch",
            HeaderValue::from_bytes("b-张".as_bytes()).unwrap(),
        );
        let got = copy_route(&two, &mut HeaderMap::new(), (&names, &rules), &keys());
        assert_eq!(got, Err(("invalid_value", "x-batch".to_string())));
    }

    #[test]
    fn hop_by_hop_headers_and_sluices_own_never_come_back() {
        let from = map(&[
            ("connection", "close"),
            ("transfer-encoding", "chunked"),
            ("sluice-partner", "someone-else"),
            ("connection", "X-Hop, keep-alive"),
            ("x-hop", "1"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            ("x-partner-ref", "r1"),
            ("content-type", "application/json"),
        ]);
        let mut to = HeaderMap::new();
        copy_end_to_end(&from, &mut to);
        assert_eq!(to.len(), 2);
        assert!(to.get("connection").is_none() && to.get("transfer-encoding").is_none());
    }

    #[test]
    fn pass_through_matches_the_essence_of_the_type() {
        let allowed = vec!["application/pdf".to_string()];
        assert!(passes_through("Application/PDF; name=x", &allowed));
        assert!(passes_through(" application/pdf ", &allowed));
        assert!(!passes_through("application/pdfx", &allowed));
        assert!(!passes_through("application/json", &allowed));
    }

    #[test]
    fn one_content_type_or_none() {
        assert_eq!(
            single_content_type(&map(&[("content-type", "application/json")])),
            Some("application/json")
        );
        assert_eq!(
            single_content_type(&map(&[("content-type", "a/b"), ("content-type", "c/d")])),
            None
        );
        assert_eq!(single_content_type(&HeaderMap::new()), None);
    }
}
