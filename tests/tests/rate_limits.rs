//! Rate limits over real mTLS: the request after the burst gets 429 `rate_limited` with a
//! `Retry-After` and never reaches the institution; another contract is unaffected; a reload keeps
//! the state of limits it did not change and applies the ones it did.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_tests::harness::*;

fn ok_json() -> Handler {
    json_mock(br#"{"applicants":[]}"#)
}

const ACME: Option<(&str, &str)> = Some(("partners/acme-loans.pem", "partners/acme-loans.key"));
const INSTITUTION: Option<(&str, &str)> = Some(("institution.pem", "institution.key"));

fn policy(acme_rate: &str) -> String {
    let p = example_policy();
    let from = "rate        = { per_second = 200, burst = 50 }";
    assert!(p.contains(from));
    p.replace(from, acme_rate)
}

#[tokio::test]
async fn over_the_rate_gets_429_with_retry_after_and_reaches_nothing() {
    let dir = pki("rate", &["acme-loans", "safe-insure"]);
    let (inst, institution) = mock_http(ok_json()).await;
    let (partner, partner_api) = mock_https(&dir, ok_json()).await;
    let sluice = start_sluice(
        &dir,
        inst,
        partner,
        &policy("rate = { per_minute = 1, burst = 2 }"),
    )
    .await;
    let addr = sluice.addr("partners").unwrap();
    let acme = client(&dir, ACME, false);
    let get = || {
        Request::get(format!("https://localhost:{}/v1/applicants/1", addr.port()))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    for _ in 0..2 {
        assert_eq!(fetch(&acme, get()).await.0, 200);
    }
    let (status, headers, body) = fetch(&acme, get()).await;
    assert_eq!(status, 429);
    let v: serde_json::Value = serde_json::from_slice(&body.unwrap()).unwrap();
    assert_eq!(v["error"], "rate_limited");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (1..=60).contains(&retry),
        "one request a minute: retry in {retry}s"
    );
    assert_eq!(
        institution.requests().len(),
        2,
        "the refused request reached nothing"
    );

    // Another contract (safe-insure's push) has its own allowance.
    let inst_client = client(&dir, INSTITUTION, false);
    let push = Request::post(format!(
        "https://localhost:{}/v2/policies",
        sluice.addr("internal").unwrap().port()
    ))
    .header("content-type", "application/json")
    .body(Full::new(Bytes::from_static(
        br#"{"policies":[{"policy_no":"P1"}]}"#,
    )))
    .unwrap();
    assert_eq!(fetch(&inst_client, push).await.0, 200);
    assert_eq!(partner_api.requests().len(), 1);

    // Reloading the same policy does not reset the spent allowance...
    sluice.shared().reload().unwrap();
    assert_eq!(fetch(&acme, get()).await.0, 429);
    // ...a changed rate takes effect at once.
    std::fs::write(
        dir.join("policy.toml"),
        policy("rate = { per_minute = 60, burst = 1 }"),
    )
    .unwrap();
    sluice.shared().reload().unwrap();
    assert_eq!(fetch(&acme, get()).await.0, 200);
    assert_eq!(institution.requests().len(), 3);
    sluice.shutdown().await;
}
