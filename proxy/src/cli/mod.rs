//! The `sluice` command line: one subcommand per job, each in its own module.
//!
//! Exit codes: 0 success; 1 a runtime failure (I/O, a check that failed); 2 bad input (a policy
//! or config that does not load, bad arguments); 3 a policy violation found in a body
//! (`sluice filter`). Commands return a [`Failure`] (their message already printed where the
//! problem was found); [`main`] is the one place that turns it into an exit status.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod certs;
mod config;
mod demo;
mod filter;
mod integrity;
mod ledger;
mod policy;
mod policy_test;
mod probe;
mod run;
mod store;

/// Sluice: a streaming DLP reverse proxy for third-party data feeds.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate and explain policy files.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Filter a body from stdin to stdout through a contract (an offline dry run).
    Filter(filter::FilterArgs),
    /// The whole product on loopback: PKI, contracts, mock institution and partner, sluice, a walkthrough.
    Demo(demo::DemoArgs),
    /// Validate configuration files.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// The disclosure ledger: verify, query, prove, report, export.
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// Run the proxy.
    Run(run::RunArgs),
    /// Development certificates.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// Health probe for the admin listener (for images without curl).
    Probe(probe::ProbeArgs),
    /// Check a kept body against its digest and the ledger.
    #[command(subcommand)]
    Integrity(integrity::IntegrityCommand),
}

/// How a command failed, as the exit status it maps to. The message was printed where the
/// problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// 1: a runtime failure (I/O, a verification that failed).
    Failed = 1,
    /// 2: bad input (arguments, a policy or configuration that does not load).
    Input = 2,
    /// 3: a policy violation found in a body (`sluice filter`).
    Violation = 3,
}

/// The runtime for the commands that serve; exit 1 if it cannot start. Its threads tell the
/// ledger when they go idle (`ledger::idle`).
///
/// With one CPU to run on (`available_parallelism`: the process's CPU affinity and its cgroup
/// quota), a current-thread runtime: there is no other worker to steal from or hand work to, and
/// the multi-threaded scheduler's cross-thread bookkeeping was measured at 6–26% of the CPU per
/// small request (`bench/results/2026-12-07-one-thread.md`). With more, one worker per CPU.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    sluice::ledger::idle::install();
    let one_cpu = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let mut builder = if one_cpu {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder
        .enable_all()
        .on_thread_park(sluice::ledger::idle::workers_idle)
        .build()
        .map_err(|e| {
            eprintln!("cannot start the runtime: {e}");
            Failure::Failed
        })
}

/// Entry point of the binary: the one place a command's result becomes an exit status.
pub fn main() -> ExitCode {
    let result = match Cli::try_parse() {
        Ok(cli) => dispatch(cli.command),
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                Err(Failure::Input)
            } else {
                Ok(()) // --help, --version
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => ExitCode::from(failure as u8),
    }
}

fn dispatch(command: Command) -> Result<(), Failure> {
    match command {
        Command::Policy(cmd) => policy::run(cmd),
        Command::Filter(args) => filter::run(args),
        Command::Certs(cmd) => certs::run(cmd),
        Command::Run(args) => run::run(args),
        Command::Config(cmd) => config::run(cmd),
        Command::Demo(args) => demo::run(args),
        Command::Ledger(cmd) => ledger::run(cmd),
        Command::Probe(args) => probe::run(args),
        Command::Integrity(cmd) => integrity::run(cmd),
    }
}

/// Reads and loads a policy file, printing every problem to stderr on failure.
pub(crate) fn load_policy(
    path: &std::path::Path,
) -> Result<sluice_policy::CompiledPolicy, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", path.display());
            return Err(Failure::Input);
        }
    };
    sluice_policy::CompiledPolicy::load(&path.display().to_string(), &text).map_err(|e| {
        eprintln!("{e}");
        eprintln!(
            "{} problem{} found",
            e.problems.len(),
            if e.problems.len() == 1 { "" } else { "s" }
        );
        Failure::Input
    })
}
