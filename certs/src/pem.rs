//! Reading PEM files: certificate chains, private keys, CA bundles and CRLs.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

use crate::error::{CertError, Problem};

fn read(path: &Path, item: &str) -> Result<Vec<u8>, CertError> {
    std::fs::read(path).map_err(|e| CertError::new(path, item, Problem::Unreadable(e.to_string())))
}

/// All certificates in a PEM file, in order (leaf first for a chain).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let bytes = read(path, "certificates")?;
    let mut out = Vec::new();
    for (i, item) in CertificateDer::pem_slice_iter(&bytes).enumerate() {
        let cert = item.map_err(|e| {
            CertError::new(
                path,
                format!("certificate {}", i + 1),
                Problem::BadPem(e.to_string()),
            )
        })?;
        crate::inspect::parse(&cert).map_err(|e| {
            CertError::new(
                path,
                format!("certificate {}", i + 1),
                Problem::BadCertificate(e),
            )
        })?;
        out.push(cert);
    }
    if out.is_empty() {
        return Err(CertError::new(
            path,
            "certificates",
            Problem::NotFound("certificate"),
        ));
    }
    Ok(out)
}

/// A warning about key material that does not stop loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file.
    pub file: PathBuf,
    /// What is worrying.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// The first private key in a PEM file (PKCS#8, SEC1 or PKCS#1 RSA), and a warning when the file
/// is readable by group or others.
pub fn load_key(path: &Path) -> Result<(PrivateKeyDer<'static>, Vec<Warning>), CertError> {
    let bytes = read(path, "private key")?;
    let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        let problem = match e {
            rustls_pki_types::pem::Error::NoItemsFound => Problem::NotFound("private key"),
            other => Problem::BadPem(other.to_string()),
        };
        CertError::new(path, "private key", problem)
    })?;
    let mut warnings = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                warnings.push(Warning {
                    file: path.to_path_buf(),
                    message: format!("private key file is readable by group or others (mode {:o}); use chmod 600", mode & 0o777),
                });
            }
        }
    }
    Ok((key, warnings))
}

/// A CA bundle as a root store.
pub fn load_roots(path: &Path) -> Result<rustls::RootCertStore, CertError> {
    let certs = load_certs(path)?;
    let mut roots = rustls::RootCertStore::empty();
    for (i, cert) in certs.into_iter().enumerate() {
        roots.add(cert).map_err(|e| {
            CertError::new(
                path,
                format!("certificate {}", i + 1),
                Problem::Tls(e.to_string()),
            )
        })?;
    }
    Ok(roots)
}

/// All CRLs in a PEM file (an empty list is allowed: a CA with nothing revoked still issues one).
pub fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, CertError> {
    let bytes = read(path, "CRLs")?;
    let mut out = Vec::new();
    for (i, item) in CertificateRevocationListDer::pem_slice_iter(&bytes).enumerate() {
        let crl = item.map_err(|e| {
            CertError::new(
                path,
                format!("CRL {}", i + 1),
                Problem::BadPem(e.to_string()),
            )
        })?;
        x509_parser::parse_x509_crl(&crl).map_err(|e| {
            CertError::new(
                path,
                format!("CRL {}", i + 1),
                Problem::BadCrl(e.to_string()),
            )
        })?;
        out.push(crl);
    }
    if out.is_empty() {
        return Err(CertError::new(path, "CRLs", Problem::NotFound("X509 CRL")));
    }
    Ok(out)
}
