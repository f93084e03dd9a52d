//! Faults at the edges of a connection: thousands of idle connections that never start TLS, and a
//! client that trickles its request head. Sluice keeps serving real partners meanwhile, and closes
//! both kinds once `header_read_timeout` passes; and an upstream that stalls in the middle of a
//! body is cut after `body_stall_timeout_ms`, the partner never getting a complete message.
//! (Upstream resets and slow readers are in `proxy.rs`, upstreams that never answer in
//! `reasons.rs`, ledger faults in `ledger_faults.rs`, SIGKILL in `proxy/tests/crash.rs`.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_tests::harness::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACME: Option<(&str, &str)> = Some(("partners/acme-loans.pem", "partners/acme-loans.key"));

fn institution() -> Handler {
    json_mock(br#"{"applicants":[{"applicant_no":"LA20260001","credit_score":700}]}"#)
}

/// The soft limit on open files, to size the idle crowd (each idle connection costs this process
/// and sluice one descriptor each).
fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        })
        .unwrap_or(1024)
}

#[tokio::test]
async fn thousands_of_idle_connections_neither_block_partners_nor_stay_open() {
    let idle = 5000.min(open_file_limit().saturating_sub(200) / 2);
    let dir = pki("faults-idle", &["acme-loans"]);
    let (inst, _) = mock_http(institution()).await;
    let (partner, _) = mock_http(institution()).await;
    // The crowd stands for many hosts; here they all share the partner's loopback address, so
    // the per-source handshake cap (tested in `connections.rs`) is lifted out of the way.
    let extras = Extras {
        limits: "max_connections = 6000\nmax_handshakes_per_source = 6000\nheader_read_timeout_ms = 1500",
        ..Extras::default()
    };
    let sluice = start_sluice_extras(&dir, inst, partner, &example_policy(), &extras).await;
    let addr = sluice.addr("partners").unwrap();
    let mut crowd = Vec::with_capacity(idle);
    for _ in 0..idle {
        crowd.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let opened = Instant::now();
    // A real partner is served while the crowd holds its connections.
    let (status, _, body) = fetch(
        &client(&dir, ACME, false),
        Request::get(format!("https://localhost:{}/v1/applicants/1", addr.port()))
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{idle} idle connections: {body:?}");
    assert!(
        opened.elapsed() < Duration::from_millis(1500),
        "served before the deadline"
    );
    // After the handshake deadline every idle connection has been closed by sluice.
    let mut closed = 0;
    for mut c in crowd {
        let mut b = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_secs(10), c.read(&mut b)).await
        {
            closed += 1;
        }
    }
    assert_eq!(
        closed, idle,
        "idle connections closed by the handshake deadline"
    );
    sluice.shutdown().await;
}

#[tokio::test]
async fn a_request_head_trickled_byte_by_byte_is_cut_at_the_deadline() {
    let dir = pki("faults-slow", &["acme-loans"]);
    let (inst, recorder) = mock_http(institution()).await;
    let (partner, _) = mock_http(institution()).await;
    let extras = Extras {
        limits: "header_read_timeout_ms = 1000",
        ..Extras::default()
    };
    let sluice = start_sluice_extras(&dir, inst, partner, &example_policy(), &extras).await;
    let addr = sluice.addr("partners").unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    // One byte every 200 ms: a full head would take far longer than the deadline.
    let head = b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let dir2 = dir.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let answer = trickle(&dir2, addr, head).await;
        let _ = tx.send((started.elapsed(), answer));
    });
    let (elapsed, answer) = tokio::time::timeout(Duration::from_secs(15), rx)
        .await
        .expect("the slow client was cut off")
        .unwrap();
    assert!(elapsed < Duration::from_secs(10), "cut after {elapsed:?}");
    let text = String::from_utf8_lossy(&answer);
    assert!(!text.contains("200 OK"), "{text}");
    assert!(
        recorder.requests().is_empty(),
        "nothing reached the institution"
    );
    sluice.shutdown().await;
}

/// Completes TLS (acme-loans), then writes `head` one byte every 200 ms until the server closes;
/// returns what it answered.
async fn trickle(dir: &std::path::Path, addr: std::net::SocketAddr, head: &[u8]) -> Vec<u8> {
    let mut tls = tls_connect_as(
        dir,
        ("partners/acme-loans.pem", "partners/acme-loans.key"),
        addr,
    )
    .await;
    for b in head {
        if tls.write_all(&[*b]).await.is_err() || tls.flush().await.is_err() {
            break;
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(200), tls.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Vec::new(),
            Ok(Ok(n)) => return buf[..n].to_vec(),
            Err(_) => {}
        }
    }
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut rest)).await;
    rest
}

#[tokio::test]
async fn an_upstream_that_stalls_mid_body_is_cut_and_recorded() {
    let dir = pki("faults-stall", &["acme-loans"]);
    let handler: Handler = Arc::new(|_| MockResponse {
        status: 200,
        content_type: "application/json",
        encoding: None,
        delay_ms: 0,
        body: Chunks::stalling(
            br#"{"applicants":[{"applicant_no":"LA20260001","credit_score":700},"#,
            16,
        ),
    });
    let (inst, _) = mock_http(handler).await;
    let (partner, _) = mock_http(institution()).await;
    let sluice = start_sluice_with(
        &dir,
        inst,
        partner,
        &example_policy(),
        "",
        "body_stall_timeout_ms = 300",
    )
    .await;
    let port = sluice.addr("partners").unwrap().port();
    let started = Instant::now();
    let (status, _, body) = tokio::time::timeout(
        Duration::from_secs(20),
        fetch(
            &client(&dir, ACME, false),
            Request::get(format!("https://localhost:{port}/v1/applicants/1"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        ),
    )
    .await
    .expect("the stalled response ends");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The head went out with the first filtered bytes; the rest never completes.
    assert!(
        status == 200 && body.is_err() || status == 502,
        "{status} {body:?}"
    );
    let ledger = dir.join("ledger");
    // "open" until the end entry is written.
    let first = disclosures_when(&ledger, |ds| {
        ds.first().is_some_and(|(v, _, _)| v["outcome"] != "open")
    })
    .await;
    let outcome = first
        .first()
        .and_then(|(v, _, _)| v["outcome"].as_str())
        .unwrap_or("");
    assert_eq!(outcome, "upstream_error");
    sluice.shutdown().await;
}

/// Writes `request` on `tls` and returns what comes back until the answer pauses for 500 ms (or
/// the connection closes).
async fn exchange(
    tls: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    request: &[u8],
) -> String {
    if tls.write_all(request).await.is_err() || tls.flush().await.is_err() {
        return String::new();
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n @ 1..)) =
        tokio::time::timeout(Duration::from_millis(500), tls.read(&mut buf)).await
    {
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// sluice with a 300 ms head deadline (`name` names its PKI), and an mTLS HTTP/1.1 connection to
/// it that has sent nothing yet.
async fn head_deadline_of_300_ms(
    name: &str,
) -> (
    sluice::server::Running,
    Recorder,
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
) {
    let dir = pki(name, &["acme-loans"]);
    let (inst, recorder) = mock_http(institution()).await;
    let (partner, _) = mock_http(institution()).await;
    let extras = Extras {
        limits: "header_read_timeout_ms = 300",
        ..Extras::default()
    };
    let sluice = start_sluice_extras(&dir, inst, partner, &example_policy(), &extras).await;
    let addr = sluice.addr("partners").unwrap();
    let tls = tls_connect_as(
        &dir,
        ("partners/acme-loans.pem", "partners/acme-loans.key"),
        addr,
    )
    .await;
    (sluice, recorder, tls)
}

#[tokio::test]
async fn a_keep_alive_connection_idle_between_requests_outlives_the_head_deadline() {
    // `header_read_timeout` bounds sending a request head (and the first one after the
    // handshake), not the pause between requests, which `idle_timeout_ms` (60 s) bounds.
    let (sluice, recorder, mut tls) = head_deadline_of_300_ms("faults-keepalive").await;
    let get = b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let first = exchange(&mut tls, get).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = exchange(&mut tls, get).await;
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    assert_eq!(recorder.requests().len(), 2);
    sluice.shutdown().await;
}

#[tokio::test]
async fn a_connection_that_sends_no_request_is_closed_at_the_head_deadline() {
    let (sluice, recorder, mut tls) = head_deadline_of_300_ms("faults-silent").await;
    // Closed by the head deadline, long before the idle limit (60 s): bounded wait.
    let mut b = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut b)).await;
    assert!(
        matches!(closed, Ok(Ok(0) | Err(_))),
        "still open: {closed:?}"
    );
    assert!(recorder.requests().is_empty());
    sluice.shutdown().await;
}

#[tokio::test]
async fn the_head_size_limit_holds_over_http1_and_http2_alike() {
    // HTTP/2 kept hyper's fixed 16 KiB whatever `max_header_bytes` said: a stricter limit let
    // larger heads in over HTTP/2, a looser one refused them. Each case: the limit, a header
    // value that fits, one that does not.
    for (limit, fits, too_big) in [(8192, 4_000, 12_000), (32768, 20_000, 40_000)] {
        let dir = pki(&format!("faults-head-size-{limit}"), &["acme-loans"]);
        let (inst, recorder) = mock_http(institution()).await;
        let (partner, _) = mock_http(institution()).await;
        let limits = format!("max_header_bytes = {limit}");
        let extras = Extras {
            limits: &limits,
            ..Extras::default()
        };
        let sluice = start_sluice_extras(&dir, inst, partner, &example_policy(), &extras).await;
        let port = sluice.addr("partners").unwrap().port();
        let get = |pad: usize| {
            Request::get(format!("https://localhost:{port}/v1/applicants/1"))
                .header("x-pad", "a".repeat(pad))
                .body(Full::new(Bytes::new()))
                .unwrap()
        };
        for h2 in [false, true] {
            let c = client(&dir, ACME, h2);
            let (status, _, body) = fetch(&c, get(fits)).await;
            assert_eq!(status, 200, "limit {limit}, h2 {h2}: {body:?}");
            let refused = c.request(get(too_big)).await.map(|r| r.status());
            assert!(
                !matches!(refused, Ok(s) if s.is_success()),
                "limit {limit}, h2 {h2}: {refused:?}"
            );
        }
        assert_eq!(
            recorder.requests().len(),
            2,
            "limit {limit}: only the heads that fit reached the institution"
        );
        sluice.shutdown().await;
    }
}
