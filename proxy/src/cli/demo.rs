//! `sluice demo [--once] [--dir DIR]`: see [`crate::demo`].

use super::Failure;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Exit after the walkthrough instead of serving until Ctrl-C.
    #[arg(long)]
    once: bool,
    /// Where to keep the demo's files (default: a new temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub(crate) fn run(args: DemoArgs) -> Result<(), Failure> {
    let runtime = super::runtime()?;
    match runtime.block_on(crate::demo::run(args.once, args.dir)) {
        Ok(()) => Ok(()),
        Err(e) => {
            eprintln!("\ndemo failed: {e}");
            Err(Failure::Failed)
        }
    }
}
