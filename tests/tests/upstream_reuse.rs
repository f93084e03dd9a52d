//! A partner's HTTP/1.1 connection keeps its own connection to the institution
//! (`proxy/src/upstream/sticky.rs`), over real mTLS: reused while it is open and fresh, replaced
//! when the institution closes it or it idled past `idle_timeout_ms`, a request the institution
//! never received is sent again on a new connection, and one it did receive is never resent.
//! The institution here is a raw TCP server, so what it sees (connections, request heads) is
//! exactly what went over the wire.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_tests::harness::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACME: (&str, &str) = ("partners/acme-loans.pem", "partners/acme-loans.key");
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\r\n{\"applicants\":[]}";

/// What the institution does after reading a request head.
#[derive(Debug, Clone, Copy, PartialEq)]
enum After {
    /// Answers and keeps the connection open.
    KeepOpen,
    /// Answers, then closes the connection without saying so (no `Connection: close`).
    CloseSilently,
    /// Answers the first request of a connection; closes on the second without answering.
    DropTheSecond,
}

/// The request heads the institution received, each with the number of its connection.
type Seen = Arc<Mutex<Vec<(usize, String)>>>;

/// The connections sluice closed (the institution read their end), by number.
type Closed = Arc<Mutex<Vec<usize>>>;

async fn institution(after: After) -> (SocketAddr, Seen) {
    let (addr, seen, _) = watched_institution(after).await;
    (addr, seen)
}

async fn watched_institution(after: After) -> (SocketAddr, Seen, Closed) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    let closed = Closed::default();
    let (record, ended) = (seen.clone(), closed.clone());
    tokio::spawn(async move {
        for conn in 0.. {
            let Ok((mut tcp, _)) = listener.accept().await else {
                break;
            };
            let (record, ended) = (record.clone(), ended.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                for nth in 0.. {
                    // GET requests: a head, no body.
                    let head = loop {
                        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head: Vec<u8> = buf.drain(..end + 4).collect();
                            break String::from_utf8(head).unwrap();
                        }
                        let mut chunk = [0u8; 4096];
                        match tcp.read(&mut chunk).await {
                            Ok(0) | Err(_) => {
                                ended.lock().unwrap().push(conn);
                                return;
                            }
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    record.lock().unwrap().push((conn, head));
                    if after == After::DropTheSecond && nth == 1 {
                        return;
                    }
                    if tcp.write_all(ANSWER).await.is_err() {
                        return;
                    }
                    if after == After::CloseSilently {
                        let _ = tcp.shutdown().await;
                        return;
                    }
                }
            });
        }
    });
    (addr, seen, closed)
}

/// sluice in front of `inst`, with extra lines for the institution's `[[upstream]]`.
async fn start(
    name: &str,
    inst: SocketAddr,
    upstream: &str,
) -> (std::path::PathBuf, sluice::server::Running) {
    let dir = pki(name, &["acme-loans"]);
    let (partner, _) = mock_https(&dir, json_mock(b"{}")).await;
    let sluice = start_sluice_with(&dir, inst, partner, &example_policy(), "", upstream).await;
    (dir, sluice)
}

fn get(sluice: &sluice::server::Running) -> Request<Full<Bytes>> {
    let port = sluice.addr("partners").unwrap().port();
    Request::get(format!("https://localhost:{port}/v1/applicants/1"))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

fn connections(seen: &Seen) -> Vec<usize> {
    seen.lock().unwrap().iter().map(|(c, _)| *c).collect()
}

#[tokio::test]
async fn a_partner_connection_reuses_its_institution_connection() {
    let (inst, seen) = institution(After::KeepOpen).await;
    let (dir, sluice) = start("reuse-keep", inst, "").await;
    let first = client(&dir, Some(ACME), false);
    for _ in 0..3 {
        assert_eq!(fetch(&first, get(&sluice)).await.0, 200);
    }
    assert_eq!(
        connections(&seen),
        [0, 0, 0],
        "one partner connection, one upstream connection"
    );
    // Origin form and the upstream's own Host, as the pool sends them.
    let head = seen.lock().unwrap()[0].1.to_ascii_lowercase();
    assert!(
        head.starts_with("get /v1/applicants/1 http/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains(&format!("\r\nhost: {inst}\r\n")), "{head}");
    // Another partner connection gets its own.
    let second = client(&dir, Some(ACME), false);
    assert_eq!(fetch(&second, get(&sluice)).await.0, 200);
    assert_eq!(connections(&seen), [0, 0, 0, 1]);
}

#[tokio::test]
async fn an_institution_connection_closed_between_requests_is_replaced() {
    let (inst, seen) = institution(After::CloseSilently).await;
    let (dir, sluice) = start("reuse-closed", inst, "").await;
    let partner = client(&dir, Some(ACME), false);
    for _ in 0..3 {
        assert_eq!(fetch(&partner, get(&sluice)).await.0, 200);
    }
    // Each request once, each on a new connection: none lost, none sent twice.
    assert_eq!(connections(&seen), [0, 1, 2]);
}

#[tokio::test]
async fn an_institution_connection_idle_past_its_timeout_is_not_reused() {
    let (inst, seen) = institution(After::KeepOpen).await;
    let (dir, sluice) = start("reuse-idle", inst, "idle_timeout_ms = 200").await;
    let partner = client(&dir, Some(ACME), false);
    assert_eq!(fetch(&partner, get(&sluice)).await.0, 200);
    assert_eq!(fetch(&partner, get(&sluice)).await.0, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(fetch(&partner, get(&sluice)).await.0, 200);
    assert_eq!(connections(&seen), [0, 0, 1]);
}

#[tokio::test]
async fn a_request_the_institution_received_is_never_sent_again() {
    let (inst, seen) = institution(After::DropTheSecond).await;
    let (dir, sluice) = start("reuse-dropped", inst, "").await;
    let partner = client(&dir, Some(ACME), false);
    assert_eq!(fetch(&partner, get(&sluice)).await.0, 200);
    let (status, _, body) = fetch(&partner, get(&sluice)).await;
    assert_eq!(status, 502);
    let body: serde_json::Value = serde_json::from_slice(&body.unwrap()).unwrap();
    assert_eq!(body["error"], "upstream_protocol");
    // Received once on the reused connection, and not again on another.
    assert_eq!(connections(&seen), [0, 0]);
}

#[tokio::test]
async fn an_idle_institution_connection_is_closed_while_the_partner_connection_stays_open() {
    let (inst, seen, closed) = watched_institution(After::KeepOpen).await;
    let (dir, sluice) = start("reuse-expire", inst, "idle_timeout_ms = 200").await;
    let partner = client(&dir, Some(ACME), false);
    assert_eq!(fetch(&partner, get(&sluice)).await.0, 200);
    // The partner keeps its connection (idle limit 60 s) and sends nothing more; sluice's
    // watchdog ticks at most a second apart, so the institution's connection, idle past its
    // 200 ms, is closed within about 1.2 s. Bounded wait for that event, well below the
    // partner connection's own idle limit (60 s), which would close both.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while closed.lock().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle institution connection was never closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(*closed.lock().unwrap(), [0]);
    // The partner's connection is still open and gets a new institution connection.
    assert_eq!(fetch(&partner, get(&sluice)).await.0, 200);
    assert_eq!(connections(&seen), [0, 1]);
}
