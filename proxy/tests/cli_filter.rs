//! `sluice filter` through the real binary: stdin → stdout, exit codes, summary.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

fn filter(args: &[&str], input: &[u8]) -> (i32, Vec<u8>, String) {
    let policy = format!(
        "{}/../deploy/examples/policy.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["filter", "--policy", &policy])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sluice");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const BODY: &str = r#"{"applicants":[{"applicant_no":"LA00000001","name":"欧阳明轩","id_no":"31011519751103008X","mobile":"13860642414","card_cvn":"123","address":"上海市浦东新区张江路123弄5号1202室","loan":{"amount":50000,"term_months":12,"purpose":"装修"},"remarks":"备用卡 6222 0293 6536 8615 645"}],"total":1}"#;

#[test]
fn filters_stdin_to_stdout_and_says_it_uses_the_development_key() {
    let (code, out, err) = filter(
        &["--contract", "acme-prescreen-2026", "--summary"],
        BODY.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let out = String::from_utf8(out).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let a = &v["applicants"][0];
    assert_eq!(a["name"], "欧阳**");
    assert_eq!(a["id_no"], "310115********008X");
    assert_eq!(a["address"], "上海市浦东新区****");
    assert_eq!(a["remarks"], "备用卡 622202*********5645");
    assert_eq!(
        a["loan"],
        serde_json::json!({"amount": 50000, "term_months": 12})
    );
    assert!(a.get("card_cvn").is_none() && v.get("total").is_none());
    assert_eq!(a["mobile"].as_str().unwrap().len(), 64);
    for secret in [
        "13860642414",
        "31011519751103008X",
        "123\"",
        "张江路",
        "6536 8615",
    ] {
        assert!(!out.contains(secret), "{secret} leaked: {out}");
    }
    assert!(err.contains("using the fixed development key"), "{err}");
    let summary: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
    assert_eq!(summary["records"], 1);
    assert_eq!(summary["bytes_out"], out.len());
}

#[test]
fn a_violation_exits_3_with_reason_path_and_offset_but_no_value() {
    let body = br#"{"applicants":[{"loan":{"amount":99999999999}}]}"#;
    let (code, _, err) = filter(&["--contract", "acme-prescreen-2026"], body);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("violation: out_of_range at $.applicants[0].loan.amount (byte 33)"),
        "{err}"
    );
    assert!(!err.contains("99999999999"));
}

#[test]
fn key_file_changes_pseudonyms_and_bad_arguments_exit_2() {
    let dir = support::scratch_dir("sluice-cli-filter");
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("key.hex");
    std::fs::write(&key, "11".repeat(32) + "\n").unwrap();
    let (code, with_key, err) = filter(
        &[
            "--contract",
            "acme-prescreen-2026",
            "--key-file",
            key.to_str().unwrap(),
        ],
        BODY.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("development key"));
    let (_, dev, _) = filter(&["--contract", "acme-prescreen-2026"], BODY.as_bytes());
    assert_ne!(with_key, dev);
    std::fs::write(&key, "short").unwrap();
    let (code, _, err) = filter(
        &[
            "--contract",
            "acme-prescreen-2026",
            "--key-file",
            key.to_str().unwrap(),
        ],
        BODY.as_bytes(),
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("expected 32 raw bytes or 64 hex digits, got 5 bytes"),
        "{err}"
    );
    let (code, _, err) = filter(&["--contract", "nope"], BODY.as_bytes());
    assert_eq!(code, 2);
    assert!(err.contains("no contract \"nope\""), "{err}");
}

#[test]
fn ndjson_format() {
    let body = "{\"policy_no\":\"P1\",\"holder\":{\"name\":\"张伟\",\"id_no\":\"11010519491231002X\",\"mobile\":\"13860642414\"},\"x\":1}\n\n{\"policy_no\":\"P2\"}\n";
    let (code, out, err) = filter(
        &[
            "--contract",
            "safe-insure-claims-2026",
            "--format",
            "ndjson",
        ],
        body.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(r#"{"policy_no":"P1","holder":{"name":"张*","id_no":""#),
        "{out}"
    );
    assert!(
        lines[0].ends_with(r#"","mobile":"13860642414"}}"#),
        "plaintext with a reason: {out}"
    );
    assert_eq!(lines[1], r#"{"policy_no":"P2"}"#);
}

#[test]
fn filters_csv_and_forms_with_the_same_contract() {
    let csv = "applicant_no,name,id_no,card_cvn,credit_score\r\nLA00000001,欧阳明轩,31011519751103008X,123,700\r\n";
    let (code, out, err) = filter(
        &["--contract", "acme-prescreen-2026", "--format", "csv"],
        csv.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "applicant_no,name,id_no,credit_score\r\nLA00000001,欧阳**,310115********008X,700\r\n"
    );
    let (code, out, err) = filter(
        &["--contract", "acme-prescreen-2026", "--format", "form"],
        b"applicant_no=LA00000001&card_cvn=123&credit_score=700",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, b"applicant_no=LA00000001&credit_score=700");
    // A bare quote is refused with its code and path, and nothing is written.
    let (code, out, err) = filter(
        &["--contract", "acme-prescreen-2026", "--format", "csv"],
        b"applicant_no\nLA0\"1\n",
    );
    assert_ne!(code, 0);
    assert!(err.contains("invalid_csv"), "{err}");
    assert!(!String::from_utf8_lossy(&out).contains("LA0"), "{:?}", out);
}
