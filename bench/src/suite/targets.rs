//! The targets a bench run compares, all on loopback in front of the same mock API:
//!
//! - `direct`: the mock itself, plain HTTP (the floor: no TLS, no proxy);
//! - `nginx`: nginx terminating TLS with client certificates required, proxying to the mock with
//!   keep-alive upstream connections and no buffering (streaming, as sluice does) — what a user
//!   would run instead, doing no field work at all;
//! - `sluice-passthrough`: sluice with `passthrough-policy.toml` (validation and re-emission);
//! - `sluice-reference`: sluice with `reference-policy.toml`, the ledger on, as in production;
//! - `sluice-otel`: `sluice-reference` with `[telemetry]` exporting spans and metrics over
//!   OTLP/HTTP to an in-process sink (run in the `1 KiB` scenarios unless named in `--targets`);
//! - `sluice-candidate`: `sluice-reference` run by another build (`--candidate`), to compare two
//!   builds within each round.

use std::path::{Path, PathBuf};

use super::procs::{self, Proc};

/// A running target and how to reach it.
#[derive(Debug)]
pub struct Target {
    /// Short name used in the report.
    pub name: &'static str,
    /// Base URL (`http://127.0.0.1:P` or `https://localhost:P`).
    pub base: String,
    /// Whether the client presents the partner certificate over TLS.
    pub tls: bool,
    /// The process measured for CPU and memory (the proxy, or the mock for `direct`).
    pub measured: u32,
    /// Keeps the target's processes alive (none for `direct`, whose mock is shared).
    _procs: Vec<Proc>,
}

impl Target {
    /// Kills the target's processes with SIGKILL (see [`Proc::crash`]).
    pub fn crash(self) {
        self._procs.into_iter().for_each(Proc::crash);
    }
}

/// Files and binaries a run uses.
#[derive(Debug)]
pub struct Setup {
    /// Scratch directory: PKI, configs, ledgers, logs.
    pub dir: PathBuf,
    /// The `sluice` binary.
    pub sluice: PathBuf,
    /// `bench/workload`.
    pub workload: PathBuf,
    /// Core for the proxies and the mock, if pinning.
    pub core: Option<usize>,
    /// The mock's address.
    pub mock: String,
}

/// The bench partner's mutual-TLS identity in the development PKI at `pki`.
pub fn partner_tls(pki: &Path) -> crate::load::TlsFiles {
    crate::load::TlsFiles {
        ca: pki.join("ca.pem"),
        cert: Some(pki.join("partners/bench-partner.pem")),
        key: Some(pki.join("partners/bench-partner.key")),
    }
}

/// A scratch directory `sluice-NAME-PID` with a development PKI for `bench-partner`, the
/// reference feed generated, and the mock API started (pinned to `core` when given): the common
/// start of every bench run. Returns the setup and the mock's process.
pub fn prepare(name: &str, release: &Path, core: Option<usize>) -> Result<(Setup, Proc), String> {
    // A run cut short leaves its directory; the next run removes those of processes now gone.
    let dir = super::scratch::scratch_dir(&format!("sluice-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    sluice_certs::devpki::init(&dir.join("pki"), &["bench-partner".to_string()])
        .map_err(|e| e.to_string())?;
    let feed = std::env::temp_dir().join("sluice-feed-1MiB.json");
    crate::workload::feed(&feed, "1MiB", "json");
    let mut mock = procs::start(
        "mock",
        &release.join("sluice-mock"),
        &["--feed", &feed.display().to_string()],
        core,
        &dir.join("mock.log"),
    )?;
    let mock_address = mock.wait_line("listening on ")?;
    let setup = Setup {
        dir,
        sluice: release.join("sluice"),
        workload: crate::workload::workload_dir(),
        core,
        mock: mock_address,
    };
    Ok((setup, mock))
}

/// The `direct` target: the shared mock, measured itself.
pub fn direct(setup: &Setup, mock_pid: u32) -> Target {
    Target {
        name: "direct",
        base: format!("http://{}", setup.mock),
        tls: false,
        measured: mock_pid,
        _procs: Vec::new(),
    }
}

/// Starts sluice with one of the workload's policies.
pub fn sluice(setup: &Setup, name: &'static str, policy: &str) -> Result<Target, String> {
    sluice_with(setup, &setup.sluice, name, policy, "")
}

/// `sluice-candidate`: `sluice-reference`'s configuration run by the build at `binary`, with
/// the lines of `SLUICE_BENCH_CANDIDATE_CONFIG` appended (they follow its `[[upstream]]`): two
/// builds, or two configurations of one build, compared within each round.
pub fn sluice_candidate(setup: &Setup, binary: &Path) -> Result<Target, String> {
    let tail = std::env::var("SLUICE_BENCH_CANDIDATE_CONFIG").unwrap_or_default();
    sluice_with(
        setup,
        binary,
        "sluice-candidate",
        "reference-policy.toml",
        &format!("{tail}\n"),
    )
}

/// `sluice-otel`: `sluice-reference` exporting its spans and metrics over OTLP/HTTP to an
/// in-process sink every second, as a production instance with telemetry on would; the lines
/// of `SLUICE_BENCH_OTEL_CONFIG` are added to its `[telemetry]` (`sampler_ratio = 0.25`).
pub fn sluice_otel(setup: &Setup, sink: std::net::SocketAddr) -> Result<Target, String> {
    let extra = std::env::var("SLUICE_BENCH_OTEL_CONFIG").unwrap_or_default();
    sluice_with(
        setup,
        &setup.sluice,
        "sluice-otel",
        "reference-policy.toml",
        &format!(
            "[telemetry]\notlp_endpoint = \"http://{sink}\"\nprotocol = \"http/protobuf\"\nexport_interval_ms = 1000\n{extra}\n"
        ),
    )
}

/// The sluice at `binary` with `policy` and the configuration lines `tail` appended.
fn sluice_with(
    setup: &Setup,
    binary: &Path,
    name: &'static str,
    policy: &str,
    tail: &str,
) -> Result<Target, String> {
    let dir = setup.dir.join(name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::copy(setup.workload.join(policy), dir.join("policy.toml"))
        .map_err(|e| format!("{policy}: {e}"))?;
    let port = procs::free_port();
    let admin = procs::free_port();
    let pki = setup.dir.join("pki");
    let p = |f: &str| pki.join(f).display().to_string();
    let config = format!(
        "policy = \"policy.toml\"\n\
         [keys]\npseudonym_key = \"{hash}\"\n\
         [ledger]\ndir = \"ledger\"\nsigning_key = \"{signing}\"\norigin = \"bench.sluice/{name}\"\n\
         [admin]\naddress = \"127.0.0.1:{admin}\"\n\
         {limits}\
         [[listener]]\nname = \"partners\"\nkind = \"partner\"\naddress = \"127.0.0.1:{port}\"\n\
         cert = \"{cert}\"\nkey = \"{key}\"\nclient_ca = \"{ca}\"\ncrls = [\"{crl}\"]\n\
         [[upstream]]\nname = \"institution\"\nurl = \"http://{mock}\"\npool_size = 256\n{tail}",
        hash = p("hash.key"),
        signing = p("signing.key"),
        cert = p("server.pem"),
        key = p("server.key"),
        ca = p("ca.pem"),
        crl = p("crl.pem"),
        mock = setup.mock,
        // One partner, from one address, makes every connection of a scenario (up to 256, at
        // once). A build from before the per-partner cap refuses both keys
        // (SLUICE_BENCH_LIMITS="" measures it); one from before the per-source handshake cap
        // (b6e4936 and earlier) the second:
        // SLUICE_BENCH_LIMITS=$'[limits]\nmax_connections_per_partner = 512\n'.
        limits = std::env::var("SLUICE_BENCH_LIMITS").unwrap_or_else(|_| {
            "[limits]\nmax_connections_per_partner = 512\nmax_handshakes_per_source = 512\n".into()
        }),
    );
    let config_path = dir.join("sluice.toml");
    std::fs::write(&config_path, config).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let proc = procs::start(
        name,
        binary,
        &["run", "--config", &config_path.display().to_string()],
        setup.core,
        &dir.join("sluice.log"),
    )?;
    procs::wait_port(&format!("127.0.0.1:{port}"), name)?;
    Ok(Target {
        name,
        base: format!("https://localhost:{port}"),
        tls: true,
        measured: proc.pid(),
        _procs: vec![proc],
    })
}

/// The nginx binary, if installed.
pub fn nginx_binary() -> Option<PathBuf> {
    [
        "/usr/sbin/nginx",
        "/usr/local/sbin/nginx",
        "/usr/local/nginx/sbin/nginx",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Starts nginx (one worker, like sluice pinned to one core) as a TLS-terminating reverse proxy
/// that requires client certificates.
pub fn nginx(setup: &Setup, binary: &Path) -> Result<Target, String> {
    let dir = setup.dir.join("nginx");
    std::fs::create_dir_all(dir.join("tmp")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let port = procs::free_port();
    let pki = setup.dir.join("pki");
    let d = dir.display();
    let config = format!(
        r#"worker_processes 1;
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    upstream institution {{ server {mock}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {pki}/server.pem;
        ssl_certificate_key {pki}/server.key;
        ssl_client_certificate {pki}/ca.pem;
        ssl_verify_client on;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        keepalive_requests 1000000;
        location / {{
            proxy_pass http://institution;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
"#,
        pki = pki.display(),
        mock = setup.mock,
    );
    let config_path = dir.join("nginx.conf");
    std::fs::write(&config_path, config).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let proc = procs::start(
        "nginx",
        binary,
        &[
            "-c",
            &config_path.display().to_string(),
            "-p",
            &d.to_string(),
        ],
        setup.core,
        &dir.join("stderr.log"),
    )?;
    procs::wait_port(&format!("127.0.0.1:{port}"), "nginx")?;
    Ok(Target {
        name: "nginx",
        base: format!("https://localhost:{port}"),
        tls: true,
        measured: proc.pid(),
        _procs: vec![proc],
    })
}
