//! The proxy end to end: real rustls over loopback, a mock institution and a mock partner API,
//! HTTP/1.1 and HTTP/2, both flows.

use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_tests::harness::*;

const APPLICANT: &str = r#"{"applicants":[{"applicant_no":"LA00000001","name":"欧阳明轩","id_no":"31011519751103008X","mobile":"13860642414","card_cvn":"123","address":"上海市浦东新区张江路123弄5号1202室","loan":{"amount":50000,"term_months":12,"purpose":"装修"},"credit_score":700,"remarks":"备用卡 6222 0293 6536 8615 645"}],"total":1}"#;

const SECRETS: &[&str] = &[
    "13860642414",
    "31011519751103008X",
    "张江路",
    // The bank card's middle digits as written (with a space, which no hashed value's hex has:
    // "8615" alone once matched a random pseudonym's hex and failed a run).
    "6536 8615",
    "\"123\"",
    "装修",
];

fn institution() -> Handler {
    Arc::new(|req| {
        let path = req.uri().path();
        let json = |body: &str, chunk, fail| MockResponse {
            encoding: None,
            delay_ms: 0,
            status: 200,
            content_type: "application/json",
            body: Chunks::new(body.as_bytes(), chunk, fail),
        };
        match path {
            "/v1/applicants/1" => json(APPLICANT, 1 << 20, false),
            "/v1/applicants/bytewise" => json(APPLICANT, 1, false),
            "/v1/applicants/text" => MockResponse {
                encoding: None,
                delay_ms: 0,
                status: 200,
                content_type: "text/plain",
                body: Chunks::new(b"hello", 5, false),
            },
            "/v1/applicants/missing" => MockResponse {
                encoding: None,
                delay_ms: 0,
                status: 404,
                content_type: "application/json",
                body: Chunks::new(br#"{"detail":"13860642414 not found"}"#, 64, false),
            },
            "/v1/applicants/dies" => json(&APPLICANT[..200], 50, true),
            // Statuses no registry lists: a code the institution's system chose.
            "/v1/applicants/status-299" => MockResponse {
                status: 299,
                ..json(APPLICANT, 1 << 20, false)
            },
            "/v1/applicants/status-599" => MockResponse {
                status: 599,
                ..json(APPLICANT, 1 << 20, false)
            },
            // An institution that answers a condition it was never sent.
            "/v1/applicants/not-modified" => MockResponse {
                status: 304,
                ..json("", 1, false)
            },
            "/v1/applicants/late-violation" => {
                // A long valid prefix, then an amount over the contract's max.
                let mut body = String::from(r#"{"applicants":["#);
                for _ in 0..200 {
                    body.push_str(r#"{"applicant_no":"LA00000001","credit_score":1},"#);
                }
                body.push_str(r#"{"loan":{"amount":99999999}}]}"#);
                json(Box::leak(body.into_boxed_str()), 1024, false)
            }
            "/v1/applicants/many" => {
                let recs: Vec<String> = (0..300)
                    .map(|i| format!(r#"{{"id_no":"1101051949123{i:04}X","credit_score":{i}}}"#))
                    .collect();
                json(
                    Box::leak(format!(r#"{{"applicants":[{}]}}"#, recs.join(",")).into_boxed_str()),
                    4096,
                    false,
                )
            }
            "/v1/applicants/gz" => MockResponse {
                encoding: Some("gzip"),
                delay_ms: 0,
                status: 200,
                content_type: "application/json",
                body: Chunks::new(&gzip(APPLICANT.as_bytes()), 100, false),
            },
            "/v1/applicants/pdf" => MockResponse {
                encoding: None,
                delay_ms: 0,
                status: 200,
                content_type: "application/pdf",
                body: Chunks::new(PDF, 4, false),
            },
            "/v1/applicants/pdf-sized" => MockResponse {
                encoding: None,
                delay_ms: 0,
                status: 200,
                content_type: "application/pdf",
                body: Chunks::sized(PDF),
            },
            "/v1/applicants/br" => MockResponse {
                encoding: Some("br"),
                delay_ms: 0,
                status: 200,
                content_type: "application/json",
                body: Chunks::new(b"xx", 100, false),
            },
            "/v1/applicants/stream" => {
                // 64 records per chunk; 8 MiB in all (the bench streams far more, with RSS).
                let line = format!("{}\n", &APPLICANT[15..APPLICANT.len() - 12]);
                let chunk = line.repeat(64);
                MockResponse {
                    encoding: None,
                    delay_ms: 0,
                    status: 200,
                    content_type: "application/x-ndjson",
                    body: Chunks::repeat(chunk.as_bytes(), (8 << 20) / chunk.len()),
                }
            }
            "/v1/applicants" => MockResponse {
                encoding: None,
                delay_ms: 0,
                status: 200,
                content_type: "application/x-ndjson",
                body: Chunks::new(
                    format!(
                        "{}\n{}\n",
                        &APPLICANT[15..APPLICANT.len() - 12],
                        r#"{"name":"张伟","credit_score":1}"#
                    )
                    .as_bytes(),
                    7,
                    false,
                ),
            },
            _ => MockResponse {
                encoding: None,
                delay_ms: 0,
                status: 404,
                content_type: "application/json",
                body: Chunks::new(b"{}", 2, false),
            },
        }
    })
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn partner_api() -> Handler {
    Arc::new(|_| MockResponse {
        encoding: None,
        delay_ms: 0,
        status: 201,
        content_type: "application/json",
        body: Chunks::new(br#"{"accepted":true}"#, 64, false),
    })
}

struct Env {
    dir: std::path::PathBuf,
    sluice: sluice::server::Running,
    institution: Recorder,
    partner: Recorder,
}

async fn env(name: &str) -> Env {
    env_with(name, &example_policy()).await
}

async fn env_with(name: &str, policy: &str) -> Env {
    let dir = pki(name, &["acme-loans", "safe-insure", "mallory"]);
    let (inst_addr, institution) = mock_http(institution()).await;
    let (partner_addr, partner) = mock_https(&dir, partner_api()).await;
    let sluice = start_sluice(&dir, inst_addr, partner_addr, policy).await;
    Env {
        dir,
        sluice,
        institution,
        partner,
    }
}

fn get(env: &Env, path: &str) -> Request<Full<Bytes>> {
    let addr = env.sluice.addr("partners").unwrap();
    Request::get(format!("https://localhost:{}{path}", addr.port()))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

fn acme(
    env: &Env,
    h2: bool,
) -> hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
> {
    client(
        &env.dir,
        Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
        h2,
    )
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

#[tokio::test]
async fn pull_redacts_the_response_over_h1_and_h2() {
    let env = env("pull").await;
    for h2 in [false, true] {
        // status-299: an unregistered success status goes out as 200 (regression: as written).
        for path in [
            "/v1/applicants/1",
            "/v1/applicants/bytewise",
            "/v1/applicants/gz",
            "/v1/applicants/status-299",
        ] {
            let (status, headers, body) = fetch(&acme(&env, h2), get(&env, path)).await;
            assert_eq!(status, 200, "h2={h2} {path}");
            assert!(
                headers.get("content-length").is_none(),
                "a redacted body has no Content-Length"
            );
            assert!(headers.get("x-request-id").is_some());
            let body = body.unwrap();
            let text = String::from_utf8(body.clone()).unwrap();
            for s in SECRETS {
                assert!(!text.contains(s), "{s} leaked: {text}");
            }
            let v = json(&body);
            let a = &v["applicants"][0];
            assert_eq!(a["name"], "欧阳**");
            assert_eq!(a["id_no"], "310115********008X");
            assert_eq!(a["address"], "上海市浦东新区****");
            assert_eq!(
                a["loan"],
                serde_json::json!({"amount": 50000, "term_months": 12})
            );
            assert_eq!(a["remarks"], "备用卡 622202*********5645");
            assert_eq!(a["mobile"].as_str().unwrap().len(), 64);
            assert!(v.get("total").is_none());
        }
    }
    // The institution learnt who asked, from the certificate, and never a client-supplied identity.
    let reqs = env.institution.requests();
    assert_eq!(reqs[0].2.get("sluice-partner").unwrap(), "acme-loans");
    assert_eq!(
        reqs[0].2.get("sluice-contract").unwrap(),
        "acme-prescreen-2026"
    );
    assert_eq!(reqs[0].2.get("accept-encoding").unwrap(), "identity");
    // A condition would make the institution answer with a status alone, one bit about when a
    // record last changed (regression: `If-None-Match` and `If-Modified-Since` were forwarded).
    let mut req = get(&env, "/v1/applicants/1");
    for (name, value) in [
        ("if-none-match", "\"v1\""),
        ("if-modified-since", "Tue, 01 Dec 2026 00:00:00 GMT"),
        ("if-match", "*"),
        ("if-unmodified-since", "Tue, 01 Dec 2026 00:00:00 GMT"),
        ("if-range", "\"v1\""),
        ("range", "bytes=0-9"),
        ("content-type", "application/json; note=13812345678"),
    ] {
        req.headers_mut().insert(name, value.parse().unwrap());
    }
    let (status, _, _) = fetch(&acme(&env, false), req).await;
    assert_eq!(status, 200);
    let (_, _, asked, _, _) = env.institution.requests().pop().unwrap();
    // Nor a body's type on a request without one.
    for name in [
        "if-none-match",
        "if-modified-since",
        "if-match",
        "if-unmodified-since",
        "if-range",
        "range",
        "content-type",
    ] {
        assert!(asked.get(name).is_none(), "{name} reached the institution");
    }
}

#[tokio::test]
async fn pull_ndjson_lines_are_redacted() {
    let env = env("ndjson").await;
    let (status, _, body) = fetch(&acme(&env, false), get(&env, "/v1/applicants")).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body.unwrap()).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(json(lines[0].as_bytes())["name"], "欧阳**");
    assert_eq!(lines[1], r#"{"name":"张*","credit_score":1}"#);
}

#[tokio::test]
async fn refusals_carry_a_status_and_a_reason() {
    let env = env("refusals").await;
    type Case<'a> = (Option<(&'a str, &'a str)>, &'a str, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            Some(("partners/mallory.pem", "partners/mallory.key")),
            "/v1/applicants/1",
            403,
            "unknown_partner",
        ),
        (
            Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
            "/v2/nothing",
            404,
            "no_route",
        ),
        (
            Some(("partners/safe-insure.pem", "partners/safe-insure.key")),
            "/v1/applicants/1",
            403,
            "no_contract",
        ),
        (
            Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
            "/v1/applicants/text",
            502,
            "upstream_protocol",
        ),
        (
            Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
            "/v1/applicants/missing",
            404,
            "upstream_status",
        ),
        // An unregistered error status goes out as its class's x00 (regression: as written).
        (
            Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
            "/v1/applicants/status-599",
            500,
            "upstream_status",
        ),
        // A status alone, which no request of sluice's asks for.
        (
            Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
            "/v1/applicants/not-modified",
            502,
            "upstream_protocol",
        ),
    ];
    for (who, path, want_status, want_reason) in cases {
        for h2 in [false, true] {
            let (status, headers, body) = fetch(&client(&env.dir, who, h2), get(&env, path)).await;
            let body = body.unwrap();
            assert_eq!(
                status,
                want_status,
                "{path}: {}",
                String::from_utf8_lossy(&body)
            );
            let v = json(&body);
            assert_eq!(v["error"], want_reason);
            assert_eq!(
                v["request_id"].as_str().unwrap(),
                headers.get("x-request-id").unwrap().to_str().unwrap()
            );
            assert!(!String::from_utf8_lossy(&body).contains("13860642414"));
        }
    }
}

#[tokio::test]
async fn a_late_violation_or_a_dying_upstream_aborts_the_stream() {
    let env = env("abort").await;
    for h2 in [false, true] {
        for path in ["/v1/applicants/late-violation", "/v1/applicants/dies"] {
            let (status, _, body) = fetch(&acme(&env, h2), get(&env, path)).await;
            assert_eq!(
                status,
                200,
                "h2={h2} {path}: headers went out before the problem: {:?}",
                body.as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
            );
            assert!(
                body.is_err(),
                "h2={h2} {path}: the partner must see an aborted body, got {:?}",
                body.map(String::from_utf8)
            );
        }
    }
}

#[tokio::test]
async fn push_redacts_the_request_to_the_partner() {
    let env = env("push").await;
    let inst = client(
        &env.dir,
        Some(("institution.pem", "institution.key")),
        false,
    );
    let addr = env.sluice.addr("internal").unwrap();
    let body = r#"{"policies":[{"policy_no":"P1","product":"health","holder":{"name":"张伟","id_no":"11010519491231002X","mobile":"13860642414"},"payment":{"card_no":"6222029365368615645","card_cvn":"999"},"premium":1200,"claims":[{"claim_no":"C1","amount":300,"diagnosis":"secret"}]}]}"#;
    let req = Request::post(format!(
        "https://localhost:{}/v2/policies?debug=1",
        addr.port()
    ))
    .header("content-type", "application/json")
    .header("cookie", "session=abc")
    .header("authorization", "Bearer x")
    .body(Full::new(Bytes::from(body)))
    .unwrap();
    let (status, _, resp) = fetch(&inst, req).await;
    assert_eq!(status, 201, "{:?}", resp.map(String::from_utf8));
    let reqs = env.partner.requests();
    assert_eq!(reqs.len(), 1);
    let (method, pq, headers, got, _) = &reqs[0];
    assert_eq!(
        (method.as_str(), pq.as_str()),
        ("POST", "/v2/policies"),
        "the query string is not forwarded"
    );
    assert!(headers.get("cookie").is_none() && headers.get("authorization").is_none());
    let v = json(got.as_ref().unwrap());
    let p = &v["policies"][0];
    assert_eq!(p["holder"]["name"], "张*");
    assert_eq!(
        p["holder"]["mobile"], "13860642414",
        "plaintext with a documented reason"
    );
    assert_eq!(p["holder"]["id_no"].as_str().unwrap().len(), 64);
    assert_eq!(
        p["payment"],
        serde_json::json!({"card_no": "622202*********5645"})
    );
    assert_eq!(
        p["claims"][0],
        serde_json::json!({"claim_no": "C1", "amount": 300})
    );

    // A violation: the caller gets 422 with the path, the partner never gets a complete body.
    let bad = r#"{"policies":[{"policy_no":"P2","premium":-5}]}"#;
    let req = Request::post(format!("https://localhost:{}/v2/policies", addr.port()))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bad)))
        .unwrap();
    let (status, _, resp) = fetch(&inst, req).await;
    let resp = resp.unwrap();
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&resp));
    assert_eq!(json(&resp)["path"], "out_of_range at $.policies[0].premium");
    for (_, _, _, body, _) in env.partner.requests().iter().skip(1) {
        assert!(
            body.is_err(),
            "the partner received a complete body: {body:?}"
        );
    }

    // A gzip request body is decoded, filtered and sent on identity-encoded.
    let req = Request::post(format!("https://localhost:{}/v2/policies", addr.port()))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Full::new(Bytes::from(gzip(body.as_bytes()))))
        .unwrap();
    let (status, _, _) = fetch(&inst, req).await;
    assert_eq!(status, 201);
    let last = env.partner.requests().pop().unwrap();
    assert!(last.2.get("content-encoding").is_none());
    assert_eq!(
        json(last.3.as_ref().unwrap())["policies"][0]["holder"]["name"],
        "张*"
    );
    let req = Request::post(format!("https://localhost:{}/v2/policies", addr.port()))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip, br")
        .body(Full::new(Bytes::from("x")))
        .unwrap();
    let (status, _, resp) = fetch(&inst, req).await;
    assert_eq!(status, 415);
    assert_eq!(json(&resp.unwrap())["error"], "unsupported_encoding");

    // Unsupported media type on a filtered request.
    let req = Request::post(format!("https://localhost:{}/v2/policies", addr.port()))
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from("x")))
        .unwrap();
    let (status, _, resp) = fetch(&inst, req).await;
    assert_eq!(status, 415);
    assert_eq!(json(&resp.unwrap())["error"], "unsupported_media_type");
}

#[tokio::test]
async fn a_broken_policy_reload_keeps_the_current_one() {
    let env = env("reload").await;
    std::fs::write(env.dir.join("policy.toml"), "version = 1\n[[partner]\n").unwrap();
    let err = env.sluice.shared().reload().unwrap_err().to_string();
    assert!(err.contains("not valid TOML"), "{err}");
    let (status, _, _) = fetch(&acme(&env, false), get(&env, "/v1/applicants/1")).await;
    assert_eq!(status, 200);
    // A good policy that drops the contract applies to the next request.
    std::fs::write(
        env.dir.join("policy.toml"),
        example_policy().replace(
            "path     = \"/v1/applicants/{id}\"",
            "path     = \"/v1/applicant/{id}\"",
        ),
    )
    .unwrap();
    env.sluice.shared().reload().unwrap();
    let (status, _, _) = fetch(&acme(&env, false), get(&env, "/v1/applicants/1")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_large_ndjson_stream_passes_through_a_slow_reader_intact_and_redacted() {
    use http_body_util::BodyExt;
    let env = env("stream").await;
    let resp = acme(&env, true)
        .request(get(&env, "/v1/applicants/stream"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let (mut lines, mut bytes, mut frames) = (0usize, 0usize, 0usize);
    let mut tail = Vec::new();
    let mut trailer = false;
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("the stream completes");
        if frame.is_trailers() {
            trailer = true; // the Content-Digest of what was sent (see tests/integrity.rs)
            continue;
        }
        let data = frame.into_data().unwrap();
        frames += 1;
        if frames % 64 == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await; // a slow reader
        }
        bytes += data.len();
        tail.extend_from_slice(&data);
        let cut = tail.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        for line in tail[..cut].split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let text = std::str::from_utf8(line).unwrap();
            assert!(!SECRETS.iter().any(|s| text.contains(s)), "{text}");
            assert_eq!(json(line)["name"], "欧阳**");
            lines += 1;
        }
        tail.drain(..cut);
    }
    assert!(tail.is_empty());
    assert!(trailer, "HTTP/2 carries the digest trailer");
    let chunk_lines = 64;
    let line_len = APPLICANT.len() - 27 + 1;
    assert_eq!(
        lines,
        (8 << 20) / (line_len * chunk_lines) * chunk_lines,
        "every record arrived ({bytes} bytes)"
    );
}

#[tokio::test]
async fn route_allow_lists_for_headers_query_and_pass_through_types() {
    let dir = pki("allowlists", &["acme-loans", "safe-insure"]);
    let (inst_addr, _) = mock_http(institution()).await;
    let (partner_addr, partner) = mock_https(&dir, partner_api()).await;
    let policy = with_route_keys(
        &example_policy(),
        "/v2/policies",
        &[
            "headers  = [\"X-Batch-Id\"]",
            "query    = [\"page\"]",
            "params.page = { keep = \"number\" }",
            "pass_through = [\"application/pdf\"]",
        ],
    );
    assert!(policy.contains("X-Batch-Id"));
    let sluice = start_sluice(&dir, inst_addr, partner_addr, &policy).await;
    let addr = sluice.addr("internal").unwrap();
    let inst = client(&dir, Some(("institution.pem", "institution.key")), false);
    let body = r#"{"policies":[{"policy_no":"P1"}]}"#;
    let req = Request::post(format!(
        "https://localhost:{}/v2/policies?page=2&id_no=110105",
        addr.port()
    ))
    .header("content-type", "application/json")
    .header("x-batch-id", "b-7")
    .header("x-internal-user", "alice")
    .body(Full::new(Bytes::from(body)))
    .unwrap();
    assert_eq!(fetch(&inst, req).await.0, 201);
    let (_, pq, headers, _, _) = partner.requests().pop().unwrap();
    assert_eq!(pq, "/v2/policies?page=2");
    assert_eq!(headers.get("x-batch-id").unwrap(), "b-7");
    assert!(headers.get("x-internal-user").is_none());
    // A content type the route names goes through unfiltered (and is logged).
    let req = Request::post(format!("https://localhost:{}/v2/policies", addr.port()))
        .header("content-type", "application/pdf")
        .body(Full::new(Bytes::from_static(b"%PDF-1.7 binary")))
        .unwrap();
    assert_eq!(fetch(&inst, req).await.0, 201);
    let (_, _, headers, got, _) = partner.requests().pop().unwrap();
    assert_eq!(got.unwrap(), b"%PDF-1.7 binary");
    assert_eq!(headers.get("content-type").unwrap(), "application/pdf");
    // Unfiltered is still disclosed: the ledger has it, ended, with the digest of what was sent.
    let ledger = dir.join("ledger");
    let ds = disclosures_when(&ledger, |ds| {
        ds.len() == 2 && ds.iter().all(|(v, _, _)| v["outcome"] != "open")
    })
    .await;
    let outcomes: Vec<_> = ds.iter().map(|(v, _, _)| v["outcome"].clone()).collect();
    assert_eq!(outcomes, ["sent", "sent"], "{ds:?}");
    let pdf = &ds[1].0;
    assert_eq!(pdf["bytes_sent"], 15, "{pdf}");
    assert_eq!(
        pdf["sha256_sent"],
        sluice_policy::hex::hex(
            ring::digest::digest(&ring::digest::SHA256, b"%PDF-1.7 binary").as_ref()
        ),
        "{pdf}"
    );
}

/// A scanned document the institution sends as is (a route's `pass_through` type).
const PDF: &[u8] = b"%PDF-1.7 scanned application form";

/// Pass-through pulls went out without a disclosure in the ledger (and pass-through pushes
/// left theirs open): unfiltered is still disclosed, and recorded like the rest.
#[tokio::test]
async fn a_pass_through_pull_is_in_the_ledger_with_the_digest_of_what_was_sent() {
    let policy = with_route_keys(
        &example_policy(),
        "/v1/applicants/{id}",
        &["pass_through = [\"application/pdf\"]"],
    );
    assert_ne!(policy, example_policy());
    let env = env_with("pass-through-pull", &policy).await;
    // Chunked, and with a `Content-Length` (which an HTTP/1.1 partner connection writes up to,
    // then drops the body unpolled: it was recorded `client_gone`), over HTTP/2 and HTTP/1.1.
    let mut names = Vec::new();
    for (h2, path) in [
        (true, "/v1/applicants/pdf"),
        (false, "/v1/applicants/pdf"),
        (true, "/v1/applicants/pdf-sized"),
        (false, "/v1/applicants/pdf-sized"),
    ] {
        let (status, headers, body) = fetch(&acme(&env, h2), get(&env, path)).await;
        assert_eq!(status, 200, "{path} h2={h2}");
        assert_eq!(body.unwrap(), PDF);
        let disclosure = headers
            .get("sluice-disclosure")
            .expect("a pass-through response names its disclosure")
            .to_str()
            .unwrap()
            .to_string();
        names.push(disclosure);
    }
    let ds = disclosures_when(&env.dir.join("ledger"), |ds| {
        ds.len() == 4 && ds.iter().all(|d| d.0["outcome"] != "open")
    })
    .await;
    assert_eq!(ds.len(), 4, "{ds:?}");
    for (d, name) in ds.iter().map(|d| &d.0).zip(&names) {
        assert!(name.ends_with(&format!("/{}", d["seq"])), "{name} {d}");
        assert_eq!(d["outcome"], "sent", "{d}");
        assert_eq!(d["bytes_sent"], PDF.len(), "{d}");
        assert_eq!(
            d["sha256_sent"],
            sluice_policy::hex::hex(ring::digest::digest(&ring::digest::SHA256, PDF).as_ref()),
            "{d}"
        );
    }
}

#[tokio::test]
async fn reload_under_traffic_drops_no_request() {
    // 200 requests at once: above the example's burst of 50, so this test's contract allows more.
    let from = "rate        = { per_second = 200, burst = 50 }";
    let policy = example_policy().replace(from, "rate = { per_second = 10000, burst = 1000 }");
    assert_ne!(policy, example_policy());
    let env = env_with("reload-traffic", &policy).await;
    let c = acme(&env, true);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (c, req_addr) = (c.clone(), env.sluice.addr("partners").unwrap());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in 0..25 {
                let req = Request::get(format!(
                    "https://localhost:{}/v1/applicants/{i}",
                    req_addr.port()
                ))
                .body(Full::new(Bytes::new()))
                .unwrap();
                let resp = c.request(req).await.unwrap();
                let status = resp.status();
                let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
                if status == 404 || status == 200 {
                    ok += 1;
                }
            }
            ok
        }));
    }
    for _ in 0..10 {
        env.sluice.shared().reload().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    for t in tasks {
        assert_eq!(
            t.await.unwrap(),
            25,
            "every request got an answer from one policy or the other"
        );
    }
}

#[tokio::test]
async fn every_disclosure_is_in_the_ledger_with_the_digest_of_what_was_sent() {
    use sluice::ledger::{Entry, Outcome, Record};
    let env = env("ledger").await;
    let (status, headers, body) = fetch(&acme(&env, false), get(&env, "/v1/applicants/1")).await;
    assert_eq!(status, 200);
    let body = body.unwrap();
    let disclosure = headers
        .get("sluice-disclosure")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let seq: u64 = disclosure.rsplit('/').next().unwrap().parse().unwrap();
    assert!(
        disclosure.starts_with("test.sluice/ledger/"),
        "{disclosure}"
    );
    // A late violation ends as aborted_policy.
    let _ = fetch(
        &acme(&env, false),
        get(&env, "/v1/applicants/late-violation"),
    )
    .await;

    let segment = env
        .dir
        .join("ledger")
        .join(sluice::ledger::segment::SEGMENT);
    let mut records = Vec::new();
    for _ in 0..100 {
        let data = std::fs::read(&segment).unwrap();
        records = sluice::ledger::segment::scan(&data)
            .entries
            .iter()
            .map(|b| Record::decode(b).unwrap())
            .collect::<Vec<_>>();
        if records
            .iter()
            .filter(|r| matches!(r.entry, Entry::End(_)))
            .count()
            >= 2
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let Entry::Begin(b) = &records[seq as usize].entry else {
        panic!("{:?}", records[seq as usize])
    };
    assert_eq!(
        (
            b.partner.as_str(),
            b.contract.as_str(),
            b.route.as_str(),
            b.flow.as_str()
        ),
        (
            "acme-loans",
            "acme-prescreen-2026",
            "/v1/applicants/{id}",
            "pull"
        )
    );
    let end = records
        .iter()
        .find_map(|r| match &r.entry {
            Entry::End(e) if e.begin == seq => Some(e.clone()),
            _ => None,
        })
        .expect("an end entry");
    assert_eq!(end.outcome, Outcome::Sent);
    assert_eq!(end.bytes_sent, body.len() as u64);
    let digest = ring_sha256(&body);
    assert_eq!(
        end.sha256_sent, digest,
        "the ledger holds the digest of the bytes the partner received"
    );
    assert_eq!(
        (end.records, end.subject_count, end.subjects.len()),
        (1, 1, 1)
    );
    assert!(
        records
            .iter()
            .any(|r| matches!(&r.entry, Entry::End(e) if e.outcome == Outcome::AbortedPolicy))
    );
    assert!(
        records
            .iter()
            .any(|r| matches!(r.entry, Entry::PolicyLoaded { .. }))
    );

    // No personal data in the ledger, ever.
    let raw = std::fs::read(&segment).unwrap();
    for s in SECRETS.iter().chain(&["欧阳", "LA00000001"]) {
        assert!(
            !raw.windows(s.len()).any(|w| w == s.as_bytes()),
            "{s} is in the ledger"
        );
    }
    let key = sluice::ledger::checkpoint::parse_public_key(
        &std::fs::read_to_string(env.dir.join("signing.pub")).unwrap(),
    )
    .unwrap();
    sluice::ledger::verify::verify_dir(&env.dir.join("ledger"), &key).unwrap();
}

fn ring_sha256(data: &[u8]) -> [u8; 32] {
    use sha256_independent::digest;
    digest(data)
}

/// SHA-256 by the book (FIPS 180-4), independent of the library sluice uses.
mod sha256_independent {
    pub fn digest(msg: &[u8]) -> [u8; 32] {
        const K: [u32; 64] = [
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
            0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
            0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
            0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
            0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
            0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
            0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
            0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
            0xc67178f2,
        ];
        let mut h: [u32; 8] = [
            0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
            0x5be0cd19,
        ];
        let mut m = msg.to_vec();
        m.push(0x80);
        while m.len() % 64 != 56 {
            m.push(0);
        }
        m.extend_from_slice(&((msg.len() as u64) * 8).to_be_bytes());
        for block in m.chunks(64) {
            let mut w = [0u32; 64];
            for i in 0..16 {
                w[i] = u32::from_be_bytes(block[i * 4..i * 4 + 4].try_into().unwrap());
            }
            for i in 16..64 {
                let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
                let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16]
                    .wrapping_add(s0)
                    .wrapping_add(w[i - 7])
                    .wrapping_add(s1);
            }
            let mut v = h;
            for i in 0..64 {
                let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
                let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
                let t1 = v[7]
                    .wrapping_add(s1)
                    .wrapping_add(ch)
                    .wrapping_add(K[i])
                    .wrapping_add(w[i]);
                let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
                let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
                v = [
                    t1.wrapping_add(s0.wrapping_add(maj)),
                    v[0],
                    v[1],
                    v[2],
                    v[3].wrapping_add(t1),
                    v[4],
                    v[5],
                    v[6],
                ];
            }
            for i in 0..8 {
                h[i] = h[i].wrapping_add(v[i]);
            }
        }
        let mut out = [0u8; 32];
        for (i, x) in h.iter().enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
        }
        out
    }
}

#[tokio::test]
async fn push_ndjson_over_h2() {
    let env = env("push-h2").await;
    let inst = client(&env.dir, Some(("institution.pem", "institution.key")), true);
    let addr = env.sluice.addr("internal").unwrap();
    let body = "{\"policy_no\":\"P1\",\"holder\":{\"name\":\"张伟\",\"id_no\":\"11010519491231002X\"},\"x\":1}\n{\"policy_no\":\"P2\",\"holder\":{\"name\":\"欧阳明轩\"}}\n";
    let req = Request::post(format!("https://localhost:{}/v2/policies", addr.port()))
        .header("content-type", "application/x-ndjson")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let (status, headers, _) = fetch(&inst, req).await;
    assert_eq!(status, 201);
    assert!(headers.get("sluice-disclosure").is_some());
    let (_, _, up_headers, got, _) = env.partner.requests().pop().unwrap();
    assert!(
        up_headers.get("sluice-disclosure").is_some(),
        "the partner can cite the same ledger entry"
    );
    let text = String::from_utf8(got.unwrap()).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with(r#"{"policy_no":"P1","holder":{"name":"张*","id_no":""#),
        "{text}"
    );
    assert_eq!(lines[1], r#"{"policy_no":"P2","holder":{"name":"欧阳**"}}"#);
    assert!(!text.contains("11010519491231002X"));
}

#[tokio::test]
async fn many_subjects_go_to_a_side_file_the_tools_can_read() {
    use sluice::ledger::Entry;
    let env = env("side-file").await;
    let (status, headers, _) = fetch(&acme(&env, false), get(&env, "/v1/applicants/many")).await;
    assert_eq!(status, 200);
    let seq: u64 = headers
        .get("sluice-disclosure")
        .unwrap()
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let dir = env.dir.join("ledger");
    let mut found = None;
    for _ in 0..100 {
        let es = sluice::ledger::read::entries(&dir).unwrap();
        found = es.iter().find_map(|(r, _)| match &r.entry {
            Entry::End(e) if e.begin == seq => Some(e.clone()),
            _ => None,
        });
        if found.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let end = found.expect("an end entry");
    assert_eq!((end.subject_count, end.subjects.len()), (300, 0));
    assert_ne!(end.subjects_digest, [0; 32]);
    let es = sluice::ledger::read::entries(&dir).unwrap();
    let (_, subjects, _) = sluice::ledger::read::disclosures(&dir, &es)
        .into_iter()
        .find(|(v, _, _)| v["seq"] == seq)
        .unwrap();
    assert_eq!(subjects.len(), 300);
    let key = sluice::keys::read_key_file(&env.dir.join("hash.key")).unwrap();
    let h = sluice_policy::pseudonym::SubjectKey::derive(&key).subject_hash("11010519491230042X");
    assert!(subjects.contains(&h));
}
