//! The rustls `ClientConfig` for calls from sluice to partner APIs (the push flow): it presents
//! the institution's client certificate and verifies the partner's server certificate against a
//! configured CA bundle, or the system roots when configured so.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::ClientConfig;

use crate::error::{CertError, Problem};
use crate::inspect::{Usage, check_leaf};
use crate::pem::{load_certs, load_key, load_roots};

/// The files of an upstream TLS client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientMaterial {
    /// CA bundle for the partner's server certificate.
    pub ca_bundle: Option<PathBuf>,
    /// Use the operating system's roots (when no bundle is given).
    pub system_roots: bool,
    /// Client certificate chain to present.
    pub cert: Option<PathBuf>,
    /// Its key.
    pub key: Option<PathBuf>,
}

/// Builds the client config. ALPN offers `h2` and `http/1.1`.
pub fn client_config(m: &ClientMaterial, now: i64) -> Result<Arc<ClientConfig>, CertError> {
    let roots = match (&m.ca_bundle, m.system_roots) {
        (Some(path), _) => load_roots(path)?,
        (None, true) => {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(CertError::new(
                    "<system>",
                    "root certificates",
                    Problem::NotFound("system root certificate"),
                ));
            }
            roots
        }
        (None, false) => {
            return Err(CertError::new(
                "<config>",
                "CA bundle",
                Problem::NotFound("CA bundle (or system_roots = true)"),
            ));
        }
    };
    let builder = ClientConfig::builder_with_provider(crate::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| CertError::new("<config>", "TLS versions", Problem::Tls(e.to_string())))?
        .with_root_certificates(roots);
    let mut config = match (&m.cert, &m.key) {
        (Some(cert), Some(key_path)) => {
            let chain = load_certs(cert)?;
            check_leaf(&chain[0], now, Usage::Client)
                .map_err(|p| CertError::new(cert, "certificate 1", p))?;
            let (key, _) = load_key(key_path)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                let problem = match e {
                    rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                        Problem::KeyMismatch
                    }
                    other => Problem::Tls(other.to_string()),
                };
                CertError::new(key_path, "private key", problem)
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), None) => {
            return Err(CertError::new(
                cert,
                "private key",
                Problem::NotFound("key file for the client certificate"),
            ));
        }
        (None, Some(key)) => {
            return Err(CertError::new(
                key,
                "certificates",
                Problem::NotFound("client certificate for the key file"),
            ));
        }
    };
    config.alpn_protocols = crate::server::ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}
