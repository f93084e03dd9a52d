//! Loading policies: every validation message by exact text, and route resolution.

use sluice_policy::{CompiledPolicy, Flow, Instant, ResolveError};

const HEAD: &str = r#"
version = 1
[[partner]]
id = "acme-loans"
identity = { uri_san = "spiffe://partners.sluice.test/acme-loans" }
jurisdiction = "CN"
"#;

fn contract(extra_contract_keys: &str, fields: &str) -> String {
    format!(
        r#"{HEAD}
[[contract]]
id = "c1"
partner = "acme-loans"
purpose = "testing"
legal_basis = "consent"
valid_from = 2026-01-01
valid_until = 2027-01-01
{extra_contract_keys}
  [[contract.route]]
  flow = "pull"
  method = "GET"
  path = "/v1/applicants/{{id}}"
  upstream = "institution"
  records = "$.applicants[*]"
  subject = "$.applicants[*].id_no"
  [contract.fields]
{fields}
"#
    )
}

fn problems(text: &str) -> Vec<String> {
    match CompiledPolicy::load("policy.toml", text) {
        Ok(_) => panic!("expected the policy to be refused"),
        Err(e) => e.to_string().lines().map(str::to_string).collect(),
    }
}

fn one_problem(text: &str) -> String {
    let p = problems(text);
    assert_eq!(p.len(), 1, "expected exactly one problem, got {p:#?}");
    p.into_iter().next().unwrap()
}

#[test]
fn example_policy_loads() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/examples/policy.toml"
    ))
    .unwrap();
    let p = CompiledPolicy::load("policy.toml", &text).unwrap();
    assert_eq!(
        (p.partners.len(), p.contracts.len(), p.route_count()),
        (2, 2, 3)
    );
}

#[test]
fn bench_workload_policies_load() {
    for name in ["reference-policy.toml", "passthrough-policy.toml"] {
        let path = format!("{}/../bench/workload/{name}", env!("CARGO_MANIFEST_DIR"));
        // No silent skip: the workload is part of the repository.
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        CompiledPolicy::load(name, &text).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn misspelt_key_names_the_key_path_and_the_expected_keys() {
    let text = contract("", r#""$.applicants[*].name" = "mask:name""#)
        .replace("method = \"GET\"", "methd = \"GET\"");
    assert_eq!(
        problems(&text),
        [
            r#"policy.toml: contract "c1".route[0].methd: unknown key; expected one of: flow, method, path, upstream, records, subject, headers, query, params, pass_through, require_digest, buffer_limit, formats, request_fields"#,
            r#"policy.toml: contract "c1".route[0].method: missing; expected a non-empty string"#,
        ]
    );
}

#[test]
fn c3_path_is_never_loadable() {
    let text = contract("", r#""$.applicants[*].cvn" = "keep""#).replace(
        "version = 1",
        "version = 1\n[classes]\n\"$.applicants[*].cvn\" = \"C3\"",
    );
    assert_eq!(
        one_problem(&text),
        r#"policy.toml: contract "c1".fields."$.applicants[*].cvn": path is class C3 and can never be disclosed"#
    );
    // Masking does not make C3 disclosable either, nor does keeping a subtree that contains it.
    let masked = contract("", r#""$.applicants[*].cvn" = "redact""#).replace(
        "version = 1",
        "version = 1\n[classes]\n\"$.applicants[*].cvn\" = \"C3\"",
    );
    assert_eq!(problems(&masked).len(), 1);
    let subtree = contract("", r#""$.applicants[*]" = { keep = "subtree" }"#)
        .replace(
            "version = 1",
            "version = 1\n[classes]\n\"$.applicants[*].cvn\" = \"C3\"",
        )
        .replace("  subject = \"$.applicants[*].id_no\"\n", "");
    assert_eq!(
        one_problem(&subtree),
        r#"policy.toml: contract "c1".fields."$.applicants[*]": path is class C3 and can never be disclosed"#
    );
}

#[test]
fn c2_plaintext_needs_a_reason() {
    let classes = "version = 1\n[classes]\n\"$.applicants[*].mobile\" = \"C2\"";
    let text = contract("", r#""$.applicants[*].mobile" = "keep""#).replace("version = 1", classes);
    assert_eq!(
        one_problem(&text),
        r#"policy.toml: contract "c1".fields."$.applicants[*].mobile": path is class C2 and kept in plaintext without plaintext_reason; mask or hash it, or write { keep = "...", plaintext_reason = "why the partner needs it" }"#
    );
    let ok = contract(
        "",
        r#""$.applicants[*].mobile" = { keep = "string", plaintext_reason = "callback" }"#,
    )
    .replace("version = 1", classes);
    CompiledPolicy::load("policy.toml", &ok).unwrap();
    let hashed =
        contract("", r#""$.applicants[*].mobile" = "hash""#).replace("version = 1", classes);
    CompiledPolicy::load("policy.toml", &hashed).unwrap();
}

#[test]
fn unsupported_path_is_refused_with_the_supported_forms() {
    let text = contract("", r#""$..name" = "keep""#);
    assert_eq!(
        one_problem(&text),
        r#"policy.toml: contract "c1".fields."$..name": recursive descent `..` is not supported at character 1; supported forms are `$`, `.key`, `["any key"]` and `[*]` (XML: `/a/b[*]/@c`)"#
    );
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let text = format!(
        r#"{HEAD}
[[contract]]
id = "c1"
partner = "nobody"
purpose = "testing"
legal_basis = "because"
valid_from = 2027-01-01
valid_until = 2026-01-01
rate = {{ per_second = 0 }}
  [[contract.route]]
  flow = "pul"
  method = "FETCH"
  path = "v1/x"
  upstream = "institution"
  [contract.fields]
  "$.a" = "mask:nmae"
  "$.b" = {{ keep = "string", scan = ["phone"], pattern = "(" }}
  "$.c" = {{ keep = "string", min = 1 }}
  "$.d" = {{ keep = "numbr" }}
  "$.e" = 42
"#
    );
    assert_eq!(
        problems(&text),
        [
            r#"policy.toml: contract "c1".partner: got "nobody", expected the id of a [[partner]] ("acme-loans")"#,
            r#"policy.toml: contract "c1".legal_basis: got "because", expected one of: consent, separate-consent, contract-necessity, hr-management, legal-duty, public-health-emergency, news-reporting, publicly-disclosed, other-law"#,
            r#"policy.toml: contract "c1".valid_until: got 2026-01-01T00:00:00+08:00, expected a time after valid_from (2027-01-01T00:00:00+08:00)"#,
            r#"policy.toml: contract "c1".rate.per_second: got integer 0, expected a positive integer"#,
            r#"policy.toml: contract "c1".rate: expected exactly one of per_second, per_minute"#,
            r#"policy.toml: contract "c1".route[0].flow: got "pul", expected "pull" or "push""#,
            r#"policy.toml: contract "c1".route[0].method: got "FETCH", expected one of: GET, HEAD, POST, PUT, PATCH, DELETE"#,
            r#"policy.toml: contract "c1".route[0].path: got "v1/x", a route path must start with `/`; expected a path like "/v1/applicants/{id}""#,
            r#"policy.toml: contract "c1".fields."$.a": got "mask:nmae", expected "keep", "mask:KIND" (KIND one of name, id_card, mobile, bank_card, email, address, landline, passport, plate, partial(F,L)), "hash", "hash:sm3", "redact" or a table { keep = ... }"#,
            r#"policy.toml: contract "c1".fields."$.b".pattern: got "(", expected a regular expression (error: unclosed group)"#,
            r#"policy.toml: contract "c1".fields."$.b".scan[0]: got "phone", expected one of: id_card, mobile, bank_card, email"#,
            r#"policy.toml: contract "c1".fields."$.c".min: applies to keep = "number" only, but the rule says keep = "string""#,
            r#"policy.toml: contract "c1".fields."$.d".keep: got "numbr", expected one of "scalar", "string", "number", "boolean", "null", "subtree""#,
            r#"policy.toml: contract "c1".fields."$.e": got integer 42, expected "keep", "mask:KIND" (KIND one of name, id_card, mobile, bank_card, email, address, landline, passport, plate, partial(F,L)), "hash", "hash:sm3", "redact" or a table { keep = ... }"#,
        ]
    );
}

#[test]
fn duplicate_ids_and_identities() {
    let text = format!(
        r#"{HEAD}
[[partner]]
id = "acme-loans"
identity = {{ dns_san = "other.example" }}
jurisdiction = "CN"
[[partner]]
id = "acme-2"
identity = {{ uri_san = "spiffe://partners.sluice.test/acme-loans" }}
jurisdiction = "cn"
"#
    );
    assert_eq!(
        problems(&text),
        [
            r#"policy.toml: partner "acme-loans".id: got "acme-loans", expected a partner id not used by another [[partner]]"#,
            r#"policy.toml: partner "acme-2".jurisdiction: got "cn", expected a two-letter ISO 3166 code such as "CN""#,
            r#"policy.toml: partner "acme-2".identity: got uri_san spiffe://partners.sluice.test/acme-loans, expected an identity not used by another partner (partner "acme-loans" has it)"#,
        ]
    );
    let both = contract("", "").replace(
        "[[contract]]\nid = \"c1\"",
        "[[contract]]\nid = \"c1\"\nfoo = 1",
    );
    assert_eq!(
        one_problem(&both),
        r#"policy.toml: contract "c1".foo: unknown key; expected one of: id, partner, purpose, legal_basis, valid_from, valid_until, rate, require_signature, signature_skew, signature_max_age, digest, route, fields"#
    );
    let dup_contract = format!(
        "{}\n{}",
        contract("", ""),
        contract("", "")
            .replace(HEAD, "")
            .replace("path = \"/v1/applicants/{id}\"", "path = \"/v2/x\"")
    );
    assert_eq!(
        one_problem(&dup_contract),
        r#"policy.toml: contract "c1".id: got "c1", expected a contract id not used by another [[contract]]"#
    );
}

#[test]
fn overlapping_routes_of_one_partner_are_ambiguous() {
    let second = contract("", "")
        .replace(HEAD, "")
        .replace("id = \"c1\"", "id = \"c2\"")
        .replace(
            "path = \"/v1/applicants/{id}\"",
            "path = \"/v1/applicants/export\"",
        );
    let text = format!("{}\n{second}", contract("", ""));
    assert_eq!(
        one_problem(&text),
        r#"policy.toml: contract "c2".route[0]: GET /v1/applicants/export overlaps contract "c1".route[0] (GET /v1/applicants/{id}) for partner "acme-loans" while both contracts are valid; the contract that applies would be ambiguous"#
    );
    // A renewal that starts when the old contract ends does not overlap.
    let renewal = contract("", "")
        .replace(HEAD, "")
        .replace("id = \"c1\"", "id = \"c2\"")
        .replace(
            "valid_from = 2026-01-01\nvalid_until = 2027-01-01",
            "valid_from = 2027-01-01\nvalid_until = 2028-01-01",
        );
    CompiledPolicy::load("policy.toml", &format!("{}\n{renewal}", contract("", ""))).unwrap();
}

#[test]
fn rules_outside_records_and_subjects_outside_records() {
    let text = contract("", r#""$.total" = "keep""#).replace(
        "subject = \"$.applicants[*].id_no\"",
        "subject = \"$.id_no\"",
    );
    assert_eq!(
        problems(&text),
        [
            r#"policy.toml: contract "c1".fields."$.total": lies outside route[0]'s records path $.applicants[*]; a route with records applies rules to records only"#,
            r#"policy.toml: contract "c1".route[0].subject: got "$.id_no", expected a path below records ($.applicants[*])"#,
        ]
    );
}

#[test]
fn contradicting_nested_rules_are_refused() {
    let text = contract(
        "",
        "\"$.applicants[*].loan\" = { keep = \"subtree\" }\n\"$.applicants[*].loan.amount\" = \"keep\"",
    );
    assert_eq!(
        one_problem(&text),
        r#"policy.toml: contract "c1".fields."$.applicants[*].loan.amount": lies below the rule at $.applicants[*].loan; a path may have a rule or rules below it, not both"#
    );
    let shape = contract(
        "",
        "\"$.applicants[*].a.b\" = \"keep\"\n\"$.applicants[*].a[*]\" = \"keep\"",
    );
    assert_eq!(
        one_problem(&shape),
        r#"policy.toml: contract "c1".fields."$.applicants[*].a[*]": $.applicants[*].a is an object in another rule but an array here"#
    );
    let same = contract(
        "",
        "\"$.applicants[*].a\" = \"keep\"\n\"$.applicants[*][\\\"a\\\"]\" = \"keep\"",
    );
    assert_eq!(
        one_problem(&same),
        r#"policy.toml: contract "c1".fields."$.applicants[*][\"a\"]": same path as "$.applicants[*].a"; write each path once"#
    );
}

#[test]
fn dates_and_toml_syntax() {
    let local = contract("", "").replace(
        "valid_from = 2026-01-01",
        "valid_from = 2026-01-01T00:00:00",
    );
    assert_eq!(
        one_problem(&local),
        r#"policy.toml: contract "c1".valid_from: got date-time 2026-01-01T00:00:00, a date-time needs an explicit offset (2026-01-01T00:00:00+08:00) or must be a plain date"#
    );
    assert_eq!(
        one_problem("version = 1\n[[partner]\n"),
        "policy.toml: line 2, column 10: not valid TOML: invalid table header; expected `.`, `]]`"
    );
    assert_eq!(
        one_problem("version = 2"),
        "policy.toml: version: got integer 2, expected 1"
    );
}

// ---- resolution ----

fn resolution_policy() -> CompiledPolicy {
    let text = format!(
        "{}\n[[partner]]\nid = \"other\"\nidentity = {{ dns_san = \"other.example\" }}\njurisdiction = \"CN\"\n",
        contract("", r#""$.applicants[*].name" = "mask:name""#)
    );
    CompiledPolicy::load("policy.toml", &text).unwrap()
}

// 2026-01-01T00:00:00+08:00 and 2027-01-01T00:00:00+08:00
const FROM: i64 = 1_767_196_800;
const UNTIL: i64 = 1_798_732_800;

#[test]
fn resolves_templates_for_the_right_partner() {
    let p = resolution_policy();
    let r = p
        .resolve(
            "acme-loans",
            Flow::Pull,
            "GET",
            "/v1/applicants/42",
            Instant(FROM + 10),
        )
        .unwrap();
    assert_eq!((r.contract.id.as_str(), r.route_index), ("c1", 0));
    assert_eq!(
        p.resolve(
            "acme-loans",
            Flow::Pull,
            "GET",
            "/v1/applicants/42/x",
            Instant(FROM)
        )
        .unwrap_err(),
        ResolveError::NoRoute
    );
    assert_eq!(
        p.resolve(
            "acme-loans",
            Flow::Pull,
            "POST",
            "/v1/applicants/42",
            Instant(FROM)
        )
        .unwrap_err(),
        ResolveError::NoRoute
    );
    assert_eq!(
        p.resolve(
            "acme-loans",
            Flow::Push,
            "GET",
            "/v1/applicants/42",
            Instant(FROM)
        )
        .unwrap_err(),
        ResolveError::NoRoute
    );
    assert_eq!(
        p.resolve(
            "other",
            Flow::Pull,
            "GET",
            "/v1/applicants/42",
            Instant(FROM)
        )
        .unwrap_err(),
        ResolveError::NoContract
    );
}

#[test]
fn validity_window_edges() {
    let p = resolution_policy();
    let at = |t| {
        p.resolve(
            "acme-loans",
            Flow::Pull,
            "GET",
            "/v1/applicants/1",
            Instant(t),
        )
        .map(|r| r.contract.id.clone())
    };
    assert_eq!(at(FROM - 1), Err(ResolveError::ContractNotYetValid));
    assert_eq!(at(FROM).as_deref(), Ok("c1"));
    assert_eq!(at(UNTIL - 1).as_deref(), Ok("c1"));
    assert_eq!(at(UNTIL), Err(ResolveError::ContractExpired));
}

#[test]
fn policy_version_is_sha256_of_the_bytes() {
    let text = contract("", "");
    let p = CompiledPolicy::load("policy.toml", &text).unwrap();
    let q = CompiledPolicy::load("policy.toml", &format!("{text}\n# comment")).unwrap();
    assert_ne!(p.version, q.version);
    assert_eq!(p.version.to_string().len(), 64);
}

#[test]
fn route_allow_lists_are_validated() {
    let text = contract("", "").replace("  upstream = \"institution\"\n", "  upstream = \"institution\"\n  headers = [\"Authorization\", \"x-ok\"]\n  query = [\"page\"]\n  pass_through = [\"application/json\", \"application/pdf\"]\n");
    assert_eq!(
        problems(&text),
        [
            r#"policy.toml: contract "c1".route[0].headers[0]: got "Authorization", expected a header sluice does not own (this one is credentials or client identity, which are never forwarded)"#,
            r#"policy.toml: contract "c1".route[0].pass_through[0]: got "application/json", expected a media type without parameters that is not JSON (JSON is always filtered)"#,
            r#"policy.toml: contract "c1".route[0].params.page: missing: the query parameter "page" chooses what the institution answers, so it needs a rule that bounds it (e.g. page = { keep = "number", min = 1, max = 1000 })"#,
        ]
    );
}

/// `policy check` accepted framing, coding, integrity and caching headers in a route's
/// allow-list: empty replies while the ledger said `sent`, masked data labelled `gzip`, the
/// institution's digest of the unfiltered body sent on (issue 28, finding 5).
#[test]
fn headers_sluice_owns_can_never_be_allow_listed() {
    let names = [
        ("content-length", "message framing"),
        ("Content-Encoding", "the body's representation"),
        ("transfer-encoding", "message framing"),
        ("trailer", "message framing"),
        ("content-digest", "integrity metadata"),
        ("Repr-Digest", "integrity metadata"),
        ("signature", "integrity metadata"),
        ("cache-control", "caching"),
        ("expires", "caching"),
        ("etag", "caching"),
        ("sluice-disclosure", "sluice's own fields"),
        ("Sluice-Partner", "sluice's own fields"),
        ("traceparent", "sluice's own fields"),
        ("x-forwarded-host", "credentials or client identity"),
        ("proxy-status", "credentials or client identity"),
    ];
    let list = names
        .iter()
        .map(|(n, _)| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let text = contract("", "").replace(
        "  upstream = \"institution\"\n",
        &format!("  upstream = \"institution\"\n  headers = [{list}, \"x-page-token\"]\n"),
    );
    let got = problems(&text);
    assert_eq!(got.len(), names.len(), "{got:#?}");
    for (i, (name, class)) in names.iter().enumerate() {
        let want = format!(
            "policy.toml: contract \"c1\".route[0].headers[{i}]: got \"{name}\", expected a header sluice does not own (this one is {class}"
        );
        assert!(got[i].starts_with(&want), "{}\n  wanted {want}", got[i]);
    }
}

#[test]
fn signature_keys_and_required_signatures() {
    const KEY: &str = "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=";
    let with_keys = |keys: &str, contract_keys: &str| {
        contract(contract_keys, r#""$.applicants[*].id" = "keep""#).replacen(
            "jurisdiction = \"CN\"\n",
            &format!("jurisdiction = \"CN\"\nsignature_keys = {{ {keys} }}\n"),
            1,
        )
    };
    let p = CompiledPolicy::load(
        "policy.toml",
        &with_keys(
            &format!(r#""acme-2026" = "{KEY}""#),
            "require_signature = true\nsignature_max_age = 60",
        ),
    )
    .unwrap();
    assert_eq!(p.partners[0].signature_keys[0].id, "acme-2026");
    assert_eq!(p.partners[0].signature_keys[0].ed25519[..2], [0x26, 0xb4]);
    let s = p.contracts[0].signatures.unwrap();
    assert_eq!((s.skew, s.max_age), (30, 60));

    assert_eq!(
        one_problem(&with_keys(r#""acme-2026" = "c2hvcnQ=""#, "")),
        r#"policy.toml: partner "acme-loans".signature_keys.acme-2026: got "c2hvcnQ=", expected a non-empty keyid naming the base64 of an Ed25519 public key (SubjectPublicKeyInfo DER, 44 bytes, or the raw 32 bytes)"#
    );
    assert_eq!(
        one_problem(&contract(
            "require_signature = true",
            r#""$.applicants[*].id" = "keep""#
        )),
        r#"policy.toml: contract "c1".require_signature: got true, but partner "acme-loans" has no signature_keys; expected its Ed25519 keys in [[partner]] signature_keys"#
    );
    assert_eq!(
        one_problem(&contract(
            "signature_skew = 10",
            r#""$.applicants[*].id" = "keep""#
        )),
        r#"policy.toml: contract "c1".signature_skew: only meaningful with require_signature = true; expected it removed or require_signature set"#
    );
}

#[test]
fn digest_algorithm_and_buffer_limit() {
    let fields = r#""$.applicants[*].id" = "keep""#;
    assert_eq!(
        one_problem(&contract("digest = \"md5\"", fields)),
        r#"policy.toml: contract "c1".digest: got "md5", expected "sha-256" or "sm3""#
    );
    let p = CompiledPolicy::load("policy.toml", &contract("digest = \"sm3\"", fields)).unwrap();
    assert_eq!(p.contracts[0].digest, sluice_policy::DigestAlgorithm::Sm3);
    let with_limit = |n: &str| {
        contract("", fields).replacen(
            "  upstream = \"institution\"\n",
            &format!("  upstream = \"institution\"\n  buffer_limit = {n}\n"),
            1,
        )
    };
    let p = CompiledPolicy::load("policy.toml", &with_limit("65536")).unwrap();
    assert_eq!(p.contracts[0].routes[0].buffer_limit, Some(65536));
    assert_eq!(
        one_problem(&with_limit("33554432")),
        r#"policy.toml: contract "c1".route[0].buffer_limit: got 33554432, expected at most 16777216 bytes (16 MiB): larger bodies stream"#
    );
}

#[test]
fn a_route_lists_the_formats_it_filters_and_nothing_else() {
    let with = |formats: &str, pass: &str| {
        contract("", r#""$.applicants[*].name" = "mask:name""#).replace(
            "method = \"GET\"",
            &format!("method = \"GET\"\nformats = {formats}\npass_through = {pass}"),
        )
    };
    let policy = CompiledPolicy::load("policy.toml", &with(r#"["csv", "json"]"#, "[]"))
        .unwrap_or_else(|e| panic!("{e}"));
    use sluice_policy::engine::Format;
    assert_eq!(
        policy.contracts[0].routes[0].formats,
        [Format::Csv, Format::Json]
    );
    assert_eq!(
        problems(&with(r#"["yaml"]"#, "[]")),
        [
            r#"policy.toml: contract "c1".route[0].formats[0]: got "yaml", expected one of "json", "ndjson", "csv", "form", "xml""#
        ]
    );
    assert_eq!(
        problems(&with("[]", "[]")),
        [
            r#"policy.toml: contract "c1".route[0].formats: got [], expected at least one of "json", "ndjson", "csv", "form", "xml""#
        ]
    );
    assert_eq!(
        problems(&with(r#"["csv"]"#, r#"["text/csv"]"#)),
        [
            r#"policy.toml: contract "c1".route[0].pass_through[0]: got "text/csv", which this route filters as csv (listed in formats): a type is filtered or passed through, not both"#
        ]
    );
}
