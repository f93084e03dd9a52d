//! Every refusal reason the data plane has, each from a real request over mTLS.

use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_tests::harness::*;

fn ok_json() -> Handler {
    Arc::new(|req| MockResponse {
        status: if req.uri().path().ends_with("/created") {
            201
        } else {
            200
        },
        content_type: "application/json",
        encoding: None,
        delay_ms: if req.uri().path().ends_with("/slow") {
            1500
        } else {
            0
        },
        body: Chunks::new(br#"{"applicants":[]}"#, 64, false),
    })
}

fn get(addr: std::net::SocketAddr, path: &str) -> Request<Full<Bytes>> {
    Request::get(format!("https://localhost:{}{path}", addr.port()))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

fn reason(body: &Result<Vec<u8>, String>) -> String {
    let v: serde_json::Value = serde_json::from_slice(body.as_ref().unwrap()).unwrap();
    v["error"].as_str().unwrap().to_string()
}

const ACME: Option<(&str, &str)> = Some(("partners/acme-loans.pem", "partners/acme-loans.key"));

#[tokio::test]
async fn contract_windows() {
    let dir = pki("windows", &["acme-loans", "safe-insure"]);
    let (inst, _) = mock_http(ok_json()).await;
    let (partner, _) = mock_https(&dir, ok_json()).await;
    for (window, want) in [
        (
            "valid_from  = 2020-01-01\nvalid_until = 2021-01-01",
            "contract_expired",
        ),
        (
            "valid_from  = 2090-01-01\nvalid_until = 2091-01-01",
            "contract_not_yet_valid",
        ),
    ] {
        let policy = example_policy().replacen(
            "valid_from  = 2020-01-01\nvalid_until = 2099-01-01",
            window,
            1,
        );
        let sluice = start_sluice(&dir, inst, partner, &policy).await;
        let (status, _, body) = fetch(
            &client(&dir, ACME, false),
            get(sluice.addr("partners").unwrap(), "/v1/applicants/1"),
        )
        .await;
        assert_eq!((status, reason(&body).as_str()), (403, want));
        sluice.shutdown().await;
    }
}

#[tokio::test]
async fn upstream_unavailable_and_timeout() {
    let dir = pki("upstreams", &["acme-loans"]);
    // Nothing listens on port 1 (a port freed by a listener just dropped could be taken by a
    // mock another test starts meanwhile, which then answers: the test was flaky that way).
    let closed: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
    let (partner, _) = mock_https(&dir, ok_json()).await;
    let sluice = start_sluice(&dir, closed, partner, &example_policy()).await;
    let (status, _, body) = fetch(
        &client(&dir, ACME, false),
        get(sluice.addr("partners").unwrap(), "/v1/applicants/1"),
    )
    .await;
    assert_eq!(
        (status, reason(&body).as_str()),
        (502, "upstream_unavailable")
    );
    sluice.shutdown().await;

    let (inst, _) = mock_http(ok_json()).await;
    let sluice = start_sluice_with(
        &dir,
        inst,
        partner,
        &example_policy(),
        "",
        "response_header_timeout_ms = 300",
    )
    .await;
    let (status, _, body) = fetch(
        &client(&dir, ACME, false),
        get(sluice.addr("partners").unwrap(), "/v1/applicants/slow"),
    )
    .await;
    assert_eq!((status, reason(&body).as_str()), (504, "upstream_timeout"));
}

#[tokio::test]
async fn overload_is_shed_at_once() {
    let dir = pki("overload", &["acme-loans"]);
    let (inst, _) = mock_http(ok_json()).await;
    let (partner, _) = mock_https(&dir, ok_json()).await;
    let sluice = start_sluice_with(
        &dir,
        inst,
        partner,
        &example_policy(),
        "max_in_flight = 1",
        "",
    )
    .await;
    let addr = sluice.addr("partners").unwrap();
    let c = client(&dir, ACME, true);
    let slow = tokio::spawn({
        let c = c.clone();
        async move { fetch(&c, get(addr, "/v1/applicants/slow")).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let (status, _, body) = fetch(&c, get(addr, "/v1/applicants/1")).await;
    assert_eq!((status, reason(&body).as_str()), (503, "overloaded"));
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1000),
        "shed, not queued"
    );
    assert_eq!(slow.await.unwrap().0, 200);
    // The slow request's place is free again once it is answered.
    assert_eq!(fetch(&c, get(addr, "/v1/applicants/1")).await.0, 200);
}

#[tokio::test]
async fn the_whole_request_deadline_answers_request_timeout() {
    let dir = pki("request-deadline", &["acme-loans"]);
    let (inst, _) = mock_http(ok_json()).await;
    let (partner, _) = mock_https(&dir, ok_json()).await;
    // The upstream's own deadline (30 s by default) is not what fires.
    let limits = "request_timeout_ms = 300";
    let sluice = start_sluice_with(&dir, inst, partner, &example_policy(), limits, "").await;
    let addr = sluice.addr("partners").unwrap();
    for h2 in [false, true] {
        let c = client(&dir, ACME, h2);
        let (status, _, body) = fetch(&c, get(addr, "/v1/applicants/slow")).await;
        assert_eq!(
            (status, reason(&body).as_str()),
            (504, "request_timeout"),
            "h2={h2}"
        );
        assert_eq!(fetch(&c, get(addr, "/v1/applicants/1")).await.0, 200);
    }
}

#[tokio::test]
async fn body_too_large_by_length_and_while_streaming() {
    let dir = pki("large", &["acme-loans", "safe-insure"]);
    let (inst, _) = mock_http(ok_json()).await;
    let (partner, recorder) = mock_https(&dir, ok_json()).await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    let addr = sluice.addr("internal").unwrap();
    let inst_client = client(&dir, Some(("institution.pem", "institution.key")), false);
    let big = format!(
        r#"{{"policies":[{{"policy_no":"{}"}}]}}"#,
        "x".repeat(2 << 20)
    );
    let req = Request::post(format!("https://localhost:{}/v2/policies", addr.port()))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(big.clone())))
        .unwrap();
    let (status, _, body) = fetch(&inst_client, req).await;
    assert_eq!((status, reason(&body).as_str()), (413, "body_too_large"));
    // Without a Content-Length (HTTP/2 DATA frames), the limit applies as the body streams.
    let h2 = client_for::<Chunks>(&dir, Some(("institution.pem", "institution.key")), true);
    let req = Request::post(format!("https://localhost:{}/v2/policies", addr.port()))
        .header("content-type", "application/json")
        .body(Chunks::new(big.as_bytes(), 65536, false))
        .unwrap();
    let resp = h2.request(req).await.unwrap();
    assert_eq!(resp.status(), 413);
    assert!(
        recorder.requests().iter().all(|r| r.3.is_err()),
        "the partner never got a complete body"
    );
}

#[tokio::test]
async fn an_early_violation_in_a_response_gets_a_status_not_a_cut_connection() {
    // Regression: on HTTP/1.1 a response whose first bytes broke the contract used to close the
    // connection without any response head.
    let dir = pki("early-violation", &["acme-loans"]);
    let bad: Handler = json_mock(br#"{"applicants":[{"credit_score":5000}]}"#);
    let (inst, _) = mock_http(bad).await;
    let (partner, _) = mock_https(&dir, ok_json()).await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    for h2 in [false, true] {
        let (status, _, body) = fetch(
            &client(&dir, ACME, h2),
            get(sluice.addr("partners").unwrap(), "/v1/applicants/1"),
        )
        .await;
        assert_eq!(
            (status, reason(&body).as_str()),
            (502, "response_violation"),
            "h2={h2}"
        );
        let text = String::from_utf8(body.unwrap()).unwrap();
        assert!(
            !text.contains("credit_score"),
            "where it broke stays with the institution: {text}"
        );
    }
    sluice.shutdown().await;
}

/// Pushes a one-record body to the internal listener at `port` as the institution system
/// (HTTP/2 or HTTP/1.1), and waits at most 10 s for the whole answer.
async fn push_one(
    dir: &std::path::Path,
    port: u16,
    h2: bool,
) -> (u16, http::HeaderMap, Result<Vec<u8>, String>) {
    let body = r#"{"policies":[{"policy_no":"P1","product":"health","premium":1200}]}"#;
    let push = Request::post(format!("https://localhost:{port}/v2/policies"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let institution = client(dir, Some(("institution.pem", "institution.key")), h2);
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        fetch(&institution, push),
    )
    .await
    .unwrap_or_else(|_| panic!("h2 {h2}: no whole answer within 10 s"))
}

#[tokio::test]
async fn an_upstream_that_never_finishes_tls_fails_at_the_connect_timeout() {
    // `connect_timeout_ms` is the TCP *and* TLS deadline. The partner API here accepts TCP and
    // never answers the TLS ClientHello: the push must fail as unavailable at the connect
    // deadline (300 ms), not wait for the response-header timeout (30 s) and call it a timeout.
    let dir = pki("upstream-tls-stall", &["acme-loans"]);
    let stall = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stalling_partner = stall.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = stall.accept().await {
            held.push(s);
        }
    });
    let (inst, _) = mock_http(ok_json()).await;
    // `tail` lines before any table header belong to the last table: the partner API's
    // `[[upstream]]`.
    let extras = Extras {
        tail: "connect_timeout_ms = 300",
        ..Extras::default()
    };
    let sluice =
        start_sluice_extras(&dir, inst, stalling_partner, &example_policy(), &extras).await;
    let port = sluice.addr("internal").unwrap().port();
    for h2 in [false, true] {
        let (status, _, resp) = push_one(&dir, port, h2).await;
        assert_eq!(
            (status, reason(&resp).as_str()),
            (502, "upstream_unavailable"),
            "h2 {h2}"
        );
    }
    sluice.shutdown().await;
}

#[tokio::test]
async fn a_partner_apis_answer_that_stalls_is_cut_at_the_body_stall_timeout() {
    // `body_stall_timeout_ms` is documented for "a response body from this upstream"; it was
    // applied to the institution's answers to pulls only. A partner API that sent the head of its
    // answer to a push and then nothing held the institution system's request (and sluice's
    // connection, task and upstream connection) open for as long as the partner liked.
    let dir = pki("partner-answer-stall", &["acme-loans"]);
    let stalling: Handler = Arc::new(|_| MockResponse {
        status: 200,
        content_type: "application/json",
        encoding: None,
        delay_ms: 0,
        body: Chunks::stalling(br#"{"accepted":"#, 4),
    });
    let (inst, _) = mock_http(ok_json()).await;
    let (partner, partner_api) = mock_https(&dir, stalling).await;
    let extras = Extras {
        tail: "body_stall_timeout_ms = 300",
        ..Extras::default()
    };
    let sluice = start_sluice_extras(&dir, inst, partner, &example_policy(), &extras).await;
    let port = sluice.addr("internal").unwrap().port();
    for h2 in [false, true] {
        // Before the fix: no end within 10 s.
        let (status, _, answer) = push_one(&dir, port, h2).await;
        assert_eq!(status, 200, "h2 {h2}: the head came through");
        assert!(
            answer.is_err(),
            "h2 {h2}: a cut answer is not a complete one"
        );
    }
    assert_eq!(partner_api.requests().len(), 2);
    sluice.shutdown().await;
}

#[tokio::test]
async fn a_pull_request_body_over_the_limit_is_refused_as_too_large() {
    // A partner's request body is the partner's failure, as a pushed body is the institution
    // system's: over `max_request_body_bytes` it is 413 `body_too_large`, whether announced by
    // Content-Length (refused before the institution is called) or found while streaming — not
    // `502 upstream_protocol`, blaming the institution for the body sluice cut (as it was).
    let dir = pki("pull-body-limit", &["acme-loans"]);
    let (inst, institution) = mock_http(ok_json()).await;
    let (partner, _) = mock_https(&dir, ok_json()).await;
    // A pull route that takes a body (a search by POST).
    let from = "method   = \"GET\"\n  path     = \"/v1/applicants\"\n";
    let policy = example_policy();
    assert!(policy.contains(from));
    let policy = policy.replace(
        from,
        "method   = \"POST\"\n  path     = \"/v1/applicants\"\n  request_fields = { \"$.names\" = { keep = \"subtree\" } }\n",
    );
    // The harness's limit is 1 MiB.
    let sluice = start_sluice(&dir, inst, partner, &policy).await;
    let port = sluice.addr("partners").unwrap().port();
    // A question the route lets through, too long: `{"names":[1,1,1,…`.
    let mut big = br#"{"names":["#.to_vec();
    big.resize(2 << 20, b'1');
    for i in (11..big.len()).step_by(2) {
        big[i] = b',';
    }
    for (h2, sized) in [(false, false), (true, false), (false, true), (true, true)] {
        let c = client_for::<Chunks>(&dir, ACME, h2);
        let chunks = if sized {
            Chunks::sized(&big)
        } else {
            Chunks::new(&big, 65536, false)
        };
        let req = Request::post(format!("https://localhost:{port}/v1/applicants"))
            .header("content-type", "application/json")
            .body(chunks)
            .unwrap();
        let (status, _, body) = fetch(&c, req).await;
        assert_eq!(
            (status, reason(&body).as_str()),
            (413, "body_too_large"),
            "h2 {h2}, Content-Length {sized}"
        );
    }
    // Only the streamed ones reached the institution, cut.
    let got = institution.requests();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|r| r.3.is_err()), "a body got through whole");
    // A body that does not match its Content-Digest is the partner's failure too (it was
    // `502 upstream_protocol` as well).
    use base64::Engine as _;
    let other = ring::digest::digest(&ring::digest::SHA256, b"another body");
    let digest = format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(other.as_ref())
    );
    for h2 in [false, true] {
        let req = Request::post(format!("https://localhost:{port}/v1/applicants"))
            .header("content-type", "application/json")
            .header("content-digest", &digest)
            .body(Full::new(Bytes::from_static(br#"{"name":"x"}"#)))
            .unwrap();
        let (status, _, body) = fetch(&client(&dir, ACME, h2), req).await;
        assert_eq!(
            (status, reason(&body).as_str()),
            (400, "digest_mismatch"),
            "h2 {h2}"
        );
    }
    sluice.shutdown().await;
}

#[tokio::test]
async fn a_request_body_that_stops_coming_is_cut_at_the_body_read_timeout() {
    // A client that sends part of a body and then nothing held its request (an in-flight place,
    // an upstream connection, a disclosure) until some other deadline happened to end it — the
    // upstream's response-header timeout if the upstream waited for the body, none if it did
    // not. Now the body must keep coming (`body_read_timeout_ms`, nginx's
    // `client_body_timeout`): 408 `body_timeout`, and the upstream never gets a whole body.
    let dir = pki("body-read-timeout", &["acme-loans", "safe-insure"]);
    let (inst, institution) = mock_http(ok_json()).await;
    let (partner, partner_api) = mock_https(&dir, ok_json()).await;
    // A pull route that takes a body, as in the test above.
    let from = "method   = \"GET\"\n  path     = \"/v1/applicants\"\n";
    let policy = example_policy().replace(
        from,
        "method   = \"POST\"\n  path     = \"/v1/applicants\"\n  request_fields = { \"$.names\" = { keep = \"subtree\" } }\n",
    );
    let limits = "body_read_timeout_ms = 300";
    let sluice = start_sluice_with(&dir, inst, partner, &policy, limits, "").await;
    let half = br#"{"policies":[{"policy_no":"P1","#;
    for (listener, path, who) in [
        (
            "internal",
            "/v2/policies",
            ("institution.pem", "institution.key"),
        ),
        (
            "partners",
            "/v1/applicants",
            ("partners/acme-loans.pem", "partners/acme-loans.key"),
        ),
    ] {
        let port = sluice.addr(listener).unwrap().port();
        for h2 in [false, true] {
            let c = client_for::<Chunks>(&dir, Some(who), h2);
            let req = Request::post(format!("https://localhost:{port}{path}"))
                .header("content-type", "application/json")
                .body(Chunks::stalling(half, 8))
                .unwrap();
            let (status, _, body) =
                tokio::time::timeout(std::time::Duration::from_secs(10), fetch(&c, req))
                    .await
                    .unwrap_or_else(|_| panic!("{listener} h2 {h2}: no answer within 10 s"));
            assert_eq!(
                (status, reason(&body).as_str()),
                (408, "body_timeout"),
                "{listener} h2 {h2}"
            );
        }
    }
    for (name, got) in [
        ("institution", institution.requests()),
        ("partner API", partner_api.requests()),
    ] {
        assert!(
            got.iter().all(|r| r.3.is_err()),
            "the {name} got a whole body"
        );
    }
    sluice.shutdown().await;
}
