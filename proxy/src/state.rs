//! What every request reads: the configuration, the current policy with its per-contract keys,
//! upstream clients and listener TLS. The policy snapshot is swapped whole on reload; requests
//! in flight keep the snapshot they started with.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use sluice_certs::reload::ServerTls;
use sluice_policy::CompiledPolicy;
use sluice_policy::engine::EngineKeys;

use crate::config::Config;
pub use crate::startup::StartError;
use crate::upstream::UpstreamClient;

/// A policy and the engine keys of each of its contracts.
#[derive(Debug)]
pub struct PolicyState {
    /// The policy.
    pub policy: Arc<CompiledPolicy>,
    /// Engine keys by contract id.
    pub keys: HashMap<String, Arc<EngineKeys>>,
    /// The policy's rate limits.
    pub limits: crate::ratelimit::RateLimits,
    /// The candidate policy evaluated in the shadow of this one (`[shadow]`).
    pub shadow: Option<Arc<crate::shadow::Candidate>>,
}

/// State shared by every connection and request.
#[derive(Debug)]
pub struct Shared {
    /// Configuration.
    pub config: Config,
    policy_path: PathBuf,
    policy: RwLock<Arc<PolicyState>>,
    pseudonym_master: Vec<u8>,
    subject_master: Vec<u8>,
    /// What recording a disclosure needs (the ledger, metrics, the target key).
    pub recorder: crate::disclosure::Recorder,
    /// Upstream clients by name.
    pub upstreams: HashMap<String, Arc<UpstreamClient>>,
    /// Listener TLS, in config order.
    pub tls: Vec<Arc<ServerTls>>,
    /// The disclosure ledger (`None` only for `config check`, which never serves).
    pub ledger: Option<Arc<crate::ledger::Ledger>>,
    /// How shipping the ledger to the evidence store goes (`[ledger.store]`, serving only).
    pub shipper: Option<Arc<crate::evidence::ship::ShipStatus>>,
    /// SHA-256 of the bearer token the admin listener requires for `/metrics` and
    /// `/admin/reload`.
    pub admin_token: Option<[u8; 32]>,
    /// The OTLP exporter, when `[telemetry] otlp_endpoint` is set.
    pub telemetry: Option<Arc<crate::telemetry::Telemetry>>,
    /// Signs filtered responses (RFC 9421), when `[keys] message_signing_key` is set.
    pub signer: Option<Arc<crate::signature::MessageSigner>>,
    /// This instance's counters and histograms.
    pub metrics: crate::metrics::Metrics,
    /// Shadow evaluation of a candidate policy, when `[shadow]` is set.
    pub shadow: Option<crate::shadow::Runner>,
    /// Open connections by partner (caps, and the connections a reload closes).
    pub connections: crate::conn::Registry,
    /// Requests in flight by partner (`max_in_flight_per_partner`).
    pub shares: crate::conn::Shares,
    /// The key files loaded at start (a reload refuses when one changed on disk).
    key_fingerprints: crate::checks::KeyFingerprints,
}

/// Records a policy in the ledger and keeps its text beside the log under its hash.
fn record_policy(
    ledger: &crate::ledger::Ledger,
    dir: &std::path::Path,
    policy_path: &std::path::Path,
    p: &CompiledPolicy,
) -> Result<(), StartError> {
    let store = dir.join("policies");
    std::fs::create_dir_all(&store)
        .map_err(|e| StartError::Ledger(format!("{}: {e}", store.display())))?;
    let copy = store.join(format!("{}.toml", p.version));
    if !copy.exists() {
        std::fs::copy(policy_path, &copy)
            .map_err(|e| StartError::Ledger(format!("{}: {e}", copy.display())))?;
    }
    ledger
        .append_blocking(crate::ledger::Entry::PolicyLoaded {
            policy_sha256: p.version.0,
        })
        .map_err(|e| StartError::Ledger(e.to_string()))?;
    Ok(())
}

/// A policy file, compiled, with its contracts' engine keys.
fn compile(
    path: &std::path::Path,
    pseudonym: &[u8],
    subject: &[u8],
) -> Result<(CompiledPolicy, HashMap<String, Arc<EngineKeys>>), StartError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| StartError::Policy(format!("{}: cannot read: {e}", path.display())))?;
    let policy = CompiledPolicy::load(&path.display().to_string(), &text)
        .map_err(|e| StartError::Policy(e.to_string()))?;
    let keys = policy
        .contracts
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                Arc::new(EngineKeys::derive(pseudonym, subject, &c.id)),
            )
        })
        .collect();
    Ok((policy, keys))
}

/// The live policy and, when `[shadow]` names one, the candidate (which must load too: a
/// reload with a broken candidate is refused like one with a broken policy).
fn load_policy(
    path: &std::path::Path,
    (pseudonym, subject): (&[u8], &[u8]),
    previous: Option<&crate::ratelimit::RateLimits>,
    shadow: Option<&crate::config::ShadowConfig>,
) -> Result<PolicyState, StartError> {
    let (policy, keys) = compile(path, pseudonym, subject)?;
    let shadow = match shadow {
        Some(sh) => {
            let (policy, keys) = compile(&sh.policy, pseudonym, subject)
                .map_err(|e| StartError::Policy(format!("shadow.policy: {e}")))?;
            Some(Arc::new(crate::shadow::Candidate::new(policy, keys)))
        }
        None => None,
    };
    let limits = crate::ratelimit::RateLimits::build(&policy, previous);
    Ok(PolicyState {
        policy: Arc::new(policy),
        keys,
        limits,
        shadow,
    })
}

/// Opens (and recovers) the configured ledger.
fn open_ledger_of(
    config: &Config,
    key: ring::signature::Ed25519KeyPair,
    keys: crate::ledger::keycheck::KeyChecks,
) -> Result<crate::ledger::Ledger, StartError> {
    let options = crate::ledger::LedgerOptions {
        dir: config.ledger.dir.clone(),
        origin: config.ledger.origin.clone(),
        key: Arc::new(key),
        commit_window: config.ledger.commit_window,
        checkpoint_every: config.ledger.checkpoint_every,
        checkpoint_min_interval: config.ledger.checkpoint_min_interval,
        commit_delay: config.ledger.commit_delay,
        segment_bytes: 64 << 20,
        idle_commit_wait: config.ledger.idle_commit_wait,
    };
    let (ledger, recovery) = crate::ledger::Ledger::open_checked(options, Some(keys))
        .map_err(|e| StartError::Ledger(format!("{}: {e}", config.ledger.dir.display())))?;
    if let Some(since) = recovery.pseudonym_key_changed_since {
        tracing::warn!(
            since_entry = since,
            "the pseudonym key is not the one last recorded in the ledger: every partner's pseudonyms change from now on (recorded as keys.loaded)"
        );
    }
    if recovery.cut_bytes > 0 || !recovery.incomplete.is_empty() {
        tracing::warn!(
            cut_bytes = recovery.cut_bytes,
            incomplete = recovery.incomplete.len(),
            "ledger recovered after an unclean stop"
        );
    }
    Ok(ledger)
}

impl Shared {
    /// Loads everything the configuration names; any problem stops start-up (fail closed).
    pub fn load(config: Config, policy_override: Option<PathBuf>) -> Result<Self, StartError> {
        Self::load_inner(config, policy_override, true)
    }

    /// Validates everything the configuration names without opening (or writing) the ledger.
    pub fn check(config: Config, policy_override: Option<PathBuf>) -> Result<Self, StartError> {
        Self::load_inner(config, policy_override, false)
    }

    fn load_inner(
        config: Config,
        policy_override: Option<PathBuf>,
        open_ledger: bool,
    ) -> Result<Self, StartError> {
        let pseudonym_master =
            crate::keys::read_key_file(&config.pseudonym_key).map_err(StartError::Key)?;
        let subject_master =
            crate::keys::read_key_file(&config.subject_key).map_err(StartError::Key)?;
        let policy_path = policy_override.unwrap_or_else(|| config.policy.clone());
        let policy = load_policy(
            &policy_path,
            (&pseudonym_master, &subject_master),
            None,
            config.shadow.as_ref(),
        )?;
        config.check_with_policy(&policy.policy)?;
        let upstreams =
            crate::upstream::clients(&config).map_err(|e| crate::checks::locate(&config, e))?;
        let tls = config
            .listeners
            .iter()
            .map(|l| ServerTls::load(l.tls.clone()).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| crate::checks::locate(&config, e))?;
        let key = crate::ledger::store::load_signing_key(&config.ledger.signing_key)
            .map_err(StartError::Ledger)?;
        if !open_ledger {
            // What opening the ledger checks under its lock, read-only here.
            crate::checks::ledger_key_matches(&config, &key)?;
            crate::checks::ledger_recorded_matches(&config, &subject_master)?;
        }
        let key_fingerprints = crate::checks::KeyFingerprints::take(&config);
        let signer = match &config.message_signing {
            Some((path, keyid)) => Some(Arc::new(crate::signature::MessageSigner::new(
                crate::ledger::store::load_signing_key(path).map_err(StartError::Key)?,
                keyid.clone(),
            ))),
            None => None,
        };
        let admin_token = match &config.admin_token_file {
            Some(path) => Some(crate::keys::read_token(path).map_err(StartError::Key)?),
            None => None,
        };
        let telemetry = config
            .telemetry
            .clone()
            .map(crate::telemetry::Telemetry::new)
            .transpose()
            .map_err(|e| StartError::Telemetry(e.to_string()))?;
        let ledger = if open_ledger {
            let keys = crate::ledger::keycheck::KeyChecks::of(&subject_master, &pseudonym_master);
            let ledger = open_ledger_of(&config, key, keys)?;
            record_policy(&ledger, &config.ledger.dir, &policy_path, &policy.policy)?;
            Some(Arc::new(ledger))
        } else {
            None
        };
        let metrics = crate::metrics::Metrics::default();
        let recorder = crate::disclosure::Recorder {
            ledger: ledger.clone(),
            metrics: metrics.clone(),
            subjects_dir: config.ledger.dir.join("subjects"),
            target_key: sluice_policy::pseudonym::SubjectKey::derive(&subject_master),
        };
        // The shadow thread runs only where requests are served (`config check` validates the
        // candidate above and starts nothing).
        let shadow = match (&config.shadow, open_ledger) {
            (Some(sh), true) => Some(
                crate::shadow::Runner::start(sh, metrics.clone())
                    .map_err(|e| StartError::Policy(format!("shadow: cannot start: {e}")))?,
            ),
            _ => None,
        };
        let shipper = (ledger.is_some() && config.ledger.store.is_some()).then(Default::default);
        let shares = crate::conn::Shares::new(config.limits.max_in_flight_per_partner);
        let shared = Self {
            config,
            shadow,
            key_fingerprints,
            policy_path,
            policy: RwLock::new(Arc::new(policy)),
            pseudonym_master,
            subject_master,
            upstreams,
            tls,
            shipper,
            ledger,
            signer,
            telemetry,
            admin_token,
            metrics,
            recorder,
            connections: crate::conn::Registry::default(),
            shares,
        };
        if open_ledger {
            for w in shared.warnings() {
                tracing::warn!(warning = %w, "start-up check");
            }
        }
        Ok(shared)
    }

    /// Every start-up warning (see [`crate::checks::warnings`]).
    pub fn warnings(&self) -> Vec<String> {
        crate::checks::warnings(
            &self.config,
            &self.tls,
            (&self.policy_path, &self.policy().policy),
        )
    }

    /// The policy file in use.
    pub fn policy_path(&self) -> &std::path::Path {
        &self.policy_path
    }

    /// The current policy snapshot.
    pub fn policy(&self) -> Arc<PolicyState> {
        self.policy
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reloads the policy and every listener's certificates: validate, then swap. On any error
    /// nothing changes and the error is returned.
    pub fn reload(&self) -> Result<String, StartError> {
        self.key_fingerprints.unchanged(&self.config.file)?;
        let current = self.policy();
        let next = load_policy(
            &self.policy_path,
            (&self.pseudonym_master, &self.subject_master),
            Some(&current.limits),
            self.config.shadow.as_ref(),
        )?;
        self.config.check_with_policy(&next.policy)?;
        // Certificates: every listener validates before any swaps; the first failure is reported
        // and nothing changes.
        let prepared = self
            .tls
            .iter()
            .map(|t| t.prepare())
            .collect::<Result<Vec<_>, _>>()?;
        let version = next.policy.version;
        if let Some(ledger) = &self.ledger
            && next.policy.version != self.policy().policy.version
        {
            record_policy(
                ledger,
                &self.config.ledger.dir,
                &self.policy_path,
                &next.policy,
            )?;
        }
        for (t, loaded) in self.tls.iter().zip(prepared) {
            t.swap(loaded);
        }
        *self.policy.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        let closed = self.close_untrusted_connections();
        Ok(format!(
            "policy sha256 {version} and certificates reloaded; {closed} connection(s) no longer trusted closed"
        ))
    }

    /// Closes (gracefully) every partner connection whose certificate the current CRLs revoke,
    /// or whose partner has no contract in force under the current policy.
    fn close_untrusted_connections(&self) -> usize {
        let state = self.policy();
        let now = sluice_policy::Instant::now();
        self.connections.sweep(|live| {
            let listener = &self.config.listeners[live.listener];
            let revoked = |peer| self.tls[live.listener].is_revoked(peer);
            if listener.kind != crate::config::ListenerKind::Partner {
                // An institution system's: closed when its certificate is revoked now, or names
                // a partner (the new policy may have one by that identity).
                return live.peer.as_ref().is_some_and(|peer| {
                    revoked(peer) || crate::identity::names_a_partner(&state.policy, peer)
                });
            }
            let Some(peer) = &live.peer else { return true };
            if revoked(peer) {
                return true;
            }
            match crate::identity::partner_of(&state.policy, peer) {
                Ok(p) => !state
                    .policy
                    .contracts
                    .iter()
                    .any(|c| state.policy.partners[c.partner].id == p.id && c.in_force(now)),
                Err(_) => true,
            }
        })
    }
}
