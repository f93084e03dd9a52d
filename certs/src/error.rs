//! Certificate errors: which file, which item in it, and what is wrong.

use std::fmt;
use std::path::PathBuf;

/// What is wrong with an item.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The file could not be read.
    Unreadable(String),
    /// The file holds no PEM item of the expected kind.
    NotFound(&'static str),
    /// A PEM item could not be decoded.
    BadPem(String),
    /// A certificate could not be parsed.
    BadCertificate(String),
    /// The private key does not belong to the certificate.
    KeyMismatch,
    /// The certificate has expired.
    Expired {
        /// RFC 3339 not-after.
        not_after: String,
    },
    /// The certificate is not valid yet.
    NotYetValid {
        /// RFC 3339 not-before.
        not_before: String,
    },
    /// The chain does not lead to a configured CA.
    ChainDoesNotReachCa(String),
    /// The certificate may not be used for this purpose.
    WrongKeyUsage(&'static str),
    /// A CRL could not be used.
    BadCrl(String),
    /// A CRL past its `nextUpdate`.
    StaleCrl {
        /// RFC 3339 next update.
        next_update: String,
    },
    /// A CRL older than the one loaded (or an issuer's CRL gone), refused at reload.
    OlderCrl(String),
    /// rustls refused the material.
    Tls(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Unreadable(e) => write!(f, "cannot read the file: {e}"),
            Problem::NotFound(what) => write!(f, "no {what} found (expected a PEM block)"),
            Problem::BadPem(e) => write!(f, "not valid PEM: {e}"),
            Problem::BadCertificate(e) => write!(f, "not a valid X.509 certificate: {e}"),
            Problem::KeyMismatch => f.write_str("the private key does not match the certificate"),
            Problem::Expired { not_after } => write!(f, "certificate expired at {not_after}"),
            Problem::NotYetValid { not_before } => {
                write!(f, "certificate not valid before {not_before}")
            }
            Problem::ChainDoesNotReachCa(e) => {
                write!(f, "chain does not reach the configured CA: {e}")
            }
            Problem::WrongKeyUsage(want) => write!(
                f,
                "wrong key usage: the certificate is not allowed for {want}"
            ),
            Problem::BadCrl(e) => write!(f, "unusable CRL: {e}"),
            Problem::StaleCrl { next_update } => write!(
                f,
                "stale CRL: its nextUpdate {next_update} has passed; expected a current CRL from the CA (every partner handshake would fail with this one)"
            ),
            Problem::OlderCrl(e) => write!(f, "CRL refused: {e}"),
            Problem::Tls(e) => write!(f, "refused by the TLS library: {e}"),
        }
    }
}

/// A certificate, key, CA bundle or CRL problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CertError {
    /// The file.
    pub file: PathBuf,
    /// The item in it (`certificate 1`, `private key`, `CRL 2`, ...).
    pub item: String,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.file.display(),
            self.item,
            self.problem
        )
    }
}

impl CertError {
    pub(crate) fn new(file: impl Into<PathBuf>, item: impl Into<String>, problem: Problem) -> Self {
        Self {
            file: file.into(),
            item: item.into(),
            problem,
        }
    }
}
