//! What a certificate says: validity, names, serial, key usage — and the identity of a partner
//! whose certificate the TLS layer has verified.

use rustls_pki_types::CertificateDer;
use x509_parser::prelude::*;

use crate::error::Problem;

/// Parses a DER certificate (to check it is one).
pub(crate) fn parse<'a>(der: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, String> {
    let (rest, cert) = X509Certificate::from_der(der.as_ref()).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err("trailing bytes after the certificate".into());
    }
    Ok(cert)
}

/// RFC 3339 rendering of an ASN.1 time.
fn rfc3339(t: ASN1Time) -> String {
    t.to_datetime()
        .format(&::time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// The identity of a verified client certificate (its leaf). Names only, no personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// URI subject alternative names.
    pub uri_sans: Vec<String>,
    /// DNS subject alternative names (lower case).
    pub dns_sans: Vec<String>,
    /// SHA-256 of the SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number, lowercase hex without separators.
    pub serial: String,
    /// Not-after, seconds since the Unix epoch.
    pub not_after: i64,
}

impl PeerIdentity {
    /// Reads the identity of a (verified) leaf certificate.
    pub fn from_leaf(der: &CertificateDer<'_>) -> Result<Self, Problem> {
        let cert = parse(der).map_err(Problem::BadCertificate)?;
        let mut uri_sans = Vec::new();
        let mut dns_sans = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::URI(u) => uri_sans.push((*u).to_string()),
                    GeneralName::DNSName(d) => dns_sans.push(d.to_ascii_lowercase()),
                    _ => {}
                }
            }
        }
        let spki =
            ring::digest::digest(&ring::digest::SHA256, cert.tbs_certificate.subject_pki.raw);
        Ok(Self {
            uri_sans,
            dns_sans,
            spki_sha256: spki.as_ref().try_into().expect("32 bytes"),
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial: crate::hex(cert.raw_serial()),
            not_after: cert.validity().not_after.timestamp(),
        })
    }

    /// SPKI SHA-256 as lowercase hex.
    pub fn spki_hex(&self) -> String {
        crate::hex(&self.spki_sha256)
    }
}

/// Which way a certificate will be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// A TLS server certificate.
    Server,
    /// A TLS client certificate.
    Client,
}

/// Checks a leaf is valid at `now` (Unix seconds) and allowed for `usage` (when it carries an
/// extended key usage extension, it must list the purpose).
pub fn check_leaf(der: &CertificateDer<'_>, now: i64, usage: Usage) -> Result<(), Problem> {
    let cert = parse(der).map_err(Problem::BadCertificate)?;
    let v = cert.validity();
    if now < v.not_before.timestamp() {
        return Err(Problem::NotYetValid {
            not_before: rfc3339(v.not_before),
        });
    }
    if now >= v.not_after.timestamp() {
        return Err(Problem::Expired {
            not_after: rfc3339(v.not_after),
        });
    }
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        let ok = eku.value.any
            || match usage {
                Usage::Server => eku.value.server_auth,
                Usage::Client => eku.value.client_auth,
            };
        if !ok {
            return Err(Problem::WrongKeyUsage(match usage {
                Usage::Server => "TLS server authentication",
                Usage::Client => "TLS client authentication",
            }));
        }
    }
    Ok(())
}

/// Days from `now` until the certificate expires (negative once it has).
pub fn days_left(der: &CertificateDer<'_>, now: i64) -> Option<i64> {
    not_after(der).map(|t| (t - now).div_euclid(86_400))
}

/// The certificate's `notAfter`, Unix seconds.
pub fn not_after(der: &CertificateDer<'_>) -> Option<i64> {
    Some(parse(der).ok()?.validity().not_after.timestamp())
}

/// The current time, Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
