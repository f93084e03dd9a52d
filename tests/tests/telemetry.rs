//! OTLP export over real mTLS traffic: an in-process OTLP/HTTP receiver gets a server span per
//! request — in an institution system's trace when it sent one, never in a partner's — named
//! after the route template, with the HTTP and `sluice.*`
//! attributes — a client span per upstream call under it, and the metrics; and nothing it
//! receives carries the personal data the requests did (bodies, paths, query strings, headers).

use std::path::Path;
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
            match (&v["stringValue"], &v["intValue"]) {
                (serde_json::Value::String(s), _) => s.clone(),
                (_, serde_json::Value::String(i)) => i.clone(),
                (_, i) => i.to_string(),
            }
        })
    })
}

/// sluice over the PKI in `dir`, its institution and partner API both serving
/// [`institution`], with `policy` and the configuration lines `tail` (a `[telemetry]` table).
async fn exporting(dir: &Path, policy: &str, tail: &str) -> sluice::server::Running {
    exporting_in(dir, policy, tail, None).await
}

/// As [`exporting`], with the configuration read in the environment `env` (`OTEL_*`).
async fn exporting_in(
    dir: &Path,
    policy: &str,
    tail: &str,
    env: Option<&[(&str, &str)]>,
) -> sluice::server::Running {
    let (inst, _) = mock_http(institution()).await;
    let (partner_api, _) = mock_https(dir, institution()).await;
    let extras = Extras {
        tail,
        env,
        ..Extras::default()
    };
    start_sluice_extras(dir, inst, partner_api, policy, &extras).await
}

/// The partner acme-loans, over HTTP/2 with its client certificate.
fn acme_client(
    dir: &Path,
) -> hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
> {
    client(
        dir,
        Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
        true,
    )
}

#[tokio::test]
async fn spans_and_metrics_reach_an_otlp_receiver_without_personal_data() {
    let (receiver, exports) = otlp_receiver().await;
    let dir = pki("telemetry", &["acme-loans"]);
    let sluice = exporting(
        &dir,
        &example_policy(),
        &format!(
            "[telemetry]\notlp_endpoint = \"http://{receiver}\"\nservice_name = \"sluice-test\"\nexport_interval_ms = 100"
        ),
    )
    .await;
    // Served, with the caller's trace context and canaries in path, query and headers.
    one_traced_request(&sluice, &dir).await;
    // Refused: no route (the path carries an id).
    let port = sluice.addr("partners").unwrap().port();
    let (status, _, _) = fetch(
        &acme_client(&dir),
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
    assert_a_trace_of_sluices_own(served);
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
    assert_eq!(upstream["traceId"], served["traceId"]);
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

    no_canary_in(&exports);
    // The Prometheus text does not either.
    let admin = sluice.addr("admin").unwrap();
    let text = admin_get(admin, "/metrics").await;
    assert!(text.contains("sluice_disclosures_total"));
    for canary in [NAME, ID_NO, MOBILE] {
        assert!(!text.contains(canary), "{canary} in /metrics");
    }
    // The sampled request's latency bucket points at its trace (an OpenMetrics exemplar).
    let trace = served["traceId"].as_str().unwrap();
    let exemplar = format!(" # {{trace_id=\"{trace}\"}} ");
    assert!(
        text.lines().any(|l| {
            l.starts_with("http_server_request_duration_seconds_bucket{") && l.contains(&exemplar)
        }),
        "no exemplar naming {trace} in\n{text}"
    );
    sluice.shutdown().await;
}

/// The partner's `traceparent` (of [`one_traced_request`]) was not followed: `span` starts a trace
/// of sluice's own.
fn assert_a_trace_of_sluices_own(span: &Value) {
    let trace = span["traceId"].as_str().unwrap();
    assert_eq!(trace.len(), 32, "{span:#}");
    assert_ne!(trace, TRACE, "a partner named the trace: {span:#}");
    assert!(
        span["parentSpanId"].as_str().unwrap_or("").is_empty(),
        "a partner's span is the parent: {span:#}"
    );
}

/// Sends one request with a partner's trace context and canaries in its path and headers and
/// asserts it is served; then one with a canary in its query string, which the route does not
/// list, and asserts it is refused (422) before the institution is asked.
async fn one_traced_request(sluice: &sluice::server::Running, dir: &Path) {
    let port = sluice.addr("partners").unwrap().port();
    let acme = acme_client(dir);
    let get = |query: &str| {
        Request::get(format!(
            "https://localhost:{port}/v1/applicants/{ID_NO}{query}"
        ))
        .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
        .header("x-applicant", NAME)
        .body(Full::new(Bytes::new()))
        .unwrap()
    };
    let (status, _, body) = fetch(&acme, get("")).await;
    assert_eq!(status, 200);
    assert!(body.is_ok());
    let (status, _, _) = fetch(&acme, get(&format!("?mobile={MOBILE}"))).await;
    assert_eq!(status, 422);
}

/// Waits (bounded) until the receiver holds the route's server span and a metrics export that
/// counts its disclosure; returns the server span.
async fn served_span_and_metrics(exports: &Exports) -> Value {
    for _ in 0..200 {
        let served = spans(exports)
            .into_iter()
            .find(|s| s["name"] == "GET /v1/applicants/{id}");
        let counted = exports.lock().unwrap().iter().any(|(p, d)| {
            p == "/v1/metrics"
                && d.to_string().contains("\"sluice.disclosures\"")
                && d.to_string().contains("\"asInt\":\"1\"")
        });
        if let (Some(s), true) = (served, counted) {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "no server span and counted disclosure in {:#?}",
        exports.lock().unwrap()
    );
}

/// Nothing exported — spans, metrics, resource — carries a canary, raw or JSON-escaped.
fn no_canary_in(exports: &Exports) {
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
}

#[tokio::test]
async fn grpc_export_carries_the_joined_spans_the_latency_histogram_and_the_counters() {
    let (receiver, exports) = otlp_grpc_receiver().await;
    let dir = pki("telemetry-grpc", &["acme-loans"]);
    let sluice = exporting(
        &dir,
        &example_policy(),
        &format!(
            "[telemetry]\notlp_endpoint = \"http://{receiver}\"\nprotocol = \"grpc\"\nexport_interval_ms = 100"
        ),
    )
    .await;
    one_traced_request(&sluice, &dir).await;
    let served = served_span_and_metrics(&exports).await;
    assert_a_trace_of_sluices_own(&served);
    assert_eq!(attr(&served, "sluice.verdict").as_deref(), Some("sent"));
    assert!(
        spans(&exports)
            .iter()
            .any(|s| s["parentSpanId"] == served["spanId"] && s["traceId"] == served["traceId"]),
        "a client span under the server span"
    );
    let metrics: String = exports
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == "/v1/metrics")
        .map(|(_, d)| d.to_string())
        .collect();
    for name in [
        "\"http.server.request.duration\"",
        "\"sluice.ledger.append.duration\"",
        "\"sluice.requests\"",
        "\"sluice.ledger.healthy\"",
    ] {
        assert!(metrics.contains(name), "{name} not exported");
    }
    no_canary_in(&exports);
    sluice.shutdown().await;
}

#[tokio::test]
async fn tls_to_the_collector_presents_the_client_certificate_and_headers() {
    let dir = pki("telemetry-tls", &["acme-loans"]);
    let (receiver, exports) = otlp_http_receiver(Some(&dir)).await;
    let sluice = exporting(
        &dir,
        &example_policy(),
        &format!(
            "[telemetry]\notlp_endpoint = \"https://localhost:{}\"\nexport_interval_ms = 100\nca = \"ca.pem\"\nclient_cert = \"institution.pem\"\nclient_key = \"institution.key\"\nheaders = {{ \"x-test-key\" = \"k-file\" }}",
            receiver.port()
        ),
    )
    .await;
    one_traced_request(&sluice, &dir).await;
    served_span_and_metrics(&exports).await;
    assert!(
        exports
            .lock()
            .unwrap()
            .iter()
            .all(|(_, d)| d["x-test-key"] == "k-file"),
        "every export carries the configured header"
    );
    no_canary_in(&exports);
    sluice.shutdown().await;
}

#[tokio::test]
async fn a_collector_that_refuses_the_tls_handshake_costs_telemetry_not_requests() {
    let dir = pki("telemetry-tls-refused", &["acme-loans"]);
    let (receiver, exports) = otlp_http_receiver(Some(&dir)).await;
    // No client certificate: the receiver requires one.
    let sluice = exporting(
        &dir,
        &example_policy(),
        &format!(
            "[telemetry]\notlp_endpoint = \"https://localhost:{}\"\nexport_interval_ms = 100\nca = \"ca.pem\"",
            receiver.port()
        ),
    )
    .await;
    for _ in 0..3 {
        one_traced_request(&sluice, &dir).await;
    }
    // The spans the collector never took are counted as lost (after the exporter's retries).
    let admin = sluice.addr("admin").unwrap();
    let mut failed = 0;
    for _ in 0..100 {
        failed = spans_dropped(&admin_get(admin, "/metrics").await, "export_failed");
        if failed > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Three spans a round at most: the served request's and its call to the institution, and
    // the refused request's.
    assert!(
        (1..=9).contains(&failed),
        "{failed} spans counted as export_failed"
    );
    assert!(exports.lock().unwrap().is_empty());
    sluice.shutdown().await;
}

/// `sluice_telemetry_spans_dropped_total` for `reason` on a `/metrics` page (0 when absent).
fn spans_dropped(metrics: &str, reason: &str) -> u64 {
    let series = format!("sluice_telemetry_spans_dropped_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |n| n.parse().unwrap())
}

#[tokio::test]
async fn otel_environment_variables_override_the_file() {
    let (receiver, exports) = otlp_grpc_receiver().await;
    let dir = pki("telemetry-env", &["acme-loans"]);
    let endpoint = format!("http://{receiver}");
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-test-key=k-env"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "100"),
    ];
    // The file names a collector that is not there, over HTTP, every minute.
    let sluice = exporting_in(
        &dir,
        &example_policy(),
        "[telemetry]\notlp_endpoint = \"http://127.0.0.1:9\"\nprotocol = \"http/protobuf\"\nexport_interval_ms = 60000\nheaders = { \"x-test-key\" = \"k-file\" }",
        Some(&env),
    )
    .await;
    one_traced_request(&sluice, &dir).await;
    served_span_and_metrics(&exports).await;
    assert!(
        exports
            .lock()
            .unwrap()
            .iter()
            .all(|(_, d)| d["x-test-key"] == "k-env")
    );
    sluice.shutdown().await;
}

/// An institution system pushes `RECORD` through the internal listener with `traceparent`;
/// returns the status.
async fn push_traced(sluice: &sluice::server::Running, dir: &Path, traceparent: &str) -> u16 {
    const RECORD: &[u8] =
        br#"{"policies":[{"policy_no":"P1","premium":1200,"holder":{"name":"Zhang Wei"}}]}"#;
    let port = sluice.addr("internal").unwrap().port();
    let c = client(dir, Some(("institution.pem", "institution.key")), true);
    let req = Request::post(format!("https://localhost:{port}/v2/policies"))
        .header("content-type", "application/json")
        .header("traceparent", traceparent)
        .body(Full::new(Bytes::from_static(RECORD)))
        .unwrap();
    fetch(&c, req).await.0
}

/// The partner acme-loans asks for an applicant with `traceparent`; asserts it is served.
async fn pull_traced(sluice: &sluice::server::Running, dir: &Path, traceparent: &str) {
    let port = sluice.addr("partners").unwrap().port();
    let (status, _, _) = fetch(
        &acme_client(dir),
        Request::get(format!("https://localhost:{port}/v1/applicants/LA20260001"))
            .header("traceparent", traceparent)
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
}

/// Waits (bounded) until a span `found` accepts has arrived; panics with `missing` otherwise.
async fn span_where(exports: &Exports, found: impl Fn(&Value) -> bool, missing: &str) -> Value {
    for _ in 0..200 {
        if let Some(s) = spans(exports).into_iter().find(|s| found(s)) {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{missing}: {:#?}", spans(exports));
}

/// Waits (bounded) until the server span of `trace` has arrived.
async fn span_of_trace(exports: &Exports, trace: &str) -> Value {
    let missing = format!("no span of {trace}");
    span_where(
        exports,
        |s| s["traceId"] == trace && s["kind"] == 2,
        &missing,
    )
    .await
}

#[tokio::test]
async fn an_institution_systems_trace_is_followed_and_a_partners_is_not() {
    let (receiver, exports) = otlp_receiver().await;
    let dir = pki("telemetry-trust", &["acme-loans", "safe-insure"]);
    let sluice = exporting(
        &dir,
        &example_policy(),
        &format!("[telemetry]\notlp_endpoint = \"http://{receiver}\"\nexport_interval_ms = 100"),
    )
    .await;
    const UNSAMPLED: &str = "0af7651916cd43dd8448eb211c80319c";
    const PARTNERS: &str = "5ce0e9a56015fec5aadfa328ae398115";
    // The institution system's unsampled push comes after its sampled one: were it to leave an
    // exemplar, it would be the newest.
    for (trace, flags) in [(TRACE, "01"), (UNSAMPLED, "00")] {
        let status = push_traced(&sluice, &dir, &format!("00-{trace}-{CALLER_SPAN}-{flags}")).await;
        assert_eq!(status, 200);
    }
    // A partner that says "not sampled" is traced all the same, in a trace of sluice's own.
    pull_traced(&sluice, &dir, &format!("00-{PARTNERS}-{CALLER_SPAN}-00")).await;
    let pushed = span_of_trace(&exports, TRACE).await;
    assert_eq!(
        pushed["parentSpanId"], CALLER_SPAN,
        "joins the system's trace"
    );
    assert_eq!(attr(&pushed, "sluice.flow").as_deref(), Some("push"));
    let pulled = span_where(
        &exports,
        |s| s["name"] == "GET /v1/applicants/{id}",
        "the partner hid its request from the traces",
    )
    .await;
    assert_ne!(pulled["traceId"], PARTNERS);
    assert!(pulled["parentSpanId"].as_str().unwrap_or("").is_empty());
    // Nor does /metrics point at a trace that was not recorded.
    let text = admin_get(sluice.addr("admin").unwrap(), "/metrics").await;
    assert!(text.contains(&format!("trace_id=\"{TRACE}\"")), "{text}");
    assert!(!text.contains(UNSAMPLED), "{text}");
    assert!(!text.contains(PARTNERS), "{text}");
    sluice.shutdown().await;
    let all = spans(&exports);
    assert!(
        all.iter()
            .all(|s| s["traceId"] != UNSAMPLED && s["traceId"] != PARTNERS),
        "{all:#?}"
    );
    // The ledger records the system's trace id, and none the partner chose.
    let ledger = dir.join("ledger");
    let entries = sluice::ledger::read::entries(&ledger).unwrap();
    let traces: Vec<String> = sluice::ledger::read::disclosures(&ledger, &entries)
        .iter()
        .map(|d| d.0["trace_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(traces.len(), 3, "{traces:?}");
    assert_eq!(traces[0], TRACE);
    assert_eq!(traces[1], UNSAMPLED);
    assert!(traces[2] != PARTNERS && traces[2].len() == 32, "{traces:?}");
}

#[tokio::test]
async fn a_partner_cannot_force_its_requests_into_the_traces() {
    let (receiver, exports) = otlp_receiver().await;
    let dir = pki("telemetry-forced", &["acme-loans", "safe-insure"]);
    // Sluice samples no new trace; a caller's decision is followed where it is trusted.
    let sluice = exporting(
        &dir,
        &example_policy(),
        &format!(
            "[telemetry]\notlp_endpoint = \"http://{receiver}\"\nexport_interval_ms = 100\nsampler_ratio = 0.0"
        ),
    )
    .await;
    const PARTNERS: &str = "5ce0e9a56015fec5aadfa328ae398115";
    for _ in 0..3 {
        pull_traced(&sluice, &dir, &format!("00-{PARTNERS}-{CALLER_SPAN}-01")).await;
    }
    // A sampled push after them: once its span has arrived, theirs would have too.
    assert_eq!(
        push_traced(&sluice, &dir, &format!("00-{TRACE}-{CALLER_SPAN}-01")).await,
        200
    );
    span_of_trace(&exports, TRACE).await;
    sluice.shutdown().await;
    let all = spans(&exports);
    assert!(
        all.iter()
            .all(|s| s["traceId"] == TRACE
                && attr(s, "sluice.partner").as_deref() != Some("acme-loans")),
        "a partner's sampled flag was followed: {all:#?}"
    );
}

#[tokio::test]
async fn a_collector_that_never_answers_delays_no_request() {
    // Accepts connections and never reads or answers: every export hangs until its timeout.
    let blackhole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole = blackhole.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = blackhole.accept().await {
            held.push(tcp);
        }
    });
    let dir = pki("telemetry-blackhole", &["acme-loans"]);
    // A queue of 64 spans: 100 requests (200 spans) overflow it while exports hang.
    // The contract's rate limit (burst 50) lifted, so that 100 requests are served.
    let policy = example_policy().replace(
        "rate        = { per_second = 200, burst = 50 }",
        "rate        = { per_second = 1000, burst = 1000 }",
    );
    assert_ne!(policy, example_policy());
    let sluice = exporting(
        &dir,
        &policy,
        &format!(
            "[telemetry]\notlp_endpoint = \"http://{hole}\"\nexport_interval_ms = 100\ntimeout_ms = 2000\nmax_queued_spans = 64"
        ),
    )
    .await;
    let port = sluice.addr("partners").unwrap().port();
    let acme = acme_client(&dir);
    // 100 requests take about a second here, while the first export hangs for its 2 s timeout
    // with 64 more spans queued behind it. Were a request to wait on the exporter, the waits
    // would add up to minutes: the whole loop is bounded at 30 s, far from both.
    let all = async {
        for _ in 0..100 {
            let (status, _, body) = fetch(
                &acme,
                Request::get(format!("https://localhost:{port}/v1/applicants/LA20260001"))
                    .body(Full::new(Bytes::new()))
                    .unwrap(),
            )
            .await;
            assert_eq!(status, 200);
            assert!(body.is_ok());
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), all)
        .await
        .expect("requests waited on the telemetry exporter");
    // What the exporter lost is on /metrics: 200 spans met a queue of 64 that never drained.
    let text = admin_get(sluice.addr("admin").unwrap(), "/metrics").await;
    let dropped = spans_dropped(&text, "queue_full");
    assert!(dropped > 0 && dropped <= 200, "{dropped}");
    sluice.shutdown().await;
}
