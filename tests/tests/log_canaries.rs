//! No personal data in logs: requests carry known fake identifiers in their bodies, paths, query
//! strings and headers — served, refused, and broken by a violation — and every line sluice logs
//! (all levels, JSON as in production) is searched for them.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_tests::harness::*;

const NAME: &str = "欧阳明轩";
const ID_NO: &str = "11010519491231002X";
const MOBILE: &str = "13860642414";
const CARD: &str = "6222029365368615645";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn institution() -> Handler {
    Arc::new(|req| {
        let violation = req.uri().path().ends_with("/bad");
        let score = if violation { 5000 } else { 700 };
        MockResponse {
            status: 200,
            content_type: "application/json",
            encoding: None,
            delay_ms: 0,
            body: Chunks::new(
                format!(r#"{{"applicants":[{{"applicant_no":"LA20260001","name":"{NAME}","id_no":"{ID_NO}","mobile":"{MOBILE}","bank_card":"{CARD}","credit_score":{score},"remarks":"call {MOBILE}"}}]}}"#).as_bytes(),
                32,
                false,
            ),
        }
    })
}

#[tokio::test]
async fn no_canary_reaches_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter("sluice=trace,info")
        .with_writer(move || writer.clone())
        .init();

    let dir = pki("log-canaries", &["acme-loans", "safe-insure"]);
    let (inst, _) = mock_http(institution()).await;
    let (partner, _) = mock_https(&dir, institution()).await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    let port = sluice.addr("partners").unwrap().port();
    let acme = client(
        &dir,
        Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
        false,
    );
    for path in [
        format!("/v1/applicants/{ID_NO}"), // served (canaries in the body and path)
        format!("/v1/applicants/bad?m={MOBILE}"), // broken by a violation
        format!("/v1/nothing/{ID_NO}"),    // refused: no route
    ] {
        let sep = if path.contains('?') { '&' } else { '?' };
        let req = Request::get(format!("https://localhost:{port}{path}{sep}q={CARD}"))
            .header("x-applicant", ID_NO)
            .header("cookie", format!("name={MOBILE}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let _ = acme.request(req).await.map(|r| r.status());
    }
    // A push with canaries in the body, and one that breaks the contract.
    let inst_client = client(&dir, Some(("institution.pem", "institution.key")), false);
    let iport = sluice.addr("internal").unwrap().port();
    for premium in ["1200", "-5"] {
        let body = format!(
            r#"{{"policies":[{{"policy_no":"P1","holder":{{"name":"{NAME}","id_no":"{ID_NO}","mobile":"{MOBILE}"}},"premium":{premium}}}]}}"#
        );
        let req = Request::post(format!("https://localhost:{iport}/v2/policies?id={ID_NO}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let _ = inst_client.request(req).await.map(|r| r.status());
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    sluice.shutdown().await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("\"disclosure\""),
        "the access log was captured:\n{logs}"
    );
    assert!(logs.contains("no_route"), "the refusal was logged:\n{logs}");
    for canary in [NAME, ID_NO, MOBILE, CARD] {
        assert!(!logs.contains(canary), "{canary} in the logs:\n{logs}");
    }
}
