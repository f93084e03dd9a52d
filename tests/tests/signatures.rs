//! RFC 9421 HTTP message signatures over real mTLS, HTTP/1.1 and HTTP/2.
//!
//! In: a contract with `require_signature = true` admits only requests signed by its partner's
//! key over `@method` and `@target-uri`; unsigned, wrongly signed and expired requests get 401
//! `bad_signature` and never reach the institution. Out: with a message-signing key, sluice signs
//! each filtered response in its trailers over the digest of what it sent and the
//! `Sluice-Disclosure` header; a saved copy of the response verifies offline, and fails once a
//! byte of it changes.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::Full;
use ring::signature::{Ed25519KeyPair, KeyPair};
use sluice::signature::MessageSigner;
use sluice::signature::base::Message;
use sluice_tests::harness::*;

const ACME: Option<(&str, &str)> = Some(("partners/acme-loans.pem", "partners/acme-loans.key"));
const BODY: &[u8] =
    br#"{"applicants":[{"applicant_no":"LA20260001","credit_score":700,"secret":"x"}]}"#;

fn key_pair() -> (Vec<u8>, Ed25519KeyPair) {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    (pkcs8.as_ref().to_vec(), pair)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The example policy with acme-loans' signing key and its contract requiring signatures.
fn policy(partner_key: &[u8]) -> String {
    let p = example_policy();
    let identity = "identity     = { uri_san = \"spiffe://partners.sluice.test/acme-loans\" }\n";
    let rate = "rate        = { per_second = 200, burst = 50 }\n";
    assert!(p.contains(identity) && p.contains(rate));
    p.replacen(
        identity,
        &format!(
            "{identity}signature_keys = {{ \"acme-2026\" = \"{}\" }}\n",
            b64(partner_key)
        ),
        1,
    )
    .replacen(rate, &format!("{rate}require_signature = true\n"), 1)
}

fn institution() -> Handler {
    Arc::new(|_| MockResponse {
        status: 200,
        content_type: "application/json",
        encoding: None,
        delay_ms: 0,
        body: Chunks::new(BODY, 16, false),
    })
}

/// `Signature-Input` and `Signature` for GET `uri` by `signer`.
fn sign_get(signer: &MessageSigner, uri: &str, created: i64) -> (String, String) {
    let headers = HeaderMap::new();
    let msg = Message {
        method: Some("GET"),
        target_uri: Some(uri),
        status: None,
        headers: &headers,
        trailers: None,
    };
    let (input, sig) = signer
        .sign_message(
            &[("@method", false), ("@target-uri", false)],
            None,
            None,
            &msg,
            created,
        )
        .unwrap();
    (input.to_str().unwrap().into(), sig.to_str().unwrap().into())
}

fn detail(body: &Result<Vec<u8>, String>) -> (String, String) {
    let v: serde_json::Value = serde_json::from_slice(body.as_ref().unwrap()).unwrap();
    (
        v["error"].as_str().unwrap().to_string(),
        v["detail"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test]
async fn signed_requests_pass_and_signed_responses_verify_offline() {
    let dir = pki("signatures", &["acme-loans"]);
    let (_, partner_pair) = key_pair();
    let partner_public = partner_pair.public_key().as_ref().to_vec();
    let partner = MessageSigner::new(partner_pair, "acme-2026");
    let (_, stranger_pair) = key_pair();
    let stranger = MessageSigner::new(stranger_pair, "acme-2026");
    // The institution's message-signing key, in its own file.
    let (pkcs8, msg_pair) = key_pair();
    let institution_public = msg_pair.public_key().as_ref().to_vec();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        b64(&pkcs8)
    );
    std::fs::write(dir.join("message.key"), pem).unwrap();

    let (inst, recorder) = mock_http(institution()).await;
    let (partner_api, _) = mock_http(institution()).await;
    let sluice = start_sluice_keys(
        &dir,
        inst,
        partner_api,
        &policy(&partner_public),
        "message_signing_key = \"message.key\"\nmessage_key_id = \"bank-2026\"",
    )
    .await;
    let port = sluice.addr("partners").unwrap().port();
    let uri = format!("https://localhost:{port}/v1/applicants/1");

    // Refusals: no signature, another key under the same keyid, an old signature.
    let mut refused = Vec::new();
    for (name, signer, created) in [
        ("missing", None, now()),
        ("invalid", Some(&stranger), now()),
        ("expired", Some(&partner), now() - 3600),
    ] {
        let mut req = Request::get(&uri);
        if let Some(s) = signer {
            let (input, sig) = sign_get(s, &uri, created);
            req = req
                .header("signature-input", input)
                .header("signature", sig);
        }
        let (status, headers, body) = fetch(
            &client(&dir, ACME, false),
            req.body(Full::new(Bytes::new())).unwrap(),
        )
        .await;
        assert_eq!(status, 401, "{name}");
        assert_eq!(
            detail(&body),
            ("bad_signature".to_string(), name.to_string())
        );
        assert!(headers.contains_key("accept-signature"), "{name}");
        refused.push(name);
    }
    assert!(
        recorder.requests().is_empty(),
        "refused requests never reach the institution"
    );

    // Signed requests pass over HTTP/2 and HTTP/1.1; the response is signed in its trailers.
    for h2 in [true, false] {
        let (input, sig) = sign_get(&partner, &uri, now());
        let mut req = Request::get(&uri)
            .header("signature-input", input)
            .header("signature", sig);
        if !h2 {
            req = req.header("te", "trailers");
        }
        let resp = client(&dir, ACME, h2)
            .request(req.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "h2={h2}");
        let (parts, body) = resp.into_parts();
        assert_eq!(
            parts.headers["trailer"],
            "content-digest, signature-input, signature"
        );
        let collected = http_body_util::BodyExt::collect(body).await.unwrap();
        let trailers = collected.trailers().cloned().expect("trailers");
        let body = collected.to_bytes();
        assert!(!body.windows(6).any(|w| w == b"secret"), "filtered");
        let (keyid, _) = sluice::signature::verify::verify_response(
            200,
            &parts.headers,
            &trailers,
            &institution_public,
        )
        .unwrap_or_else(|e| panic!("h2={h2}: {e}"));
        assert_eq!(keyid, "bank-2026");
        // Not with the partner's key.
        assert!(
            sluice::signature::verify::verify_response(
                200,
                &parts.headers,
                &trailers,
                &partner_public
            )
            .is_err()
        );
    }
    assert_eq!(recorder.requests().len(), 2);

    // A partner keeps the raw HTTP/1.1 response; it verifies offline with the institution's
    // public key, and the digest matches the ledger's record of that disclosure.
    let (input, sig) = sign_get(&partner, &uri, now());
    let raw = raw_tls(
        &dir,
        sluice.addr("partners").unwrap(),
        format!(
            "GET /v1/applicants/1 HTTP/1.1\r\nhost: localhost:{port}\r\nte: trailers\r\nconnection: close\r\nsignature-input: {input}\r\nsignature: {sig}\r\n\r\n"
        )
        .as_bytes(),
        std::time::Duration::from_secs(10),
    )
    .await;
    let checked = sluice::signature::message::check(&raw, &institution_public).unwrap();
    assert!(checked.passed(), "{checked:?}");
    let seq = checked.disclosure_seq.expect("a Sluice-Disclosure header");
    let hex: String = ring::digest::digest(&ring::digest::SHA256, &checked.body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let ledger = dir.join("ledger");
    let recorded_of = |ds: &[sluice::ledger::read::Disclosure]| {
        ds.iter()
            .find(|(v, _, _)| v["seq"] == seq)
            .and_then(|(v, _, _)| v["sha256_sent"].as_str().map(String::from))
    };
    let recorded = recorded_of(&disclosures_when(&ledger, |ds| recorded_of(ds).is_some()).await);
    assert_eq!(recorded.as_deref(), Some(hex.as_str()));

    // One byte of the kept body changed: the digest no longer matches, the check fails.
    let at = raw
        .windows(12)
        .position(|w| w == b"\"LA20260001\"")
        .unwrap()
        + 1;
    let mut tampered = raw.clone();
    tampered[at] = b'X';
    let checked = sluice::signature::message::check(&tampered, &institution_public).unwrap();
    assert_eq!(checked.digest_matches, Some(false));
    assert!(!checked.passed());
    sluice.shutdown().await;
}

/// The SM3 and SHA-256 entries of a `Content-Digest` value.
fn digest_entries(field: &str) -> (Vec<u8>, Vec<u8>) {
    let dict = sfv::Parser::new(field).parse_dictionary().unwrap();
    let get = |k: &str| match &dict[k] {
        sfv::ListEntry::Item(i) => i.bare_item.as_byte_sequence().unwrap().to_vec(),
        _ => panic!("{k}: not an item"),
    };
    (get("sha-256"), get("sm3"))
}

fn sm3(bytes: &[u8]) -> Vec<u8> {
    use sm3::Digest as _;
    sm3::Sm3::digest(bytes).to_vec()
}

#[tokio::test]
async fn buffered_routes_carry_digest_and_signature_as_headers_and_sm3_contracts_add_sm3() {
    let dir = pki("buffered", &["acme-loans"]);
    let (pkcs8, msg_pair) = key_pair();
    let institution_public = msg_pair.public_key().as_ref().to_vec();
    std::fs::write(
        dir.join("message.key"),
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            b64(&pkcs8)
        ),
    )
    .unwrap();
    // One applicant for /v1/applicants/1; 300 of them for the list.
    let many: &'static [u8] = Box::leak(
        format!(
            "{{\"applicants\":[{}]}}",
            vec![r#"{"applicant_no":"LA20260001","credit_score":700,"secret":"x"}"#; 300].join(",")
        )
        .into_bytes()
        .into_boxed_slice(),
    );
    let handler: Handler = Arc::new(move |req| MockResponse {
        status: 200,
        content_type: "application/json",
        encoding: None,
        delay_ms: 0,
        body: Chunks::new(
            if req.uri().path() == "/v1/applicants" {
                many
            } else {
                BODY
            },
            512,
            false,
        ),
    });
    let (inst, _) = mock_http(handler).await;
    let (partner_api, _) = mock_http(institution()).await;
    let route = "  path     = \"/v1/applicants/{id}\"\n  upstream = \"institution\"\n";
    let list = "  path     = \"/v1/applicants\"\n  upstream = \"institution\"\n";
    let rate = "rate        = { per_second = 200, burst = 50 }\n";
    let policy = example_policy()
        .replacen(route, &format!("{route}  buffer_limit = 4096\n"), 1)
        .replacen(list, &format!("{list}  buffer_limit = 4096\n"), 1)
        .replacen(rate, &format!("{rate}digest = \"sm3\"\n"), 1);
    let sluice = start_sluice_keys(
        &dir,
        inst,
        partner_api,
        &policy,
        "message_signing_key = \"message.key\"\nmessage_key_id = \"bank-2026\"",
    )
    .await;
    let port = sluice.addr("partners").unwrap().port();

    for h2 in [false, true] {
        // Small: whole, Content-Length, digest and signature in the header section.
        let (status, headers, body) = fetch(
            &client(&dir, ACME, h2),
            Request::get(format!("https://localhost:{port}/v1/applicants/1"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
        let body = body.unwrap();
        assert_eq!(status, 200);
        assert!(!headers.contains_key("trailer"), "h2={h2}");
        assert_eq!(headers["content-length"], body.len().to_string().as_str());
        let (sha, sm3_value) = digest_entries(headers["content-digest"].to_str().unwrap());
        assert_eq!(
            sha,
            ring::digest::digest(&ring::digest::SHA256, &body).as_ref()
        );
        assert_eq!(sm3_value, sm3(&body));
        sluice::signature::verify::verify_response(
            200,
            &headers,
            &HeaderMap::new(),
            &institution_public,
        )
        .unwrap_or_else(|e| panic!("h2={h2}: {e}"));

        // Over the limit: streamed, digest (both algorithms) and signature in the trailers.
        let mut req = Request::get(format!("https://localhost:{port}/v1/applicants"));
        if !h2 {
            req = req.header("te", "trailers");
        }
        let resp = client(&dir, ACME, h2)
            .request(req.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let (parts, body) = resp.into_parts();
        assert!(!parts.headers.contains_key("content-digest"));
        let collected = http_body_util::BodyExt::collect(body).await.unwrap();
        let trailers = collected.trailers().cloned().expect("trailers");
        let body = collected.to_bytes();
        assert!(body.len() > 4096, "{}", body.len());
        let (sha, sm3_value) = digest_entries(trailers["content-digest"].to_str().unwrap());
        assert_eq!(
            sha,
            ring::digest::digest(&ring::digest::SHA256, &body).as_ref()
        );
        assert_eq!(sm3_value, sm3(&body));
        sluice::signature::verify::verify_response(
            200,
            &parts.headers,
            &trailers,
            &institution_public,
        )
        .unwrap_or_else(|e| panic!("h2={h2}: {e}"));
    }
    sluice.shutdown().await;
}
