//! `sluice run --config FILE [--policy FILE]`: the server. SIGHUP reloads the policy and the
//! certificates (validate, then swap); SIGTERM or SIGINT drains and exits 0.

use std::path::PathBuf;
use std::process::ExitCode;
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

pub(crate) fn run(args: RunArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut config = match crate::config::Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = args.ledger_dir {
        config.ledger.dir = dir;
    }
    if let Some(key) = args.ledger_key {
        config.ledger.signing_key = key;
    }
    if let Some(origin) = args.ledger_origin {
        if let Err(e) = crate::config::check_origin(&origin) {
            eprintln!("--ledger-origin: {e}");
            return ExitCode::from(2);
        }
        config.ledger.origin = origin;
    }
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        // Ports first: an instance that cannot listen stops before its ledger records anything.
        let bound = match crate::server::bind(&config).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
        };
        let shared = match crate::state::Shared::load(config, args.policy) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        };
        let running = match crate::server::serve_bound(shared, bound) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
        };
        let (Ok(mut hup), Ok(mut term)) = (
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()),
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()),
        ) else {
            eprintln!("cannot install signal handlers");
            return ExitCode::from(1);
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
        ExitCode::SUCCESS
    })
}
