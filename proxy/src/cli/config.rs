//! `sluice config check FILE [--policy FILE]`: validates a configuration with its policy and every
//! file they name (keys, certificates, CRLs, upstream TLS, the ledger signing key against the
//! ledger already in the directory) — every check `sluice run` makes at start except binding
//! the ports (an instance may be running on them) — and prints warnings: private keys readable
//! by group or others, contracts and certificates ending within 30 days.

use super::Failure;
use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Validate sluice.toml, its policy, and every file they name.
    Check {
        /// The configuration file.
        file: PathBuf,
        /// Use this policy instead of the configured one.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Treat warnings (readable keys, contracts and certificates ending within 30 days) as
        /// failures: exit 1 when there is any.
        #[arg(long)]
        strict: bool,
    },
}

pub(crate) fn run(cmd: ConfigCommand) -> Result<(), Failure> {
    let ConfigCommand::Check {
        file,
        policy,
        strict,
    } = cmd;
    let config = match sluice::config::Config::load(&file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Err(Failure::Input);
        }
    };
    let (listeners, upstreams) = (config.listeners.len(), config.upstreams.len());
    match sluice::state::Shared::check(config, policy) {
        Ok(shared) => {
            let warnings = shared.warnings();
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            let p = shared.policy();
            let soonest = shared
                .tls
                .iter()
                .flat_map(|t| t.expiries())
                .min_by_key(|e| e.days_left);
            println!(
                "ok: {listeners} listeners, {upstreams} upstreams, policy sha256 {} ({} contracts){}",
                p.policy.version,
                p.policy.contracts.len(),
                soonest.map_or(String::new(), |e| format!(
                    ", first certificate expiry in {} days ({})",
                    e.days_left, e.label
                ))
            );
            if strict && !warnings.is_empty() {
                eprintln!("{} warning(s) with --strict: failing", warnings.len());
                return Err(Failure::Failed);
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("{e}");
            Err(Failure::Input)
        }
    }
}
