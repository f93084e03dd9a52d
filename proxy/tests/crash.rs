//! A sluice process killed with SIGKILL in the middle of a disclosure restarts with a ledger that
//! verifies and records that disclosure as incomplete.

mod support;
use support::free_port;

use std::convert::Infallible;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A body that sends one chunk and then never ends.
struct Stalls(bool);

impl http_body::Body for Stalls {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        if self.0 {
            std::task::Poll::Pending
        } else {
            self.0 = true;
            std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(
                br#"{"applicants":[{"credit_score":1},"#,
            )))))
        }
    }
}

fn spawn(config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_leaves_a_verifying_ledger_with_an_incomplete_entry() {
    let dir = support::with_pki("sluice-crash");

    // The institution answers, sends a first chunk, then stalls.
    let inst = support::institution(|| Stalls(false)).await;

    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/examples");
    let policy = std::fs::read_to_string(format!("{examples}/policy.toml"))
        .unwrap()
        .replace("valid_until = 2027-01-01", "valid_until = 2099-01-01");
    std::fs::write(dir.join("policy.toml"), policy).unwrap();
    let p1 = free_port();
    let cfg = support::example_config(&dir, (p1, free_port(), free_port()), Some(inst));

    let mut first = spawn(&cfg);
    assert!(
        support::opens(p1, &mut first, Duration::from_secs(20)),
        "port {p1} never opened"
    );

    // A partner starts reading a disclosure.
    let tls_cfg = support::acme_loans_tls(&dir);
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", p1))
        .await
        .unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(tls_cfg))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(b"GET /v1/applicants/1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        head.starts_with("HTTP/1.1 200") && head.contains("sluice-disclosure: "),
        "{head}"
    );

    // Kill it mid-stream, then start again.
    assert!(
        Command::new("kill")
            .args(["-KILL", &first.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let _ = first.wait();
    let mut second = spawn(&cfg);
    assert!(
        support::opens(p1, &mut second, Duration::from_secs(20)),
        "port {p1} never opened"
    );
    assert!(
        Command::new("kill")
            .args(["-TERM", &second.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(second.wait().unwrap().code(), Some(0));

    let ledger = dir.join("var/ledger");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["ledger", "verify"])
        .arg(&ledger)
        .arg("--pubkey")
        .arg(dir.join("certs/signing.pub"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["ledger", "show"])
        .arg(&ledger)
        .output()
        .unwrap();
    let entries: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let begin = entries
        .iter()
        .find(|e| e["kind"] == "disclosure.begin")
        .expect("a begin")
        .clone();
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "disclosure.incomplete" && e["begin"] == begin["seq"]),
        "{entries:#?}"
    );
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["kind"] == "instance.started")
            .count(),
        2
    );
}
