//! `sluice filter`: stdin → stdout through the same engine the proxy uses.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct FilterArgs {}

pub(crate) fn run(_args: FilterArgs) -> ExitCode {
    eprintln!("sluice filter: not available yet");
    ExitCode::from(1)
}
