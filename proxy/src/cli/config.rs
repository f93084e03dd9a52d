//! `sluice config check FILE [--policy FILE]`: validates a configuration with its policy and every
//! file they name (keys, certificates, CRLs, upstream TLS), without binding any port.

use std::path::PathBuf;
use std::process::ExitCode;

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
    },
}

pub(crate) fn run(cmd: ConfigCommand) -> ExitCode {
    let ConfigCommand::Check { file, policy } = cmd;
    let config = match crate::config::Config::load(&file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let (listeners, upstreams) = (config.listeners.len(), config.upstreams.len());
    match crate::state::Shared::check(config, policy) {
        Ok(shared) => {
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
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
