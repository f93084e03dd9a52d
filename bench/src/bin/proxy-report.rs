//! `proxy-report`: requests/s and latency through sluice next to a direct call to the same mock
//! API, measured in one run (closed loop, HTTP/1.1 keep-alive, N connections).
//!
//! ```text
//! cargo build --release -p sluice && cargo run --release -p sluice-bench --bin proxy-report -- [--seconds 5] [--connections 16]
//! ```
//! The mock institution serves the reference feed (`gen_feed.py`) cut to ~1 KiB and ~64 KiB JSON
//! documents; sluice runs as its own process (`target/release/sluice run`) with
//! `reference-policy.toml`, a development PKI and mTLS; the load generator presents the partner's
//! client certificate. Everything is on loopback.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sluice_bench::workload;

type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// A JSON document of whole feed records of about `size` bytes.
fn document(feed: &[u8], size: usize) -> Bytes {
    let text = std::str::from_utf8(feed).expect("the feed is UTF-8");
    let mut out = String::from("{\"records\":[");
    for (i, line) in text
        .lines()
        .filter(|l| l.starts_with("{\"id\""))
        .enumerate()
    {
        if out.len() + line.len() > size && i > 0 {
            break;
        }
        if i > 0 {
            out.push(',');
        }
        out.push_str(line.trim_end_matches(','));
    }
    out.push_str("],\"total\":0}");
    Bytes::from(out)
}

/// A body that repeats one chunk `left` times (a large stream without holding it).
struct Repeat {
    chunk: Bytes,
    left: usize,
}

impl http_body::Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        self.left -= 1;
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(self.chunk.clone()))))
    }
}

async fn mock(small: Bytes, large: Bytes, ndjson: Bytes) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                break;
            };
            let _ = tcp.set_nodelay(true);
            let (small, large, ndjson) = (small.clone(), large.clone(), ndjson.clone());
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (body, ct) = match req.uri().query() {
                            Some("size=large") => {
                                (Full::new(large.clone()).boxed_unsync(), "application/json")
                            }
                            Some("stream=256MiB") => {
                                let left = (256 << 20) / ndjson.len();
                                (
                                    Repeat {
                                        chunk: ndjson.clone(),
                                        left,
                                    }
                                    .boxed_unsync(),
                                    "application/x-ndjson",
                                )
                            }
                            _ => (Full::new(small.clone()).boxed_unsync(), "application/json"),
                        };
                        async move {
                            let mut r = http::Response::new(body);
                            r.headers_mut().insert(
                                http::header::CONTENT_TYPE,
                                http::HeaderValue::from_static(ct),
                            );
                            Ok::<_, Infallible>(r)
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    addr
}

fn client(pki: Option<&Path>) -> Client {
    let mut roots = rustls::RootCertStore::empty();
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap();
    let tls = match pki {
        Some(dir) => {
            for c in CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
            let chain: Vec<_> =
                CertificateDer::pem_file_iter(dir.join("partners/bench-partner.pem"))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
            let key = rustls_pki_types::PrivateKeyDer::from_pem_file(
                dir.join("partners/bench-partner.key"),
            )
            .unwrap();
            b.with_root_certificates(roots)
                .with_client_auth_cert(chain, key)
                .unwrap()
        }
        None => b.with_root_certificates(roots).with_no_client_auth(),
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(connector)
}

struct Result_ {
    requests: usize,
    bytes: usize,
    errors: usize,
    latencies: Vec<u32>,
    elapsed: f64,
}

async fn load(client: Client, url: String, connections: usize, seconds: f64) -> Result_ {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut bytes, mut errors) = (Vec::new(), 0usize, 0usize);
            while Instant::now() < deadline {
                let t = Instant::now();
                let req = http::Request::get(&url)
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                match client.request(req).await {
                    Ok(resp) if resp.status() == 200 => match resp.into_body().collect().await {
                        Ok(b) => {
                            bytes += b.to_bytes().len();
                            lat.push(t.elapsed().as_micros() as u32);
                        }
                        Err(_) => errors += 1,
                    },
                    _ => errors += 1,
                }
            }
            (lat, bytes, errors)
        }));
    }
    let mut r = Result_ {
        requests: 0,
        bytes: 0,
        errors: 0,
        latencies: Vec::new(),
        elapsed: 0.0,
    };
    for t in tasks {
        let (lat, bytes, errors) = t.await.unwrap();
        r.requests += lat.len();
        r.latencies.extend(lat);
        r.bytes += bytes;
        r.errors += errors;
    }
    r.elapsed = start.elapsed().as_secs_f64();
    r.latencies.sort_unstable();
    r
}

fn pct(l: &[u32], p: f64) -> f64 {
    if l.is_empty() {
        return 0.0;
    }
    l[((l.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0
}

fn main() {
    let arg = sluice_bench::arg;
    let seconds: f64 = arg("--seconds", "5").parse().unwrap();
    let connections: usize = arg("--connections", "16").parse().unwrap();
    let sluice_bin = arg(
        "--sluice",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/sluice"),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let feed = workload::feed(&std::env::temp_dir().join("sluice-feed-1MiB.json"), "1MiB", "json");
        let (small, large) = (document(&feed, 1024), document(&feed, 64 * 1024));
        // Whole feed records, one per line (gen_feed writes one record per line), ~64 KiB.
        let ndjson: String = std::str::from_utf8(&feed).unwrap().lines().filter(|l| l.starts_with("{\"id\"")).take(80).map(|l| format!("{}\n", l.trim_end_matches(','))).collect();
        let inst = mock(small.clone(), large.clone(), Bytes::from(ndjson)).await;

        let dir = std::env::temp_dir().join(format!("sluice-proxy-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        sluice_certs::devpki::init(&dir, &["bench-partner".to_string()]).unwrap();
        std::fs::copy(workload::shared_dir().join("bench/reference-policy.toml"), dir.join("policy.toml")).unwrap();
        let port = { std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port() };
        std::fs::write(
            dir.join("sluice.toml"),
            format!("policy = \"policy.toml\"\n[keys]\npseudonym_key = \"hash.key\"\n[ledger]\ndir = \"ledger\"\nsigning_key = \"signing.key\"\norigin = \"bench.sluice/ledger\"\n[[listener]]\nname = \"partners\"\nkind = \"partner\"\naddress = \"127.0.0.1:{port}\"\ncert = \"server.pem\"\nkey = \"server.key\"\nclient_ca = \"ca.pem\"\ncrls = [\"crl.pem\"]\n[[upstream]]\nname = \"institution\"\nurl = \"http://{inst}\"\npool_size = 256\n"),
        )
        .unwrap();
        let mut child = std::process::Command::new(&sluice_bin)
            .args(["run", "--config"])
            .arg(dir.join("sluice.toml"))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{sluice_bin}: {e} (cargo build --release -p sluice first)"));
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        println!("{connections} connections, HTTP/1.1 keep-alive, {seconds} s per scenario; sluice pid {}", child.id());
        println!("{:<34} {:>9} {:>9} {:>9} {:>9} {:>7}", "scenario", "req/s", "MB/s", "p50 ms", "p99 ms", "errors");
        for (label, query, size) in [("1 KiB", "size=small", small.len()), ("64 KiB", "size=large", large.len())] {
            let direct = load(client(None), format!("http://{inst}/feed?{query}"), connections, seconds).await;
            let through = load(client(Some(&dir)), format!("https://localhost:{port}/feed?{query}"), connections, seconds).await;
            for (name, r) in [(format!("direct to mock, {label} ({size} B)"), &direct), (format!("through sluice (mTLS), {label}"), &through)] {
                println!(
                    "{:<34} {:>9.0} {:>9.1} {:>9.2} {:>9.2} {:>7}",
                    name,
                    r.requests as f64 / r.elapsed,
                    r.bytes as f64 / r.elapsed / 1e6,
                    pct(&r.latencies, 0.5),
                    pct(&r.latencies, 0.99),
                    r.errors
                );
            }
        }
        // A 256 MiB NDJSON stream through sluice, read by the client as it arrives: MB/s and
        // sluice's peak RSS (VmHWM) before and after.
        let rss = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/status")).ok().and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())).unwrap_or(0);
        let before = rss(child.id());
        let c = client(Some(&dir));
        let t = Instant::now();
        let resp = c.request(http::Request::get(format!("https://localhost:{port}/feed?stream=256MiB")).body(Full::new(Bytes::new())).unwrap()).await.unwrap();
        let mut body = resp.into_body();
        let mut got = 0usize;
        while let Some(f) = body.frame().await {
            if let Ok(d) = f.expect("the stream completes").into_data() {
                got += d.len();
            }
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "256 MiB NDJSON stream through sluice: {:.1} s, {:.0} MB/s in, {:.1} MB out; sluice peak RSS {:.1} MiB (was {:.1} MiB before the stream)",
            secs,
            (256u64 << 20) as f64 / secs / 1e6,
            got as f64 / 1e6,
            rss(child.id()) as f64 / 1024.0,
            before as f64 / 1024.0
        );
        let _ = child.kill();
        let _ = child.wait();
    });
}
