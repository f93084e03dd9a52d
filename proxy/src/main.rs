//! The `sluice` binary: the command line ([`cli`]) and the embedded demo ([`demo`]) over the
//! `sluice` library.

mod cli;
mod demo;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
