//! The TLS a partner's client speaks in tests: the PKI's CA as the only root, the partner's
//! certificate and key, one ALPN protocol. Shared by the harness and the `sluice` binary's tests
//! (included by path, as `scratch.rs` is: they cannot depend on this crate).

use std::path::Path;
use std::sync::Arc;

/// A rustls client trusting `ca` (PEM), presenting `cert` and `key` (PEM), offering `alpn`.
pub fn client_tls(ca: &Path, cert: &Path, key: &Path, alpn: &[u8]) -> rustls::ClientConfig {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let chain: Vec<_> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    cfg.alpn_protocols = vec![alpn.to_vec()];
    cfg
}
