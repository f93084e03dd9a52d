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
