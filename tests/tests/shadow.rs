//! Shadow evaluation end to end: a candidate policy beside the live one sees the same bodies;
//! the partner receives exactly what it receives without a shadow, byte for byte, and `/metrics`
//! and the side file name the paths the candidate would treat differently (and how), never a
//! value.

use std::io::{Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_tests::harness::*;

const NAME: &str = "欧阳明轩";
const ID_NO: &str = "11010519491231002X";
const MOBILE: &str = "13860642414";
const CARD: &str = "6222020200112233445";
const ADDRESS: &str = "北京市朝阳区建国路88号";

/// Applicant `id`: credit score 700, or 900 for applicant 2.
fn applicants() -> Handler {
    Arc::new(|req| {
        let score = if req.uri().path().ends_with("/2") {
            900
        } else {
            700
        };
        MockResponse {
            status: 200,
            content_type: "application/json",
            encoding: None,
            delay_ms: 0,
            body: Chunks::new(
                format!(r#"{{"applicants":[{{"applicant_no":"LA20260001","name":"{NAME}","id_no":"{ID_NO}","mobile":"{MOBILE}","bank_card":"{CARD}","address":"{ADDRESS}","credit_score":{score}}}]}}"#).as_bytes(),
                16,
                false,
            ),
        }
    })
}

fn metrics(addr: std::net::SocketAddr) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

const ACME: Option<(&str, &str)> = Some(("partners/acme-loans.pem", "partners/acme-loans.key"));

/// The two responses (applicants 1 and 2) sluice serves with `tail` in its configuration.
async fn serve(dir: &std::path::Path, tail: &str) -> (Vec<Vec<u8>>, String) {
    let (inst, _) = mock_http(applicants()).await;
    let (partner, _) = mock_https(dir, applicants()).await;
    let sluice = start_sluice_tail(dir, inst, partner, &example_policy(), tail).await;
    let addr = sluice.addr("partners").unwrap();
    let admin = sluice.addr("admin").unwrap();
    let acme = client(dir, ACME, false);
    let mut bodies = Vec::new();
    for id in [1, 2] {
        let req = Request::get(format!(
            "https://localhost:{}/v1/applicants/{id}",
            addr.port()
        ))
        .body(Full::new(Bytes::new()))
        .unwrap();
        let (status, _, body) = fetch(&acme, req).await;
        assert_eq!(status, 200);
        bodies.push(body.unwrap());
    }
    // The shadow thread works off the request path: wait (bounded) for its two results.
    let mut text = String::new();
    for _ in 0..100 {
        text = tokio::task::spawn_blocking(move || metrics(admin))
            .await
            .unwrap();
        if tail.is_empty() || text.contains("result=\"different\"} 2") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    sluice.shutdown().await;
    (bodies, text)
}

#[tokio::test]
async fn the_candidate_sees_every_body_and_the_partner_receives_the_same_bytes() {
    let dir = pki("shadow", &["acme-loans", "safe-insure"]);
    let candidate = example_policy()
        .replace(
            r#""$.applicants[*].name"           = "mask:name""#,
            r#""$.applicants[*].name"           = "hash""#,
        )
        .replace(
            r#""$.applicants[*].address"        = "mask:address""#,
            r#""$.applicants[*].bank_card"      = "mask:bank_card""#,
        )
        .replace(
            r#"{ keep = "number", min = 0, max = 1000 }"#,
            r#"{ keep = "number", min = 0, max = 800 }"#,
        );
    assert_eq!(
        candidate.matches("hash\"").count(),
        2,
        "the example policy changed"
    );
    std::fs::write(dir.join("candidate.toml"), &candidate).unwrap();

    let (without, _) = serve(&dir, "").await;
    let (with, text) = serve(&dir, "[shadow]\npolicy = \"candidate.toml\"\n").await;
    assert_eq!(
        with, without,
        "the shadow changed what the partner received"
    );

    let c = r#"contract="acme-prescreen-2026",route="/v1/applicants/{id}""#;
    for want in [
        format!("sluice_shadow_bodies_total{{{c},result=\"different\"}} 2\n"),
        format!(
            "sluice_shadow_differences_total{{{c},path=\"$.applicants[*].name\",kind=\"would_change\"}} 1\n"
        ),
        format!(
            "sluice_shadow_differences_total{{{c},path=\"$.applicants[*].address\",kind=\"would_drop\"}} 1\n"
        ),
        format!(
            "sluice_shadow_differences_total{{{c},path=\"$.applicants[*].bank_card\",kind=\"would_add\"}} 1\n"
        ),
        format!(
            "sluice_shadow_differences_total{{{c},path=\"$.applicants[*].credit_score\",kind=\"would_refuse\"}} 1\n"
        ),
    ] {
        assert!(text.contains(&want), "missing {want:?} in\n{text}");
    }
    let report = std::fs::read_to_string(dir.join("ledger/shadow.jsonl")).unwrap();
    for canary in [NAME, ID_NO, MOBILE, CARD, ADDRESS, "LA20260001"] {
        assert!(!text.contains(canary), "{canary} in /metrics");
        assert!(!report.contains(canary), "{canary} in the shadow report");
    }
    let summary = sluice::shadow::report::summarise(&report).unwrap();
    assert_eq!(summary.bodies, 2);
    let md = sluice::shadow::report::markdown(&summary);
    assert!(
        md.contains("| acme-prescreen-2026 | `/v1/applicants/{id}` | `$.applicants[*].credit_score` | refuse | 1 |"),
        "{md}"
    );
}
