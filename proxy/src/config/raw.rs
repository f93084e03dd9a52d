//! `sluice.toml` as written: the serde types, with `deny_unknown_fields` everywhere (a misspelt
//! key fails, it is never ignored) and the defaults. [`super::Config::parse`] validates them.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) policy: PathBuf,
    pub(super) keys: RawKeys,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(rename = "listener")]
    pub(super) listeners: Vec<RawListener>,
    pub(super) admin: Option<RawAdmin>,
    pub(super) telemetry: Option<RawTelemetry>,
    pub(super) shadow: Option<RawShadow>,
    pub(super) ledger: RawLedger,
    #[serde(rename = "upstream", default)]
    pub(super) upstreams: Vec<RawUpstream>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawShadow {
    pub(super) policy: PathBuf,
    pub(super) sample: Option<f64>,
    pub(super) report: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKeys {
    pub(super) pseudonym_key: PathBuf,
    pub(super) subject_key: Option<PathBuf>,
    pub(super) message_signing_key: Option<PathBuf>,
    pub(super) message_key_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLimits {
    pub(super) max_header_bytes: usize,
    pub(super) max_request_body_bytes: u64,
    pub(super) max_connections: usize,
    pub(super) max_connections_per_partner: usize,
    pub(super) max_handshakes_per_source: Option<usize>,
    pub(super) max_in_flight: usize,
    pub(super) max_in_flight_per_partner: Option<usize>,
    pub(super) max_streams_per_connection: u32,
    pub(super) request_timeout_ms: u64,
    pub(super) header_read_timeout_ms: u64,
    pub(super) idle_timeout_ms: u64,
    pub(super) max_connection_age_ms: u64,
    pub(super) send_timeout_ms: u64,
    pub(super) body_read_timeout_ms: u64,
    pub(super) drain_timeout_ms: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            max_request_body_bytes: 16 * 1024 * 1024,
            max_connections: 1024,
            max_connections_per_partner: 64,
            max_handshakes_per_source: None,
            max_in_flight: 4096,
            max_in_flight_per_partner: None,
            max_streams_per_connection: 100,
            request_timeout_ms: 300_000,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connection_age_ms: 3_600_000,
            send_timeout_ms: 60_000,
            body_read_timeout_ms: 60_000,
            drain_timeout_ms: 30_000,
        }
    }
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawKind {
    Partner,
    Internal,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawClientAuth {
    Required,
    Optional,
    /// No client certificate asked (internal listeners only, when written out).
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawListener {
    pub(super) name: String,
    pub(super) kind: RawKind,
    pub(super) address: String,
    pub(super) cert: PathBuf,
    pub(super) key: PathBuf,
    pub(super) client_ca: Option<PathBuf>,
    #[serde(default)]
    pub(super) crls: Vec<PathBuf>,
    pub(super) client_auth: Option<RawClientAuth>,
    #[serde(default)]
    pub(super) callers: Vec<RawCaller>,
}

/// One identity an internal listener admits: exactly one of the three, as partners' in the
/// policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCaller {
    pub(super) uri_san: Option<String>,
    pub(super) dns_san: Option<String>,
    pub(super) spki_sha256: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLedger {
    pub(super) dir: PathBuf,
    pub(super) signing_key: PathBuf,
    pub(super) origin: String,
    #[serde(default = "default_commit_ms")]
    pub(super) commit_window_ms: u64,
    #[serde(default = "default_commit_delay_us")]
    pub(super) commit_delay_us: u64,
    #[serde(default = "default_commit_siblings")]
    pub(super) commit_siblings: u64,
    #[serde(default = "default_idle_commit_wait_us")]
    pub(super) idle_commit_wait_us: u64,
    pub(super) store: Option<RawStore>,
    #[serde(default = "default_checkpoint_every")]
    pub(super) checkpoint_every: u64,
    #[serde(default = "default_checkpoint_min_interval_ms")]
    pub(super) checkpoint_min_interval_ms: u64,
}

/// `[ledger.store]`: the evidence store the ledger is shipped to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub(super) url: String,
    pub(super) password_file: Option<PathBuf>,
    #[serde(default = "default_store_batch")]
    pub(super) batch: usize,
    #[serde(default = "default_lag_warn_entries")]
    pub(super) lag_warn_entries: u64,
    #[serde(default = "default_lag_warn_seconds")]
    pub(super) lag_warn_seconds: u64,
}

fn default_store_batch() -> usize {
    1000
}
fn default_lag_warn_entries() -> u64 {
    100_000
}
fn default_lag_warn_seconds() -> u64 {
    60
}

fn default_commit_ms() -> u64 {
    0
}
fn default_commit_delay_us() -> u64 {
    crate::ledger::CommitDelay::default().delay.as_micros() as u64
}
fn default_commit_siblings() -> u64 {
    crate::ledger::CommitDelay::default().siblings
}
fn default_idle_commit_wait_us() -> u64 {
    1000
}
fn default_checkpoint_min_interval_ms() -> u64 {
    200
}

fn default_checkpoint_every() -> u64 {
    256
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    pub(super) address: String,
    pub(super) token_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTelemetry {
    pub(super) otlp_endpoint: Option<String>,
    pub(super) protocol: Option<String>,
    pub(super) service_name: Option<String>,
    pub(super) export_interval_ms: Option<u64>,
    pub(super) timeout_ms: Option<u64>,
    pub(super) headers: Option<std::collections::BTreeMap<String, String>>,
    pub(super) ca: Option<PathBuf>,
    pub(super) client_cert: Option<PathBuf>,
    pub(super) client_key: Option<PathBuf>,
    pub(super) sampler_ratio: Option<f64>,
    pub(super) max_queued_spans: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpstream {
    pub(super) name: String,
    pub(super) url: String,
    pub(super) ca: Option<PathBuf>,
    #[serde(default)]
    pub(super) system_roots: bool,
    pub(super) client_cert: Option<PathBuf>,
    pub(super) client_key: Option<PathBuf>,
    #[serde(default = "default_connect_ms")]
    pub(super) connect_timeout_ms: u64,
    #[serde(default = "default_header_ms")]
    pub(super) response_header_timeout_ms: u64,
    #[serde(default = "default_idle_ms")]
    pub(super) idle_timeout_ms: u64,
    #[serde(default = "default_body_stall_ms")]
    pub(super) body_stall_timeout_ms: u64,
    #[serde(default = "default_pool")]
    pub(super) pool_size: usize,
}

fn default_body_stall_ms() -> u64 {
    60_000
}
fn default_connect_ms() -> u64 {
    2_000
}
fn default_header_ms() -> u64 {
    30_000
}
fn default_idle_ms() -> u64 {
    60_000
}
fn default_pool() -> usize {
    32
}
