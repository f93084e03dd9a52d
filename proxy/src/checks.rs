//! What start-up checks about the files a configuration names beyond loading them, shared by
//! `sluice run`, `sluice config check` and reload, so that `config check` passes exactly what
//! `run` accepts:
//!
//! - certificate problems name the configuration's key path as well as the file
//!   (`sluice.toml: listener[0].cert: certs/server.pem: …`);
//! - the ledger signing key must be the key of the ledger already in the directory (its latest
//!   checkpoint's signature), read-only and without the ledger's lock;
//! - warnings that do not stop a start: private keys readable by group or others (every one of
//!   them), contracts expired or ending within 30 days, certificates expiring within 30 days;
//! - the key files loaded at start are fingerprinted, so a reload can refuse (with the reason)
//!   when one changed on disk instead of saying "reloaded" while the old key stays in memory.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::startup::StartError;

/// Days ahead that expiries are warned about.
pub const WARN_DAYS: i64 = 30;

/// A key file (or a certificate file that reload does not re-read) a configuration names, with
/// its key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// `keys.pseudonym_key`, `listener[0].key`, ...
    pub key_path: String,
    /// The file.
    pub file: PathBuf,
    /// A private key or secret (group- or other-readable is warned about); certificates and CA
    /// bundles are not.
    pub secret: bool,
    /// What changing it under a running instance would do, when reload does not re-read it
    /// (`None`: reload does, as for listener keys).
    pub held: Option<&'static str>,
}

fn file(
    key_path: String,
    file: &std::path::Path,
    secret: bool,
    held: Option<&'static str>,
) -> KeyFile {
    KeyFile {
        key_path,
        file: file.to_path_buf(),
        secret,
        held,
    }
}

/// Every private key and secret file of `config`, and the upstreams' certificates.
pub fn key_files(config: &Config) -> Vec<KeyFile> {
    let mut out = vec![
        file(
            "keys.pseudonym_key".into(),
            &config.pseudonym_key,
            true,
            Some("every partner's pseudonyms would change"),
        ),
        file(
            "keys.subject_key".into(),
            &config.subject_key,
            true,
            Some("the ledger's subject hashes would change"),
        ),
        file(
            "ledger.signing_key".into(),
            &config.ledger.signing_key,
            true,
            Some(
                "the ledger's checkpoints are signed with the key the ledger was opened with (its log key); rotating it means a new ledger directory and origin",
            ),
        ),
    ];
    if let Some((path, _)) = &config.message_signing {
        out.push(file(
            "keys.message_signing_key".into(),
            path,
            true,
            Some("responses are signed with the key loaded at start"),
        ));
    }
    for (i, l) in config.listeners.iter().enumerate() {
        out.push(file(format!("listener[{i}].key"), &l.tls.key, true, None));
    }
    let upstream = Some("the upstream's TLS client keeps the material loaded at start");
    for (i, u) in config.upstreams.iter().enumerate() {
        for (key, path, secret) in [
            ("client_key", &u.tls.key, true),
            ("client_cert", &u.tls.cert, false),
            ("ca", &u.tls.ca_bundle, false),
        ] {
            if let Some(p) = path {
                out.push(file(format!("upstream[{i}].{key}"), p, secret, upstream));
            }
        }
    }
    if let Some(f) = &config.admin_token_file {
        out.push(file(
            "admin.token_file".into(),
            f,
            true,
            Some("the admin listener keeps the token loaded at start"),
        ));
    }
    out
}

/// Private keys and secrets readable by group or others.
pub fn readable_keys(config: &Config) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    key_files(config)
        .into_iter()
        .filter(|k| k.secret)
        .filter_map(|k| {
            let mode = std::fs::metadata(&k.file).ok()?.permissions().mode() & 0o777;
            (mode & 0o077 != 0).then(|| {
                format!(
                    "{} ({}): readable by group or others (mode {mode:04o}); expected 0600 or stricter",
                    k.file.display(),
                    k.key_path
                )
            })
        })
        .collect()
}

/// SHA-256 of the key files loaded at start, to tell at reload whether one changed.
#[derive(Debug, Clone)]
pub struct KeyFingerprints(Vec<(KeyFile, Option<[u8; 32]>)>);

fn fingerprint(path: &Path) -> Option<[u8; 32]> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        ring::digest::digest(&ring::digest::SHA256, &bytes)
            .as_ref()
            .try_into()
            .expect("32 bytes"),
    )
}

impl KeyFingerprints {
    /// Fingerprints the key files that reload does not re-read (listener keys it does).
    pub fn take(config: &Config) -> Self {
        Self(
            key_files(config)
                .into_iter()
                .filter(|k| k.held.is_some())
                .map(|k| {
                    let f = fingerprint(&k.file);
                    (k, f)
                })
                .collect(),
        )
    }

    /// `Err` naming the first key file that changed since [`take`](Self::take), and why a
    /// reload cannot adopt it.
    pub fn unchanged(&self, config_file: &Path) -> Result<(), StartError> {
        for (k, was) in &self.0 {
            if fingerprint(&k.file) != *was {
                return Err(StartError::Key(format!(
                    "{}: {}: {} changed on disk since sluice started; a reload does not adopt it ({}), so nothing was reloaded; restart sluice to use the new file, or put the old one back",
                    config_file.display(),
                    k.key_path,
                    k.file.display(),
                    k.held.unwrap_or_default()
                )));
            }
        }
        Ok(())
    }
}

/// Refuses a signing key that is not the log key of the ledger already in `config.ledger.dir`
/// (what `run` would refuse when it opens the ledger). Read-only: takes no lock.
pub fn ledger_key_matches(
    config: &Config,
    key: &ring::signature::Ed25519KeyPair,
) -> Result<(), StartError> {
    let dir = &config.ledger.dir;
    let Some(note) = crate::ledger::store::latest_checkpoint(dir)
        .map_err(|e| StartError::Ledger(format!("{}: {e}", dir.display())))?
    else {
        return Ok(());
    };
    let public = ring::signature::KeyPair::public_key(key).as_ref().to_vec();
    crate::ledger::checkpoint::verify(&note, &public).map(|_| ()).map_err(|e| {
        StartError::Ledger(format!(
            "{}: ledger.signing_key: {} is not the key of the ledger in {} (its latest checkpoint: {e}); expected the key that ledger was created with, or a new ledger directory and origin",
            config.file.display(),
            config.ledger.signing_key.display(),
            dir.display()
        ))
    })
}

/// What opening the ledger refuses about the configuration, read-only (`config check`): an
/// origin other than the one the log was created with, a subject key other than the one it last
/// recorded (`keys.loaded`). A ledger that does not exist yet passes, and so does one that
/// recorded no keys.
pub fn ledger_recorded_matches(config: &Config, subject_master: &[u8]) -> Result<(), StartError> {
    use crate::ledger::read;
    let dir = &config.ledger.dir;
    if crate::ledger::segment::list(dir).is_empty() {
        return Ok(());
    }
    let unreadable = |e: String| StartError::Ledger(format!("{}: {e}", dir.display()));
    let origin = read::origin(dir).map_err(unreadable)?;
    if !origin.is_empty() && origin != config.ledger.origin {
        return Err(StartError::Ledger(format!(
            "{}: ledger.origin: {:?} is not the origin of the ledger in {} ({origin:?}); expected the origin that ledger was created with, or a new ledger directory",
            config.file.display(),
            config.ledger.origin,
            dir.display()
        )));
    }
    let check = crate::ledger::keycheck::check_value(subject_master);
    match read::subject_key_checks(dir).map_err(unreadable)?.last() {
        Some(&(at, had)) if had != check => Err(StartError::Ledger(format!(
            "{}: keys.subject_key: {} is not the subject key of the ledger in {} (check value {}…, the ledger's {}… at entry {at}); expected the key that ledger's subject hashes were made with, or a new ledger directory and origin",
            config.file.display(),
            config.subject_key.display(),
            dir.display(),
            crate::ledger::keycheck::short(&check),
            crate::ledger::keycheck::short(&had),
        ))),
        _ => Ok(()),
    }
}

/// Names the configuration key a certificate error is about.
pub fn locate(config: &Config, e: sluice_certs::CertError) -> StartError {
    let mut key = None;
    for (i, l) in config.listeners.iter().enumerate() {
        let t = &l.tls;
        if e.file == t.cert {
            key = Some(format!("listener[{i}].cert"));
        } else if e.file == t.key {
            key = Some(format!("listener[{i}].key"));
        } else if t.client_ca.as_ref() == Some(&e.file) {
            key = Some(format!("listener[{i}].client_ca"));
        } else if let Some(j) = t.crls.iter().position(|c| *c == e.file) {
            key = Some(format!("listener[{i}].crls[{j}]"));
        }
        if key.is_some() {
            break;
        }
    }
    if key.is_none() {
        for (i, u) in config.upstreams.iter().enumerate() {
            let t = &u.tls;
            for (name, f) in [
                ("ca", &t.ca_bundle),
                ("client_cert", &t.cert),
                ("client_key", &t.key),
            ] {
                if f.as_ref() == Some(&e.file) {
                    key = Some(format!("upstream[{i}].{name}"));
                }
            }
        }
    }
    match key {
        Some(k) => StartError::Key(format!("{}: {k}: {e}", config.file.display())),
        None => StartError::Certs(e),
    }
}

/// Contracts that ended, or end within [`WARN_DAYS`], at `now` (`policy_file` names them).
pub fn contract_warnings(
    policy_file: &Path,
    policy: &sluice_policy::CompiledPolicy,
    now: sluice_policy::Instant,
) -> Vec<String> {
    let soon = now.0 + WARN_DAYS * 86_400;
    policy
        .contracts
        .iter()
        .filter_map(|c| {
            let at = format!(
                "{}: contract {:?}.valid_until",
                policy_file.display(),
                c.id
            );
            let partner = &policy.partners[c.partner].id;
            if c.valid_until.0 <= now.0 {
                Some(format!(
                    "{at}: the contract with {partner} ended at {}; its requests are refused with 403 contract_expired",
                    c.valid_until
                ))
            } else if c.valid_until.0 <= soon {
                Some(format!(
                    "{at}: the contract with {partner} ends at {}, in {} days",
                    c.valid_until,
                    (c.valid_until.0 - now.0) / 86_400
                ))
            } else {
                None
            }
        })
        .collect()
}

/// Certificates (listeners' and upstream clients') expired or expiring within [`WARN_DAYS`].
pub fn certificate_warnings(
    config: &Config,
    tls: &[std::sync::Arc<sluice_certs::reload::ServerTls>],
    now: i64,
) -> Vec<String> {
    let mut expiries: Vec<(String, i64)> = Vec::new();
    for (i, t) in tls.iter().enumerate() {
        for e in t.expiries() {
            expiries.push((format!("{}, listener[{i}]", e.label), e.not_after));
        }
    }
    for (i, u) in config.upstreams.iter().enumerate() {
        for (name, f) in [("ca", &u.tls.ca_bundle), ("client_cert", &u.tls.cert)] {
            let Some(f) = f else { continue };
            let Ok(certs) = sluice_certs::pem::load_certs(f) else {
                continue;
            };
            for (j, c) in certs.iter().enumerate() {
                if let Some(t) = sluice_certs::inspect::not_after(c) {
                    expiries.push((
                        format!(
                            "{} (certificate {}, upstream[{i}].{name})",
                            f.display(),
                            j + 1
                        ),
                        t,
                    ));
                }
            }
        }
    }
    expiries
        .into_iter()
        .filter(|(_, t)| *t - now <= WARN_DAYS * 86_400)
        .map(|(label, t)| {
            if t <= now {
                format!("{label} has expired")
            } else {
                format!("{label} expires in {} days", (t - now) / 86_400)
            }
        })
        .collect()
}

/// Every start-up warning: readable keys, contracts and certificates ending soon.
pub fn warnings(
    config: &Config,
    tls: &[std::sync::Arc<sluice_certs::reload::ServerTls>],
    (policy_file, policy): (&Path, &sluice_policy::CompiledPolicy),
) -> Vec<String> {
    let mut out = readable_keys(config);
    out.extend(contract_warnings(
        policy_file,
        policy,
        sluice_policy::Instant::now(),
    ));
    out.extend(certificate_warnings(
        config,
        tls,
        sluice_certs::inspect::now(),
    ));
    out
}
