//! A whole deployment on loopback for end-to-end tests: a development PKI, a mock institution
//! API (plain HTTP), a mock partner API (HTTPS, client certificate required), sluice in-process
//! with the example policy, and partner / institution clients over real rustls.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A boxed error for test bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A body sent as the given chunks, optionally failing after the last one (an upstream that dies
/// mid-body).
#[derive(Debug)]
pub struct Chunks {
    chunks: VecDeque<Bytes>,
    fail_at_end: bool,
    // The failure waits a moment, so the head and the data before it are on the wire first.
    delay: Option<Pin<Box<tokio::time::Sleep>>>,
    // A chunk sent this many more times after the others (large bodies without holding them).
    repeat: Option<(Bytes, usize)>,
    // After the chunks, never end (a stalled upstream).
    stall: bool,
    // Announce the length (`Content-Length`) instead of chunking.
    sized: bool,
    // Sent after the last chunk.
    trailers: Option<http::HeaderMap>,
    // Header fields the mock adds to its response head, besides its type and coding.
    head: http::HeaderMap,
}

impl Chunks {
    /// The body cut into `size`-byte chunks.
    pub fn new(body: &[u8], size: usize, fail_at_end: bool) -> Self {
        Self {
            chunks: body
                .chunks(size.max(1))
                .map(Bytes::copy_from_slice)
                .collect(),
            fail_at_end,
            delay: None,
            repeat: None,
            stall: false,
            sized: false,
            trailers: None,
            head: http::HeaderMap::new(),
        }
    }

    /// These trailer fields after the body.
    pub fn with_trailers(self, trailers: http::HeaderMap) -> Self {
        Self {
            trailers: Some(trailers),
            ..self
        }
    }

    /// These header fields in the response head a mock sends with this body.
    pub fn with_head_fields(self, head: http::HeaderMap) -> Self {
        Self { head, ..self }
    }

    /// `body` in one chunk, its length announced: the mock sends `Content-Length`.
    pub fn sized(body: &[u8]) -> Self {
        Self {
            sized: true,
            ..Self::new(body, body.len(), false)
        }
    }

    /// `body` in `size`-byte chunks, then nothing, for ever: an upstream that stalls mid-body.
    pub fn stalling(body: &[u8], size: usize) -> Self {
        Self {
            stall: true,
            ..Self::new(body, size, false)
        }
    }

    /// `chunk`, `times` times: a large body generated as it is sent.
    pub fn repeat(chunk: &[u8], times: usize) -> Self {
        Self {
            repeat: Some((Bytes::copy_from_slice(chunk), times)),
            ..Self::new(b"", 1, false)
        }
    }
}

impl Body for Chunks {
    type Data = Bytes;
    type Error = BoxError;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some((chunk, left)) = &mut self.repeat
            && *left > 0
        {
            *left -= 1;
            return Poll::Ready(Some(Ok(Frame::data(chunk.clone()))));
        }
        match self.chunks.pop_front() {
            Some(c) => Poll::Ready(Some(Ok(Frame::data(c)))),
            None if self.stall => Poll::Pending,
            None if self.fail_at_end => {
                let delay = self.delay.get_or_insert_with(|| {
                    Box::pin(tokio::time::sleep(std::time::Duration::from_millis(100)))
                });
                if delay.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.fail_at_end = false;
                Poll::Ready(Some(Err("upstream died mid-body".into())))
            }
            None => Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t)))),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        if self.sized {
            http_body::SizeHint::with_exact(self.chunks.iter().map(|c| c.len() as u64).sum())
        } else {
            http_body::SizeHint::default()
        }
    }
}

/// What a mock returns.
#[derive(Debug)]
pub struct MockResponse {
    /// Status.
    pub status: u16,
    /// Content type.
    pub content_type: &'static str,
    /// Content coding, if any.
    pub encoding: Option<&'static str>,
    /// Wait this long before answering (a slow upstream).
    pub delay_ms: u64,
    /// Body.
    pub body: Chunks,
}

/// How a mock answers a request.
pub type Handler = Arc<dyn Fn(&Request<Incoming>) -> MockResponse + Send + Sync>;

/// A mock server that records the requests it received (method, path, headers, body).
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Recorded>>>);

/// One recorded request: method, path and query, header fields, the body (or why it was cut),
/// and the trailer fields that followed it.
pub type Recorded = (
    String,
    String,
    http::HeaderMap,
    Result<Vec<u8>, String>,
    http::HeaderMap,
);

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recorder({} requests)", self.0.lock().unwrap().len())
    }
}

impl Recorder {
    /// Requests so far: (method, path and query, headers, body or body error).
    pub fn requests(&self) -> Vec<Recorded> {
        self.0.lock().unwrap().clone()
    }
}

async fn serve_mock(
    req: Request<Incoming>,
    handler: Handler,
    rec: Recorder,
) -> Result<Response<http_body_util::combinators::BoxBody<Bytes, BoxError>>, Infallible> {
    let m = handler(&req);
    if m.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(m.delay_ms)).await;
    }
    let (parts, body) = req.into_parts();
    let mut trailers = http::HeaderMap::new();
    let body = match body.collect().await {
        Ok(b) => {
            if let Some(t) = b.trailers() {
                trailers = t.clone();
            }
            Ok(b.to_bytes().to_vec())
        }
        Err(e) => Err(e.to_string()),
    };
    rec.0.lock().unwrap().push((
        parts.method.to_string(),
        parts
            .uri
            .path_and_query()
            .map_or(String::new(), |p| p.to_string()),
        parts.headers,
        body,
        trailers,
    ));
    let mut body = m.body;
    let head = std::mem::take(&mut body.head);
    let mut resp = Response::new(body.boxed());
    resp.headers_mut().extend(head);
    *resp.status_mut() = http::StatusCode::from_u16(m.status).unwrap();
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(m.content_type),
    );
    if let Some(e) = m.encoding {
        resp.headers_mut().insert(
            http::header::CONTENT_ENCODING,
            http::HeaderValue::from_static(e),
        );
    }
    Ok(resp)
}

/// Serves one mock connection (HTTP/1.1 or HTTP/2) until it closes.
async fn serve_connection<I>(io: I, handler: Handler, rec: Recorder)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| serve_mock(req, handler.clone(), rec.clone()));
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), svc)
        .await;
}

/// Starts a plain-HTTP mock on loopback.
pub async fn mock_http(handler: Handler) -> (SocketAddr, Recorder) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let rec = Recorder::default();
    let r = rec.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                break;
            };
            tokio::spawn(serve_connection(tcp, handler.clone(), r.clone()));
        }
    });
    (addr, rec)
}

/// The TLS server of the development PKI in `pki` (its `server.pem` for `localhost`), requiring a
/// client certificate its CA signed.
pub fn server_tls_requiring_clients(pki: &Path) -> Arc<rustls::ServerConfig> {
    sluice_certs::reload::ServerTls::load(sluice_certs::server::ServerMaterial {
        cert: pki.join("server.pem"),
        key: pki.join("server.key"),
        client_ca: Some(pki.join("ca.pem")),
        crls: vec![],
        client_auth: sluice_certs::server::ClientAuth::Required,
    })
    .unwrap()
    .config()
}

/// Starts an HTTPS mock that requires a client certificate from `ca`.
pub async fn mock_https(pki: &Path, handler: Handler) -> (SocketAddr, Recorder) {
    let config = server_tls_requiring_clients(pki);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let rec = Recorder::default();
    let r = rec.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                break;
            };
            let (h, r, config) = (handler.clone(), r.clone(), config.clone());
            tokio::spawn(async move {
                if let Ok(stream) = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await {
                    serve_connection(stream, h, r).await;
                }
            });
        }
    });
    (addr, rec)
}

/// A temp directory with a development PKI for `partners`.
pub fn pki(name: &str, partners: &[&str]) -> PathBuf {
    let dir = crate::scratch::scratch_dir(&format!("sluice-e2e-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let partners: Vec<String> = partners.iter().map(|p| p.to_string()).collect();
    sluice_certs::devpki::init(&dir, &partners).unwrap();
    dir
}

/// Writes a config for the example policy into `dir` with the given upstream addresses, and
/// starts sluice on ephemeral ports.
pub async fn start_sluice(
    dir: &Path,
    institution: SocketAddr,
    partner_api: SocketAddr,
    policy: &str,
) -> sluice::server::Running {
    start_sluice_with(dir, institution, partner_api, policy, "", "").await
}

/// As [`start_sluice`], with extra `[limits]` lines and extra lines for the institution upstream.
pub async fn start_sluice_with(
    dir: &Path,
    institution: SocketAddr,
    partner_api: SocketAddr,
    policy: &str,
    limits: &str,
    institution_extra: &str,
) -> sluice::server::Running {
    let extras = Extras {
        limits,
        institution: institution_extra,
        ..Extras::default()
    };
    start_sluice_extras(dir, institution, partner_api, policy, &extras).await
}

/// As [`start_sluice`], with `tail` appended to the configuration (e.g. a `[telemetry]` table).
pub async fn start_sluice_tail(
    dir: &Path,
    institution: SocketAddr,
    partner_api: SocketAddr,
    policy: &str,
    tail: &str,
) -> sluice::server::Running {
    let extras = Extras {
        tail,
        ..Extras::default()
    };
    start_sluice_extras(dir, institution, partner_api, policy, &extras).await
}

/// As [`start_sluice`], with extra `[keys]` lines (e.g. a message-signing key).
pub async fn start_sluice_keys(
    dir: &Path,
    institution: SocketAddr,
    partner_api: SocketAddr,
    policy: &str,
    keys: &str,
) -> sluice::server::Running {
    let extras = Extras {
        keys,
        ..Extras::default()
    };
    start_sluice_extras(dir, institution, partner_api, policy, &extras).await
}

/// Extra configuration lines, each placed inside its table.
#[derive(Debug, Default, Clone, Copy)]
pub struct Extras<'a> {
    /// In `[keys]`.
    pub keys: &'a str,
    /// In `[limits]`.
    pub limits: &'a str,
    /// In `[admin]`.
    pub admin: &'a str,
    /// In the institution's `[[upstream]]`.
    pub institution: &'a str,
    /// In the internal `[[listener]]`.
    pub internal: &'a str,
    /// At the end (whole tables).
    pub tail: &'a str,
    /// The environment the configuration is read with (`OTEL_*` overrides), instead of the
    /// process's.
    pub env: Option<&'a [(&'a str, &'a str)]>,
    /// The ledger's origin (default `test.sluice/ledger`).
    pub origin: Option<&'a str>,
}

/// Writes the test configuration with `extras` and starts sluice on ephemeral ports.
pub async fn start_sluice_extras(
    dir: &Path,
    institution: SocketAddr,
    partner_api: SocketAddr,
    policy: &str,
    extras: &Extras<'_>,
) -> sluice::server::Running {
    let Extras {
        keys,
        limits,
        admin,
        institution: institution_extra,
        internal,
        tail,
        env,
        origin,
    } = *extras;
    let origin = origin.unwrap_or("test.sluice/ledger");
    // `RUST_LOG=info cargo test` shows sluice's logs (ids and counts only).
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    std::fs::write(dir.join("policy.toml"), policy).unwrap();
    let config = format!(
        r#"policy = "policy.toml"
[keys]
pseudonym_key = "hash.key"
{keys}
[limits]
max_request_body_bytes = 1048576
{request_timeout}
drain_timeout_ms = 2000
{limits}
[admin]
address = "127.0.0.1:0"
{admin}
[ledger]
dir = "ledger"
signing_key = "signing.key"
origin = "{origin}"
[[listener]]
name = "partners"
kind = "partner"
address = "127.0.0.1:0"
cert = "server.pem"
key = "server.key"
client_ca = "ca.pem"
crls = ["crl.pem"]
[[listener]]
name = "internal"
kind = "internal"
address = "127.0.0.1:0"
cert = "server.pem"
key = "server.key"
client_ca = "ca.pem"
client_auth = "required"
{internal}
[[upstream]]
name = "institution"
url = "http://{institution}"
{institution_extra}
[[upstream]]
name = "acme-api"
url = "https://localhost:{}"
ca = "ca.pem"
client_cert = "institution.pem"
client_key = "institution.key"
{tail}
"#,
        partner_api.port(),
        // 20 s unless the test sets its own.
        request_timeout = if limits.contains("request_timeout_ms") {
            ""
        } else {
            "request_timeout_ms = 20000"
        },
    );
    std::fs::write(dir.join("sluice.toml"), &config).unwrap();
    let cfg = match env {
        None => sluice::config::Config::load(&dir.join("sluice.toml")).unwrap(),
        Some(vars) => {
            sluice::config::Config::parse_with_env(&dir.join("sluice.toml"), &config, &|k| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            })
            .unwrap()
        }
    };
    let shared = Arc::new(sluice::state::Shared::load(cfg, None).unwrap_or_else(|e| panic!("{e}")));
    sluice::server::start(shared).await.unwrap()
}

pub use crate::otlp::{Exports, otlp_grpc_receiver, otlp_http_receiver, otlp_receiver};

/// `policy` with `keys` (lines of TOML, such as `headers = ["x-batch"]`) added to the route whose
/// path is `path`, as the example policy writes it (`  path     = "PATH"`). Panics when no route
/// has that path: a test never runs on a policy it meant to change and did not.
pub fn with_route_keys(policy: &str, path: &str, keys: &[&str]) -> String {
    let line = format!("  path     = \"{path}\"\n");
    assert!(policy.contains(&line), "no route with path {path}");
    let added: String = keys.iter().map(|k| format!("  {k}\n")).collect();
    policy.replacen(&line, &format!("{line}{added}"), 1)
}

/// The example policy, with its validity window moved around now.
pub fn example_policy() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/examples/policy.toml"
    ))
    .unwrap()
    .replace(
        "valid_from  = 2026-01-01\nvalid_until = 2027-01-01",
        "valid_from  = 2020-01-01\nvalid_until = 2099-01-01",
    )
    .replace(
        "valid_from  = 2026-01-01\nvalid_until = 2027-07-01",
        "valid_from  = 2020-01-01\nvalid_until = 2099-01-01",
    )
}

/// An HTTPS client presenting `cert`/`key` (paths in the PKI dir), HTTP/1.1 or HTTP/2 only.
pub fn client(
    dir: &Path,
    identity: Option<(&str, &str)>,
    h2: bool,
) -> hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<Bytes>,
> {
    client_for(dir, identity, h2)
}

/// As [`client`], for any request body type.
pub fn client_for<B>(
    dir: &Path,
    identity: Option<(&str, &str)>,
    h2: bool,
) -> hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    B,
>
where
    B: Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let tls = match identity {
        Some((cert, key)) => {
            let chain: Vec<_> = CertificateDer::pem_file_iter(dir.join(cert))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            b.with_client_auth_cert(
                chain,
                rustls_pki_types::PrivateKeyDer::from_pem_file(dir.join(key)).unwrap(),
            )
            .unwrap()
        }
        None => b.with_no_client_auth(),
    };
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only();
    let connector = if h2 {
        https.enable_http2().build()
    } else {
        https.enable_http1().build()
    };
    let mut builder = hyper_util::client::legacy::Client::builder(TokioExecutor::new());
    builder.http2_only(h2);
    builder.build(connector)
}

/// A response's status, headers and body (or the error that cut the body short).
pub async fn fetch<B>(
    client: &hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        B,
    >,
    req: Request<B>,
) -> (u16, http::HeaderMap, Result<Vec<u8>, String>)
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let resp = client
        .request(req)
        .await
        .unwrap_or_else(|e| panic!("request failed: {e:?}"));
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .map_err(|e| format!("{e:?}"));
    (parts.status.as_u16(), parts.headers, body)
}

/// Sends `request` as raw bytes over mTLS (acme-loans' certificate, HTTP/1.1 by ALPN) — no HTTP
/// library to tidy it up — and returns whatever comes back before the connection closes or
/// `wait` passes.
pub async fn raw_tls(
    dir: &Path,
    addr: SocketAddr,
    request: &[u8],
    wait: std::time::Duration,
) -> Vec<u8> {
    raw_tls_as(
        dir,
        ("partners/acme-loans.pem", "partners/acme-loans.key"),
        addr,
        request,
        wait,
    )
    .await
}

/// As [`raw_tls`], presenting `identity` (certificate and key paths in the PKI dir).
pub async fn raw_tls_as(
    dir: &Path,
    identity: (&str, &str),
    addr: SocketAddr,
    request: &[u8],
    wait: std::time::Duration,
) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tls = tls_connect_as(dir, identity, addr).await;
    // The server may refuse and close before everything is written; that is an answer too.
    let _ = tls.write_all(request).await;
    let _ = tls.flush().await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, tls.read_to_end(&mut out)).await;
    out
}

/// A TLS connection to `addr` (HTTP/1.1 by ALPN) presenting `identity` (certificate and key
/// paths in the PKI dir), for tests that write raw bytes.
pub async fn tls_connect_as(
    dir: &Path,
    identity: (&str, &str),
    addr: SocketAddr,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    tls_connect_alpn(dir, identity, addr, b"http/1.1").await
}

/// As [`tls_connect_as`], offering `alpn` only (`b"h2"` for raw HTTP/2 frames); the server must
/// choose it.
pub async fn tls_connect_alpn(
    dir: &Path,
    (cert, key): (&str, &str),
    addr: SocketAddr,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let cfg =
        crate::client_tls::client_tls(&dir.join("ca.pem"), &dir.join(cert), &dir.join(key), alpn);
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(
        tls.get_ref().1.alpn_protocol(),
        Some(alpn),
        "ALPN not chosen"
    );
    tls
}

/// The ledger's disclosures (`sluice ledger` join of begins and ends) as soon as `ready` holds for
/// them — end entries are appended as bodies finish — checking every 20 ms for at most 2 s; the
/// last ones read otherwise, for the caller's assertion to report.
pub async fn disclosures_when(
    ledger: &Path,
    ready: impl Fn(&[sluice::ledger::read::Disclosure]) -> bool,
) -> Vec<sluice::ledger::read::Disclosure> {
    let mut found = Vec::new();
    for _ in 0..100 {
        let entries = sluice::ledger::read::entries(ledger).unwrap();
        found = sluice::ledger::read::disclosures(ledger, &entries);
        if ready(&found) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    found
}

/// `GET path` over plain HTTP/1.1 on the admin listener at `addr`: the whole response, head and
/// body.
pub async fn admin_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// A mock that answers every request `200` with `body` as `application/json`, in 64-byte chunks.
pub fn json_mock(body: &'static [u8]) -> Handler {
    Arc::new(move |_| MockResponse {
        status: 200,
        content_type: "application/json",
        encoding: None,
        delay_ms: 0,
        body: Chunks::new(body, 64, false),
    })
}
