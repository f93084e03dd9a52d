//! Connection lifetimes and limits over real mTLS (issue 28, findings 2 and 3): idle and
//! never-used connections are closed, one partner cannot hold every connection of a listener
//! or starve another partner or the internal listener, a connection whose certificate is revoked
//! is closed at reload, and a partner that never opens its HTTP/2 window cannot pin an upstream
//! request: the stream ends after `send_timeout_ms`, the upstream is released and the ledger
//! says `send_timeout`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use sluice_tests::harness::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACME: (&str, &str) = ("partners/acme-loans.pem", "partners/acme-loans.key");
const SAFE: (&str, &str) = ("partners/safe-insure.pem", "partners/safe-insure.key");
const GET: &[u8] = b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\n\r\n";

/// Reads until the server closes (`Some(bytes)`) or `wait` passes (`None`).
async fn until_closed<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    wait: Duration,
) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| out)
}

/// One HTTP/1.1 request on an open connection; the response head and body as text.
async fn ask<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    req: &[u8],
) -> String {
    if s.write_all(req).await.is_err() {
        return String::new();
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&out);
                    if text.contains("\r\n\r\n")
                        && (text.ends_with("\r\n0\r\n\r\n") || text.ends_with('}'))
                    {
                        break;
                    }
                }
            }
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A development PKI for `partners`, a mock partner API, and sluice with `limits` in front of
/// the institution at `institution`.
async fn start(
    name: &str,
    partners: &[&str],
    institution: SocketAddr,
    limits: &str,
) -> (std::path::PathBuf, sluice::server::Running) {
    let dir = pki(name, partners);
    let (partner, _) = mock_https(&dir, json_mock(b"{}")).await;
    let sluice = start_sluice_with(&dir, institution, partner, &example_policy(), limits, "").await;
    (dir, sluice)
}

#[tokio::test]
async fn idle_connections_are_closed_whether_or_not_they_sent_a_request() {
    let (inst, _) = mock_http(json_mock(br#"{"applicants":[]}"#)).await;
    let (dir, sluice) = start("conn-idle", &["acme-loans"], inst, "idle_timeout_ms = 300").await;
    let addr = sluice.addr("partners").unwrap();
    // HTTP/1.1, handshake only, no request: closed (it used to live for ever).
    let mut quiet = tls_connect_as(&dir, ACME, addr).await;
    assert!(
        until_closed(&mut quiet, Duration::from_secs(5))
            .await
            .is_some(),
        "a silent connection stayed open"
    );
    // After one request, idle again: closed.
    let mut used = tls_connect_as(&dir, ACME, addr).await;
    assert!(ask(&mut used, GET).await.starts_with("HTTP/1.1 200"));
    assert!(
        until_closed(&mut used, Duration::from_secs(5))
            .await
            .is_some(),
        "an idle keep-alive connection stayed open"
    );
    // HTTP/2: the connection preface and nothing else: GOAWAY, then closed.
    let mut h2 = h2_connect(&dir, ACME, addr).await;
    h2.write_all(PREFACE).await.unwrap();
    h2.write_all(&frame(4, 0, 0, &[])).await.unwrap();
    let got = until_closed(&mut h2, Duration::from_secs(5))
        .await
        .expect("an idle h2 connection stayed open");
    assert!(
        frames(&got).iter().any(|f| f.0 == 7),
        "no GOAWAY before the close"
    );
}

#[tokio::test]
async fn one_partner_cannot_hold_every_connection() {
    let (inst, recorder) = mock_http(json_mock(br#"{"applicants":[]}"#)).await;
    let limits = "max_connections = 3\nmax_connections_per_partner = 2";
    let (dir, sluice) = start("conn-caps", &["acme-loans", "safe-insure"], inst, limits).await;
    let addr = sluice.addr("partners").unwrap();
    // acme-loans holds its two connections, idle.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = tls_connect_as(&dir, ACME, addr).await;
        assert!(ask(&mut c, GET).await.starts_with("HTTP/1.1 200"));
        held.push(c);
    }
    // A third one is refused with a reason, and the institution is not called.
    let before = recorder.requests().len();
    let mut third = tls_connect_as(&dir, ACME, addr).await;
    let resp = ask(&mut third, GET).await;
    assert!(resp.starts_with("HTTP/1.1 503"), "{resp}");
    assert!(resp.contains(r#""error":"connection_limit""#), "{resp}");
    assert_eq!(recorder.requests().len(), before);
    drop(third);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Another partner still gets in (its contract has no pull route: 403, not a dropped socket).
    let mut other = tls_connect_as(&dir, SAFE, addr).await;
    let resp = ask(&mut other, GET).await;
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");
    // The partner listener is now full (3); the internal listener has its own cap.
    let internal = sluice.addr("internal").unwrap();
    let push = client(&dir, Some(("institution.pem", "institution.key")), true);
    let req = Request::post(format!("https://localhost:{}/v2/policies", internal.port()))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(br#"{"policies":[]}"#)))
        .unwrap();
    let (status, _, body) = fetch(&push, req).await;
    assert_eq!(status, 200, "{body:?}");
    // A freed slot is usable again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = tls_connect_as(&dir, ACME, addr).await;
    assert!(ask(&mut again, GET).await.starts_with("HTTP/1.1 200"));
}

/// The institution: a response head after 1.5 s on `/v1/applicants/slow`, a body that stalls
/// after its first record on `/v1/applicants/stalled`, an answer at once otherwise.
fn slow_or_stalled() -> Handler {
    Arc::new(|req| {
        let path = req.uri().path();
        MockResponse {
            status: 200,
            content_type: "application/json",
            encoding: None,
            delay_ms: if path.ends_with("/slow") { 1500 } else { 0 },
            body: if path.ends_with("/stalled") {
                Chunks::stalling(
                    br#"{"applicants":[{"applicant_no":"LA20260001","credit_score":700},"#,
                    16,
                )
            } else {
                Chunks::new(br#"{"applicants":[]}"#, 64, false)
            },
        }
    })
}

#[tokio::test]
async fn one_partner_cannot_hold_every_request_in_flight() {
    let (inst, institution) = mock_http(slow_or_stalled()).await;
    let dir = pki("in-flight-shares", &["acme-loans", "safe-insure"]);
    let (partner, partner_api) = mock_https(&dir, json_mock(b"{}")).await;
    let limits = "max_in_flight = 4\nmax_in_flight_per_partner = 2";
    let stall = "body_stall_timeout_ms = 1500";
    let policy = example_policy();
    let sluice = start_sluice_with(&dir, inst, partner, &policy, limits, stall).await;
    let port = sluice.addr("partners").unwrap().port();
    let acme = client(&dir, Some(ACME), true);
    let get = |path: &str| {
        Request::get(format!("https://localhost:{port}/v1/applicants/{path}"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let push = || {
        let internal = sluice.addr("internal").unwrap().port();
        let c = client(&dir, Some(("institution.pem", "institution.key")), true);
        let req = Request::post(format!("https://localhost:{internal}/v2/policies"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(br#"{"policies":[]}"#)))
            .unwrap();
        async move { fetch(&c, req).await }
    };
    let refused_for_its_share = |(status, headers, body): &(u16, http::HeaderMap, _)| {
        let body: &Result<Vec<u8>, String> = body;
        let v: serde_json::Value = serde_json::from_slice(body.as_ref().unwrap()).unwrap();
        *status == 503 && v["error"] == "in_flight_limit" && headers["retry-after"] == "1"
    };

    // acme-loans asks for as many slow answers as the whole process may serve at once: two are
    // served, two refused at once, and the institution sees only the two.
    let slow: Vec<_> = (0..4)
        .map(|_| tokio::spawn(fetch_owned(acme.clone(), get("slow"))))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A push to another partner still goes out (it was refused `503 overloaded` before
    // partners had shares).
    let (status, _, body) = push().await;
    let body = String::from_utf8_lossy(body.as_deref().unwrap_or_default()).into_owned();
    assert_eq!(status, 200, "{body}");
    assert_eq!(partner_api.requests().len(), 1);
    let mut answers = Vec::new();
    for s in slow {
        answers.push(s.await.unwrap());
    }
    assert_eq!(answers.iter().filter(|a| a.0 == 200).count(), 2);
    assert_eq!(
        answers.iter().filter(|a| refused_for_its_share(a)).count(),
        2
    );
    assert_eq!(
        institution.requests().len(),
        2,
        "a refused request reached the institution"
    );

    // A request holds its place until its body ends, not only until its head: two responses
    // whose bodies stall keep acme-loans' share full...
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let resp = acme.request(get("stalled")).await.unwrap();
        assert_eq!(resp.status(), 200);
        stalled.push(resp);
    }
    assert!(refused_for_its_share(&fetch(&acme, get("1")).await));
    // ...until the upstream's stall timeout cuts them; then the share is free again.
    for resp in stalled {
        assert!(
            resp.into_body().collect().await.is_err(),
            "a stalled body ended"
        );
    }
    assert_eq!(fetch(&acme, get("1")).await.0, 200);
    sluice.shutdown().await;
}

async fn fetch_owned(
    c: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Full<Bytes>,
    >,
    req: Request<Full<Bytes>>,
) -> (u16, http::HeaderMap, Result<Vec<u8>, String>) {
    fetch(&c, req).await
}

#[tokio::test]
async fn one_source_that_never_finishes_its_handshakes_cannot_fill_a_listener() {
    // Before any certificate names anyone, a connection holds a place in its listener's cap
    // for up to `header_read_timeout_ms`. A host that opened connections and never sent a
    // ClientHello held every place (here 8), and no partner got in: each source address now has
    // only so many handshakes in progress (here 4); more are closed at accept.
    let (inst, _) = mock_http(json_mock(br#"{"applicants":[]}"#)).await;
    let limits =
        "max_connections = 8\nmax_connections_per_partner = 8\nmax_handshakes_per_source = 4";
    let (dir, sluice) = start("handshakes-per-source", &["acme-loans"], inst, limits).await;
    let addr = sluice.addr("partners").unwrap();
    let mut silent = Vec::new();
    for _ in 0..8 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        silent.push(socket.connect(addr).await.unwrap());
    }
    let mut closed = 0;
    for s in &mut silent {
        if until_closed(s, Duration::from_millis(500)).await.is_some() {
            closed += 1;
        }
    }
    assert_eq!(
        closed, 4,
        "the handshakes over the source's limit are closed at once"
    );
    // A partner from another address gets in.
    let mut c = tls_connect_as(&dir, ACME, addr).await;
    assert!(ask(&mut c, GET).await.starts_with("HTTP/1.1 200"));
    sluice.shutdown().await;
}

#[tokio::test]
async fn a_revoked_partners_open_connection_is_closed_at_reload() {
    let (inst, recorder) = mock_http(json_mock(br#"{"applicants":[]}"#)).await;
    let (dir, sluice) = start("conn-revoked", &["acme-loans"], inst, "").await;
    let addr = sluice.addr("partners").unwrap();
    let mut h1 = tls_connect_as(&dir, ACME, addr).await;
    assert!(ask(&mut h1, GET).await.starts_with("HTTP/1.1 200"));
    let mut h2 = h2_connect(&dir, ACME, addr).await;
    h2.write_all(PREFACE).await.unwrap();
    h2.write_all(&frame(4, 0, 0, &[])).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = recorder.requests().len();
    sluice_certs::devpki::revoke(&dir, "acme-loans").unwrap();
    let said = sluice.shared().reload().unwrap();
    assert!(
        said.contains("2 connection(s) no longer trusted closed"),
        "{said}"
    );
    // Both are closed (HTTP/2 with a GOAWAY first); a request on the old HTTP/1.1 one is never
    // served.
    let got = until_closed(&mut h2, Duration::from_secs(5))
        .await
        .expect("h2 stayed open");
    assert!(frames(&got).iter().any(|f| f.0 == 7), "no GOAWAY");
    let resp = ask(&mut h1, GET).await;
    assert!(!resp.contains("200 OK"), "served after revocation: {resp}");
    assert_eq!(recorder.requests().len(), before);
}

/// A raw upstream that streams records for ever (up to 30 s), and notes when sluice lets go of
/// the response (a write fails).
async fn endless_upstream() -> (SocketAddr, Arc<AtomicBool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let released = Arc::new(AtomicBool::new(false));
    let flag = released.clone();
    tokio::spawn(async move {
        let Ok((mut tcp, _)) = listener.accept().await else {
            return;
        };
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let start = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        let record = format!(r#"{{"remarks":"{}"}},"#, "x".repeat(400));
        let first = format!("{{\"applicants\":[{record}");
        let chunk = |s: &str| format!("{:x}\r\n{s}\r\n", s.len());
        if tcp.write_all(start).await.is_err()
            || tcp.write_all(chunk(&first).as_bytes()).await.is_err()
        {
            flag.store(true, Ordering::SeqCst);
            return;
        }
        for _ in 0..3000 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if tcp.write_all(chunk(&record).as_bytes()).await.is_err() {
                flag.store(true, Ordering::SeqCst);
                return;
            }
        }
    });
    (addr, released)
}

#[tokio::test]
async fn a_stream_whose_window_never_opens_is_ended_and_the_upstream_released() {
    let (inst, released) = endless_upstream().await;
    let (dir, sluice) = start(
        "conn-send-timeout",
        &["acme-loans"],
        inst,
        "send_timeout_ms = 500",
    )
    .await;
    let addr = sluice.addr("partners").unwrap();
    let mut h2 = h2_connect(&dir, ACME, addr).await;
    h2.write_all(PREFACE).await.unwrap();
    // SETTINGS_INITIAL_WINDOW_SIZE = 0: no stream may carry DATA until a WINDOW_UPDATE.
    h2.write_all(&frame(4, 0, 0, &[0, 4, 0, 0, 0, 0]))
        .await
        .unwrap();
    h2.write_all(&frame(1, 0x5, 1, &get_headers("/v1/applicants/1", addr)))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 16384];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match h2.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    seen.extend_from_slice(&buf[..n]);
                    for (kind, flags, _) in frames(&seen[seen.len() - n..]) {
                        if kind == 4 && flags & 1 == 0 {
                            let _ = h2.write_all(&frame(4, 1, 0, &[])).await; // SETTINGS ACK
                        }
                    }
                }
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the connection was still open after 10 s");
    let kinds: Vec<u8> = frames(&seen).iter().map(|f| f.0).collect();
    assert!(kinds.contains(&1), "no response HEADERS: {kinds:?}");
    assert!(
        !kinds.contains(&0),
        "DATA sent into a zero window: {kinds:?}"
    );
    for _ in 0..100 {
        if released.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        released.load(Ordering::SeqCst),
        "the upstream response is still pinned"
    );
    let found = disclosures_when(&dir.join("ledger"), |d| {
        d.iter().all(|(v, _, _)| v["outcome"] != "open")
    })
    .await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0["outcome"], "send_timeout", "{:?}", found[0].0);
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// (type, flags, stream) of every whole frame in `bytes`.
fn frames(bytes: &[u8]) -> Vec<(u8, u8, u32)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 9 {
        let len = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]) as usize;
        out.push((
            rest[3],
            rest[4],
            u32::from_be_bytes([rest[5] & 0x7f, rest[6], rest[7], rest[8]]),
        ));
        rest = &rest[(9 + len).min(rest.len())..];
    }
    out
}

/// An HPACK header block for `GET https://localhost:PORT{path}` (static-table names, literal
/// values without Huffman coding).
fn get_headers(path: &str, addr: SocketAddr) -> Vec<u8> {
    let mut b = vec![0x82, 0x87]; // :method GET, :scheme https
    for (index, value) in [
        (0x04u8, path.to_string()),
        (0x01, format!("localhost:{}", addr.port())),
    ] {
        b.push(index);
        b.push(value.len() as u8);
        b.extend_from_slice(value.as_bytes());
    }
    b
}

/// A TLS connection that negotiates `h2` by ALPN, presenting `identity`.
async fn h2_connect(
    dir: &std::path::Path,
    identity: (&str, &str),
    addr: SocketAddr,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    tls_connect_alpn(dir, identity, addr, b"h2").await
}

#[tokio::test]
async fn the_servers_http2_settings_carry_the_configured_limits() {
    // What a partner's HTTP/2 client is told: `max_streams_per_connection` as
    // SETTINGS_MAX_CONCURRENT_STREAMS (0x3), `max_header_bytes` as SETTINGS_MAX_HEADER_LIST_SIZE
    // (0x6; hyper's fixed 16 KiB before).
    let (inst, _) = mock_http(json_mock(b"{}")).await;
    let (dir, sluice) = start(
        "conn-h2-settings",
        &["acme-loans"],
        inst,
        "max_streams_per_connection = 7\nmax_header_bytes = 20000",
    )
    .await;
    let mut h2 = h2_connect(&dir, ACME, sluice.addr("partners").unwrap()).await;
    h2.write_all(PREFACE).await.unwrap();
    h2.write_all(&frame(4, 0, 0, &[])).await.unwrap();
    // The server's first frame is its SETTINGS.
    let mut head = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(5), h2.read_exact(&mut head))
        .await
        .expect("the server's SETTINGS in time")
        .unwrap();
    assert_eq!((head[3], head[4]), (4, 0), "a SETTINGS frame: {head:?}");
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    h2.read_exact(&mut payload).await.unwrap();
    let settings: Vec<(u16, u32)> = payload
        .chunks_exact(6)
        .map(|s| {
            (
                u16::from_be_bytes([s[0], s[1]]),
                u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
            )
        })
        .collect();
    assert!(settings.contains(&(0x3, 7)), "{settings:?}");
    assert!(settings.contains(&(0x6, 20000)), "{settings:?}");
    sluice.shutdown().await;
}
