//! A development PKI (`sluice certs init DIR`), made with rcgen, and revocation
//! (`sluice certs revoke DIR --partner ID`) for tests and the demo.
//!
//! Layout of DIR:
//! ```text
//! ca.pem ca.key                      the development CA (also the partner CA bundle)
//! server.pem server.key              localhost, 127.0.0.1, ::1
//! partners/ID.pem partners/ID.key    one client certificate per partner,
//!                                    URI SAN spiffe://partners.sluice.test/ID
//! institution.pem institution.key    the institution's client certificate (push flow)
//! crl.pem                            the CA's CRL (empty at first)
//! signing.key signing.pub            Ed25519 key for the ledger and message signatures
//! hash.key                           32 random bytes (hex) for keyed hashes
//! partners.toml                      the matching [[partner]] policy snippets
//! ```
//! Private keys are written with mode 0600. Nothing here is for production. The commands that
//! change the directory (`init`, `issue`, `revoke`) are in [`dir`](self::init): none of them
//! replaces a CA, CRL, signing key or hash key unless told to with `force`.

use std::io::Write;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::inspect::Usage;

mod dir;
pub use dir::{InitReport, IssueReport, Subject, init, init_with, issue, revoke};

/// A devpki failure, with the file concerned.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DevPkiError {
    /// The file or directory.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

fn err(path: &Path, message: impl std::fmt::Display) -> DevPkiError {
    DevPkiError {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// The URI SAN of a partner's development certificate.
pub fn partner_uri(id: &str) -> String {
    format!("spiffe://partners.sluice.test/{id}")
}

/// The default partners of `certs init`.
pub const DEFAULT_PARTNERS: &[&str] = &["acme-loans", "safe-insure"];

/// A development CA that can issue leaves and CRLs.
#[derive(Debug)]
pub struct DevCa {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub cert_pem: String,
    /// The CA key, PEM.
    pub key_pem: String,
}

fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "sluice development");
    dn.push(DnType::CommonName, "Sluice Development CA");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.key_identifier_method = KeyIdMethod::Sha256;
    p
}

/// What a leaf certificate is for.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// Subject common name.
    pub common_name: String,
    /// DNS names.
    pub dns: Vec<String>,
    /// IP addresses.
    pub ips: Vec<std::net::IpAddr>,
    /// URIs.
    pub uris: Vec<String>,
    /// Server or client.
    pub usage: Usage,
    /// Validity start.
    pub not_before: OffsetDateTime,
    /// Validity end.
    pub not_after: OffsetDateTime,
}

impl LeafSpec {
    /// A leaf valid from a day ago for `days`.
    pub fn new(common_name: &str, usage: Usage, days: i64) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            common_name: common_name.into(),
            dns: Vec::new(),
            ips: Vec::new(),
            uris: Vec::new(),
            usage,
            not_before: now - Duration::days(1),
            not_after: now + Duration::days(days),
        }
    }
}

/// An issued leaf.
#[derive(Debug, Clone)]
pub struct Issued {
    /// Certificate, PEM.
    pub cert_pem: String,
    /// Private key, PEM (PKCS#8).
    pub key_pem: String,
}

impl DevCa {
    /// A new CA, valid for ten years.
    pub fn generate() -> Result<Self, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = ca_params();
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem,
            issuer: Issuer::new(ca_params(), key),
        })
    }

    /// The CA of an existing DIR.
    pub fn load(dir: &Path) -> Result<Self, DevPkiError> {
        let cert_pem =
            std::fs::read_to_string(dir.join("ca.pem")).map_err(|e| err(&dir.join("ca.pem"), e))?;
        let key_pem =
            std::fs::read_to_string(dir.join("ca.key")).map_err(|e| err(&dir.join("ca.key"), e))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| err(&dir.join("ca.key"), e))?;
        Ok(Self {
            cert_pem,
            key_pem,
            issuer: Issuer::new(ca_params(), key),
        })
    }

    /// Issues a leaf.
    pub fn issue(&self, spec: &LeafSpec) -> Result<Issued, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "sluice development");
        dn.push(DnType::CommonName, spec.common_name.as_str());
        p.distinguished_name = dn;
        let mut serial = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial)
            .map_err(|_| rcgen::Error::RingUnspecified)?;
        serial[0] &= 0x7f;
        p.serial_number = Some(SerialNumber::from_slice(&serial));
        for d in &spec.dns {
            p.subject_alt_names
                .push(SanType::DnsName(d.clone().try_into()?));
        }
        for ip in &spec.ips {
            p.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        for u in &spec.uris {
            p.subject_alt_names
                .push(SanType::URI(u.clone().try_into()?));
        }
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![match spec.usage {
            Usage::Server => ExtendedKeyUsagePurpose::ServerAuth,
            Usage::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        p.not_before = spec.not_before;
        p.not_after = spec.not_after;
        p.use_authority_key_identifier_extension = true;
        let cert = p.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A CRL revoking `serials` (big-endian bytes), with CRL number `number`, valid for 30 days.
    pub fn crl(&self, serials: &[Vec<u8>], number: u64) -> Result<String, rcgen::Error> {
        self.crl_until(
            serials,
            number,
            OffsetDateTime::now_utc() + Duration::days(30),
        )
    }

    /// As [`crl`](Self::crl), with `next_update` given (a past one makes a stale CRL, for tests).
    pub fn crl_until(
        &self,
        serials: &[Vec<u8>],
        number: u64,
        next_update: OffsetDateTime,
    ) -> Result<String, rcgen::Error> {
        let now = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: (now - Duration::minutes(5)).min(next_update - Duration::minutes(5)),
            next_update,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(s),
                    revocation_time: now - Duration::minutes(1),
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params.signed_by(&self.issuer)?.pem()
    }
}

fn write_public(path: &Path, data: &[u8]) -> Result<(), DevPkiError> {
    std::fs::write(path, data).map_err(|e| err(path, e))
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), DevPkiError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| err(path, e))?;
    f.write_all(data).map_err(|e| err(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| err(path, e))?;
    }
    Ok(())
}
