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
    // safe-insure first, acme-loans second: the policy lists acme-loans first.
    let uris = [partner_uri("safe-insure"), partner_uri("acme-loans")];
    issue_client(&dir, "partners/two-faced", &uris);
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
        let bad = with_route_keys(
            &policy,
            "/v1/applicants/{id}",
            &[&format!("headers  = [\"{header}\"]")],
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

/// Trailer fields are header fields that come after a body. sluice passes header fields through
/// allow-lists only; trailers on a body it passes through unfiltered (a `pass_through` type) or
/// on a partner's request body used to cross untouched, past those lists — from the institution
/// to a partner, or from a partner to the institution (where a trailer could claim to be one of
/// the identity headers sluice sets).
#[tokio::test]
async fn trailer_fields_never_cross_sluice_in_either_direction() {
    let dir = pki("trailers", &["acme-loans", "safe-insure"]);
    let mut secret = http::HeaderMap::new();
    secret.insert("x-internal-customer", "110101199003077777".parse().unwrap());
    secret.insert("sluice-partner", "safe-insure".parse().unwrap());
    let pdf = {
        let secret = secret.clone();
        move |_: &http::Request<hyper::body::Incoming>| MockResponse {
            status: 200,
            content_type: "application/pdf",
            encoding: None,
            delay_ms: 0,
            body: Chunks::new(b"%PDF-1.7 statement", 64, false).with_trailers(secret.clone()),
        }
    };
    // Every route goes to the HTTPS mock (HTTP/2 by ALPN: it carries trailers whatever was
    // asked), which answers with a PDF and trailers and records what it got, trailers included.
    let (inst, _) = mock_http(json_mock(b"{}")).await;
    let (upstream, recorded) = mock_https(&dir, std::sync::Arc::new(pdf)).await;
    // The pull routes pass PDFs through, one takes a body (a search by POST, its question
    // filtered through `request_fields`); the push route
    // passes PDFs through.
    let pdf = ["pass_through = [\"application/pdf\"]"];
    let policy = example_policy()
        .replace("upstream = \"institution\"", "upstream = \"acme-api\"")
        .replacen(
            "method   = \"GET\"\n  path     = \"/v1/applicants\"\n",
            "method   = \"POST\"\n  path     = \"/v1/applicants\"\n  pass_through = [\"application/pdf\"]\n  request_fields = { \"$.q\" = \"keep\" }\n",
            1,
        );
    let policy = with_route_keys(&policy, "/v1/applicants/{id}", &pdf);
    let policy = with_route_keys(&policy, "/v2/policies", &pdf);
    let sluice = start_sluice(&dir, inst, upstream, &policy).await;
    let partners = sluice.addr("partners").unwrap().port();
    let internal = sluice.addr("internal").unwrap().port();
    let leaked = |h: &http::HeaderMap| {
        h.get("x-internal-customer").is_some()
            || h.get_all("sluice-partner")
                .iter()
                .any(|v| v == "safe-insure")
    };
    // HTTP/2 carries trailers whatever the peer asked for.
    let acme = client_for::<Chunks>(
        &dir,
        Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
        true,
    );
    let institution_system =
        client_for::<Chunks>(&dir, Some(("institution.pem", "institution.key")), true);
    // 1. The institution's answer to a pull, passed through to the partner.
    let req = Request::get(format!("https://localhost:{partners}/v1/applicants/1"))
        .body(Chunks::new(b"", 1, false))
        .unwrap();
    let resp = acme.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let got = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap();
    assert!(
        !got.trailers().is_some_and(leaked),
        "the institution's trailers reached the partner: {:?}",
        got.trailers()
    );
    // 2. A partner's request body (its question, filtered), to the institution.
    let req = Request::post(format!("https://localhost:{partners}/v1/applicants"))
        .header("content-type", "application/json")
        .body(Chunks::new(br#"{"q":"x"}"#, 4, false).with_trailers(secret.clone()))
        .unwrap();
    assert_eq!(acme.request(req).await.unwrap().status(), 200);
    let asked = recorded.requests();
    let last = asked.last().unwrap();
    assert!(
        !leaked(&last.2),
        "the partner's trailers reached the institution: {:?}",
        last.2
    );
    // 3. An institution system's push, passed through to the partner.
    let req = Request::post(format!("https://localhost:{internal}/v2/policies"))
        .header("content-type", "application/pdf")
        .body(Chunks::new(b"%PDF-1.7 claim", 64, false).with_trailers(secret.clone()))
        .unwrap();
    let resp = institution_system.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let answer = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap();
    assert!(
        !answer.trailers().is_some_and(leaked),
        "the partner's trailers reached the institution system: {:?}",
        answer.trailers()
    );
    let pushed = recorded.requests();
    let last = pushed.last().unwrap();
    assert!(last.3.is_ok(), "{:?}", last.3);
    assert!(
        !leaked(&last.2),
        "the institution's trailers reached the partner: {:?}",
        last.2
    );
    sluice.shutdown().await;
}

/// The partner's answer to a push goes back to the institution system with its end-to-end
/// fields, but a partner cannot speak for sluice there: it cannot say which partner, contract,
/// disclosure, request or trace its answer belongs to. Before, every field of the answer but
/// the hop-by-hop ones crossed, `sluice-partner: acme-loans` on safe-insure's answer included.
#[tokio::test]
async fn a_partners_answer_to_a_push_cannot_set_sluices_own_fields() {
    let dir = pki("answer-fields", &["acme-loans", "safe-insure"]);
    let mut forged = http::HeaderMap::new();
    for (name, value) in [
        ("sluice-partner", "acme-loans"),
        ("sluice-contract", "acme-2026"),
        ("sluice-disclosure", "forged"),
        ("Sluice-Verdict", "ok"),
        ("x-request-id", "forged"),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("tracestate", "partner=1"),
        ("baggage", "customer=110101199003077777"),
        ("x-partner-ref", "R-1"),
    ] {
        forged.append(name, value.parse().unwrap());
    }
    let answer = move |_: &http::Request<hyper::body::Incoming>| MockResponse {
        status: 200,
        content_type: "application/json",
        encoding: None,
        delay_ms: 0,
        body: Chunks::new(br#"{"accepted":true}"#, 64, false).with_head_fields(forged.clone()),
    };
    let (inst, _) = mock_http(json_mock(b"{}")).await;
    let (partner, recorded) = mock_https(&dir, std::sync::Arc::new(answer)).await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    let internal = sluice.addr("internal").unwrap().port();
    for h2 in [false, true] {
        let system = client(&dir, Some(("institution.pem", "institution.key")), h2);
        let resp = system.request(push_to(internal)).await.unwrap();
        assert_eq!(resp.status(), 200, "h2 {h2}");
        let h = resp.headers().clone();
        // The partner's own fields cross; sluice's are sluice's.
        assert_eq!(h["x-partner-ref"], "R-1", "h2 {h2}");
        for name in [
            "sluice-partner",
            "sluice-contract",
            "sluice-verdict",
            "traceparent",
            "tracestate",
            "baggage",
        ] {
            assert!(
                h.get(name).is_none(),
                "h2 {h2}: the partner set {name}: {h:?}"
            );
        }
        assert_eq!(
            h.get_all("sluice-disclosure").iter().count(),
            1,
            "h2 {h2}: {h:?}"
        );
        assert_ne!(h["sluice-disclosure"], "forged", "h2 {h2}");
        // The request id is the one sluice gave the partner with the push.
        let sent = recorded.requests();
        let sent = &sent.last().unwrap().2;
        assert_eq!(
            h.get_all("x-request-id").iter().count(),
            1,
            "h2 {h2}: {h:?}"
        );
        assert_eq!(h["x-request-id"], sent["x-request-id"], "h2 {h2}");
    }
    sluice.shutdown().await;
}

/// The internal listener is for the institution's systems. Its client CA is, in the example and
/// production configurations, the one that also signs partners' certificates — so a partner's
/// certificate passed its handshake, and the partner could push through it: have sluice send a
/// body of its making to another partner's API under sluice's client certificate and signature,
/// recorded in the ledger as the institution's disclosure, and read that partner's answer. A
/// certificate carrying a partner's identity is refused there (`403 partner_certificate`) before
/// any route, share, rate or upstream; the institution's own certificate is served as before.
#[tokio::test]
async fn a_partners_certificate_cannot_push_through_the_internal_listener() {
    let dir = pki("partner-on-internal", &["acme-loans", "safe-insure"]);
    let (inst, _) = mock_http(json_mock(b"{}")).await;
    let (partner_api, recorded) = mock_https(&dir, json_mock(br#"{"accepted":true}"#)).await;
    let sluice = start_sluice(&dir, inst, partner_api, &example_policy()).await;
    let internal = sluice.addr("internal").unwrap().port();
    let push = || push_to(internal);
    for (h2, before) in [(false, 0), (true, 1)] {
        for who in ["acme-loans", "safe-insure"] {
            let (cert, key) = (format!("partners/{who}.pem"), format!("partners/{who}.key"));
            let partner = client(&dir, Some((&cert, &key)), h2);
            let resp = partner.request(push()).await.unwrap();
            assert_eq!(resp.status(), 403, "h2 {h2}: {who} pushed");
            let got = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap();
            let got = String::from_utf8_lossy(&got.to_bytes()).into_owned();
            assert!(got.contains("\"partner_certificate\""), "{got}");
        }
        assert_eq!(
            recorded.requests().len(),
            before,
            "h2 {h2}: the partner API was called"
        );
        let system = client(&dir, Some(("institution.pem", "institution.key")), h2);
        assert_eq!(
            system.request(push()).await.unwrap().status(),
            200,
            "h2 {h2}"
        );
    }
    assert_eq!(recorded.requests().len(), 2);
    sluice.shutdown().await;
}

/// An internal listener that names its callers admits those institution systems only: another
/// certificate its client CA signed is refused (`403 unknown_caller`) before any route, and the
/// partner's API is never called.
#[tokio::test]
async fn an_internal_listener_with_callers_admits_only_them() {
    let dir = pki("internal-callers", &["acme-loans", "safe-insure"]);
    issue_client(&dir, "reporting", &[REPORTING.into()]);
    let (inst, _) = mock_http(json_mock(b"{}")).await;
    let (partner_api, recorded) = mock_https(&dir, json_mock(br#"{"accepted":true}"#)).await;
    let extras = Extras {
        internal: "callers = [{ uri_san = \"spiffe://institution.sluice.test/sluice\" }]",
        ..Extras::default()
    };
    let sluice = start_sluice_extras(&dir, inst, partner_api, &example_policy(), &extras).await;
    let internal = sluice.addr("internal").unwrap().port();
    let push = || push_to(internal);
    for h2 in [false, true] {
        let other = client(&dir, Some(("reporting.pem", "reporting.key")), h2);
        let resp = other.request(push()).await.unwrap();
        assert_eq!(resp.status(), 403, "h2 {h2}");
        let got = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&got.to_bytes()).contains("\"unknown_caller\""));
        let named = client(&dir, Some(("institution.pem", "institution.key")), h2);
        assert_eq!(
            named.request(push()).await.unwrap().status(),
            200,
            "h2 {h2}"
        );
    }
    assert_eq!(
        recorded.requests().len(),
        2,
        "only the named caller's pushes went out"
    );
    sluice.shutdown().await;
}

/// The example's push of one policy record to safe-insure, through the internal listener at
/// `port`.
fn push_to(port: u16) -> Request<Full<Bytes>> {
    let body = r#"{"policies":[{"policy_no":"P1","product":"health","premium":1200}]}"#;
    Request::post(format!("https://localhost:{port}/v2/policies"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// An institution system's certificate revoked while its connection is open pushes nothing
/// more: the reload closes the connection and every request checks the listener's current
/// CRLs, as on partner listeners (before, only the next handshake did).
#[tokio::test]
async fn a_revoked_institution_system_cannot_push_on_its_open_connection() {
    let dir = pki("internal-revoked", &["acme-loans", "safe-insure"]);
    // Where the development PKI's `revoke` finds a certificate by name.
    issue_client(&dir, "partners/reporting", &[REPORTING.into()]);
    let (inst, _) = mock_http(json_mock(b"{}")).await;
    let (partner_api, recorded) = mock_https(&dir, json_mock(br#"{"accepted":true}"#)).await;
    let extras = Extras {
        internal: "crls = [\"crl.pem\"]",
        ..Extras::default()
    };
    let sluice = start_sluice_extras(&dir, inst, partner_api, &example_policy(), &extras).await;
    let internal = sluice.addr("internal").unwrap().port();
    // One client: its connection is kept open between the two pushes.
    let system = client(
        &dir,
        Some(("partners/reporting.pem", "partners/reporting.key")),
        true,
    );
    assert_eq!(
        system.request(push_to(internal)).await.unwrap().status(),
        200
    );
    sluice_certs::devpki::revoke(&dir, "reporting").unwrap();
    // Its open connection is closed by the reload itself, as a revoked partner's is.
    let said = sluice.shared().reload().unwrap();
    assert!(
        said.contains("1 connection(s) no longer trusted closed"),
        "{said}"
    );
    let resp = system.request(push_to(internal)).await;
    let status = resp.map(|r| r.status().as_u16()).unwrap_or(0);
    assert!(
        status == 403 || status == 0,
        "pushed after revocation: {status}"
    );
    assert_eq!(
        recorded.requests().len(),
        1,
        "the partner API got a push after revocation"
    );
    sluice.shutdown().await;
}

/// An institution system other than the one the development PKI issues.
const REPORTING: &str = "spiffe://institution.sluice.test/reporting";

/// A client certificate for `uris` from the development CA in `dir`, written to `at.pem` and
/// `at.key` there.
fn issue_client(dir: &std::path::Path, at: &str, uris: &[String]) {
    let ca = DevCa::load(dir).unwrap();
    let name = at.rsplit('/').next().unwrap();
    let mut spec = LeafSpec::new(name, Usage::Client, 30);
    spec.uris = uris.to_vec();
    let issued = ca.issue(&spec).unwrap();
    std::fs::write(dir.join(format!("{at}.pem")), &issued.cert_pem).unwrap();
    std::fs::write(dir.join(format!("{at}.key")), &issued.key_pem).unwrap();
}

/// Text no contract lists reached partners in the header fields sluice copied from the
/// institution: on a pull, the `Content-Type` of the filtered answer as the institution wrote it
/// (a subtype `vnd.<id number>+json`, the spelling of a parameter); on a push, the system's
/// `Content-Type`, `Accept` and `Date`. A filtered body's type is now sluice's rendering (a
/// registered name, a canonical charset label), and a push carries the system's other fields
/// only where the route names them.
#[tokio::test]
async fn the_institutions_header_text_does_not_reach_a_partner() {
    const ID: &str = "110101199003077777";
    let dir = pki("header-text", &["acme-loans", "safe-insure"]);
    // The institution answers each applicant with another type (by the id in the path).
    let typed = |req: &http::Request<hyper::body::Incoming>| MockResponse {
        status: 200,
        content_type: match req.uri().path() {
            "/v1/applicants/1" => "application/vnd.110101199003077777+json",
            "/v1/applicants/2" => "Application/JSON ; Charset=\"UTF-8\"",
            "/v1/applicants/3" => "application/problem+json",
            _ => "application/json;charset=GB2312",
        },
        encoding: None,
        delay_ms: 0,
        body: Chunks::new(br#"{"applicants":[]}"#, 64, false),
    };
    let (inst, _) = mock_http(std::sync::Arc::new(typed)).await;
    let (partner_api, recorded) = mock_https(&dir, json_mock(br#"{"accepted":true}"#)).await;
    // The push route names `x-batch`: the contract's choice, which crosses as written.
    let named = |names: &str| {
        with_route_keys(
            &example_policy(),
            "/v2/policies",
            &[&format!("headers  = [{names}]")],
        )
    };
    let sluice = start_sluice(&dir, inst, partner_api, &named("\"x-batch\"")).await;
    let partners = sluice.addr("partners").unwrap().port();
    let internal = sluice.addr("internal").unwrap().port();
    for h2 in [false, true] {
        let acme = client(
            &dir,
            Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
            h2,
        );
        for (id, expected) in [
            (1, "application/json"),
            (2, "application/json; charset=utf-8"),
            (3, "application/problem+json"),
            (4, "application/json; charset=gbk"),
        ] {
            let req = Request::get(format!("https://localhost:{partners}/v1/applicants/{id}"))
                .body(Full::new(Bytes::new()))
                .unwrap();
            let resp = acme.request(req).await.unwrap();
            assert_eq!(resp.status(), 200, "h2 {h2}, applicant {id}");
            assert_eq!(resp.headers()["content-type"], expected, "h2 {h2}");
            let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
        }
        let system = client(&dir, Some(("institution.pem", "institution.key")), h2);
        let mut push = push_to(internal);
        let h = push.headers_mut();
        h.insert(
            "content-type",
            "application/vnd.110101199003077777+json".parse().unwrap(),
        );
        h.insert("accept", format!("application/x-{ID}").parse().unwrap());
        h.insert("date", ID.parse().unwrap());
        h.insert("x-batch", "B-7".parse().unwrap());
        assert_eq!(system.request(push).await.unwrap().status(), 200, "h2 {h2}");
        let sent = recorded.requests();
        let sent = &sent.last().unwrap().2;
        assert_eq!(sent["content-type"], "application/json", "h2 {h2}");
        assert_eq!(sent["x-batch"], "B-7", "h2 {h2}");
        for (name, value) in sent {
            let value = String::from_utf8_lossy(value.as_bytes());
            assert!(!value.contains(ID), "h2 {h2}: {name}: {value} went out");
        }
    }
    sluice.shutdown().await;
}

/// A header the route names crossed as written whatever it held; a route can now give it a rule
/// (`headers` as a table), and a value that fails it does not cross: a push is refused before
/// the partner is called, a pull's answer is not sent (502, as for a body that breaks the
/// contract).
#[tokio::test]
async fn a_named_headers_value_crosses_only_through_its_rule() {
    const ID: &str = "11010519491231002X";
    let dir = pki("header-rules", &["acme-loans", "safe-insure"]);
    // The institution answers every pull with the page token its path ends in (raw HTTP/1.1).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let inst = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = tcp.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                    while let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        let text = String::from_utf8_lossy(&head[..end]).into_owned();
                        head.drain(..end + 4);
                        let path = text.split(' ').nth(1).unwrap_or("/").to_string();
                        let tag = path.rsplit('/').next().unwrap_or("");
                        let body = br#"{"applicants":[]}"#;
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-page-token: {tag}\r\n\r\n",
                            body.len()
                        );
                        if tcp.write_all(resp.as_bytes()).await.is_err()
                            || tcp.write_all(body).await.is_err()
                        {
                            return;
                        }
                    }
                }
            });
        }
    });
    let (partner_api, recorded) = mock_https(&dir, json_mock(br#"{"accepted":true}"#)).await;
    let policy = with_route_keys(
        &example_policy(),
        "/v2/policies",
        &["headers  = { x-batch = { keep = \"string\", pattern = \"B-[0-9]+\" } }"],
    );
    let policy = with_route_keys(
        &policy,
        "/v1/applicants/{id}",
        &["headers  = { x-page-token = { keep = \"string\", pattern = \"[0-9a-f]{8}\" } }"],
    );
    let sluice = start_sluice(&dir, inst, partner_api, &policy).await;
    let partners = sluice.addr("partners").unwrap().port();
    let internal = sluice.addr("internal").unwrap().port();
    for h2 in [false, true] {
        let acme = client(
            &dir,
            Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
            h2,
        );
        let get = |tail: &str| {
            Request::get(format!("https://localhost:{partners}/v1/applicants/{tail}"))
                .body(Full::new(Bytes::new()))
                .unwrap()
        };
        let (status, headers, _) = fetch(&acme, get("0a1b2c3d")).await;
        assert_eq!(status, 200, "h2 {h2}");
        assert_eq!(headers["x-page-token"], "0a1b2c3d", "h2 {h2}");
        let (status, headers, body) = fetch(&acme, get(ID)).await;
        let body = String::from_utf8_lossy(&body.unwrap()).into_owned();
        assert_eq!(status, 502, "h2 {h2}: {body}");
        assert!(body.contains("response_violation"), "{body}");
        assert!(
            !body.contains(ID) && headers.get("x-page-token").is_none(),
            "{body}"
        );

        let system = client(&dir, Some(("institution.pem", "institution.key")), h2);
        let before = recorded.requests().len();
        let mut push = push_to(internal);
        push.headers_mut().insert("x-batch", "B-7".parse().unwrap());
        assert_eq!(fetch(&system, push).await.0, 200, "h2 {h2}");
        assert_eq!(recorded.requests().last().unwrap().2["x-batch"], "B-7");
        let mut push = push_to(internal);
        push.headers_mut().insert("x-batch", ID.parse().unwrap());
        let (status, _, body) = fetch(&system, push).await;
        let body = String::from_utf8_lossy(&body.unwrap()).into_owned();
        assert_eq!(status, 422, "h2 {h2}: {body}");
        assert!(
            body.contains("pattern_mismatch at header x-batch"),
            "{body}"
        );
        assert!(!body.contains(ID), "{body}");
        assert_eq!(
            recorded.requests().len(),
            before + 1,
            "the partner was called"
        );
    }
    // What crossed is in the ledger: the keyed hash of each named field as sent, beside the
    // target's (the partner got an id number in no header, so none was recorded with one).
    let ds = disclosures_when(&dir.join("ledger"), |ds| {
        ds.len() == 4 && ds.iter().all(|(v, _, _)| v["outcome"] != "open")
    })
    .await;
    let key = sluice::keys::read_key_file(&dir.join("hash.key")).unwrap();
    let key = sluice_policy::pseudonym::SubjectKey::derive(&key);
    let want =
        |name: &str, value: &[u8]| sluice_policy::hex::hex(&key.headers_hash([(name, value)]));
    let hashes: Vec<(String, String)> = ds
        .iter()
        .map(|(v, _, _)| {
            let flow = v["flow"].as_str().unwrap().to_string();
            (flow, v["headers_hmac"].as_str().unwrap_or("").to_string())
        })
        .collect();
    for (flow, hash) in &hashes {
        let expected = match flow.as_str() {
            "pull" => want("x-page-token", b"0a1b2c3d"),
            _ => want("x-batch", b"B-7"),
        };
        assert_eq!(hash, &expected, "{flow}: {hashes:?}");
    }
    sluice.shutdown().await;
}
