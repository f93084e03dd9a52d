//! `sluice certs init DIR` and `sluice certs revoke DIR --partner ID`: a development PKI.

use std::path::PathBuf;
use std::process::ExitCode;

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

pub(crate) fn run(cmd: CertsCommand) -> ExitCode {
    match cmd {
        CertsCommand::Init { dir, partners } => {
            let partners = if partners.is_empty() {
                sluice_certs::devpki::DEFAULT_PARTNERS
                    .iter()
                    .map(|p| p.to_string())
                    .collect()
            } else {
                partners
            };
            if let Some(bad) = partners.iter().find(|p| {
                p.is_empty()
                    || !p
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            }) {
                eprintln!("--partner {bad:?}: expected letters, digits, '-' or '_'");
                return ExitCode::from(2);
            }
            match sluice_certs::devpki::init(&dir, &partners) {
                Ok(report) => {
                    println!(
                        "development PKI written to {} (not for production)",
                        report.dir.display()
                    );
                    println!("policy snippets for these partners (also in partners.toml):\n");
                    print!("{}", report.snippets);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(1)
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
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(1)
            }
        },
    }
}
