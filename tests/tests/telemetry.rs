//! OTLP export over real mTLS traffic: an in-process OTLP/HTTP receiver gets a server span per
//! request — in the caller's trace, named after the route template, with the HTTP and `sluice.*`
//! attributes — a client span per upstream call under it, and the metrics; and nothing it
//! receives carries the personal data the requests did (bodies, paths, query strings, headers).

use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::Value;
use sluice_tests::harness::*;

const NAME: &str = "欧阳明轩";
const ID_NO: &str = "11010519491231002X";
const MOBILE: &str = "13860642414";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn institution() -> Handler {
    Arc::new(|_| {
        MockResponse {
        status: 200,
        content_type: "application/json",
        encoding: None,
        delay_ms: 0,
        body: Chunks::new(
            format!(r#"{{"applicants":[{{"applicant_no":"LA20260001","name":"{NAME}","id_no":"{ID_NO}","mobile":"{MOBILE}","secret":"x","credit_score":700}},{{"applicant_no":"LA20260002","credit_score":650}}]}}"#).as_bytes(),
            32,
            false,
        ),
    }
    })
}

/// Every span the receiver got.
fn spans(exports: &Exports) -> Vec<Value> {
    exports
        .lock()
        .unwrap()
        .iter()
        .filter(|(path, _)| path == "/v1/traces")
        .flat_map(|(_, doc)| {
            doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn attr(span: &Value, key: &str) -> Option<String> {
    span["attributes"].as_array()?.iter().find_map(|a| {
        (a["key"] == key).then(|| {
            let v = &a["value"];
            v["stringValue"]
                .as_str()
                .or(v["intValue"].as_str())
                .unwrap_or_default()
                .to_string()
        })
    })
}

#[tokio::test]
async fn spans_and_metrics_reach_an_otlp_receiver_without_personal_data() {
    let (receiver, exports) = otlp_receiver().await;
    let dir = pki("telemetry", &["acme-loans"]);
    let (inst, _) = mock_http(institution()).await;
    let (partner_api, _) = mock_http(institution()).await;
    let sluice = start_sluice_tail(
        &dir,
        inst,
        partner_api,
        &example_policy(),
        &format!(
            "[telemetry]\notlp_endpoint = \"http://{receiver}\"\nservice_name = \"sluice-test\"\nexport_interval_ms = 100"
        ),
    )
    .await;
    let port = sluice.addr("partners").unwrap().port();
    let acme = client(
        &dir,
        Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
        true,
    );
    // Served, with the caller's trace context and canaries in path, query and headers.
    let (status, _, body) = fetch(
        &acme,
        Request::get(format!(
            "https://localhost:{port}/v1/applicants/{ID_NO}?mobile={MOBILE}"
        ))
        .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
        .header("x-applicant", NAME)
        .body(Full::new(Bytes::new()))
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.is_ok());
    // Refused: no route (the path carries an id).
    let (status, _, _) = fetch(
        &acme,
        Request::get(format!("https://localhost:{port}/v1/nothing/{ID_NO}"))
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);

    // Wait for both server spans and a metrics export after them.
    let mut found = Vec::new();
    for _ in 0..100 {
        found = spans(&exports);
        let servers = found.iter().filter(|s| s["kind"] == 2).count();
        let metrics_after = exports
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == "/v1/metrics")
            .any(|(_, d)| {
                d.to_string().contains("\"sluice.disclosures\"")
                    && d.to_string().contains("\"asInt\":\"1\"")
            });
        if servers >= 2 && metrics_after {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let served = found
        .iter()
        .find(|s| s["name"] == "GET /v1/applicants/{id}")
        .unwrap_or_else(|| panic!("no server span for the route in {found:#?}"));
    assert_eq!(served["kind"], 2);
    assert_eq!(served["traceId"], TRACE, "joins the caller's trace");
    assert_eq!(served["parentSpanId"], CALLER_SPAN);
    for (key, want) in [
        ("http.request.method", "GET"),
        ("http.route", "/v1/applicants/{id}"),
        ("http.response.status_code", "200"),
        ("network.protocol.version", "2"),
        ("sluice.partner", "acme-loans"),
        ("sluice.contract", "acme-prescreen-2026"),
        ("sluice.flow", "pull"),
        ("sluice.verdict", "sent"),
        ("sluice.records", "2"),
    ] {
        assert_eq!(
            attr(served, key).as_deref(),
            Some(want),
            "{key} in {served:#}"
        );
    }
    assert!(attr(served, "sluice.disclosure.seq").is_some());
    for (key, want) in [
        ("sluice.fields.masked", "2"),
        ("sluice.fields.hashed", "1"),
        ("sluice.fields.stripped", "1"),
    ] {
        assert_eq!(
            attr(served, key).as_deref(),
            Some(want),
            "{key} in {served:#}"
        );
    }
    let upstream = found
        .iter()
        .find(|s| s["kind"] == 3 && s["parentSpanId"] == served["spanId"])
        .unwrap_or_else(|| panic!("no client span under the server span in {found:#?}"));
    assert_eq!(upstream["traceId"], TRACE);
    assert_eq!(
        attr(upstream, "server.address").as_deref(),
        Some("institution")
    );
    assert_eq!(
        attr(upstream, "http.response.status_code").as_deref(),
        Some("200")
    );
    let refused = found
        .iter()
        .find(|s| attr(s, "sluice.verdict").as_deref() == Some("no_route"))
        .unwrap_or_else(|| panic!("no span for the refusal in {found:#?}"));
    assert_eq!(refused["name"], "GET");
    assert_eq!(
        attr(refused, "http.response.status_code").as_deref(),
        Some("404")
    );

    // Nothing exported — spans, metrics, resource — carries a canary, raw or JSON-escaped.
    let everything: String = exports
        .lock()
        .unwrap()
        .iter()
        .map(|(_, d)| d.to_string())
        .collect();
    let escaped_name: String = NAME
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    for canary in [NAME, ID_NO, MOBILE, escaped_name.as_str()] {
        assert!(!everything.contains(canary), "{canary} was exported");
    }
    // The Prometheus text does not either.
    let admin = sluice.addr("admin").unwrap();
    let text = reqwest_free_get(admin, "/metrics").await;
    assert!(text.contains("sluice_disclosures_total"));
    for canary in [NAME, ID_NO, MOBILE] {
        assert!(!text.contains(canary), "{canary} in /metrics");
    }
    sluice.shutdown().await;
}

/// A plain HTTP GET to the admin listener.
async fn reqwest_free_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}
