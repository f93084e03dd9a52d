//! `gen-feed`: the reference feed (see `sluice_bench::feed`) to a file or stdout.
//!
//!   gen-feed --size 64MiB [--format json|ndjson] [--seed 1] [-o FILE]
//!   gen-feed --records 1000 ...

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use sluice_bench::feed::{Amount, Shape, generate, parse_size};

#[derive(Debug, Parser)]
#[command(
    about = "The reference loan-applicant feed: deterministic, the same bytes for the same arguments"
)]
struct Args {
    /// Approximate size (64MiB, 1GiB, ...): records until at least this many bytes.
    #[arg(long, conflicts_with = "records", required_unless_present = "records")]
    size: Option<String>,
    /// Exactly this many records.
    #[arg(long)]
    records: Option<u64>,
    /// `json` (one document with a `records` array) or `ndjson` (one record per line).
    #[arg(long, default_value = "json", value_parser = ["json", "ndjson"])]
    format: String,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file (default: stdout).
    #[arg(short = 'o', long)]
    output: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let amount = match (&a.size, a.records) {
        (Some(s), _) => match parse_size(s) {
            Some(n) => Amount::Bytes(n),
            None => {
                eprintln!("--size {s:?}: expected a size such as 64MiB, 1GiB or a byte count");
                return ExitCode::from(2);
            }
        },
        (None, Some(n)) => Amount::Records(n),
        (None, None) => unreachable!("clap requires one"),
    };
    let shape = if a.format == "ndjson" {
        Shape::Ndjson
    } else {
        Shape::Json
    };
    let result = match &a.output {
        Some(path) => std::fs::File::create(path).and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            let n = generate(&mut w, shape, a.seed, amount)?;
            w.flush()?;
            Ok(n)
        }),
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            generate(&mut w, shape, a.seed, amount).and_then(|n| w.flush().map(|()| n))
        }
    };
    match result {
        Ok(n) => {
            eprintln!("records: {n}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen-feed: {e}");
            ExitCode::from(1)
        }
    }
}
