//! The `sluice` binary: the command line ([`cli`]) and the embedded demo ([`demo`]) over the
//! `sluice` library.

mod cli;
mod demo;

fn main() -> std::process::ExitCode {
    cli::main()
}
