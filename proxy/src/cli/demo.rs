//! `sluice demo [--once] [--dir DIR]`: see [`crate::demo`].

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Exit after the walkthrough instead of serving until Ctrl-C.
    #[arg(long)]
    once: bool,
    /// Where to keep the demo's files (default: a new temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub(crate) fn run(args: DemoArgs) -> ExitCode {
    let runtime = match super::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(crate::demo::run(args.once, args.dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\ndemo failed: {e}");
            ExitCode::from(1)
        }
    }
}
