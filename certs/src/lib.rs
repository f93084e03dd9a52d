//! # sluice-certs
//!
//! Everything TLS the proxy needs, on rustls (ring provider) and nothing else: no tokio, no hyper.
//!
//! - [`pem`]: PEM certificates, chains, private keys (PKCS#8, SEC1, RSA), CA bundles and CRLs,
//!   with errors that name the file, the item and the reason.
//! - [`inspect`]: what a certificate says (validity, names, key usage) and the [`PeerIdentity`]
//!   of a verified partner.
//! - [`server`]: the rustls `ServerConfig` for partner listeners: TLS 1.3 and 1.2 only, AEAD
//!   suites with forward secrecy only, ALPN `h2` and `http/1.1`, client certificates required and
//!   checked against CRLs, **no session resumption** (a revoked partner must not come back on an
//!   old ticket).
//! - [`crl`]: what a loaded CRL says (stale CRLs and CRLs older than the loaded one refused;
//!   revoked serials kept for connections opened before a revocation).
//! - [`reload`]: a holder that re-reads and validates everything, then swaps atomically.
//! - [`client`]: the `ClientConfig` for push-flow calls to partner APIs.
//! - [`devpki`]: `sluice certs init` / `revoke`, a development PKI made with rcgen.

pub mod client;
pub mod crl;
pub mod devpki;
pub mod error;
pub mod inspect;
pub mod pem;
pub mod reload;
pub mod server;

pub use error::{CertError, Problem};
pub use inspect::PeerIdentity;

use std::sync::Arc;

/// The crypto provider every config uses: ring, with the cipher suites listed in [`server`].
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites = server::CIPHER_SUITES.to_vec();
    Arc::new(p)
}

/// Lowercase hex without separators (serials, key hashes): the crate's one hex encoder (this
/// crate knows nothing of `sluice-policy`, which has the proxy's).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
