//! Message framing attacks over a raw TLS socket (no HTTP client library to tidy them up): every
//! ambiguous or forbidden framing is refused, and nothing smuggled reaches the institution.

use sluice_tests::harness::*;

async fn raw(dir: &std::path::Path, addr: std::net::SocketAddr, request: &[u8]) -> String {
    let out = raw_tls(dir, addr, request, std::time::Duration::from_secs(5)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn institution() -> Handler {
    json_mock(br#"{"applicants":[]}"#)
}

#[tokio::test]
async fn ambiguous_framing_is_refused_and_nothing_is_smuggled() {
    let dir = pki("framing", &["acme-loans"]);
    let (inst, recorder) = mock_http(institution()).await;
    let (partner, _) = mock_https(&dir, institution()).await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    let addr = sluice.addr("partners").unwrap();
    let cases: &[(&str, &[u8])] = &[
        ("CL+TE", b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("CL+TE smuggling", b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 48\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/applicants/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("duplicate CL", b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n"),
        ("differing CL", b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nContent-Length: 3\r\n\r\nabc"),
        ("TE chunked, chunked", b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"),
        ("TE xchunked", b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
        ("TE identity", b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: identity\r\n\r\n"),
        ("CL plus sign", b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: +0\r\n\r\n"),
        ("obs-fold", b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nX-Note: a\r\n folded\r\n\r\n"),
        ("CONNECT", b"CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n"),
        ("Upgrade websocket", b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"),
        ("Upgrade h2c", b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"),
        ("NUL in header", b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nX-A: a\0b\r\n\r\n"),
    ];
    for (name, request) in cases {
        let before = recorder.requests().len();
        let resp = raw(&dir, addr, request).await;
        let status = resp.split(' ').nth(1).unwrap_or("");
        assert!(
            status.starts_with('4'),
            "{name}: expected a 4xx refusal, got {resp:?}"
        );
        assert_eq!(
            recorder.requests().len(),
            before,
            "{name}: the institution received a request"
        );
    }
    assert!(
        recorder
            .requests()
            .iter()
            .all(|r| !r.1.contains("smuggled"))
    );
    // A correct request on the same listener still works.
    let resp = raw(
        &dir,
        addr,
        b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

/// Empty lines before a request line, which hyper skips, once made the framing check count a
/// request of its own: every later request got its predecessor's verdict, so a smuggling
/// request reached the institution and the next clean one was refused (issue 28, finding 4).
#[tokio::test]
async fn a_prefix_hyper_skips_does_not_shift_framing_verdicts() {
    let dir = pki("framing-prefix", &["acme-loans"]);
    let (inst, recorder) = mock_http(institution()).await;
    let (partner, _) = mock_https(&dir, institution()).await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    let addr = sluice.addr("partners").unwrap();
    let bad: &[(&str, &str)] = &[
        (
            "duplicate CL",
            "GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
        ),
        (
            "CL+TE",
            "GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "bare LF",
            "GET /v1/applicants/1 HTTP/1.1\nHost: localhost\n\n",
        ),
    ];
    let clean = "GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let last = "GET /v1/applicants/2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    for prefix in ["\r\n", "\r\n\r\n", "\n", "\n\n", "\r\n\n\r\n"] {
        for (name, request) in bad {
            let before = recorder.requests().len();
            let resp = raw(&dir, addr, format!("{prefix}{request}").as_bytes()).await;
            assert!(
                resp.starts_with("HTTP/1.1 400"),
                "{prefix:?} {name}: expected 400, got {resp:?}"
            );
            assert_eq!(
                recorder.requests().len(),
                before,
                "{prefix:?} {name}: the institution received a request"
            );
        }
        // Clean requests after the same prefix, pipelined: each gets its own (good) verdict.
        let before = recorder.requests().len();
        let resp = raw(
            &dir,
            addr,
            format!("{prefix}{clean}{prefix}{last}").as_bytes(),
        )
        .await;
        assert_eq!(
            resp.matches("HTTP/1.1 200").count(),
            2,
            "{prefix:?}: expected two 200s, got {resp:?}"
        );
        assert_eq!(recorder.requests().len(), before + 2, "{prefix:?}");
    }
}

/// ALPN decides the protocol: HTTP/2 with prior knowledge on a connection that negotiated
/// `http/1.1` used to be served as HTTP/2, past the HTTP/1.1 framing checks; it is refused.
#[tokio::test]
async fn an_http2_preface_on_an_http1_connection_is_not_served() {
    let dir = pki("framing-prior-knowledge", &["acme-loans"]);
    let (inst, recorder) = mock_http(institution()).await;
    let (partner, _) = mock_https(&dir, institution()).await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    let addr = sluice.addr("partners").unwrap();
    // The preface, an empty SETTINGS frame, and a HEADERS frame for GET /v1/applicants/1.
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    let mut block = vec![0x82, 0x87, 0x04, 16];
    block.extend_from_slice(b"/v1/applicants/1");
    block.extend_from_slice(&[0x01, 9]);
    block.extend_from_slice(b"localhost");
    bytes.extend_from_slice(&[0, 0, block.len() as u8, 1, 5, 0, 0, 0, 1]);
    bytes.extend_from_slice(&block);
    let resp = raw(&dir, addr, &bytes).await;
    assert!(
        resp.is_empty() || resp.starts_with("HTTP/1.1 4") || resp.starts_with("HTTP/1.1 5"),
        "{resp:?}"
    );
    assert_eq!(recorder.requests().len(), 0, "the institution was called");
}

/// A request body on GET, HEAD or DELETE has no meaning (RFC 9110 §9.3.1, §9.3.2, §9.3.5), and
/// a server that ignores it without reading it reads the body as the next request on the
/// connection: a request no route allowed, sent on sluice's upstream connection, whose answer
/// sluice would take for the next request's. Such a body is refused before the institution is
/// called, however it is framed (`Content-Length` or chunked, HTTP/1.1 or HTTP/2 DATA frames);
/// an empty one (`Content-Length: 0`, or HTTP/2 headers followed by one empty DATA frame) is no
/// body. Before: forwarded with its `Content-Length` (HTTP/1.1; the institution answered 200), or
/// dropped unseen (HTTP/2, no length).
#[tokio::test]
async fn a_body_on_a_method_without_one_is_refused_and_never_reaches_the_institution() {
    let dir = pki("bodiless-methods", &["acme-loans"]);
    let (inst, recorder) = mock_http(institution()).await;
    let (partner, _) = mock_https(&dir, institution()).await;
    // HEAD and DELETE routes beside the example's GETs.
    let route = |method: &str, path: &str| {
        format!(
            "  [[contract.route]]\n  flow     = \"pull\"\n  method   = \"{method}\"\n  path     = \"{path}\"\n  upstream = \"institution\"\n\n"
        )
    };
    let policy = example_policy().replacen(
        "  [contract.fields]",
        &format!(
            "{}{}  [contract.fields]",
            route("HEAD", "/v1/applicants/{id}"),
            route("DELETE", "/v1/holds/{id}")
        ),
        1,
    );
    let sluice = start_sluice(&dir, inst, partner, &policy).await;
    let addr = sluice.addr("partners").unwrap();
    let smuggled = "GET /v1/employees HTTP/1.1\r\nHost: x\r\n\r\n";
    let cases = [
        format!(
            "GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{smuggled}",
            smuggled.len()
        ),
        format!(
            "GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{smuggled}\r\n0\r\n\r\n",
            smuggled.len()
        ),
        format!(
            "HEAD /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{smuggled}",
            smuggled.len()
        ),
        format!(
            "DELETE /v1/holds/1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{smuggled}",
            smuggled.len()
        ),
    ];
    for case in &cases {
        let answer = raw(&dir, addr, case.as_bytes()).await;
        assert!(
            answer.starts_with("HTTP/1.1 400")
                && (case.starts_with("HEAD") || answer.contains("body_not_allowed")),
            "{case:?} got {answer:?}"
        );
    }
    // HTTP/2: DATA frames after a GET's headers.
    let acme = client_for::<Chunks>(
        &dir,
        Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
        true,
    );
    let req = http::Request::get(format!("https://localhost:{}/v1/applicants/1", addr.port()))
        .body(Chunks::new(smuggled.as_bytes(), 8, false))
        .unwrap();
    let resp = acme.request(req).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        recorder.requests().is_empty(),
        "the institution was called: {:?}",
        recorder.requests()
    );
    // No body, or an empty one, is served.
    let empty = "GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    assert!(
        raw(&dir, addr, empty.as_bytes())
            .await
            .starts_with("HTTP/1.1 200")
    );
    let req = http::Request::get(format!("https://localhost:{}/v1/applicants/1", addr.port()))
        .body(Chunks::new(b"", 8, false))
        .unwrap();
    assert_eq!(acme.request(req).await.unwrap().status(), 200);
    assert_eq!(recorder.requests().len(), 2);
    sluice.shutdown().await;
}
