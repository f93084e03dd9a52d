//! Over real mTLS (issue 28, findings 5 and 6): a certificate carrying two partners' identities
//! is refused whatever the policy's order, on HTTP/1.1 and HTTP/2, and the institution is never
//! called; a policy that allow-lists a header sluice owns (framing, coding, integrity, caching)
//! is refused at reload with its key path while the running policy keeps serving, and what the
//! partner receives carries sluice's own framing and caching headers only.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_certs::devpki::{DevCa, LeafSpec, partner_uri};
use sluice_certs::inspect::Usage;
use sluice_tests::harness::*;

#[tokio::test]
async fn a_certificate_with_two_partner_identities_is_refused_as_ambiguous() {
    let dir = pki("ambiguous-identity", &["acme-loans", "safe-insure"]);
    let ca = DevCa::load(&dir).unwrap();
    let mut spec = LeafSpec::new("two-faced", Usage::Client, 30);
    // safe-insure first, acme-loans second: the policy lists acme-loans first.
    spec.uris = vec![partner_uri("safe-insure"), partner_uri("acme-loans")];
    let issued = ca.issue(&spec).unwrap();
    std::fs::write(dir.join("partners/two-faced.pem"), &issued.cert_pem).unwrap();
    std::fs::write(dir.join("partners/two-faced.key"), &issued.key_pem).unwrap();
    let (inst, recorder) = mock_http(json_mock(br#"{"applicants":[]}"#)).await;
    let (partner, _) = mock_https(&dir, json_mock(b"{}")).await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    let addr = sluice.addr("partners").unwrap();
    let identity = Some(("partners/two-faced.pem", "partners/two-faced.key"));
    for h2 in [false, true] {
        let c = client(&dir, identity, h2);
        let req = Request::get(format!("https://localhost:{}/v1/applicants/1", addr.port()))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let (status, _, body) = fetch(&c, req).await;
        let body = String::from_utf8_lossy(&body.unwrap()).into_owned();
        assert_eq!(status, 403, "h2={h2}: {body}");
        assert!(
            body.contains(r#""error":"ambiguous_identity""#),
            "h2={h2}: {body}"
        );
    }
    assert_eq!(recorder.requests().len(), 0, "the institution was called");
    // Each partner's own certificate still works.
    let acme = client(
        &dir,
        Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
        true,
    );
    let req = Request::get(format!("https://localhost:{}/v1/applicants/1", addr.port()))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(fetch(&acme, req).await.0, 200);
}

#[tokio::test]
async fn a_reload_that_allow_lists_an_owned_header_is_refused_and_the_running_policy_stays() {
    let dir = pki("owned-headers", &["acme-loans"]);
    let (inst, _) = mock_http(json_mock(br#"{"applicants":[{"credit_score":700}]}"#)).await;
    let (partner, _) = mock_https(&dir, json_mock(b"{}")).await;
    let policy = example_policy();
    let sluice = start_sluice(&dir, inst, partner, &policy).await;
    let addr = sluice.addr("partners").unwrap();
    for header in [
        "content-length",
        "Content-Encoding",
        "content-digest",
        "cache-control",
    ] {
        let bad = policy.replacen(
            "  path     = \"/v1/applicants/{id}\"\n",
            &format!("  path     = \"/v1/applicants/{{id}}\"\n  headers  = [\"{header}\"]\n"),
            1,
        );
        std::fs::write(dir.join("policy.toml"), bad).unwrap();
        let err = sluice.shared().reload().unwrap_err().to_string();
        assert!(
            err.contains(r#"contract "acme-prescreen-2026".route[0].headers[0]"#)
                && err.contains(&format!(
                    "got \"{header}\", expected a header sluice does not own"
                )),
            "{header}: {err}"
        );
    }
    for h2 in [false, true] {
        let c = client(
            &dir,
            Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
            h2,
        );
        let req = Request::get(format!("https://localhost:{}/v1/applicants/1", addr.port()))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let (status, headers, body) = fetch(&c, req).await;
        assert_eq!(status, 200);
        assert_eq!(body.unwrap(), br#"{"applicants":[{"credit_score":700}]}"#);
        assert_eq!(headers.get_all("cache-control").iter().count(), 1);
        assert_eq!(headers["cache-control"], "no-store");
        assert!(headers.get("content-encoding").is_none());
    }
}
