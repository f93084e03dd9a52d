//! What a loaded CRL says, and the rules for replacing one.
//!
//! - A CRL past its `nextUpdate` is refused at load and at reload (the running one stays):
//!   rustls would accept the file and then refuse every partner handshake.
//! - A CRL must have a `nextUpdate`: one without says nothing about when it stops being current.
//! - On reload, a CRL of an issuer must not go backwards: a lower CRL number than the one loaded
//!   (an older CRL, which may lack a revocation) is refused, and so is dropping an issuer's CRL.
//! - The revoked serials are kept so that connections opened before a revocation can be found
//!   and closed, and every request checked ([`Crls::is_revoked`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rustls_pki_types::CertificateRevocationListDer;

use crate::error::{CertError, Problem};

/// One CRL's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlFacts {
    /// `file (CRL N)`.
    pub label: String,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// The CRL number, when it has one.
    pub number: Option<u64>,
    /// `nextUpdate`, Unix seconds.
    pub next_update: i64,
    /// Revoked serial numbers, lowercase hex without separators.
    revoked: HashSet<String>,
}

/// Every CRL of a listener.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Crls(Vec<CrlFacts>);

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

impl Crls {
    /// Reads the facts of `crls` (from `file`) and refuses stale ones. `now` is Unix seconds.
    pub fn read(
        &mut self,
        file: &Path,
        crls: &[CertificateRevocationListDer<'_>],
        now: i64,
    ) -> Result<(), CertError> {
        for (i, der) in crls.iter().enumerate() {
            let item = format!("CRL {}", i + 1);
            let bad = |p: Problem| CertError::new(file, item.clone(), p);
            let (_, crl) = x509_parser::parse_x509_crl(der)
                .map_err(|e| bad(Problem::BadCrl(e.to_string())))?;
            let next_update = crl
                .next_update()
                .map(|t| t.timestamp())
                .ok_or_else(|| bad(Problem::BadCrl("it has no nextUpdate".into())))?;
            if next_update <= now {
                return Err(bad(Problem::StaleCrl {
                    next_update: rfc3339(next_update),
                }));
            }
            let revoked = crl
                .iter_revoked_certificates()
                .map(|r| crate::hex(r.raw_serial()))
                .collect();
            self.0.push(CrlFacts {
                label: format!("{} ({item})", file.display()),
                issuer: crl.issuer().to_string(),
                number: crl
                    .crl_number()
                    .and_then(|n| n.to_u64_digits().first().copied().or(Some(0))),
                next_update,
                revoked,
            });
        }
        Ok(())
    }

    /// Refuses `self` as a replacement for `loaded` when an issuer's CRL went backwards or went
    /// missing.
    pub fn check_replaces(&self, loaded: &Crls) -> Result<(), CertError> {
        let newest: HashMap<&str, &CrlFacts> =
            self.0.iter().map(|c| (c.issuer.as_str(), c)).collect();
        for old in &loaded.0 {
            let file = old.label.rsplit_once(" (").map_or(&*old.label, |x| x.0);
            let Some(new) = newest.get(old.issuer.as_str()) else {
                return Err(CertError::new(
                    file,
                    "CRLs",
                    Problem::OlderCrl(format!(
                        "no CRL of issuer {:?} any more (the loaded one has CRL number {}); a CA's revocations cannot be dropped by reload",
                        old.issuer,
                        old.number.unwrap_or(0)
                    )),
                ));
            };
            if let (Some(o), Some(n)) = (old.number, new.number)
                && n < o
            {
                return Err(CertError::new(
                    file,
                    "CRLs",
                    Problem::OlderCrl(format!(
                        "CRL number {n} of issuer {:?} is older than the loaded CRL number {o}",
                        old.issuer
                    )),
                ));
            }
        }
        Ok(())
    }

    /// True when a CRL of the certificate's issuer lists its serial (lowercase hex).
    pub fn is_revoked(&self, issuer: &str, serial: &str) -> bool {
        self.0
            .iter()
            .any(|c| c.issuer == issuer && c.revoked.contains(serial))
    }

    /// Every CRL's facts.
    pub fn facts(&self) -> &[CrlFacts] {
        &self.0
    }
}
