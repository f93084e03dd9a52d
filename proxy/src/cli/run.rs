//! `sluice run --config FILE [--policy FILE]`: the server. SIGHUP reloads the policy and the
//! certificates (validate, then swap); SIGTERM or SIGINT drains and exits 0.

use super::Failure;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// The configuration file (sluice.toml).
    #[arg(long)]
    config: PathBuf,
    /// Use this policy file instead of the one the configuration names.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Keep the disclosure ledger in this directory instead of the configured one.
    #[arg(long)]
    ledger_dir: Option<PathBuf>,
    /// The ledger's origin instead of the configured one (one per replica, e.g.
    /// `bank.example/sluice/$(POD_NAME)` in a StatefulSet).
    #[arg(long)]
    ledger_origin: Option<String>,
    /// The ledger's signing key instead of the configured one (one per replica).
    #[arg(long)]
    ledger_key: Option<PathBuf>,
}

pub(crate) fn run(args: RunArgs) -> Result<(), Failure> {
    // Held until `run` returns: what is queued is written then.
    let _log = sluice::logging::init();
    let mut config = match sluice::config::Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Err(Failure::Input);
        }
    };
    if let Some(dir) = args.ledger_dir {
        config.ledger.dir = dir;
    }
    if let Some(key) = args.ledger_key {
        config.ledger.signing_key = key;
    }
    if let Some(origin) = args.ledger_origin {
        if let Err(e) = sluice::config::check_origin(&origin) {
            eprintln!("--ledger-origin: {e}");
            return Err(Failure::Input);
        }
        config.ledger.origin = origin;
    }
    let runtime = super::runtime()?;
    runtime.block_on(async move {
        // Signals before anything else: once a port is open, a SIGTERM must be a clean shutdown
        // (it is handled once the instance is serving), never the default action's kill in
        // the middle of opening the ledger.
        let (Ok(mut hup), Ok(mut term)) = (
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()),
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()),
        ) else {
            eprintln!("cannot install signal handlers");
            return Err(Failure::Failed);
        };
        // Ports first: an instance that cannot listen stops before its ledger records anything.
        let bound = match sluice::server::bind(&config).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{e}");
                return Err(Failure::Failed);
            }
        };
        let shared = match sluice::state::Shared::load(config, args.policy) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                eprintln!("{e}");
                return Err(Failure::Input);
            }
        };
        let running = match sluice::server::serve_bound(shared, bound) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                return Err(Failure::Failed);
            }
        };
        loop {
            tokio::select! {
                _ = hup.recv() => match running.shared().reload() {
                    Ok(what) => tracing::info!(result = %what, "reload"),
                    Err(e) => tracing::error!(error = %e, "reload refused; the current policy and certificates stay"),
                },
                _ = term.recv() => break,
                _ = tokio::signal::ctrl_c() => break,
            }
        }
        tracing::info!("shutting down: draining requests in flight");
        running.shutdown().await;
        Ok(())
    })
}
