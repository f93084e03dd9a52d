//! A route's request target. Push: every path parameter and listed query parameter goes to the
//! partner through a rule of the route's `params`. Pull: only the query parameters the route
//! lists reach the institution, each through its rule. Either way the query is sluice's writing.

use sluice_policy::CompiledPolicy;
use sluice_policy::engine::EngineKeys;
use sluice_policy::param::Refusal;

mod support;

/// One contract `c` whose route is a push to `/v2/loans/{loan_id}/notes` with `route_keys`.
fn policy(route_keys: &str) -> String {
    support::policy_text("", route_keys, r#""$.note" = "keep""#)
        .replace("flow = \"pull\"", "flow = \"push\"")
        .replace("path = \"/x\"", "path = \"/v2/loans/{loan_id}/notes\"")
}

/// The route of [`policy`] as a pull, loaded.
fn pull_policy(route_keys: &str) -> CompiledPolicy {
    let text = policy(route_keys).replace("flow = \"push\"", "flow = \"pull\"");
    CompiledPolicy::load("test-policy.toml", &text).unwrap()
}

const RULES: &str = r#"  query = ["page", "since", "who"]
  headers = { x-batch = { keep = "string", pattern = "B-[0-9]+" }, x-free = "keep" }
  params.loan_id = { keep = "string", pattern = "LN[0-9]{6}" }
  params.page    = { keep = "number", min = 1, max = 1000 }
  params.since   = { keep = "string", max_len = 25, scan = ["id_card", "mobile", "bank_card", "email"] }
  params.who     = "hash"
"#;

fn target(query: Option<&str>, path: &str) -> Result<String, Refusal> {
    let p = CompiledPolicy::load("test-policy.toml", &policy(RULES)).unwrap();
    let keys = EngineKeys::derive(&[7; 32], &[8; 32], "c");
    sluice_policy::param::target(&p.contracts[0].routes[0], path, query, &keys)
}

fn refused(query: Option<&str>, path: &str) -> (String, String) {
    let r = target(query, path).expect_err("refused");
    (r.code.to_string(), r.param)
}

#[test]
fn path_parameters_go_out_only_through_their_rule() {
    assert_eq!(
        target(None, "/v2/loans/LN004217/notes").unwrap(),
        "/v2/loans/LN004217/notes"
    );
    // An identity number where the contract has a loan number: refused, the value not named.
    for (path, code) in [
        ("/v2/loans/110101199003077777/notes", "pattern_mismatch"),
        ("/v2/loans/LN0042170/notes", "pattern_mismatch"),
        ("/v2/loans/ln004217/notes", "pattern_mismatch"),
    ] {
        assert_eq!(
            refused(None, path),
            (code.to_string(), "{loan_id}".to_string()),
            "{path}"
        );
    }
}

#[test]
fn the_query_is_read_strictly_and_written_by_sluice() {
    let keys = EngineKeys::derive(&[7; 32], &[8; 32], "c");
    let mut who = String::new();
    keys.pseudonym
        .pseudonym(sluice_policy::rule::HashAlg::HmacSha256, "张三", &mut who);
    let path = "/v2/loans/LN004217/notes";
    // Unlisted names dropped; escapes of any spelling decoded, the output one spelling; order
    // kept; a hashed value replaced by its pseudonym.
    assert_eq!(
        target(
            Some("id=110101199003077777&pag%65=%32&since=2026-01-01T00%3a00%3A00%2B08%3A00&who=%E5%BC%A0%E4%B8%89"),
            path
        )
        .unwrap(),
        format!("{path}?page=2&since=2026-01-01T00%3A00%3A00%2B08%3A00&who={who}")
    );
    assert_eq!(target(Some(""), path).unwrap(), path);
    assert_eq!(target(Some("other=1"), path).unwrap(), path);
    for (query, code, param) in [
        // Two values for one name, however spelled: which one the partner reads is a guess.
        ("page=1&page=2", "duplicate_key", "?page"),
        ("page=1&p%61ge=2", "duplicate_key", "?page"),
        ("page=1&&since=x", "invalid_query", "?"),
        ("page=%3", "invalid_query", "?page"),
        ("pa%g=1", "invalid_query", "?"),
        ("page=%FF", "invalid_utf8", "?page"),
        ("page=1001", "out_of_range", "?page"),
        ("page=two", "type_mismatch", "?page"),
        ("since=13926951426", "identifier_found", "?since"),
        ("since=11010519491231002X", "identifier_found", "?since"),
        ("since=a%40b.example", "identifier_found", "?since"),
        (
            "since=2026-01-01T00%3A00%3A00%2B08%3A00x",
            "too_long",
            "?since",
        ),
    ] {
        assert_eq!(
            refused(Some(query), path),
            (code.to_string(), param.to_string()),
            "{query}"
        );
    }
}

fn problems(route_keys: &str) -> Vec<String> {
    match CompiledPolicy::load("test-policy.toml", &policy(route_keys)) {
        Ok(_) => panic!("expected the policy to be refused"),
        Err(e) => e.to_string().lines().map(str::to_string).collect(),
    }
}

#[test]
fn a_push_routes_parameters_each_need_a_rule_and_only_a_keep_or_a_hash() {
    assert_eq!(
        problems("  query = [\"page\"]\n"),
        [
            r#"test-policy.toml: contract "c".route[0].params.loan_id: missing: the path parameter "loan_id" reaches the partner, so it needs a rule as a field does (e.g. loan_id = { keep = "string", pattern = "[0-9]{1,12}" }, or "hash")"#,
            r#"test-policy.toml: contract "c".route[0].params.page: missing: the query parameter "page" reaches the partner, so it needs a rule as a field does (e.g. page = { keep = "string", pattern = "[0-9]{1,12}" }, or "hash")"#,
        ]
    );
    assert_eq!(
        problems("  params.loan_id = \"mask:id_card\"\n  params.other = \"keep\"\n"),
        [
            r#"test-policy.toml: contract "c".route[0].params.loan_id: got "mask:id_card", but a parameter is kept (with its checks) or hashed: a masked or redacted value would name another resource"#,
            r#"test-policy.toml: contract "c".route[0].params.other: names neither a parameter of the route's path nor a name in its query list (expected one of: loan_id)"#,
        ]
    );
    assert_eq!(
        problems("  params.loan_id = { keep = \"subtree\" }\n"),
        [
            r#"test-policy.toml: contract "c".route[0].params.loan_id: got a table, but a parameter is one value: keep it ("keep", { keep = "string", pattern = ... }) or "hash" it"#
        ]
    );
    // A pull route needs no rule for its path parameters (canonical segments)...
    let pull = |keys: &str| policy(keys).replace("flow = \"push\"", "flow = \"pull\"");
    CompiledPolicy::load("test-policy.toml", &pull("")).unwrap();
    // ...but one for each query parameter it lets partners send, and never a hash.
    let err = CompiledPolicy::load(
        "test-policy.toml",
        &pull("  query = [\"page\"]\n  params.loan_id = \"hash\"\n"),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err.trim().lines().collect::<Vec<_>>(),
        [
            r#"test-policy.toml: contract "c".route[0].params.loan_id: got "hash", but a pull route's parameters go to the institution, where a pseudonym names nothing: keep it, with its checks ("keep", { keep = "string", pattern = ... })"#,
            r#"test-policy.toml: contract "c".route[0].params.page: missing: the query parameter "page" chooses what the institution answers, so it needs a rule that bounds it (e.g. page = { keep = "number", min = 1, max = 1000 })"#,
        ]
    );
}

/// A pull route forwarded the partner's query string as written: `?id=` beside `{id}`,
/// `?branch=all`, a framework's `?_method=DELETE` chose what the institution answered, outside
/// anything the contract describes. Now only the parameters the route lists go, each through its
/// rule, in sluice's writing; any other refuses the request.
#[test]
fn a_pull_query_carries_only_the_listed_parameters_through_their_rules() {
    let p = pull_policy(
        "  query = [\"page\"]\n  params.page = { keep = \"number\", min = 1, max = 1000 }\n  params.loan_id = { keep = \"string\", pattern = \"LN[0-9]{6}\" }\n",
    );
    let keys = EngineKeys::derive(&[7; 32], &[8; 32], "c");
    let route = &p.contracts[0].routes[0];
    let target = |q: Option<&str>, path: &str| sluice_policy::param::target(route, path, q, &keys);
    let path = "/v2/loans/LN004217/notes";
    assert_eq!(target(None, path).unwrap(), path);
    assert_eq!(target(Some(""), path).unwrap(), path);
    assert_eq!(
        target(Some("p%61ge=7"), path).unwrap(),
        format!("{path}?page=7")
    );
    for (query, path, code, param) in [
        // Any name the route does not list, however spelled; the name is not echoed.
        ("_method=DELETE", path, "not_listed", "?"),
        ("page=2&id=LN000001", path, "not_listed", "?"),
        ("page=2&Page=3", path, "not_listed", "?"),
        ("page", path, "type_mismatch", "?page"),
        ("page=1&page=2", path, "duplicate_key", "?page"),
        ("page=1&&x", path, "invalid_query", "?"),
        ("page=0", path, "out_of_range", "?page"),
        (
            "page=2",
            "/v2/loans/110101199003077777/notes",
            "pattern_mismatch",
            "{loan_id}",
        ),
    ] {
        let r = target(Some(query), path).expect_err(query);
        assert_eq!((r.code, r.param.as_str()), (code, param), "{query} {path}");
    }
    // Without a rule, a pull route's path parameter goes as the partner wrote it.
    let free = pull_policy("");
    let route = &free.contracts[0].routes[0];
    assert_eq!(
        sluice_policy::param::target(route, "/v2/loans/x-1/notes", None, &keys).unwrap(),
        "/v2/loans/x-1/notes"
    );
    let r = sluice_policy::param::target(route, "/v2/loans/x-1/notes", Some("page=1"), &keys)
        .expect_err("no query listed");
    assert_eq!((r.code, r.param.as_str()), ("not_listed", "?"));
}

#[test]
fn explain_shows_what_each_parameter_carries() {
    let p = CompiledPolicy::load("test-policy.toml", &policy(RULES)).unwrap();
    let out = sluice_policy::explain::explain(&p, "c").unwrap();
    for line in [
        "  param    {loan_id} keep string pattern LN[0-9]{6}",
        "  param    ?page keep number min 1; max 1000",
        "  param    ?who hash",
        "  header   x-batch keep string pattern B-[0-9]+",
        "  header   x-free keep",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
}

#[test]
fn a_headers_table_gives_each_header_a_keep_or_a_hash() {
    let p = CompiledPolicy::load("test-policy.toml", &policy(RULES_WITH_HEADERS)).unwrap();
    let route = &p.contracts[0].routes[0];
    assert_eq!(route.headers, ["x-batch", "x-holder"]);
    assert_eq!(route.header_rules.len(), 2);
    assert_eq!(
        problems(
            "  params.loan_id = \"keep\"\n  headers = { x-batch = \"mask:name\", content-length = \"keep\" }\n"
        ),
        [
            r#"test-policy.toml: contract "c".route[0].headers.x-batch: got "mask:name", but a header's value is kept ("keep", { keep = "string", pattern = ... }) or hashed ("hash")"#,
            r#"test-policy.toml: contract "c".route[0].headers.content-length: got "content-length", expected a header sluice does not own (this one is message framing, which sluice sets for the body it sends)"#,
        ]
    );
}

const RULES_WITH_HEADERS: &str = "  params.loan_id = \"keep\"\n  headers = { X-Batch = { keep = \"string\", max_len = 8 }, x-holder = \"hash\" }\n";

/// Query bytes a target may carry: the listed names (and spellings of them), escapes of any
/// case, `+`, `=`, `&` and other URI characters.
fn query_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("page".to_string()),
        Just("p%61ge".to_string()),
        Just("who".to_string()),
        Just("since".to_string()),
        Just("other".to_string()),
        Just("=".to_string()),
        Just("&".to_string()),
        Just("+".to_string()),
        Just("%".to_string()),
        "%[0-9a-fA-F]{2}",
        "[0-9]{1,3}",
        "[a-zA-Z:,;/@!$'()*-._~]{1,4}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

use proptest::prelude::*;

proptest! {
    /// Whatever the query, the target sluice writes reads back to the same target (its own
    /// spelling is a fixed point) — but for a hashed value, which is hashed again: a pseudonym
    /// the second time round — holds only listed names, each once, and never panics.
    #[test]
    fn the_written_query_is_a_fixed_point_with_listed_names_once(q in query_text()) {
        let path = "/v2/loans/LN004217/notes";
        if let Ok(sent) = target(Some(&q), path) {
            let (p, written) = sent.split_once('?').unwrap_or((&sent, ""));
            prop_assert_eq!(p, path);
            let again = target(Some(written), path).expect("sluice's own query reads back");
            let pairs = |t: &str| -> Vec<(String, String)> {
                let q = t.split_once('?').map_or("", |(_, q)| q);
                q.split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (n, v) = p.split_once('=').unwrap_or((p, ""));
                        (n.to_string(), v.to_string())
                    })
                    .collect()
            };
            let (first, second) = (pairs(&sent), pairs(&again));
            prop_assert_eq!(first.len(), second.len());
            let mut names: Vec<&str> = Vec::new();
            for ((n1, v1), (n2, v2)) in first.iter().zip(&second) {
                prop_assert_eq!(n1, n2);
                prop_assert!(["page", "since", "who"].contains(&n1.as_str()), "{}", n1);
                prop_assert!(!names.contains(&n1.as_str()), "{} twice", n1);
                names.push(n1);
                if n1 == "who" {
                    let pseudonym = |v: &str| v.is_empty() || (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()));
                    prop_assert!(pseudonym(v1) && pseudonym(v2), "{} {}", v1, v2);
                } else {
                    prop_assert_eq!(v1, v2);
                }
            }
        }
    }
}

/// `name=value` pairs whose names are mostly the listed ones in some spelling: queries a pull
/// route may well let through.
fn pull_query() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        4 => Just("page"),
        2 => Just("p%61ge"),
        4 => Just("since"),
        2 => Just("%73ince"),
        1 => Just("_method"),
        1 => Just("Page"),
    ];
    let value = prop_oneof!["[1-9][0-9]{0,3}", "[a-z0-9%+:-]{0,6}", "%[0-9a-fA-F]{2}"];
    proptest::collection::vec((name, value), 1..4).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    /// A pull's query goes to the institution in sluice's writing or not at all: a name a form
    /// reader decodes to anything the route does not list refuses the request, and what goes
    /// out holds listed names only, each once, and reads back to itself.
    #[test]
    fn a_pull_query_goes_out_in_sluices_writing_or_not_at_all(q in prop_oneof![query_text(), pull_query()]) {
        let p = pull_policy(
            "  query = [\"page\", \"since\"]\n  params.page = { keep = \"number\", min = 1, max = 1000 }\n  params.since = { keep = \"string\", max_len = 25 }\n",
        );
        let keys = EngineKeys::derive(&[7; 32], &[8; 32], "c");
        let route = &p.contracts[0].routes[0];
        let path = "/v2/loans/LN004217/notes";
        let sent = sluice_policy::param::target(route, path, Some(&q), &keys);
        let listed = |n: &str| n == "page" || n == "since";
        if form_urlencoded::parse(q.as_bytes()).any(|(n, _)| !listed(&n)) {
            prop_assert!(sent.is_err(), "{:?} went out as {:?}", q, sent);
        }
        if let Ok(sent) = sent {
            let written = sent.split_once('?').map_or("", |(_, w)| w);
            prop_assert_eq!(&sent[..path.len()], path);
            let again = sluice_policy::param::target(route, path, Some(written), &keys)
                .expect("sluice's own query reads back");
            prop_assert_eq!(&again, &sent);
            let names: Vec<String> = form_urlencoded::parse(written.as_bytes())
                .map(|(n, _)| n.into_owned())
                .collect();
            prop_assert!(names.iter().all(|n| listed(n)), "{:?}", names);
            let mut unique = names.clone();
            unique.dedup();
            unique.sort();
            unique.dedup();
            prop_assert_eq!(unique.len(), names.len(), "a name twice: {:?}", names);
        }
    }
}

/// A pull route's request body went to the institution as the partner wrote it: `{"id_no": …}`
/// beside `{"include": "all"}`, a question no contract describes. `request_fields` lists what a
/// body may carry — kept fields with their checks only — and the route compiles them into a
/// program of their own; without the key a route takes no body.
#[test]
fn request_fields_are_kept_fields_of_a_pull_route_that_takes_a_body() {
    let pull = |method: &str, keys: &str| {
        support::policy_text("", keys, r#""$.x" = "keep""#)
            .replace("method = \"GET\"", &format!("method = \"{method}\""))
    };
    let problems = |text: &str| match CompiledPolicy::load("test-policy.toml", text) {
        Ok(_) => panic!("expected the policy to be refused"),
        Err(e) => e
            .to_string()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>(),
    };
    assert_eq!(
        problems(&pull("GET", "request_fields = { \"$.q\" = \"keep\" }")),
        [
            r#"test-policy.toml: contract "c".route[0].request_fields: a GET request carries no body (POST, PUT or PATCH routes take one)"#
        ]
    );
    assert_eq!(
        problems(
            &pull("POST", "request_fields = { \"$.q\" = \"keep\" }")
                .replace("flow = \"pull\"", "flow = \"push\"")
        ),
        [
            r#"test-policy.toml: contract "c".route[0].request_fields: applies to pull routes only (a push's body is filtered by the contract's fields)"#
        ]
    );
    assert_eq!(
        problems(&pull(
            "POST",
            "request_fields = { \"$.id_no\" = \"mask:id_card\", \"$.who\" = \"hash\" }"
        )),
        [
            r#"test-policy.toml: contract "c".route[0].request_fields."$.id_no": got "mask:id_card", but a partner's request body goes to the institution: a field is kept, with its checks ("keep", { keep = "string", pattern = ... }), or not sent — a masked or hashed value would ask for something else"#,
            r#"test-policy.toml: contract "c".route[0].request_fields."$.who": got "hash", but a partner's request body goes to the institution: a field is kept, with its checks ("keep", { keep = "string", pattern = ... }), or not sent — a masked or hashed value would ask for something else"#,
        ]
    );
    // Compiled as the contract's fields are, with the same conflicts.
    assert_eq!(
        problems(&pull(
            "POST",
            "request_fields = { \"$.a\" = \"keep\", \"$.a.b\" = \"keep\" }"
        )),
        [
            r#"test-policy.toml: contract "c".route[0].request_fields."$.a.b": lies below the rule at $.a; a path may have a rule or rules below it, not both"#,
        ]
    );
    let text = pull(
        "POST",
        "request_fields = { \"$.id_no\" = { keep = \"string\", pattern = \"[0-9]{17}[0-9X]\" }, \"$.page\" = { keep = \"number\", min = 1, max = 100 } }",
    );
    let p = CompiledPolicy::load("test-policy.toml", &text).unwrap();
    let route = &p.contracts[0].routes[0];
    assert!(route.request_program.is_some());
    // Filtered as any body is: unlisted fields dropped, kept ones checked.
    let cfg = |program| sluice_policy::engine::EngineConfig {
        program,
        format: sluice_policy::engine::Format::Json,
        limits: Default::default(),
        keys: support::keys(),
        consent: None,
        charset: Default::default(),
    };
    let ask = |body: &[u8]| {
        let program = route.request_program.clone().unwrap();
        let mut r = sluice_policy::engine::Redactor::new(cfg(program));
        let mut out = Vec::new();
        r.feed(body, &mut out)
            .and_then(|()| r.finish(&mut out))
            .map(|_| String::from_utf8(out).unwrap())
            .map_err(|v| format!("{} at {}", v.kind.code(), v.path))
    };
    assert_eq!(
        ask(br#"{"id_no":"11010519491231002X","include":"all","page":2}"#).unwrap(),
        r#"{"id_no":"11010519491231002X","page":2}"#
    );
    assert_eq!(
        ask(br#"{"page":1000}"#).unwrap_err(),
        "out_of_range at $.page"
    );
    let explained = sluice_policy::explain::explain(&p, "c").unwrap();
    assert!(
        explained.contains("  request  $.page keep number min 1; max 100\n"),
        "{explained}"
    );
    // Without the key, no program: the route takes no body.
    let p = CompiledPolicy::load("test-policy.toml", &pull("POST", "")).unwrap();
    assert!(p.contracts[0].routes[0].request_program.is_none());
}

/// `sluice policy test` runs a partner's request body through a pull route's `request_fields`
/// with `direction = "request"`, and says so when the route takes none.
#[test]
fn policy_tests_filter_a_pull_request_body_through_its_request_fields() {
    use sluice_policy::cases::{self, Loaded, Source, Verdict};
    let policy = |keys: &str| {
        CompiledPolicy::load(
            "test-policy.toml",
            &support::policy_text("", keys, r#""$.x" = "keep""#)
                .replace("method = \"GET\"", "method = \"POST\""),
        )
        .unwrap()
    };
    let file = cases::parse(
        r#"policy = "test-policy.toml"
[[case]]
name = "the question, filtered"
contract = "c"
method = "POST"
path = "/x"
direction = "request"
body = '''{"page":2,"include":"all"}'''
expect.body = '''{"page":2}'''
"#,
    )
    .unwrap();
    let case = &file.cases[0];
    let body = |s: &Source| match s {
        Source::Inline(b) => b.clone(),
        Source::File(_) => unreachable!("inline"),
    };
    let loaded = Loaded {
        case,
        body: body(&case.body),
        expected: match &case.outcome {
            cases::file::Outcome::Body(s) => Some(body(s)),
            cases::file::Outcome::Refusal(_) => None,
        },
    };
    let asks = policy("request_fields = { \"$.page\" = { keep = \"number\", max = 10 } }");
    assert_eq!(cases::run::run(&asks, b"k", &loaded), Verdict::Pass);
    assert_eq!(
        cases::run::run(&policy(""), b"k", &loaded),
        Verdict::Error(
            "POST /x is a pull route that takes no request body (it lists no request_fields)"
                .into()
        )
    );
}
