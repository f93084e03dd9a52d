//! `sluice ledger verify | query | prove | verify-proof | export` through the real binary.

mod support;
use support::{signing_key, sluice};

use std::time::Duration;

use sluice::ledger::{Ledger, LedgerOptions};

/// A ledger in `dir` that commits and checkpoints every entry at once, in small segments.
fn open_ledger(
    dir: &std::path::Path,
    key: std::sync::Arc<ring::signature::Ed25519KeyPair>,
) -> Ledger {
    open_ledger_checked(dir, key, None)
}

/// [`open_ledger`] by an instance with these keys (`keys.loaded`).
fn open_ledger_checked(
    dir: &std::path::Path,
    key: std::sync::Arc<ring::signature::Ed25519KeyPair>,
    keys: Option<sluice::ledger::keycheck::KeyChecks>,
) -> Ledger {
    let options = LedgerOptions {
        dir: dir.to_path_buf(),
        origin: "t/ledger".into(),
        key,
        commit_window: Duration::ZERO,
        checkpoint_every: 1,
        checkpoint_min_interval: Duration::ZERO,
        commit_delay: sluice::ledger::CommitDelay::default(),
        segment_bytes: 300,
        idle_commit_wait: Duration::ZERO,
    };
    Ledger::open_checked(options, keys).unwrap().0
}

#[test]
fn compliance_tools_answer_who_received_what() {
    let dir = support::scratch_dir("sluice-cli-ledger");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (key, pubhex) = signing_key();
    std::fs::write(dir.join("ledger.pub"), &pubhex).unwrap();
    let subject_key = [7u8; 32];
    std::fs::write(dir.join("subject.key"), subject_key).unwrap();
    let someone = sluice_policy::pseudonym::SubjectKey::derive(&subject_key)
        .subject_hash("31011519751103008X");

    let ledger_dir = dir.join("ledger");
    let l = open_ledger(&ledger_dir, key);
    for (partner, subjects) in [
        ("acme-loans", vec![someone]),
        ("safe-insure", vec![[9; 32]]),
        ("acme-loans", vec![]),
    ] {
        let b = l
            .append_blocking(support::begin("r", partner, &format!("{partner}-contract")))
            .unwrap();
        l.append_blocking(support::sent(b, subjects)).unwrap();
    }
    l.close();
    let d = ledger_dir.to_str().unwrap();
    let pk = dir.join("ledger.pub");
    let pk = pk.to_str().unwrap();

    let (code, out, err) = sluice(&["ledger", "verify", d, "--pubkey", pk]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: 7 entries, "), "{out}");
    let (code, out, err) = sluice(&["ledger", "verify", d]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("only shows the log agrees with itself") && out.starts_with("ok: 7 entries"),
        "{err}{out}"
    );

    // "Which partners received data about this person?" is one command.
    let (code, out, _) = sluice(&[
        "ledger",
        "query",
        d,
        "--subject",
        "310115 19751103 008x",
        "--key-file",
        dir.join("subject.key").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["partner"], "acme-loans");
    let (_, out, _) = sluice(&["ledger", "query", d, "--partner", "acme-loans"]);
    assert_eq!(out.lines().count(), 2);
    let (_, out, _) = sluice(&[
        "ledger",
        "query",
        d,
        "--since",
        "2020-01-01",
        "--until",
        "2099-01-01T00:00:00+08:00",
    ]);
    assert_eq!(out.lines().count(), 3);
    let (_, out, _) = sluice(&["ledger", "query", d, "--until", "2020-01-01"]);
    assert_eq!(out.lines().count(), 0);
    let (code, _, err) = sluice(&["ledger", "query", d, "--since", "yesterday"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--since \"yesterday\": expected a date"),
        "{err}"
    );

    // An inclusion proof checks with only the proof and the public key.
    let (code, proof, err) = sluice(&["ledger", "prove", d, "3"]);
    assert_eq!(code, 0, "{err}");
    let proof_file = dir.join("proof.json");
    std::fs::write(&proof_file, &proof).unwrap();
    let (code, out, err) = sluice(&[
        "ledger",
        "verify-proof",
        proof_file.to_str().unwrap(),
        "--pubkey",
        pk,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: entry 3 is in the log"), "{out}");
    let mut forged: serde_json::Value = serde_json::from_str(&proof).unwrap();
    forged["index"] = serde_json::json!(4);
    std::fs::write(&proof_file, forged.to_string()).unwrap();
    let (code, _, err) = sluice(&[
        "ledger",
        "verify-proof",
        proof_file.to_str().unwrap(),
        "--pubkey",
        pk,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("is not included in the tree"), "{err}");

    let (code, out, _) = sluice(&["ledger", "stats", d]);
    assert_eq!(code, 0);
    let stats: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(stats[0]["partner"], "acme-loans");
    assert_eq!(
        (
            stats[0]["disclosures"].as_u64(),
            stats[0]["distinct_subjects"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(stats[2]["distinct_subjects_total"], 2);
    assert_eq!(
        stats[2]["cross_border_2024"],
        "below the 100,000-person threshold"
    );

    let (code, out, _) = sluice(&["ledger", "export", d, "--format", "csv"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(
            "seq,time_ms,kind,partner,contract,route,outcome,bytes_sent,sha256_sent,records\n0,"
        ),
        "{out}"
    );
    assert_eq!(out.lines().count(), 8);

    let (code, out, _) = sluice(&["ledger", "export", d, "--format", "ocsf"]);
    assert_eq!(code, 0);
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 3);
    assert_eq!(
        (
            events[0]["class_uid"].as_u64(),
            events[0]["type_uid"].as_u64()
        ),
        (Some(6003), Some(600302))
    );
    assert_eq!(events[0]["actor"]["user"]["name"], "acme-loans");
    assert_eq!(events[0]["metadata"]["uid"], "t/ledger/1");
}

/// `ledger query --outcome aborted-policy` (or `bogus`) exited 0 with no output, which reads as
/// "no violations" (issue 26, item 4): an unknown outcome is refused with the list of known ones.
#[test]
fn an_unknown_outcome_is_refused_with_the_known_ones() {
    let dir = support::scratch_dir("sluice-cli-ledger-outcome");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for bad in ["aborted-policy", "bogus", ""] {
        let (code, out, err) =
            support::sluice(&["ledger", "query", dir.to_str().unwrap(), "--outcome", bad]);
        assert_eq!(code, 2, "{bad}: {out}{err}");
        assert!(
            err.contains("expected one of sent, aborted_policy, aborted_integrity, upstream_error, client_gone, send_timeout, incomplete, open"),
            "{bad}: {err}"
        );
    }
    let (_, help, _) = support::sluice(&["ledger", "query", "--help"]);
    for o in ["aborted_integrity", "send_timeout", "incomplete", "open"] {
        assert!(help.contains(o), "--help does not list {o}: {help}");
    }
}

/// "Did this partner get the message that carried batch B-7?" — the header fields a route
/// names are in the ledger as a keyed hash beside the target's, and `query --header` finds them.
#[test]
fn query_finds_a_disclosure_by_the_header_fields_that_crossed() {
    let dir = support::scratch_dir("sluice-cli-ledger-headers");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (key, _) = signing_key();
    let subject_key = [7u8; 32];
    std::fs::write(dir.join("subject.key"), subject_key).unwrap();
    let hashes = sluice_policy::pseudonym::SubjectKey::derive(&subject_key);
    let ledger_dir = dir.join("ledger");
    let l = open_ledger(&ledger_dir, key);
    for batch in ["B-7", "B-8"] {
        let mut begin = support::begin(batch, "acme-loans", "c");
        if let sluice::ledger::Entry::Begin(b) = &mut begin {
            b.target = Some(hashes.target_hash("/v2/policies"));
            b.headers = Some(hashes.headers_hash([("x-batch", batch.as_bytes())]));
        }
        let b = l.append_blocking(begin).unwrap();
        l.append_blocking(support::sent(b, vec![])).unwrap();
    }
    l.close();
    let d = ledger_dir.to_str().unwrap();
    let key_file = dir.join("subject.key");
    let query = |extra: &[&str]| {
        let mut args = vec![
            "ledger",
            "query",
            d,
            "--key-file",
            key_file.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = sluice(&args);
        assert_eq!(code, 0, "{err}");
        out.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["request_id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(query(&["--header", "X-Batch: B-7"]), ["B-7"]);
    assert_eq!(
        query(&["--header", "x-batch:B-8", "--target", "/v2/policies"]),
        ["B-8"]
    );
    assert!(query(&["--header", "x-batch: B-9"]).is_empty());
    let (code, _, err) = sluice(&[
        "ledger",
        "query",
        d,
        "--key-file",
        key_file.to_str().unwrap(),
        "--header",
        "x-batch",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("expected `name: value`"), "{err}");
}

/// `ledger query --subject ID --key-file F` with a key file that is not the log's subject key
/// found nothing and said so — "no disclosure about this person", a wrong answer a compliance
/// team would hand on. The log records its keys' check values (`keys.loaded`): the query is
/// refused with both check values instead, and the right key still answers.
#[test]
fn query_refuses_a_key_file_that_is_not_the_logs_subject_key() {
    let dir = support::scratch_dir("sluice-cli-ledger-keycheck");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (key, _) = signing_key();
    let (subject_key, other_key) = ([7u8; 32], [8u8; 32]);
    std::fs::write(dir.join("subject.key"), subject_key).unwrap();
    std::fs::write(dir.join("other.key"), other_key).unwrap();
    let hashes = sluice_policy::pseudonym::SubjectKey::derive(&subject_key);
    let ledger_dir = dir.join("ledger");
    let checks = sluice::ledger::keycheck::KeyChecks::of(&subject_key, &[1; 32]);
    let l = open_ledger_checked(&ledger_dir, key, Some(checks));
    let b = l
        .append_blocking(support::begin("r-1", "acme-loans", "c"))
        .unwrap();
    l.append_blocking(support::sent(
        b,
        vec![hashes.subject_hash("310115197511030084")],
    ))
    .unwrap();
    l.close();
    let query = |key: &str| {
        sluice(&[
            "ledger",
            "query",
            ledger_dir.to_str().unwrap(),
            "--subject",
            "310115197511030084",
            "--key-file",
            dir.join(key).to_str().unwrap(),
        ])
    };
    let (code, out, err) = query("subject.key");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    let (code, out, err) = query("other.key");
    assert_eq!(code, 2, "{out}");
    assert!(out.is_empty(), "{out}");
    let short = sluice::ledger::keycheck::short;
    assert!(
        err.contains("the key file is not this log's subject key")
            && err.contains(&short(&sluice::ledger::keycheck::check_value(&other_key)))
            && err.contains(&short(&checks.subject)),
        "{err}"
    );
    assert!(!err.contains("310115197511030084"), "{err}");
}
