//! The commands that change a PKI directory: `init`, `issue` and `revoke`. None of them can
//! destroy key material by accident.
//!
//! - `init` on an empty directory makes everything. Where a CA or CRL is already there it
//!   refuses and changes nothing (a new CA invalidates every certificate the old one issued; a
//!   new CRL forgets its revocations); an existing ledger signing key or hash key is kept, never
//!   regenerated (the ledger's log key; every pseudonym and subject hash). `force` replaces all
//!   of it, and the report says what that breaks.
//! - `issue` signs one more certificate (a partner, the server, the institution) with the CA
//!   already there, and refuses to overwrite an existing certificate unless forced.
//! - `revoke` adds a partner's certificate to the CRL, with the next CRL number.

use std::path::{Path, PathBuf};

use rcgen::KeyPair;

use super::{DevCa, DevPkiError, LeafSpec, err, partner_uri, write_private, write_public};
use crate::inspect::Usage;

/// The files whose loss breaks something beyond this directory, and what.
const PRECIOUS: &[(&str, &str)] = &[
    (
        "ca.pem",
        "a new CA: every certificate the old one issued (each partner's, the server's, the institution's) stops verifying",
    ),
    ("ca.key", "the CA's key: the same"),
    (
        "crl.pem",
        "a new, empty CRL: every revocation in it is lost and those partners are trusted again",
    ),
    (
        "signing.key",
        "a new ledger signing key: an existing ledger signed with the old key refuses to start, and partners' copies of the message-signing key stop verifying",
    ),
    (
        "hash.key",
        "a new pseudonym and subject key: every partner's pseudonyms change and the ledger's subject hashes no longer match",
    ),
];

/// What `init` did.
#[derive(Debug, Clone)]
pub struct InitReport {
    /// The directory.
    pub dir: PathBuf,
    /// `[[partner]]` snippets for the policy.
    pub snippets: String,
    /// Key files that were there and were kept.
    pub kept: Vec<&'static str>,
    /// What `force` replaced, each with what that breaks.
    pub replaced: Vec<(&'static str, &'static str)>,
}

/// Creates the development PKI in `dir` for `partners`; refuses where a CA or CRL exists.
pub fn init(dir: &Path, partners: &[String]) -> Result<InitReport, DevPkiError> {
    init_with(dir, partners, false)
}

/// As [`init`]; with `force`, replaces an existing CA, CRL, signing key and hash key.
pub fn init_with(dir: &Path, partners: &[String], force: bool) -> Result<InitReport, DevPkiError> {
    let present: Vec<(&'static str, &'static str)> = PRECIOUS
        .iter()
        .copied()
        .filter(|(f, _)| dir.join(f).exists())
        .collect();
    let ca_side: Vec<&str> = present
        .iter()
        .map(|(f, _)| *f)
        .filter(|f| matches!(*f, "ca.pem" | "ca.key" | "crl.pem"))
        .collect();
    if !force && !ca_side.is_empty() {
        let what: Vec<String> = present
            .iter()
            .map(|(f, breaks)| format!("{f} ({breaks})"))
            .collect();
        return Err(err(
            dir,
            format!(
                "already holds a PKI; `certs init` would replace {}. Nothing was changed. To add a partner: `sluice certs issue {} --partner ID`; to replace the PKI anyway: --force",
                what.join("; "),
                dir.display()
            ),
        ));
    }
    let keep = |f: &str| !force && dir.join(f).exists();
    let rc = |e: rcgen::Error| err(dir, e);
    std::fs::create_dir_all(dir.join("partners")).map_err(|e| err(dir, e))?;
    let ca = DevCa::generate().map_err(rc)?;
    write_public(&dir.join("ca.pem"), ca.cert_pem.as_bytes())?;
    write_private(&dir.join("ca.key"), ca.key_pem.as_bytes())?;
    issue_leaf(&ca, dir, &Subject::Server)?;
    let mut snippets = String::new();
    for id in partners {
        issue_leaf(&ca, dir, &Subject::Partner(id.clone()))?;
        snippets.push_str(&snippet(id));
    }
    issue_leaf(&ca, dir, &Subject::Institution)?;
    write_public(&dir.join("crl.pem"), ca.crl(&[], 1).map_err(rc)?.as_bytes())?;
    let mut kept = Vec::new();
    if keep("signing.key") {
        kept.push("signing.key");
    } else {
        let signing = KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(rc)?;
        write_private(&dir.join("signing.key"), signing.serialize_pem().as_bytes())?;
        write_public(
            &dir.join("signing.pub"),
            signing.public_key_pem().as_bytes(),
        )?;
    }
    if keep("hash.key") {
        kept.push("hash.key");
    } else {
        let mut hash_key = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut hash_key)
            .map_err(|_| err(dir, "no randomness"))?;
        let hex = crate::hex(&hash_key);
        write_private(&dir.join("hash.key"), format!("{hex}\n").as_bytes())?;
    }
    write_public(&dir.join("partners.toml"), snippets.as_bytes())?;
    Ok(InitReport {
        dir: dir.to_path_buf(),
        snippets,
        kept,
        replaced: if force { present } else { Vec::new() },
    })
}

/// Whom a certificate is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A partner's client certificate (URI SAN of [`partner_uri`]).
    Partner(String),
    /// The listeners' server certificate (localhost, 127.0.0.1, ::1).
    Server,
    /// The institution's client certificate (push flow).
    Institution,
}

impl Subject {
    /// Certificate and key file, relative to the PKI directory.
    pub fn files(&self) -> (String, String) {
        match self {
            Subject::Partner(id) => (format!("partners/{id}.pem"), format!("partners/{id}.key")),
            Subject::Server => ("server.pem".into(), "server.key".into()),
            Subject::Institution => ("institution.pem".into(), "institution.key".into()),
        }
    }
}

/// What `issue` did.
#[derive(Debug, Clone)]
pub struct IssueReport {
    /// The certificate file.
    pub cert: PathBuf,
    /// The `[[partner]]` snippet, for a partner.
    pub snippet: Option<String>,
    /// The serial of a certificate `force` replaced (it stays valid until revoked or expired).
    pub replaced_serial: Option<String>,
}

fn snippet(id: &str) -> String {
    format!(
        "[[partner]]\nid           = \"{id}\"\nidentity     = {{ uri_san = \"{}\" }}\njurisdiction = \"CN\"\n\n",
        partner_uri(id)
    )
}

fn issue_leaf(ca: &DevCa, dir: &Path, who: &Subject) -> Result<PathBuf, DevPkiError> {
    let rc = |e: rcgen::Error| err(dir, e);
    let spec = match who {
        Subject::Partner(id) => {
            let mut spec = LeafSpec::new(id, Usage::Client, 365);
            spec.uris = vec![partner_uri(id)];
            spec
        }
        Subject::Server => {
            let mut spec = LeafSpec::new("localhost", Usage::Server, 365);
            spec.dns = vec!["localhost".into()];
            spec.ips = vec![
                std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::Ipv6Addr::LOCALHOST.into(),
            ];
            spec
        }
        Subject::Institution => {
            let mut spec = LeafSpec::new("institution", Usage::Client, 365);
            spec.uris = vec!["spiffe://institution.sluice.test/sluice".into()];
            spec
        }
    };
    let issued = ca.issue(&spec).map_err(rc)?;
    let (cert, key) = who.files();
    write_public(&dir.join(&cert), issued.cert_pem.as_bytes())?;
    write_private(&dir.join(&key), issued.key_pem.as_bytes())?;
    Ok(dir.join(cert))
}

/// Signs one more certificate with the CA in `dir`. Refuses to overwrite an existing one unless
/// `force` (the replaced certificate stays valid until it is revoked or expires).
pub fn issue(dir: &Path, who: &Subject, force: bool) -> Result<IssueReport, DevPkiError> {
    let ca = DevCa::load(dir).map_err(|e| {
        err(
            dir,
            format!("no CA to sign with ({e}); expected a PKI made by `sluice certs init`"),
        )
    })?;
    let (cert, _) = who.files();
    let cert_path = dir.join(&cert);
    let mut replaced_serial = None;
    if cert_path.exists() {
        if !force {
            return Err(err(
                &cert_path,
                "exists; expected a subject without a certificate (to rotate it: `sluice certs revoke` the old one if it must stop working, then issue with --force)",
            ));
        }
        replaced_serial = serial_of(&cert_path).ok();
    }
    std::fs::create_dir_all(dir.join("partners")).map_err(|e| err(dir, e))?;
    let cert = issue_leaf(&ca, dir, who)?;
    let snippet = match who {
        Subject::Partner(id) => {
            let s = snippet(id);
            let listing = dir.join("partners.toml");
            let mut all = std::fs::read_to_string(&listing).unwrap_or_default();
            if !all.contains(&format!("id           = \"{id}\"")) {
                all.push_str(&s);
                write_public(&listing, all.as_bytes())?;
            }
            Some(s)
        }
        _ => None,
    };
    Ok(IssueReport {
        cert,
        snippet,
        replaced_serial,
    })
}

fn serial_of(cert_path: &Path) -> Result<String, DevPkiError> {
    let certs = crate::pem::load_certs(cert_path).map_err(|e| err(cert_path, e))?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(&certs[0]).map_err(|e| err(cert_path, e))?;
    Ok(crate::hex(cert.raw_serial()))
}

/// Serial numbers revoked in a PEM CRL, and its CRL number.
fn read_crl(path: &Path) -> Result<(Vec<Vec<u8>>, u64), DevPkiError> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateRevocationListDer::from_pem_file(path)
        .map_err(|e| err(path, e))?;
    let (_, crl) = x509_parser::parse_x509_crl(&der).map_err(|e| err(path, e))?;
    let serials = crl
        .iter_revoked_certificates()
        .map(|r| r.raw_serial().to_vec())
        .collect();
    let number = crl
        .crl_number()
        .and_then(|n| n.to_u64_digits().first().copied())
        .unwrap_or(0);
    Ok((serials, number))
}

/// Adds a partner's certificate to the CRL in `dir`.
pub fn revoke(dir: &Path, partner: &str) -> Result<(), DevPkiError> {
    let cert_path = dir.join(format!("partners/{partner}.pem"));
    let certs = crate::pem::load_certs(&cert_path).map_err(|e| err(&cert_path, e))?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(&certs[0]).map_err(|e| err(&cert_path, e))?;
    let serial = cert.raw_serial().to_vec();
    let crl_path = dir.join("crl.pem");
    let (mut serials, number) = read_crl(&crl_path)?;
    if !serials.contains(&serial) {
        serials.push(serial);
    }
    let ca = DevCa::load(dir)?;
    let pem = ca
        .crl(&serials, number + 1)
        .map_err(|e| err(&crl_path, e))?;
    write_public(&crl_path, pem.as_bytes())
}
