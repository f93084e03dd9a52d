//! Helpers shared by the `sluice` binary's tests: run the real binary, pick a free loopback port,
//! make a ledger signing key.
#![allow(dead_code)]

use std::process::Command;
use std::sync::Arc;

use ring::signature::{Ed25519KeyPair, KeyPair};

#[path = "../../../tests/src/client_tls.rs"]
mod client_tls;
#[path = "../../../tests/src/scratch.rs"]
mod scratch;
pub use scratch::scratch_dir;

/// The binary under test.
pub const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// Runs `sluice ARGS`: (exit code, stdout, stderr).
pub fn sluice(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(SLUICE)
        .args(args)
        .output()
        .expect("run sluice");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh Ed25519 ledger signing key and its public key in hex (as `log.pub` holds it).
pub fn signing_key() -> (Arc<Ed25519KeyPair>, String) {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let key = Arc::new(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap());
    let public = key
        .public_key()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (key, public)
}

/// A test ledger's `disclosure.begin`: `partner` under `contract`, a pull of
/// `/v1/applicants/{id}`, fixed certificate and policy hashes.
pub fn begin(request_id: &str, partner: &str, contract: &str) -> sluice::ledger::Entry {
    sluice::ledger::Entry::Begin(Box::new(sluice::ledger::Begin {
        request_id: request_id.into(),
        trace_id: String::new(),
        partner: partner.into(),
        spki_sha256: [1; 32],
        serial: "01".into(),
        contract: contract.into(),
        route: "/v1/applicants/{id}".into(),
        flow: "pull".into(),
        policy_version: [2; 32],
        target: None,
        headers: None,
    }))
}

/// A test ledger's `disclosure.end`: the disclosure begun at `begin` sent whole (one record,
/// five bytes) about `subjects`, held inline.
pub fn sent(begin: u64, subjects: Vec<[u8; 32]>) -> sluice::ledger::Entry {
    sluice::ledger::Entry::End(Box::new(sluice::ledger::End {
        begin,
        outcome: sluice::ledger::Outcome::Sent,
        bytes_sent: 5,
        sha256_sent: [3; 32],
        records: 1,
        records_dropped: 0,
        fields: vec![],
        subject_count: subjects.len() as u64,
        subjects,
        subjects_digest: [0; 32],
        integrity: "none".into(),
    }))
}

/// A fresh scratch directory `name` with a development PKI in `certs/` (`sluice certs init`).
pub fn with_pki(name: &str) -> std::path::PathBuf {
    let dir = scratch_dir(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (code, _, err) = sluice(&["certs", "init", &dir.join("certs").display().to_string()]);
    assert_eq!(code, 0, "certs init: {err}");
    dir
}

/// `deploy/examples/sluice.toml` with its partner, push and admin listeners on `ports` and, when
/// given, the institution at `institution`, written to `dir/sluice.toml` (returned).
pub fn example_config(
    dir: &std::path::Path,
    ports: (u16, u16, u16),
    institution: Option<std::net::SocketAddr>,
) -> std::path::PathBuf {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/examples");
    let mut config = std::fs::read_to_string(format!("{examples}/sluice.toml"))
        .unwrap()
        .replace("127.0.0.1:8443", &format!("127.0.0.1:{}", ports.0))
        .replace("127.0.0.1:8444", &format!("127.0.0.1:{}", ports.1))
        .replace("127.0.0.1:9090", &format!("127.0.0.1:{}", ports.2));
    if let Some(inst) = institution {
        config = config.replace("http://127.0.0.1:8080", &format!("http://{inst}"));
    }
    let path = dir.join("sluice.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// TLS as the partner `acme-loans` of the development PKI in `dir/certs` speaks it: its client
/// certificate, the PKI's CA, HTTP/1.1.
pub fn acme_loans_tls(dir: &std::path::Path) -> rustls::ClientConfig {
    let certs = dir.join("certs");
    client_tls::client_tls(
        &certs.join("ca.pem"),
        &certs.join("partners/acme-loans.pem"),
        &certs.join("partners/acme-loans.key"),
        b"http/1.1",
    )
}

/// An institution API on loopback that answers every request with `application/json` and the
/// body `body()` makes; its address.
pub async fn institution<B, F>(body: F) -> std::net::SocketAddr
where
    F: Fn() -> B + Clone + Send + Sync + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    let mut r = http::Response::new(body());
                    r.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/json"),
                    );
                    async move { Ok::<_, std::convert::Infallible>(r) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    addr
}

/// Waits until something listens on loopback `port`, for at most `within`: false when `child`
/// exits first or the time runs out.
pub fn opens(port: u16, child: &mut std::process::Child, within: std::time::Duration) -> bool {
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if child.try_wait().unwrap().is_some() || start.elapsed() > within {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    true
}
