//! `sluice ledger verify DIR [--pubkey FILE]` and `sluice ledger show DIR`: the compliance
//! team's tools (query, prove and export follow).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCommand {
    /// Check record checksums, entries, the Merkle tree, and every signed checkpoint.
    Verify {
        /// The ledger directory.
        dir: PathBuf,
        /// The log's public key (PEM SubjectPublicKeyInfo, as `certs init` writes signing.pub).
        #[arg(long)]
        pubkey: PathBuf,
    },
    /// Print every entry as a JSON line.
    Show {
        /// The ledger directory.
        dir: PathBuf,
    },
}

pub(crate) fn run(cmd: LedgerCommand) -> ExitCode {
    match cmd {
        LedgerCommand::Verify { dir, pubkey } => {
            let key = match std::fs::read_to_string(&pubkey)
                .ok()
                .and_then(|t| crate::ledger::checkpoint::parse_public_key(&t))
            {
                Some(k) => k,
                None => {
                    eprintln!(
                        "{}: expected an Ed25519 public key (PEM SubjectPublicKeyInfo or 64 hex digits)",
                        pubkey.display()
                    );
                    return ExitCode::from(2);
                }
            };
            match crate::ledger::verify::verify_dir(&dir, &key) {
                Ok(r) => {
                    println!(
                        "ok: {} entries, {} checkpoints, root {}{}",
                        r.entries,
                        r.checkpoints,
                        r.root,
                        if r.torn_tail {
                            " (an incomplete last record will be cut at the next start)"
                        } else {
                            ""
                        }
                    );
                    ExitCode::SUCCESS
                }
                Err(problem) => {
                    eprintln!("{}: {problem}", dir.display());
                    ExitCode::from(1)
                }
            }
        }
        LedgerCommand::Show { dir } => {
            let path = dir.join(crate::ledger::segment::SEGMENT);
            let data = match std::fs::read(&path) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("{}: {e}", path.display());
                    return ExitCode::from(1);
                }
            };
            for bytes in crate::ledger::segment::scan(&data).entries {
                match crate::ledger::Record::decode(bytes) {
                    Some(r) => println!("{}", r.to_json()),
                    None => {
                        eprintln!(
                            "{}: an entry does not decode; run `sluice ledger verify`",
                            path.display()
                        );
                        return ExitCode::from(1);
                    }
                }
            }
            ExitCode::SUCCESS
        }
    }
}
