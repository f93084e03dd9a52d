//! `sluice policy check FILE` and `sluice policy explain FILE --contract ID`.

use super::Failure;
use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Validate a policy; print every problem with its key path, or a one-line summary.
    Check {
        /// The policy file.
        file: PathBuf,
    },
    /// Show what a contract lets its partner receive, route by route.
    Explain {
        /// The policy file.
        file: PathBuf,
        /// The contract id.
        #[arg(long)]
        contract: String,
    },
}

pub(crate) fn run(cmd: PolicyCommand) -> Result<(), Failure> {
    match cmd {
        PolicyCommand::Check { file } => {
            let policy = super::load_policy(&file)?;
            println!(
                "ok: {} partners, {} contracts, {} routes, sha256 {}",
                policy.partners.len(),
                policy.contracts.len(),
                policy.route_count(),
                policy.version
            );
            Ok(())
        }
        PolicyCommand::Explain { file, contract } => {
            let policy = super::load_policy(&file)?;
            match sluice_policy::explain::explain(&policy, &contract) {
                Some(text) => {
                    print!("{text}");
                    Ok(())
                }
                None => {
                    let ids: Vec<_> = policy.contracts.iter().map(|c| c.id.as_str()).collect();
                    eprintln!(
                        "{}: no contract {contract:?}; contracts are: {}",
                        file.display(),
                        ids.join(", ")
                    );
                    Err(Failure::Input)
                }
            }
        }
    }
}
