//! `sluice policy test`: the example policy's tests pass; a changed expectation fails with a
//! diff of the bodies; refusals, counts and cases that cannot run are reported; bad test files
//! are named with their key path; the JUnit report parses and agrees with the text one.

mod support;

use std::path::{Path, PathBuf};

use support::sluice;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples")
}

/// A copy of the example policy, its tests and fixtures, with `edit` applied to the tests.
fn variant(name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let dir = support::scratch_dir(&format!("sluice-policy-test-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("fixtures")).unwrap();
    for f in [
        "policy.toml",
        "fixtures/applicants.ndjson",
        "fixtures/applicants.expected.ndjson",
    ] {
        std::fs::copy(examples().join(f), dir.join(f)).unwrap();
    }
    let tests = std::fs::read_to_string(examples().join("policy.test.toml")).unwrap();
    let edited = edit(tests.clone());
    std::fs::write(dir.join("policy.test.toml"), edited).unwrap();
    dir.join("policy.test.toml")
}

#[test]
fn the_example_policy_ships_with_passing_tests() {
    let (code, out, err) = sluice(&["policy", "test", examples().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.ends_with("6 passed, 0 failed, 0 could not run\n"),
        "{out}"
    );
}

#[test]
fn a_changed_expectation_fails_with_a_diff_of_the_bodies() {
    let file = variant("diff", |t| {
        t.replacen(r#""name":"李*""#, r#""name":"李四""#, 1)
    });
    let (code, out, _) = sluice(&["policy", "test", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    let want = "  FAIL  safe-insure receives a pushed policy: holder id hashed with SM3, card masked, CVN dropped
        the output differs from expect.body (- expected, + actual):
                \"product\": \"term-life\",
                \"holder\": {
        -         \"name\": \"李四\",
        +         \"name\": \"李*\",
                  \"id_no\": \"a5b72daa21ae9b1a3f801900d864a16cf52b1155abd05e3ed87d4c8aa8ee20f2\",
                  \"mobile\": \"13912345678\"
  ok    a holder mobile";
    assert!(out.contains(want), "{out}");
    assert!(
        out.ends_with("5 passed, 1 failed, 0 could not run\n"),
        "{out}"
    );
}

#[test]
fn refusals_counts_and_cases_that_cannot_run_are_reported() {
    let file = variant("kinds", |t| {
        t.replacen(
            "expect.refusal = \"out_of_range\"",
            "expect.refusal = \"too_long\"",
            1,
        )
        .replacen("expect.records   = 2", "expect.records   = 3", 1)
        .replacen(
            "expect.refusal = \"duplicate_key\"",
            "expect.body = '''{}'''",
            1,
        )
        .replacen(
            "path     = \"/v2/policies\"\ndirection",
            "path     = \"/v2/claims\"\ndirection",
            1,
        )
    });
    let (code, out, _) = sluice(&["policy", "test", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    for want in [
        "        records: expected 3, got 2\n",
        "        expected refusal too_long, got out_of_range at $.applicants[0].credit_score (byte 31)\n",
        "        expected the body to pass, got refusal duplicate_key at $.applicants[0].name (byte 27)\n",
        "  ERROR safe-insure receives a pushed policy: holder id hashed with SM3, card masked, CVN dropped\n        contract \"safe-insure-claims-2026\" has no route for POST /v2/claims\n",
        "2 passed, 3 failed, 1 could not run\n",
    ] {
        assert!(out.contains(want), "expected {want:?} in\n{out}");
    }
    // The direction must agree with the route's flow.
    let file = variant("direction", |t| {
        t.replacen("direction = \"request\"", "direction = \"response\"", 1)
    });
    let (code, out, _) = sluice(&["policy", "test", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "POST /v2/policies is a push route: its request bodies are filtered, not its responses"
        ),
        "{out}"
    );
}

#[test]
fn bad_test_files_are_named_with_the_key_path() {
    let cases = [
        (
            "both",
            "body_file        = \"fixtures/applicants.ndjson\"",
            "body_file        = \"fixtures/applicants.ndjson\"\nbody = '''{}'''",
            "case[1].body: expected exactly one of case[1].body and case[1].body_file",
        ),
        (
            "format",
            "format   = \"ndjson\"",
            "format   = \"yaml\"",
            "case[1].format: got \"yaml\", expected one of \"json\", \"ndjson\", \"csv\", \"form\", \"xml\"",
        ),
        (
            "missing",
            "fixtures/applicants.ndjson\"",
            "fixtures/nothing.ndjson\"",
            "body_file",
        ),
        (
            "unknown",
            "expect.records  = 1",
            "expect.recods  = 1",
            "unknown field `recods`",
        ),
    ];
    for (name, from, to, want) in cases {
        let file = variant(name, |t| t.replacen(from, to, 1));
        let (code, out, err) = sluice(&["policy", "test", file.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {out}{err}");
        assert!(err.contains(want), "{name}: expected {want:?} in {err}");
        assert!(
            err.contains("policy.test.toml"),
            "{name}: the file is named: {err}"
        );
    }
}

#[test]
fn the_junit_report_parses_and_agrees_with_the_text_report() {
    let file = variant("junit", |t| {
        t.replacen(r#""name":"李*""#, r#""name":"李四""#, 1)
            .replacen(
                "path     = \"/v2/policies\"\nbody",
                "path     = \"/v2/x\"\nbody",
                1,
            )
    });
    let (code, xml, _) = sluice(&[
        "policy",
        "test",
        "--format",
        "junit",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(
        (
            root.attribute("tests"),
            root.attribute("failures"),
            root.attribute("errors")
        ),
        (Some("6"), Some("1"), Some("1"))
    );
    let cases: Vec<_> = root
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 6);
    let failed = cases
        .iter()
        .find(|c| c.children().any(|n| n.has_tag_name("failure")))
        .unwrap();
    assert!(
        failed
            .attribute("name")
            .unwrap()
            .starts_with("safe-insure receives")
    );
    let text = failed
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap()
        .text()
        .unwrap();
    assert!(text.contains("-         \"name\": \"李四\","), "{text}");
    let errored = cases
        .iter()
        .find(|c| c.children().any(|n| n.has_tag_name("error")))
        .unwrap();
    assert!(errored.attribute("name").unwrap().contains("plain text"));
}

#[test]
fn shadow_report_summarises_the_side_file() {
    let dir = support::scratch_dir("sluice-shadow-report");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("shadow.jsonl");
    let line = |path: &str, kind: &str| {
        format!(
            r#"{{"time_ms":1,"candidate":"ab12","contract":"acme-prescreen-2026","route":"/v1/applicants/{{id}}","differences":[{{"path":"{path}","kind":"{kind}"}}]}}"#
        )
    };
    let text = [
        line("$.applicants[*].name", "would_change"),
        line("$.applicants[*].name", "would_change"),
        line("$.applicants[*].credit_score", "would_refuse"),
    ]
    .join("\n");
    std::fs::write(&file, text).unwrap();
    let (code, out, err) = sluice(&["policy", "shadow-report", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("# Shadow evaluation: 3 bodies the candidate would treat differently\n\ncandidate policy: ab12\n"), "{out}");
    assert!(out.contains("| acme-prescreen-2026 | `/v1/applicants/{id}` | `$.applicants[*].name` | change | 2 |\n"), "{out}");
    let (code, json, _) = sluice(&[
        "policy",
        "shadow-report",
        "--format",
        "json",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["bodies"], 3);
    assert_eq!(v["differences"].as_array().unwrap().len(), 2);
    std::fs::write(&file, "not json\n").unwrap();
    let (code, _, err) = sluice(&["policy", "shadow-report", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("line 1: not a shadow report line"), "{err}");
}
