//! `sluice policy check` and `explain` through the real binary.

mod support;
use support::sluice;

fn example() -> String {
    format!(
        "{}/../deploy/examples/policy.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn write_variant(name: &str, from: &str, to: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(example()).unwrap();
    assert!(
        text.contains(from),
        "example policy no longer contains {from:?}"
    );
    let dir = support::scratch_dir("sluice-cli-policy");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

#[test]
fn check_accepts_the_example_policy() {
    let (code, stdout, stderr) = sluice(&["policy", "check", &example()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("ok: 2 partners, 2 contracts, 3 routes, sha256 "),
        "{stdout}"
    );
}

#[test]
fn check_exits_2_and_names_the_key_path() {
    let cases = [
        (
            "misspelt.toml",
            "  upstream = \"acme-api\"",
            "  upstrem = \"acme-api\"",
            r#"contract "safe-insure-claims-2026".route[0].upstrem: unknown key"#,
        ),
        (
            "c3.toml",
            r#""$.applicants[*].remarks""#,
            r#""$.applicants[*].card_cvn" = "redact"
  "$.applicants[*].remarks""#,
            r#"contract "acme-prescreen-2026".fields."$.applicants[*].card_cvn": path is class C3 and can never be disclosed"#,
        ),
        (
            "c2.toml",
            r#""$.applicants[*].mobile"         = "hash""#,
            r#""$.applicants[*].mobile" = "keep""#,
            r#"contract "acme-prescreen-2026".fields."$.applicants[*].mobile": path is class C2 and kept in plaintext without plaintext_reason"#,
        ),
        (
            "path.toml",
            r#""$.applicants[*].credit_score""#,
            r#""$.applicants[0].credit_score""#,
            r#"contract "acme-prescreen-2026".fields."$.applicants[0].credit_score": array indexes and slices are not supported"#,
        ),
    ];
    for (name, from, to, want) in cases {
        let path = write_variant(name, from, to);
        let (code, stdout, stderr) = sluice(&["policy", "check", path.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!("{}: {want}", path.display())),
            "{name}: {stderr}"
        );
        assert!(stdout.is_empty(), "{name}: {stdout}");
    }
}

#[test]
fn explain_lists_every_receivable_path() {
    let (code, stdout, stderr) = sluice(&[
        "policy",
        "explain",
        &example(),
        "--contract",
        "acme-prescreen-2026",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("route 0: pull GET /v1/applicants/{id} -> upstream institution"),
        "{stdout}"
    );
    for line in [
        "$.applicants[*].name              mask:name     C2",
        "$.applicants[*].loan.amount       keep number   -      min 0; max 10000000",
        "everything else is stripped",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    let (code, _, stderr) = sluice(&["policy", "explain", &example(), "--contract", "nope"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(
            "no contract \"nope\"; contracts are: acme-prescreen-2026, safe-insure-claims-2026"
        ),
        "{stderr}"
    );
}

/// `policy diff OLD NEW`: what a change gives or takes from each partner, Markdown or JSON;
/// exit 0 when nothing changes, 1 when something does, 2 when a policy does not load.
#[test]
fn policy_diff_reports_what_partners_gain_and_lose_with_exit_codes() {
    let dir = support::scratch_dir("sluice-cli-policy-diff");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/examples/policy.toml"
    );
    let text = std::fs::read_to_string(example).unwrap();
    let (old, new, bad) = (
        dir.join("old.toml"),
        dir.join("new.toml"),
        dir.join("bad.toml"),
    );
    std::fs::write(&old, &text).unwrap();
    let changed = text.replace(
        r#""$.applicants[*].address"        = "mask:address""#,
        r#""$.applicants[*].address"        = "redact""#,
    );
    assert_ne!(changed, text, "the example changed");
    std::fs::write(&new, &changed).unwrap();
    std::fs::write(&bad, "version = 1\n[[partner]\n").unwrap();
    let p = |x: &std::path::Path| x.to_str().unwrap().to_string();

    let (code, out, err) = sluice(&["policy", "diff", &p(&old), &p(&old)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "No change to what any partner receives.\n");

    let (code, out, _) = sluice(&["policy", "diff", &p(&old), &p(&new)]);
    assert_eq!(code, 1);
    assert!(
        out.contains("| acme-prescreen-2026 | acme-loans | receives differently | `$.applicants[*].address` | `mask:address` | `redact` |"),
        "{out}"
    );
    let (code, out, _) = sluice(&["policy", "diff", &p(&old), &p(&new), "--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["change"], "receives differently");
    assert_eq!(v.as_array().unwrap().len(), 1);

    let (code, _, err) = sluice(&["policy", "diff", &p(&old), &p(&bad)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.toml"), "{err}");
}
