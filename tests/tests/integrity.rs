//! Incoming `Content-Digest` (RFC 9530) over real mTLS, HTTP/1.1 and HTTP/2: a correct digest
//! passes; a body wrong only in its last chunk is caught — the partner's API sees an aborted
//! request, the caller 400 `digest_mismatch`; a route that requires a digest refuses a request
//! without one; an institution response that does not match its digest is cut before the partner
//! has a complete message, and the ledger says `aborted_integrity`. Provenance: the partner gets
//! the digest of what it received as a trailer, and a caller's W3C trace id goes into the ledger
//! but never to the partner.

use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_tests::harness::*;

const INSTITUTION: Option<(&str, &str)> = Some(("institution.pem", "institution.key"));
const ACME: Option<(&str, &str)> = Some(("partners/acme-loans.pem", "partners/acme-loans.key"));

fn created() -> Handler {
    Arc::new(|_| MockResponse {
        status: 201,
        content_type: "application/json",
        encoding: None,
        delay_ms: 0,
        body: Chunks::new(b"{}", 64, false),
    })
}

fn sha256_field(body: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, body);
    format!("sha-256=:{}:", base64_encode(d.as_ref()))
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn reason(body: &Result<Vec<u8>, String>) -> String {
    let v: serde_json::Value = serde_json::from_slice(body.as_ref().unwrap()).unwrap();
    v["error"].as_str().unwrap().to_string()
}

const RECORD: &[u8] =
    br#"{"policies":[{"policy_no":"P1","premium":1200,"holder":{"name":"Zhang Wei"}}]}"#;

/// sluice with the example policy's `from` replaced by `to`, mocks answering 201: the PKI's
/// directory, the partner API's recorder, sluice, and its internal listener's port.
async fn push_env(
    name: &str,
    from: &str,
    to: &str,
) -> (std::path::PathBuf, Recorder, sluice::server::Running, u16) {
    let dir = pki(name, &["acme-loans", "safe-insure"]);
    let (inst, _) = mock_http(created()).await;
    let (partner, partner_api) = mock_https(&dir, created()).await;
    let policy = example_policy().replace(from, to);
    assert_ne!(policy, example_policy());
    let sluice = start_sluice(&dir, inst, partner, &policy).await;
    let port = sluice.addr("internal").unwrap().port();
    (dir, partner_api, sluice, port)
}

/// The caller was answered 400 `digest_mismatch`, and the partner's API, which had `before`
/// requests, got none more or an incomplete one.
fn a_mismatch_the_partner_never_had_whole(
    status: u16,
    body: &Result<Vec<u8>, String>,
    partner_api: &Recorder,
    before: usize,
    h2: bool,
) {
    assert_eq!(
        (status, reason(body).as_str()),
        (400, "digest_mismatch"),
        "h2={h2}"
    );
    let got = partner_api.requests();
    assert!(
        got.len() == before || got[before].3.is_err(),
        "h2={h2}: the partner's API never received a complete request"
    );
}

#[tokio::test]
async fn pushed_bodies_are_checked_against_their_digest() {
    let (dir, partner_api, sluice, port) = push_env(
        "digest-push",
        "  flow     = \"push\"",
        "  flow     = \"push\"\n  require_digest = true",
    )
    .await;
    let post = |digest: Option<String>, body: Vec<u8>| {
        let mut b = Request::post(format!("https://localhost:{port}/v2/policies"))
            .header("content-type", "application/json");
        if let Some(d) = digest {
            b = b.header("content-digest", d);
        }
        b.body(Full::new(Bytes::from(body))).unwrap()
    };
    // The same record with its last byte changed: only the final chunk differs.
    let tampered = String::from_utf8(RECORD.to_vec())
        .unwrap()
        .replace("P1", "P9")
        .into_bytes();
    assert_ne!(tampered, RECORD);
    for h2 in [false, true] {
        let c = client(&dir, INSTITUTION, h2);
        let before = partner_api.requests().len();
        let (status, _, body) = fetch(&c, post(Some(sha256_field(RECORD)), RECORD.to_vec())).await;
        assert_eq!(status, 201, "h2={h2}: {body:?}");
        let got = partner_api.requests();
        assert_eq!(got.len(), before + 1);
        assert!(got[before].3.is_ok(), "the partner received the whole body");
        assert!(
            got[before].2.get("content-digest").is_none(),
            "the institution's digest is not forwarded"
        );

        let (status, _, body) = fetch(&c, post(Some(sha256_field(RECORD)), tampered.clone())).await;
        a_mismatch_the_partner_never_had_whole(status, &body, &partner_api, before + 1, h2);

        let (status, _, body) = fetch(&c, post(None, RECORD.to_vec())).await;
        assert_eq!(
            (status, reason(&body).as_str()),
            (400, "digest_required"),
            "h2={h2}"
        );
        let (status, _, body) =
            fetch(&c, post(Some("sha-256=:AAAA:".into()), RECORD.to_vec())).await;
        assert_eq!(
            (status, reason(&body).as_str()),
            (400, "bad_digest"),
            "h2={h2}"
        );
    }
    sluice.shutdown().await;
}

/// A pass-through body with a `Content-Length`: an HTTP/1.1 connection to the partner's API stops
/// polling once that many bytes are written, so the digest used to be checked at an end that
/// never came — a tampered body went out whole and was answered 201.
#[tokio::test]
async fn a_pushed_pass_through_body_that_breaks_its_digest_never_reaches_the_partner_whole() {
    const PDF: &[u8] = b"%PDF-1.7 signed claim form";
    let (dir, partner_api, sluice, port) = push_env(
        "digest-push-pass",
        "  path     = \"/v2/policies\"\n",
        "  path     = \"/v2/policies\"\n  pass_through = [\"application/pdf\"]\n",
    )
    .await;
    let post = |body: &'static [u8]| {
        Request::post(format!("https://localhost:{port}/v2/policies"))
            .header("content-type", "application/pdf")
            .header("content-length", body.len())
            .header("content-digest", sha256_field(PDF))
            .body(Full::new(Bytes::from_static(body)))
            .unwrap()
    };
    for h2 in [false, true] {
        let c = client(&dir, INSTITUTION, h2);
        let (status, _, body) = fetch(&c, post(PDF)).await;
        assert_eq!(status, 201, "h2={h2}: {body:?}");
        let before = partner_api.requests().len();
        let (status, _, body) = fetch(&c, post(b"%PDF-1.7 forged claim form")).await;
        a_mismatch_the_partner_never_had_whole(status, &body, &partner_api, before, h2);
    }
    let outcomes: Vec<String> = disclosures_when(&dir.join("ledger"), |ds| {
        ds.len() == 4 && ds.iter().all(|(v, _, _)| v["outcome"] != "open")
    })
    .await
    .iter()
    .map(|(v, _, _)| v["outcome"].as_str().unwrap().to_string())
    .collect();
    assert_eq!(outcomes[0], "sent");
    assert_eq!(outcomes[2], "sent");
    assert_ne!(outcomes[1], "sent", "{outcomes:?}");
    assert_ne!(outcomes[3], "sent", "{outcomes:?}");
    sluice.shutdown().await;
}

/// An institution API that answers with a fixed body and `Content-Digest`.
async fn institution_with_digest(body: &'static [u8], digest: String) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let digest = digest.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let digest = digest.clone();
                    async move {
                        let mut r = http::Response::new(Full::new(Bytes::from_static(body)));
                        r.headers_mut()
                            .insert("content-type", "application/json".parse().unwrap());
                        r.headers_mut()
                            .insert("content-digest", digest.parse().unwrap());
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_response_that_breaks_its_digest_never_reaches_the_partner_whole() {
    const BODY: &[u8] = br#"{"applicants":[{"applicant_no":"LA20260001","credit_score":700}]}"#;
    for (digest, intact) in [
        (sha256_field(BODY), true),
        (sha256_field(b"something else"), false),
    ] {
        let dir = pki(&format!("digest-pull-{intact}"), &["acme-loans"]);
        let (partner, _) = mock_https(&dir, created()).await;
        let inst = institution_with_digest(BODY, digest).await;
        let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
        for h2 in [false, true] {
            let c = client(&dir, ACME, h2);
            let req = Request::get(format!(
                "https://localhost:{}/v1/applicants/1",
                sluice.addr("partners").unwrap().port()
            ))
            .body(Full::new(Bytes::new()))
            .unwrap();
            // A mismatch is found with the body's last bytes: the partner gets a refusal (the
            // head had not gone out yet), no response, or a response whose body is cut — never a
            // whole one.
            let complete = match c.request(req).await {
                Ok(resp) if resp.status() == 502 => {
                    let body = http_body_util::BodyExt::collect(resp.into_body()).await;
                    let body = body
                        .map(|b| b.to_bytes().to_vec())
                        .map_err(|e| e.to_string());
                    assert_eq!(reason(&body), "upstream_digest_mismatch", "h2={h2}");
                    false
                }
                Ok(resp) => {
                    assert_eq!(resp.status(), 200);
                    assert!(resp.headers().get("content-digest").is_none());
                    http_body_util::BodyExt::collect(resp.into_body())
                        .await
                        .is_ok()
                }
                Err(_) => false,
            };
            assert_eq!(complete, intact, "h2={h2}");
        }
        // The end entries are appended as the bodies finish: wait (bounded) for both.
        let want = if intact { "sent" } else { "aborted_integrity" };
        let ledger = dir.join("ledger");
        let outcomes = disclosures_when(&ledger, |ds| {
            ds.iter().filter(|(v, _, _)| v["outcome"] != "open").count() == 2
        })
        .await
        .iter()
        .map(|(v, _, _)| v["outcome"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
        assert_eq!(outcomes, [want, want]);
        sluice.shutdown().await;
    }
}

#[tokio::test]
async fn the_partner_gets_the_digest_of_what_it_received_as_a_trailer() {
    const BODY: &[u8] =
        br#"{"applicants":[{"applicant_no":"LA20260001","credit_score":700,"secret":"x"}]}"#;
    let dir = pki("digest-trailer", &["acme-loans"]);
    let (partner, _) = mock_https(&dir, created()).await;
    let inst = institution_with_digest(BODY, sha256_field(BODY)).await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    let port = sluice.addr("partners").unwrap().port();
    let mut digests = Vec::new();
    for (h2, te_trailers) in [(true, false), (false, true), (false, false)] {
        let c = client(&dir, ACME, h2);
        let mut req = Request::get(format!("https://localhost:{port}/v1/applicants/1"));
        if te_trailers {
            req = req.header("te", "trailers");
        }
        let resp = c
            .request(req.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.headers()["trailer"], "content-digest");
        let collected = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap();
        let trailers = collected.trailers().cloned();
        let body = collected.to_bytes();
        assert!(!body.windows(6).any(|w| w == b"secret"), "filtered");
        match trailers {
            Some(t) => {
                assert!(h2 || te_trailers, "HTTP/1.1 trailers only when asked for");
                let got = t["content-digest"].to_str().unwrap().to_string();
                assert_eq!(
                    got,
                    sha256_field(&body),
                    "h2={h2}: the digest of the bytes received"
                );
                digests.push(got);
            }
            None => assert!(!h2 && !te_trailers, "h2={h2} te={te_trailers}: no trailer"),
        }
    }
    assert_eq!(digests.len(), 2);
    // The ledger's end entries carry the same digests.
    let ledger = dir.join("ledger");
    let sent = disclosures_when(&ledger, |ds| {
        ds.iter()
            .filter(|(v, _, _)| v["sha256_sent"].is_string())
            .count()
            == 3
    })
    .await
    .iter()
    .filter_map(|(v, _, _)| v["sha256_sent"].as_str().map(String::from))
    .collect::<Vec<_>>();
    for d in &digests {
        let b64 = d.trim_start_matches("sha-256=:").trim_end_matches(':');
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        assert!(sent.contains(&hex), "{hex} not in the ledger {sent:?}");
    }
    sluice.shutdown().await;
}

#[tokio::test]
async fn a_callers_trace_id_reaches_the_ledger_but_not_the_partner() {
    let dir = pki("traceparent", &["acme-loans", "safe-insure"]);
    let (inst, _) = mock_http(created()).await;
    let (partner, partner_api) = mock_https(&dir, created()).await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    let c = client(&dir, INSTITUTION, false);
    let req = Request::post(format!(
        "https://localhost:{}/v2/policies",
        sluice.addr("internal").unwrap().port()
    ))
    .header("content-type", "application/json")
    .header(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    .body(Full::new(Bytes::from_static(RECORD)))
    .unwrap();
    assert_eq!(fetch(&c, req).await.0, 201);
    let got = partner_api.requests();
    assert!(
        got[0].2.get("traceparent").is_none(),
        "trace ids stay inside the institution"
    );
    let ledger = dir.join("ledger");
    let entries = sluice::ledger::read::entries(&ledger).unwrap();
    let d = sluice::ledger::read::disclosures(&ledger, &entries);
    assert_eq!(d[0].0["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    sluice.shutdown().await;
}
