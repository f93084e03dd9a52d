//! `sluice.toml`: how the process runs — listeners and their TLS files, upstreams, limits, the
//! policy and key files.
//!
//! Read with serde and `deny_unknown_fields` (a misspelt key fails, it is never ignored), then
//! validated into [`Config`]: paths are resolved against the config file's directory, numbers
//! are checked, names are unique. [`Config::check_with_policy`] adds the cross-checks that need
//! the policy: every upstream a route names exists. Messages name the file, the key path and
//! what was expected.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod callers;
mod raw;
mod telemetry;

pub use telemetry::{Protocol as TelemetryProtocol, TelemetryConfig};

use raw::{RawClientAuth, RawConfig, RawKind};

/// A configuration problem, with the file it is in.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    /// The config file.
    pub file: String,
    /// Key path, bad value and expectation.
    pub message: String,
}

/// A ledger origin names one log: non-empty, no spaces or line breaks (it is the first line of
/// every signed checkpoint). The error says what was found and what is expected.
pub fn check_origin(origin: &str) -> Result<(), String> {
    if origin.trim().is_empty() || origin.contains(['\n', ' ']) {
        Err(format!(
            "got {origin:?}, expected a non-empty name without spaces, e.g. \"bank.example/sluice/replica-1\""
        ))
    } else {
        Ok(())
    }
}

/// Which flow a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// Partners pull (mTLS required).
    Partner,
    /// Institution systems push.
    Internal,
}

/// A validated listener.
#[derive(Debug, Clone)]
pub struct Listener {
    /// Name, for logs.
    pub name: String,
    /// Flow.
    pub kind: ListenerKind,
    /// Bind address.
    pub address: SocketAddr,
    /// TLS material.
    pub tls: sluice_certs::server::ServerMaterial,
    /// Internal listeners: the identities of the institution systems that may push (empty: any
    /// certificate `client_ca` signs, but a partner's).
    pub callers: Vec<sluice_policy::Identity>,
}

/// A validated upstream.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Name the policy's routes use.
    pub name: String,
    /// Base URL (`http` or `https`), without a trailing slash.
    pub base: http::Uri,
    /// TLS client material for `https`.
    pub tls: sluice_certs::client::ClientMaterial,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Time from request sent to response headers.
    pub response_header_timeout: Duration,
    /// Idle pooled connections are closed after this.
    pub idle_timeout: Duration,
    /// A response (or pushed request) body that yields nothing for this long is aborted.
    pub body_stall_timeout: Duration,
    /// Idle connections kept per host.
    pub pool_size: usize,
}

/// Where and how the disclosure ledger is written.
#[derive(Debug, Clone)]
pub struct Ledger {
    /// Directory (`sluice run --ledger-dir` overrides it).
    pub dir: PathBuf,
    /// Ed25519 PKCS#8 key that signs checkpoints.
    pub signing_key: PathBuf,
    /// The log's origin (unique per instance), e.g. `bank.example/sluice/replica-1`.
    pub origin: String,
    /// Group-commit window.
    pub commit_window: Duration,
    /// The wait for more entries when many disclosures are open.
    pub commit_delay: crate::ledger::CommitDelay,
    /// The longest a `disclosure.begin` waits for the workers to go idle before its sync.
    pub idle_commit_wait: Duration,
    /// A checkpoint every this many entries.
    pub checkpoint_every: u64,
    /// Checkpoints no more often than this.
    pub checkpoint_min_interval: Duration,
    /// The evidence store the log is shipped to (`[ledger.store]`).
    pub store: Option<StoreConfig>,
}

/// `[ledger.store]`: where the shipper copies the ledger, and when its lag becomes a warning.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The store and its credentials.
    pub settings: crate::evidence::StoreSettings,
    /// Entries per transaction.
    pub batch: usize,
    /// `/readyz` warns past this many entries not yet in the store ...
    pub lag_warn_entries: u64,
    /// ... or when the store has not had everything for this long.
    pub lag_warn: Duration,
}

/// Shadow evaluation of a candidate policy (`[shadow]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowConfig {
    /// The candidate policy.
    pub policy: PathBuf,
    /// The fraction of filtered bodies also run through the candidate (0 to 1).
    pub sample: f64,
    /// The side file of bodies the candidate would treat differently (paths and counts).
    pub report: PathBuf,
}

/// Limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request head.
    pub max_header_bytes: usize,
    /// Largest request body forwarded upstream.
    pub max_request_body_bytes: u64,
    /// Open connections at once, per listener (each listener has its own).
    pub max_connections: usize,
    /// Open connections at once per partner (or, for a certificate that names no partner, per
    /// key), on every listener together.
    pub max_connections_per_partner: usize,
    /// TLS handshakes in progress at once from one source address, per listener (see
    /// [`crate::conn::handshakes`]).
    pub max_handshakes_per_source: usize,
    /// Requests in flight at once, over all connections (more are shed with 503).
    pub max_in_flight: usize,
    /// Requests of one partner (pulled by it or pushed to it) served at once, from the moment
    /// the partner is known to the end of the response body (see [`crate::conn::shares`]).
    pub max_in_flight_per_partner: usize,
    /// HTTP/2 streams per connection.
    pub max_streams_per_connection: u32,
    /// Whole-request deadline (headers to the end of the body).
    pub request_timeout: Duration,
    /// Time to receive a request head (and to complete the TLS handshake).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// A connection older than this is closed gracefully.
    pub max_connection_age: Duration,
    /// A response of which the partner takes no bytes for this long ends its connection.
    pub send_timeout: Duration,
    /// A request body that, asked for more, yields nothing for this long is cut off
    /// (`408 body_timeout`).
    pub body_read_timeout: Duration,
    /// Graceful shutdown waits this long for requests in flight.
    pub drain_timeout: Duration,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub file: PathBuf,
    /// Policy file.
    pub policy: PathBuf,
    /// Master key for pseudonyms.
    pub pseudonym_key: PathBuf,
    /// Key for data-subject hashes (defaults to the pseudonym key file).
    pub subject_key: PathBuf,
    /// The institution's Ed25519 key (PKCS#8 PEM) for signing responses (RFC 9421), and the
    /// `keyid` partners know it by; no response signatures without it.
    pub message_signing: Option<(PathBuf, String)>,
    /// Limits.
    pub limits: Limits,
    /// Listeners.
    pub listeners: Vec<Listener>,
    /// Admin listener address.
    pub admin: Option<SocketAddr>,
    /// A file holding the bearer token `/metrics` and `/admin/reload` require (required when
    /// the admin listener is not on loopback).
    pub admin_token_file: Option<PathBuf>,
    /// OTLP export, when `[telemetry] otlp_endpoint` is set (nothing leaves otherwise).
    pub telemetry: Option<TelemetryConfig>,
    /// A candidate policy evaluated in the shadow of the live one, when `[shadow]` is set.
    pub shadow: Option<ShadowConfig>,
    /// The disclosure ledger (required: without it nothing is disclosed).
    pub ledger: Ledger,
    /// Upstreams by name.
    pub upstreams: Vec<Upstream>,
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Validates `text` as the config at `path` (relative paths resolve against its directory).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        Self::parse_with_env(path, text, &|k| std::env::var(k).ok())
    }

    /// As [`Config::parse`], reading the `OTEL_*` variables that override `[telemetry]` from
    /// `env` instead of the process environment.
    pub fn parse_with_env(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let fail = |message: String| ConfigError {
            file: file.clone(),
            message,
        };
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| fail(e.to_string().trim().replace('\n', " ")))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let rel = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                dir.join(p)
            }
        };
        let addr = |key: String, value: &str| -> Result<SocketAddr, ConfigError> {
            value.parse().map_err(|_| {
                fail(format!(
                    "{key}: got {value:?}, expected an address such as \"127.0.0.1:8443\""
                ))
            })
        };
        let positive = |key: &str, v: u64| {
            if v == 0 {
                Err(fail(format!(
                    "limits.{key}: got 0, expected a positive number"
                )))
            } else {
                Ok(v)
            }
        };
        let l = &raw.limits;
        // hyper reads an HTTP/1.1 head into a buffer of at least 8 KiB: a smaller limit would
        // be written here and not enforced.
        if !(8192..=u32::MAX as usize).contains(&l.max_header_bytes) {
            return Err(fail(format!(
                "limits.max_header_bytes: got {}, expected 8192 to {} (bytes)",
                l.max_header_bytes,
                u32::MAX
            )));
        }
        let limits = Limits {
            max_header_bytes: l.max_header_bytes,
            max_request_body_bytes: positive("max_request_body_bytes", l.max_request_body_bytes)?,
            max_connections: positive("max_connections", l.max_connections as u64)? as usize,
            max_in_flight: positive("max_in_flight", l.max_in_flight as u64)? as usize,
            max_streams_per_connection: positive(
                "max_streams_per_connection",
                u64::from(l.max_streams_per_connection),
            )? as u32,
            request_timeout: Duration::from_millis(positive(
                "request_timeout_ms",
                l.request_timeout_ms,
            )?),
            header_read_timeout: Duration::from_millis(positive(
                "header_read_timeout_ms",
                l.header_read_timeout_ms,
            )?),
            idle_timeout: Duration::from_millis(positive("idle_timeout_ms", l.idle_timeout_ms)?),
            max_connection_age: Duration::from_millis(positive(
                "max_connection_age_ms",
                l.max_connection_age_ms,
            )?),
            send_timeout: Duration::from_millis(positive("send_timeout_ms", l.send_timeout_ms)?),
            body_read_timeout: Duration::from_millis(positive(
                "body_read_timeout_ms",
                l.body_read_timeout_ms,
            )?),
            max_in_flight_per_partner: match l.max_in_flight_per_partner {
                // A quarter of the process's: one partner cannot take all of it.
                None => (l.max_in_flight / 4).max(1),
                Some(n) => positive("max_in_flight_per_partner", n as u64)? as usize,
            },
            max_connections_per_partner: positive(
                "max_connections_per_partner",
                l.max_connections_per_partner as u64,
            )? as usize,
            max_handshakes_per_source: match l.max_handshakes_per_source {
                // An eighth of the listener's: a burst of one client's new connections passes,
                // one host alone cannot hold the listener.
                None => (l.max_connections / 8).max(1),
                Some(n) => positive("max_handshakes_per_source", n as u64)? as usize,
            },
            drain_timeout: Duration::from_millis(l.drain_timeout_ms),
        };
        if limits.max_connections_per_partner > limits.max_connections {
            return Err(fail(format!(
                "limits.max_connections_per_partner: got {}, expected at most limits.max_connections ({}), so that one partner cannot fill a listener",
                limits.max_connections_per_partner, limits.max_connections
            )));
        }
        if limits.max_in_flight_per_partner > limits.max_in_flight {
            return Err(fail(format!(
                "limits.max_in_flight_per_partner: got {}, expected at most limits.max_in_flight ({})",
                limits.max_in_flight_per_partner, limits.max_in_flight
            )));
        }
        let mut listeners = Vec::new();
        for (i, rl) in raw.listeners.iter().enumerate() {
            let key = format!("listener[{i}]");
            if listeners.iter().any(|x: &Listener| x.name == rl.name) {
                return Err(fail(format!(
                    "{key}.name: got {:?}, expected a name no other listener has",
                    rl.name
                )));
            }
            // Required unless written otherwise: an internal listener that asks for no
            // certificate lets whoever reaches it push to partners, so that is said, not implied.
            let client_auth = match (rl.kind, rl.client_auth) {
                (RawKind::Partner, Some(got @ (RawClientAuth::Optional | RawClientAuth::None))) => {
                    let got = match got {
                        RawClientAuth::Optional => "optional",
                        _ => "none",
                    };
                    return Err(fail(format!(
                        "{key}.client_auth: got \"{got}\", expected \"required\" (partner listeners always require client certificates)"
                    )));
                }
                (_, None | Some(RawClientAuth::Required)) => {
                    sluice_certs::server::ClientAuth::Required
                }
                (_, Some(RawClientAuth::Optional)) => sluice_certs::server::ClientAuth::Optional,
                (_, Some(RawClientAuth::None)) => sluice_certs::server::ClientAuth::Off,
            };
            if client_auth != sluice_certs::server::ClientAuth::Off && rl.client_ca.is_none() {
                return Err(fail(match rl.kind {
                    RawKind::Partner => format!(
                        "{key}.client_ca: missing; expected the CA bundle that client certificates must chain to"
                    ),
                    RawKind::Internal => format!(
                        "{key}.client_ca: missing; expected the CA bundle that the institution systems' certificates must chain to (client certificates are required unless client_auth = \"none\", which lets whoever reaches the listener push)"
                    ),
                }));
            }
            let callers =
                callers::callers(&key, rl.kind, client_auth, &rl.callers).map_err(fail)?;
            listeners.push(Listener {
                name: rl.name.clone(),
                kind: match rl.kind {
                    RawKind::Partner => ListenerKind::Partner,
                    RawKind::Internal => ListenerKind::Internal,
                },
                address: addr(format!("{key}.address"), &rl.address)?,
                tls: sluice_certs::server::ServerMaterial {
                    cert: rel(&rl.cert),
                    key: rel(&rl.key),
                    client_ca: rl.client_ca.as_deref().map(rel),
                    crls: rl.crls.iter().map(|p| rel(p)).collect(),
                    client_auth,
                },
                callers,
            });
        }
        if listeners.is_empty() {
            return Err(fail(
                "listener: missing; expected at least one [[listener]]".into(),
            ));
        }
        let mut upstreams = Vec::new();
        for (i, ru) in raw.upstreams.iter().enumerate() {
            let key = format!("upstream[{i}]");
            if upstreams.iter().any(|x: &Upstream| x.name == ru.name) {
                return Err(fail(format!(
                    "{key}.name: got {:?}, expected a name no other upstream has",
                    ru.name
                )));
            }
            let base: http::Uri = ru.url.trim_end_matches('/').parse().map_err(|_| {
                fail(format!(
                    "{key}.url: got {:?}, expected an http:// or https:// URL",
                    ru.url
                ))
            })?;
            match base.scheme_str() {
                Some("http") | Some("https")
                    if base.authority().is_some() && base.query().is_none() => {}
                _ => {
                    return Err(fail(format!(
                        "{key}.url: got {:?}, expected an http:// or https:// URL without a query",
                        ru.url
                    )));
                }
            }
            if base.scheme_str() == Some("http") && (ru.ca.is_some() || ru.client_cert.is_some()) {
                return Err(fail(format!(
                    "{key}: TLS files are set but the URL is http://; expected an https:// URL"
                )));
            }
            if base.scheme_str() == Some("https") && ru.ca.is_none() && !ru.system_roots {
                return Err(fail(format!(
                    "{key}.ca: missing for https upstream {:?}; expected the CA bundle its server certificate chains to (or {key}.system_roots = true)",
                    ru.name
                )));
            }
            if ru.client_cert.is_some() != ru.client_key.is_some() {
                let missing = if ru.client_cert.is_some() {
                    "client_key"
                } else {
                    "client_cert"
                };
                return Err(fail(format!(
                    "{key}.{missing}: missing; expected client_cert and client_key together"
                )));
            }
            upstreams.push(Upstream {
                name: ru.name.clone(),
                base,
                tls: sluice_certs::client::ClientMaterial {
                    ca_bundle: ru.ca.as_deref().map(rel),
                    system_roots: ru.system_roots,
                    cert: ru.client_cert.as_deref().map(rel),
                    key: ru.client_key.as_deref().map(rel),
                },
                connect_timeout: Duration::from_millis(ru.connect_timeout_ms),
                response_header_timeout: Duration::from_millis(ru.response_header_timeout_ms),
                idle_timeout: Duration::from_millis(ru.idle_timeout_ms),
                body_stall_timeout: Duration::from_millis(ru.body_stall_timeout_ms.max(1)),
                pool_size: ru.pool_size,
            });
        }
        let admin = raw
            .admin
            .as_ref()
            .map(|a| addr("admin.address".into(), &a.address))
            .transpose()?;
        let admin_token_file = match (&raw.admin, admin) {
            (Some(a), Some(bound)) => {
                if !bound.ip().is_loopback() && a.token_file.is_none() {
                    return Err(fail(format!(
                        "admin.token_file: missing; expected a bearer-token file, because admin.address {bound} is not a loopback address (the admin listener serves metrics and reloads the policy)"
                    )));
                }
                a.token_file.as_deref().map(&rel)
            }
            _ => None,
        };
        Ok(Config {
            file: path.to_path_buf(),
            policy: rel(&raw.policy),
            pseudonym_key: rel(&raw.keys.pseudonym_key),
            subject_key: rel(raw
                .keys
                .subject_key
                .as_deref()
                .unwrap_or(&raw.keys.pseudonym_key)),
            message_signing: match (&raw.keys.message_signing_key, &raw.keys.message_key_id) {
                (Some(key), Some(id)) if !id.is_empty() && id.is_ascii() && !id.contains('"') => {
                    Some((rel(key), id.clone()))
                }
                (Some(_), Some(id)) => {
                    return Err(fail(format!(
                        "keys.message_key_id: got {id:?}, expected a non-empty ASCII key id without quotes"
                    )));
                }
                (Some(_), None) => {
                    return Err(fail(
                        "keys.message_key_id: missing; expected the key id partners know keys.message_signing_key by".to_string(),
                    ));
                }
                (None, Some(_)) => {
                    return Err(fail(
                        "keys.message_key_id: given without keys.message_signing_key; expected both or neither".to_string(),
                    ));
                }
                (None, None) => None,
            },
            limits,
            listeners,
            shadow: match &raw.shadow {
                None => None,
                Some(sh) => {
                    let sample = sh.sample.unwrap_or(1.0);
                    if !(0.0..=1.0).contains(&sample) {
                        return Err(fail(format!(
                            "shadow.sample: got {sample}, expected a fraction from 0 to 1"
                        )));
                    }
                    Some(ShadowConfig {
                        policy: rel(&sh.policy),
                        sample,
                        report: match &sh.report {
                            Some(p) => rel(p),
                            None => rel(&raw.ledger.dir).join("shadow.jsonl"),
                        },
                    })
                }
            },
            telemetry: telemetry::resolve(raw.telemetry, env, &rel).map_err(fail)?,
            admin,
            admin_token_file,
            ledger: Ledger {
                dir: rel(&raw.ledger.dir),
                signing_key: rel(&raw.ledger.signing_key),
                origin: {
                    check_origin(&raw.ledger.origin)
                        .map_err(|e| fail(format!("ledger.origin: {e}")))?;
                    raw.ledger.origin.clone()
                },
                commit_window: Duration::from_millis(raw.ledger.commit_window_ms),
                commit_delay: crate::ledger::CommitDelay {
                    delay: match raw.ledger.commit_delay_us {
                        us @ 0..=100_000 => Duration::from_micros(us),
                        us => {
                            return Err(fail(format!(
                                "ledger.commit_delay_us: {us} is too long; expected 0 to 100000 (0.1 s): every request waits it under load"
                            )));
                        }
                    },
                    siblings: raw.ledger.commit_siblings,
                },
                idle_commit_wait: match raw.ledger.idle_commit_wait_us {
                    us @ 0..=100_000 => Duration::from_micros(us),
                    us => {
                        return Err(fail(format!(
                            "ledger.idle_commit_wait_us: {us} is too long; expected 0 to 100000 (0.1 s): a busy instance's requests wait it"
                        )));
                    }
                },
                store: match &raw.ledger.store {
                    None => None,
                    Some(store) => {
                        let url = store
                            .url
                            .parse::<crate::evidence::StoreUrl>()
                            .map_err(|e| fail(format!("ledger.store.url: {e}")))?;
                        let settings = crate::evidence::StoreSettings {
                            url,
                            password_file: store.password_file.as_deref().map(rel),
                        };
                        settings
                            .check()
                            .map_err(|e| fail(format!("ledger.store: {e}")))?;
                        if store.batch == 0 || store.batch > 100_000 {
                            return Err(fail(format!(
                                "ledger.store.batch: {} is out of range; expected 1 to 100000 entries per transaction",
                                store.batch
                            )));
                        }
                        Some(StoreConfig {
                            settings,
                            batch: store.batch,
                            lag_warn_entries: store.lag_warn_entries,
                            lag_warn: Duration::from_secs(store.lag_warn_seconds),
                        })
                    }
                },
                checkpoint_every: raw.ledger.checkpoint_every.max(1),
                checkpoint_min_interval: Duration::from_millis(
                    raw.ledger.checkpoint_min_interval_ms,
                ),
            },
            upstreams,
        })
    }

    /// The upstream called `name`.
    pub fn upstream(&self, name: &str) -> Option<&Upstream> {
        self.upstreams.iter().find(|u| u.name == name)
    }

    /// Cross-checks with the policy: every route's upstream exists, and each flow has a listener.
    pub fn check_with_policy(
        &self,
        policy: &sluice_policy::CompiledPolicy,
    ) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        for c in &policy.contracts {
            for (i, r) in c.routes.iter().enumerate() {
                if self.upstream(&r.upstream).is_none() {
                    let known: Vec<_> = self.upstreams.iter().map(|u| u.name.as_str()).collect();
                    problems.push(format!(
                        "contract {:?}.route[{i}].upstream: got {:?}, expected an [[upstream]] name in this config ({})",
                        c.id,
                        r.upstream,
                        if known.is_empty() { "none defined".to_string() } else { known.join(", ") }
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                file: self.file.display().to_string(),
                message: problems.join("; "),
            })
        }
    }
}
