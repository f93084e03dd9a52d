//! A reader of standard output that stops reading does not stop the proxy: the access log goes
//! through a bounded queue and its lines are dropped and counted when the queue is full.
//!
//! Before, each request's access-log line was written to standard output on the thread serving
//! the request; once the pipe's buffer (64 KiB, about a hundred lines) filled, that thread and
//! every connection on it waited for a reader that never came.

mod support;
use support::free_port;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Full};

/// More requests than the pipe's buffer and the log's queue hold lines together.
const REQUESTS: usize = 1600;

/// The `/metrics` value of a series without labels.
fn series(metrics: &str, name: &str) -> Option<u64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_reader_that_stops_reading_does_not_stop_the_proxy() {
    let dir = support::with_pki("sluice-log-backpressure");

    // The institution answers every request with one small record.
    let inst = support::institution(|| {
        Full::new(Bytes::from_static(
            br#"{"applicant_id":"A1","credit_score":700}"#,
        ))
    })
    .await;

    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/examples");
    let policy = std::fs::read_to_string(format!("{examples}/policy.toml"))
        .unwrap()
        .replace("valid_until = 2027-01-01", "valid_until = 2099-01-01")
        // Every request answered 200: no rate limit in the way.
        .replace(
            "rate        = { per_second = 200, burst = 50 }",
            "rate        = { per_second = 100000, burst = 100000 }",
        );
    assert!(
        policy.contains("per_second = 100000"),
        "the example's rate line moved"
    );
    std::fs::write(dir.join("policy.toml"), policy).unwrap();
    // Standard output is a pipe nobody reads. The ports are free when picked; one can be taken
    // before sluice binds it, so a start that fails (or hangs) is tried again with others.
    let stderr = dir.join("stderr.log");
    let (mut child, p1, p3) = (0..3)
        .find_map(|_| {
            let (p1, p2, p3) = (free_port(), free_port(), free_port());
            let cfg = support::example_config(&dir, (p1, p2, p3), Some(inst));
            let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
                .args(["run", "--config"])
                .arg(&cfg)
                .env("RUST_LOG", "info")
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(&stderr).unwrap())
                .spawn()
                .unwrap();
            if support::opens(p1, &mut child, Duration::from_secs(60)) {
                return Some((child, p1, p3));
            }
            let _ = child.kill();
            let _ = child.wait();
            None
        })
        .unwrap_or_else(|| {
            panic!(
                "sluice did not start in three tries; stderr: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            )
        });
    let unread = child.stdout.take();

    let tls_cfg = support::acme_loans_tls(&dir);
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", p1))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(tls_cfg))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let (mut send, conn) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);

    // Each request logs a line; every one of them is answered in time.
    for i in 0..REQUESTS {
        let req = http::Request::get(format!("/v1/applicants/{i}"))
            .header(http::header::HOST, "localhost")
            .body(Empty::new())
            .unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(10), async {
            send.ready().await.expect("the connection stays open");
            let resp = send.send_request(req).await.unwrap();
            let status = resp.status();
            resp.into_body().collect().await.unwrap();
            status
        })
        .await
        .unwrap_or_else(|_| panic!("request {i} was not answered in 10 s"));
        assert_eq!(answer, 200, "request {i}");
    }

    // What did not fit is counted, not waited for.
    let admin = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        admin.get(format!("http://127.0.0.1:{p3}/metrics").parse().unwrap()),
    )
    .await
    .expect("the admin listener answers")
    .unwrap();
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let dropped = series(&text, "sluice_log_lines_dropped_total").expect("the family is exported");
    assert!(
        dropped > 0,
        "{REQUESTS} lines with nobody reading: {dropped} dropped"
    );

    let _ = child.kill();
    let _ = child.wait();
    drop(unread);
    let _ = std::fs::remove_dir_all(&dir);
}
