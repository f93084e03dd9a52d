//! `sluice certs init DIR`, `sluice certs issue DIR --partner ID` and `sluice certs revoke DIR
//! --partner ID`: a development PKI, changed only in ways that keep existing keys (see
//! `sluice_certs::devpki`).

use super::Failure;
use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum CertsCommand {
    /// Create a development PKI: CA, server and partner certificates, CRL, signing and hash keys.
    Init {
        /// Where to write it (created if missing).
        dir: PathBuf,
        /// A partner to issue a client certificate for (repeatable; default acme-loans and safe-insure).
        #[arg(long = "partner")]
        partners: Vec<String>,
        /// Replace an existing CA, CRL, signing key and hash key (breaks every certificate the
        /// old CA issued, forgets revocations, changes pseudonyms and the ledger's log key).
        #[arg(long)]
        force: bool,
    },
    /// Sign one more certificate with the existing CA: a new partner, or the server or
    /// institution certificate. Nothing else in DIR changes.
    Issue {
        /// The PKI directory (made by `certs init`).
        dir: PathBuf,
        /// The partner to issue a client certificate for.
        #[arg(long, conflicts_with_all = ["server", "institution"], required_unless_present_any = ["server", "institution"])]
        partner: Option<String>,
        /// Issue the listeners' server certificate.
        #[arg(long, conflicts_with = "institution")]
        server: bool,
        /// Issue the institution's client certificate (push flow).
        #[arg(long)]
        institution: bool,
        /// Replace an existing certificate (the old one stays valid until revoked or expired).
        #[arg(long)]
        force: bool,
    },
    /// Revoke a partner's development certificate (adds it to DIR/crl.pem).
    Revoke {
        /// The PKI directory.
        dir: PathBuf,
        /// The partner id.
        #[arg(long)]
        partner: String,
    },
}

pub(crate) fn run(cmd: CertsCommand) -> Result<(), Failure> {
    match cmd {
        CertsCommand::Issue {
            dir,
            partner,
            server,
            institution,
            force,
        } => {
            use sluice_certs::devpki::Subject;
            let who = match (partner, server, institution) {
                (Some(p), _, _) => {
                    check_partner_id(&p)?;
                    Subject::Partner(p)
                }
                (None, true, _) => Subject::Server,
                _ => Subject::Institution,
            };
            match sluice_certs::devpki::issue(&dir, &who, force) {
                Ok(report) => {
                    println!(
                        "issued {} (signed by the existing CA)",
                        report.cert.display()
                    );
                    if let Some(serial) = report.replaced_serial {
                        eprintln!(
                            "warning: the certificate it replaced (serial {serial}) stays valid until it expires; revoke it if it must stop working"
                        );
                    }
                    if let Some(s) = report.snippet {
                        println!("policy snippet for this partner (also in partners.toml):\n");
                        print!("{s}");
                        println!(
                            "add it and the partner's contract to the policy, then reload sluice (SIGHUP)"
                        );
                    } else {
                        println!("reload sluice (SIGHUP) to serve it");
                    }
                    Ok(())
                }
                Err(e) => {
                    eprintln!("{e}");
                    Err(Failure::Input)
                }
            }
        }
        CertsCommand::Init {
            dir,
            partners,
            force,
        } => {
            let partners = if partners.is_empty() {
                sluice_certs::devpki::DEFAULT_PARTNERS
                    .iter()
                    .map(|p| p.to_string())
                    .collect()
            } else {
                partners
            };
            for p in &partners {
                check_partner_id(p)?
            }
            match sluice_certs::devpki::init_with(&dir, &partners, force) {
                Ok(report) => {
                    for (file, breaks) in &report.replaced {
                        eprintln!("warning: --force replaced {file}: {breaks}");
                    }
                    for file in &report.kept {
                        println!("kept the existing {file}");
                    }
                    println!(
                        "development PKI written to {} (not for production)",
                        report.dir.display()
                    );
                    println!("policy snippets for these partners (also in partners.toml):\n");
                    print!("{}", report.snippets);
                    Ok(())
                }
                Err(e) => {
                    eprintln!("{e}");
                    Err(Failure::Input)
                }
            }
        }
        CertsCommand::Revoke { dir, partner } => match sluice_certs::devpki::revoke(&dir, &partner)
        {
            Ok(()) => {
                println!(
                    "revoked {partner}: {} updated; reload sluice (SIGHUP) to apply",
                    dir.join("crl.pem").display()
                );
                Ok(())
            }
            Err(e) => {
                eprintln!("{e}");
                Err(Failure::Failed)
            }
        },
    }
}

/// A partner id as certificates and policies spell it.
fn check_partner_id(id: &str) -> Result<(), Failure> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        eprintln!("--partner {id:?}: expected letters, digits, '-' or '_'");
        return Err(Failure::Input);
    }
    Ok(())
}
