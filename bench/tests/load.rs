//! `sluice-load` against real servers on loopback: the mock API over plain HTTP/1.1 and HTTP/2,
//! and a rustls server that requires client certificates (the reason sluice-load exists).

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sluice_bench::load::{self, Protocol, Spec, TlsFiles};
use sluice_bench::mock::{self, Records};

const FEED: &str = concat!(
    "{\"records\":[\n",
    "{\"id\":1,\"name\":\"张伟\",\"mobile\":\"13800138000\"},\n",
    "{\"id\":2,\"name\":\"李娜\",\"mobile\":\"13900139000\"}\n",
    "]}\n"
);

fn spec(url: &str, protocol: Protocol) -> Spec {
    Spec {
        url: url.parse().unwrap(),
        protocol,
        connections: 2,
        streams: 3,
        new_connection_per_request: false,
        rate: None,
        duration: Duration::from_secs(60),
        count: None,
        tls: None,
        method: http::Method::GET,
        body: Bytes::new(),
        headers: http::HeaderMap::new(),
        progress: false,
    }
}

fn records() -> Records {
    Records::from_feed(FEED.as_bytes())
}

#[tokio::test]
async fn closed_loop_stops_at_the_count_and_counts_every_body_byte() {
    let records = records();
    let doc_len = records.document(300).len() as u64;
    let addr = mock::spawn("127.0.0.1:0", records).await.unwrap();
    for protocol in [Protocol::Http1, Protocol::Http2] {
        let report = load::run(Spec {
            count: Some(40),
            ..spec(&format!("http://{addr}/feed?size=300"), protocol)
        })
        .await
        .unwrap();
        assert_eq!(report.requests, 40, "{protocol:?}: {:?}", report.errors);
        assert_eq!(report.bytes, 40 * doc_len, "{protocol:?}");
        assert!(
            report.errors.is_empty(),
            "{protocol:?}: {:?}",
            report.errors
        );
        assert_eq!(report.latency.len(), 40);
        // h1: one connection per worker (2); h2: two connections shared by three streams each.
        assert_eq!(report.connections, 2, "{protocol:?}");
    }
}

#[tokio::test]
async fn open_loop_sends_exactly_the_scheduled_requests() {
    let addr = mock::spawn("127.0.0.1:0", records()).await.unwrap();
    let report = load::run(Spec {
        rate: Some(200.0),
        duration: Duration::from_millis(500),
        ..spec(&format!("http://{addr}/feed"), Protocol::Http1)
    })
    .await
    .unwrap();
    // 200/s for 0.5 s: 100 send slots, each sent (late or not) exactly once.
    assert_eq!(report.requests + report.error_count(), 100);
    assert_eq!(report.error_count(), 0, "{:?}", report.errors);
}

#[tokio::test]
async fn the_ndjson_stream_is_as_long_as_asked_and_whole_lines() {
    let addr = mock::spawn("127.0.0.1:0", records()).await.unwrap();
    let chunk = records().ndjson_chunk();
    assert!(chunk.ends_with(b"\n") && chunk.len() > 60 * 1024);
    let report = load::run(Spec {
        count: Some(1),
        connections: 1,
        ..spec(
            &format!("http://{addr}/feed?ndjson=1048576"),
            Protocol::Http1,
        )
    })
    .await
    .unwrap();
    assert_eq!(report.requests, 1);
    assert_eq!(
        report.bytes,
        1_048_576u64.div_ceil(chunk.len() as u64) * chunk.len() as u64
    );
}

/// A server that requires a client certificate signed by the development CA in `pki`.
async fn mtls_server(pki: &Path) -> std::net::SocketAddr {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let loaded = sluice_certs::server::build(
        &sluice_certs::server::ServerMaterial {
            cert: pki.join("server.pem"),
            key: pki.join("server.key"),
            client_ca: Some(pki.join("ca.pem")),
            crls: vec![],
            client_auth: sluice_certs::server::ClientAuth::Required,
        },
        now,
    )
    .unwrap();
    let mut config = (*loaded.config).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(http::Response::new(http_body_util::Full::new(
                        Bytes::from_static(b"{\"ok\":true}"),
                    )))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn mutual_tls_with_the_partner_certificate_over_h1_h2_and_new_connections() {
    let pki = sluice_bench::suite::scratch::scratch_dir("sluice-load-test");
    let _ = std::fs::remove_dir_all(&pki);
    sluice_certs::devpki::init(&pki, &["p1".to_string()]).unwrap();
    let addr = mtls_server(&pki).await;
    let url = format!("https://localhost:{}/", addr.port());
    let with_cert = TlsFiles {
        ca: pki.join("ca.pem"),
        cert: Some(pki.join("partners/p1.pem")),
        key: Some(pki.join("partners/p1.key")),
    };
    for (protocol, fresh) in [
        (Protocol::Http1, false),
        (Protocol::Http2, false),
        (Protocol::Http1, true),
    ] {
        let report = load::run(Spec {
            count: Some(12),
            new_connection_per_request: fresh,
            tls: Some(with_cert.clone()),
            ..spec(&url, protocol)
        })
        .await
        .unwrap();
        assert_eq!(
            report.requests, 12,
            "{protocol:?} {fresh}: {:?}",
            report.errors
        );
        assert_eq!(report.bytes, 12 * 11);
        if fresh {
            assert_eq!(report.connections, 12, "one handshake per request");
        }
    }
    // Without a client certificate the server refuses every connection: nothing succeeds and
    // the failures are counted, not hidden.
    let report = load::run(Spec {
        count: Some(5),
        connections: 1,
        tls: Some(TlsFiles {
            cert: None,
            key: None,
            ..with_cert
        }),
        ..spec(&url, Protocol::Http1)
    })
    .await
    .unwrap();
    assert_eq!(report.requests, 0);
    assert_eq!(report.error_count(), 5, "{:?}", report.errors);
    let _ = std::fs::remove_dir_all(&pki);
}
