//! The rustls `ServerConfig` for sluice's listeners.
//!
//! - TLS 1.3 and 1.2 only; cipher suites [`CIPHER_SUITES`] (AEAD with ECDHE: forward secrecy
//!   everywhere, no CBC, no RSA key exchange); ALPN `h2` and `http/1.1`; no 0-RTT.
//! - Partner listeners require a client certificate chained to the partner CA bundle and checked
//!   against every configured CRL, end-entity and intermediates; a certificate whose revocation
//!   status cannot be determined is refused, and so is a CRL past its next update.
//! - **No session resumption**: no session cache, no tickets. A resumed session reuses the
//!   original authentication (RFC 8446 §2.2), so a partner revoked after it obtained a ticket
//!   could otherwise keep resuming. Every connection does a full handshake and a fresh
//!   revocation check.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::ring::cipher_suite as cs;
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{ServerConfig, SupportedCipherSuite};

use crate::error::{CertError, Problem};
use crate::inspect::{Usage, check_leaf};
use crate::pem::{Warning, load_certs, load_crls, load_key, load_roots};

/// The suites offered, strongest first.
pub static CIPHER_SUITES: &[SupportedCipherSuite] = &[
    cs::TLS13_AES_256_GCM_SHA384,
    cs::TLS13_AES_128_GCM_SHA256,
    cs::TLS13_CHACHA20_POLY1305_SHA256,
    cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// ALPN protocols, in preference order.
pub const ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// Whether a listener asks for client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Required and verified (partner listeners).
    Required,
    /// Verified when presented (an internal listener that also serves unauthenticated systems).
    Optional,
    /// Not requested.
    Off,
}

/// The files a listener's TLS is made of.
#[derive(Debug, Clone)]
pub struct ServerMaterial {
    /// Server certificate chain, leaf first.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// CA bundle for client certificates (required unless `client_auth` is `Off`).
    pub client_ca: Option<PathBuf>,
    /// CRL files for the client CA(s).
    pub crls: Vec<PathBuf>,
    /// Client certificate policy.
    pub client_auth: ClientAuth,
}

/// When a loaded certificate expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    /// `file (certificate N)`.
    pub label: String,
    /// Whole days left when it was loaded (negative once expired).
    pub days_left: i64,
    /// Its `notAfter`, Unix seconds.
    pub not_after: i64,
}

impl Expiry {
    /// Whole days left at `now` (Unix seconds; negative once expired).
    pub fn days_left_at(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }
}

/// A validated server configuration and what was learnt loading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The rustls config.
    pub config: Arc<ServerConfig>,
    /// Expiry of every loaded certificate.
    pub expiries: Vec<Expiry>,
    /// Non-fatal findings (key file permissions).
    pub warnings: Vec<Warning>,
    /// The client CRLs' facts (empty without client authentication).
    pub crls: crate::crl::Crls,
}

/// Reads and validates every file, then builds the config. `now` is Unix seconds.
pub fn build(m: &ServerMaterial, now: i64) -> Result<Loaded, CertError> {
    let provider = crate::provider();
    let chain = load_certs(&m.cert)?;
    check_leaf(&chain[0], now, Usage::Server)
        .map_err(|p| CertError::new(&m.cert, "certificate 1", p))?;
    let (key, warnings) = load_key(&m.key)?;
    let mut expiries = Vec::new();
    let mut crl_facts = crate::crl::Crls::default();
    let mut note = |file: &std::path::Path, certs: &[rustls_pki_types::CertificateDer<'static>]| {
        for (i, c) in certs.iter().enumerate() {
            if let Some(not_after) = crate::inspect::not_after(c) {
                expiries.push(Expiry {
                    label: format!("{} (certificate {})", file.display(), i + 1),
                    days_left: (not_after - now).div_euclid(86_400),
                    not_after,
                });
            }
        }
    };
    note(&m.cert, &chain);

    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| CertError::new(&m.cert, "TLS versions", Problem::Tls(e.to_string())))?;
    let builder = match (m.client_auth, &m.client_ca) {
        (ClientAuth::Off, _) => builder.with_no_client_auth(),
        (_, None) => {
            return Err(CertError::new(
                &m.cert,
                "client CA",
                Problem::NotFound(
                    "client CA bundle configured for a listener that verifies client certificates",
                ),
            ));
        }
        (auth, Some(ca)) => {
            let roots = load_roots(ca)?;
            note(ca, &load_certs(ca)?);
            let mut crls = Vec::new();
            for path in &m.crls {
                let loaded = load_crls(path)?;
                crl_facts.read(path, &loaded, now)?;
                crls.extend(loaded);
            }
            let mut vb =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .with_crls(crls)
                    .enforce_revocation_expiration();
            if auth == ClientAuth::Optional {
                vb = vb.allow_unauthenticated();
            }
            let verifier = vb.build().map_err(|e| {
                let file = m.crls.first().unwrap_or(ca);
                CertError::new(file, "client verifier", Problem::BadCrl(e.to_string()))
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        let problem = match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                Problem::KeyMismatch
            }
            other => Problem::Tls(other.to_string()),
        };
        CertError::new(&m.key, "private key", problem)
    })?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    config.max_early_data_size = 0;
    Ok(Loaded {
        config: Arc::new(config),
        expiries,
        warnings,
        crls: crl_facts,
    })
}

#[cfg(test)]
mod expiry_tests {
    use super::Expiry;

    #[test]
    fn days_left_counts_whole_days_and_goes_negative_after_expiry() {
        let e = Expiry {
            label: "server.pem (certificate 1)".into(),
            days_left: 0,
            not_after: 10 * 86_400,
        };
        assert_eq!(e.days_left_at(0), 10);
        assert_eq!(e.days_left_at(10 * 86_400 - 1), 0);
        assert_eq!(e.days_left_at(10 * 86_400), 0);
        assert_eq!(e.days_left_at(10 * 86_400 + 1), -1);
    }
}
