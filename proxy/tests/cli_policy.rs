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
