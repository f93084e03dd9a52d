//! `diff` on small policies: each kind of change, and none for an unchanged policy.

use super::*;

fn policy(fields: &str, until: &str, routes: &str) -> CompiledPolicy {
    let text = format!(
        r#"version = 1
[[partner]]
id = "acme"
identity = {{ uri_san = "spiffe://p/acme" }}
jurisdiction = "CN"
[[contract]]
id = "c1"
partner = "acme"
purpose = "pre-screening"
legal_basis = "consent"
valid_from = 2026-01-01
valid_until = {until}
{routes}
  [contract.fields]
{fields}
"#
    );
    CompiledPolicy::load("policy.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

const ROUTE: &str = "  [[contract.route]]\n  flow = \"pull\"\n  method = \"GET\"\n  path = \"/v1/a/{id}\"\n  upstream = \"institution\"\n";
const ROUTE2: &str = "  [[contract.route]]\n  flow = \"pull\"\n  method = \"GET\"\n  path = \"/v1/b\"\n  upstream = \"institution\"\n";

#[test]
fn an_unchanged_policy_changes_nothing() {
    let a = policy(r#""$.a[*].id" = "keep""#, "2027-01-01", ROUTE);
    assert_eq!(diff(&a, &a), vec![]);
    assert_eq!(markdown(&[]), "No change to what any partner receives.\n");
}

#[test]
fn gains_losses_changed_forms_routes_and_terms_are_each_reported() {
    let old = policy(
        "\"$.a[*].id\" = \"keep\"\n\"$.a[*].name\" = \"keep\"\n\"$.a[*].score\" = { keep = \"number\", min = 0, max = 900 }",
        "2027-01-01",
        ROUTE,
    );
    let new = policy(
        "\"$.a[*].id\" = \"keep\"\n\"$.a[*].name\" = \"mask:name\"\n\"$.a[*].score\" = { keep = \"number\", min = 0, max = 1000 }\n\"$.a[*].city\" = \"keep\"",
        "2027-07-01",
        &format!("{ROUTE}{ROUTE2}"),
    );
    let changes = diff(&old, &new);
    let kinds: Vec<(&str, &str)> = changes.iter().map(|c| (c.kind, c.what.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("valid_until", "valid_until"),
            ("gains", "$.a[*].city"),
            ("receives differently", "$.a[*].name"),
            ("receives differently", "$.a[*].score"),
            ("route added", "pull GET /v1/b"),
        ]
    );
    let name = &changes[2];
    assert_eq!(
        (name.before.as_str(), name.after.as_str()),
        ("keep", "mask:name")
    );
    assert!(changes[3].before.contains("max 900") && changes[3].after.contains("max 1000"));
    // And back: the partner loses the city and the route.
    let back: Vec<&str> = diff(&new, &old).iter().map(|c| c.kind).collect();
    assert!(
        back.contains(&"loses") && back.contains(&"route removed"),
        "{back:?}"
    );
    let md = markdown(&changes);
    assert!(md.starts_with("| contract | partner | change | what | before | after |"));
    assert!(
        md.contains("| c1 | acme | receives differently | `$.a[*].name` | `keep` | `mask:name` |")
    );
}

#[test]
fn contracts_added_and_removed() {
    let a = policy(r#""$.a[*].id" = "keep""#, "2027-01-01", ROUTE);
    let renamed = CompiledPolicy::load(
        "policy.toml",
        &format!(
            "version = 1\n[[partner]]\nid = \"acme\"\nidentity = {{ uri_san = \"spiffe://p/acme\" }}\njurisdiction = \"CN\"\n[[contract]]\nid = \"c2\"\npartner = \"acme\"\npurpose = \"x\"\nlegal_basis = \"consent\"\nvalid_from = 2026-01-01\nvalid_until = 2027-01-01\n{ROUTE}  [contract.fields]\n\"$.a[*].id\" = \"keep\"\n"
        ),
    )
    .unwrap();
    let kinds: Vec<&str> = diff(&a, &renamed).iter().map(|c| c.kind).collect();
    assert_eq!(kinds, ["contract added", "contract removed"]);
}

/// A change review said "no change" (fixed) when a route began to let a type through
/// unfiltered, to carry another header as written, or to keep a push parameter with no check:
/// only field rules and routes' existence were compared.
#[test]
fn what_a_route_carries_besides_its_fields_is_compared_too() {
    const PUSH: &str = "  [[contract.route]]\n  flow = \"push\"\n  method = \"POST\"\n  path = \"/v2/a/{id}\"\n  upstream = \"partner\"\n";
    let fields = r#""$.a[*].id" = "keep""#;
    let old = policy(
        fields,
        "2027-01-01",
        &format!("{PUSH}  params.id = {{ keep = \"string\", pattern = \"A[0-9]+\" }}\n{ROUTE}"),
    );
    let new = policy(
        fields,
        "2027-01-01",
        &format!(
            "{PUSH}  params.id = \"keep\"\n  headers = [\"x-batch\"]\n  pass_through = [\"application/pdf\"]\n  formats = [\"json\", \"xml\"]\n{ROUTE}  formats = [\"json\"]\n"
        ),
    );
    let changes = diff(&old, &new);
    let got: Vec<(&str, &str, &str, &str)> = changes
        .iter()
        .map(|c| (c.kind, c.what.as_str(), c.before.as_str(), c.after.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("gains", "push POST /v2/a/{id}: format xml", "", "filtered"),
            (
                "gains",
                "push POST /v2/a/{id}: header x-batch",
                "",
                "crosses as written"
            ),
            (
                "receives differently",
                "push POST /v2/a/{id}: param {id}",
                "keep string (pattern A[0-9]+)",
                "keep"
            ),
            (
                "gains",
                "push POST /v2/a/{id}: type application/pdf",
                "",
                "passed through unfiltered"
            ),
            (
                "loses",
                "pull GET /v1/a/{id}: format ndjson",
                "filtered",
                ""
            ),
            (
                "loses",
                "push POST /v2/a/{id}: format ndjson",
                "filtered",
                ""
            ),
        ]
    );
    // A route added says so, then what it carries besides its formats.
    let added = policy(
        fields,
        "2027-01-01",
        &format!("{ROUTE}{ROUTE2}  pass_through = [\"application/pdf\"]\n"),
    );
    let base = policy(fields, "2027-01-01", ROUTE);
    let kinds: Vec<(&str, String)> = diff(&base, &added)
        .into_iter()
        .map(|c| (c.kind, c.what))
        .collect();
    assert_eq!(
        kinds,
        [
            ("route added", "pull GET /v1/b".to_string()),
            ("gains", "pull GET /v1/b: type application/pdf".to_string()),
        ]
    );
}

/// A change review said "No change to what any partner receives" (fixed) when the partner's
/// certificate identity or jurisdiction changed: the same contracts, another recipient, or an
/// offshore one.
#[test]
fn another_recipient_for_the_same_contract_is_a_change() {
    let fields = r#""$.a[*].id" = "keep""#;
    let old = policy(fields, "2027-01-01", ROUTE);
    let text = |identity: &str, jurisdiction: &str| {
        format!(
            "version = 1\n[[partner]]\nid = \"acme\"\nidentity = {identity}\njurisdiction = \"{jurisdiction}\"\nsignature_keys = {{ k1 = \"{}\" }}\n[[contract]]\nid = \"c1\"\npartner = \"acme\"\npurpose = \"pre-screening\"\nlegal_basis = \"consent\"\nvalid_from = 2026-01-01\nvalid_until = 2027-01-01\n{ROUTE}  [contract.fields]\n{fields}\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32])
        )
    };
    let new = CompiledPolicy::load("policy.toml", &text("{ dns_san = \"acme.example\" }", "SG"))
        .unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<(&str, String, String)> = diff(&old, &new)
        .into_iter()
        .map(|c| (c.kind, c.before, c.after))
        .collect();
    assert_eq!(
        got,
        [
            (
                "identity",
                "uri_san spiffe://p/acme".to_string(),
                "dns_san acme.example".to_string()
            ),
            ("jurisdiction", "CN".to_string(), "SG".to_string()),
            (
                "signature_keys",
                String::new(),
                format!("k1 {}", "07".repeat(32))
            ),
        ]
    );
}

#[test]
fn a_header_given_a_rule_is_received_differently() {
    let fields = r#""$.a[*].id" = "keep""#;
    let old = policy(
        fields,
        "2027-01-01",
        &format!("{ROUTE}  headers = [\"x-batch\"]\n"),
    );
    let new = policy(
        fields,
        "2027-01-01",
        &format!(
            "{ROUTE}  headers = {{ x-batch = {{ keep = \"string\", pattern = \"B-[0-9]+\" }} }}\n"
        ),
    );
    let got: Vec<(&str, String, String, String)> = diff(&old, &new)
        .into_iter()
        .map(|c| (c.kind, c.what, c.before, c.after))
        .collect();
    assert_eq!(
        got,
        [(
            "receives differently",
            "pull GET /v1/a/{id}: header x-batch".to_string(),
            "crosses as written".to_string(),
            "keep string (pattern B-[0-9]+)".to_string()
        )]
    );
}
