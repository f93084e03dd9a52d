//! `sluice integrity verify`: a kept body — or a whole saved response with sluice's signature in
//! its trailers — is checked against its `Content-Digest`, the signature and the digest the ledger
//! recorded for its disclosure; one changed byte fails them.

mod support;
use support::{signing_key, sluice};

use std::time::Duration;

use base64::Engine as _;
use sluice::ledger::{End, Entry, Ledger, LedgerOptions, Outcome};

#[test]
fn a_kept_body_is_checked_against_its_digest_and_the_ledger() {
    let dir = support::scratch_dir("sluice-cli-integrity");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let body = br#"{"applicants":[{"name":"\u6b27\u9633**","credit_score":700}]}"#;
    let sha = ring::digest::digest(&ring::digest::SHA256, body);
    let (key, _) = signing_key();
    let (l, _) = Ledger::open(LedgerOptions {
        dir: dir.join("ledger"),
        origin: "t/ledger".into(),
        key,
        commit_window: Duration::ZERO,
        checkpoint_every: 4,
        checkpoint_min_interval: std::time::Duration::ZERO,
        commit_delay: sluice::ledger::CommitDelay::default(),
        segment_bytes: 1 << 20,
        idle_commit_wait: std::time::Duration::ZERO,
    })
    .unwrap();
    let begin = l
        .append_blocking(support::begin("r", "acme-loans", "acme-prescreen-2026"))
        .unwrap();
    l.append_blocking(Entry::End(Box::new(End {
        begin,
        outcome: Outcome::Sent,
        bytes_sent: body.len() as u64,
        sha256_sent: sha.as_ref().try_into().unwrap(),
        records: 1,
        records_dropped: 0,
        fields: vec![],
        subject_count: 0,
        subjects: vec![],
        subjects_digest: [0; 32],
        integrity: "none".into(),
    })))
    .unwrap();
    l.close();

    let kept = dir.join("body.json");
    std::fs::write(&kept, body).unwrap();
    let field = format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(sha.as_ref())
    );
    let (ledger, seq) = (dir.join("ledger"), begin.to_string());
    let args = |file: &std::path::Path| {
        vec![
            "integrity".to_string(),
            "verify".into(),
            "--body".into(),
            file.display().to_string(),
            "--digest".into(),
            field.clone(),
            "--ledger".into(),
            ledger.display().to_string(),
            "--seq".into(),
            seq.clone(),
        ]
    };
    let run = |a: Vec<String>| sluice(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (code, out, err) = run(args(&kept));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("content-digest: matches"), "{out}");
    assert!(
        out.contains(
            "acme-loans / acme-prescreen-2026, outcome sent): the body is what was disclosed"
        ),
        "{out}"
    );

    let mut changed = body.to_vec();
    let at = changed.len() - 5;
    changed[at] = b'1';
    let forged = dir.join("forged.json");
    std::fs::write(&forged, changed).unwrap();
    let (code, out, _) = run(args(&forged));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("content-digest: DOES NOT MATCH"), "{out}");
    assert!(
        out.contains("the body is NOT what the ledger recorded"),
        "{out}"
    );

    let (code, _, err) = sluice(&["integrity", "verify", "--body", kept.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("nothing to check against"), "{err}");

    // A saved response as a partner keeps it: chunked body, digest and sluice's signature in the
    // trailers, the disclosure named by its header.
    let pkcs8 =
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let public: String = ring::signature::KeyPair::public_key(&pair)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(dir.join("message.pub"), &public).unwrap();
    let signer = sluice::signature::MessageSigner::new(pair, "bank-2026");
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert(
        "sluice-disclosure",
        format!("t/ledger/{begin}").parse().unwrap(),
    );
    let mut trailers = sluice::body::digest_trailer(sha.as_ref().try_into().unwrap());
    let (input, signature) = signer
        .sign_response(200, &headers, Some(&trailers), 1_800_000_000)
        .unwrap();
    trailers.insert("signature-input", input);
    trailers.insert("signature", signature);
    let message = |body: &[u8]| {
        let mut m = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n".to_vec();
        for (k, v) in &headers {
            m.extend_from_slice(format!("{k}: {}\r\n", v.to_str().unwrap()).as_bytes());
        }
        m.extend_from_slice(format!("\r\n{:x}\r\n", body.len()).as_bytes());
        m.extend_from_slice(body);
        m.extend_from_slice(b"\r\n0\r\n");
        for (k, v) in &trailers {
            m.extend_from_slice(format!("{k}: {}\r\n", v.to_str().unwrap()).as_bytes());
        }
        m.extend_from_slice(b"\r\n");
        m
    };
    let saved = dir.join("response.http");
    let pubkey = dir.join("message.pub");
    let verify_message = |file: &std::path::Path| {
        sluice(&[
            "integrity",
            "verify",
            "--message",
            file.to_str().unwrap(),
            "--pubkey",
            pubkey.to_str().unwrap(),
            "--ledger",
            ledger.to_str().unwrap(),
        ])
    };
    std::fs::write(&saved, message(body)).unwrap();
    let (code, out, err) = verify_message(&saved);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("content-digest: matches the body"), "{out}");
    assert!(
        out.contains("signature: valid (keyid \"bank-2026\", created 1800000000)"),
        "{out}"
    );
    assert!(out.contains("the body is what was disclosed"), "{out}");

    let mut changed = body.to_vec();
    changed[at] = b'1';
    std::fs::write(&saved, message(&changed)).unwrap();
    let (code, out, _) = verify_message(&saved);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("content-digest: DOES NOT MATCH the body"),
        "{out}"
    );
    assert!(
        out.contains("the body is NOT what the ledger recorded"),
        "{out}"
    );
}
