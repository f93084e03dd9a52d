//! `sluice integrity verify --body FILE [--digest FIELD] [--ledger DIR --seq N]`: checks, without
//! trusting sluice, that a body someone kept (the partner's copy of a response, a pushed request)
//! is exactly what was disclosed — against the `Content-Digest` it came with, and against the
//! digest the ledger recorded for that disclosure (`Sluice-Disclosure: origin/seq` names the
//! `begin` entry). Run `sluice ledger verify` on the ledger first: this command trusts its copy.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum IntegrityCommand {
    /// Check a kept body against its Content-Digest and/or the ledger's record of it.
    Verify {
        /// The body, as received (after any content coding was undone).
        #[arg(long)]
        body: PathBuf,
        /// The `Content-Digest` it came with (header or trailer value), e.g. `sha-256=:…:`.
        #[arg(long)]
        digest: Option<String>,
        /// The ledger directory.
        #[arg(long, requires = "seq")]
        ledger: Option<PathBuf>,
        /// The disclosure's `begin` sequence number (the number after the `/` of
        /// `Sluice-Disclosure`).
        #[arg(long, requires = "ledger")]
        seq: Option<u64>,
    },
}

pub(crate) fn run(cmd: IntegrityCommand) -> ExitCode {
    let IntegrityCommand::Verify {
        body,
        digest,
        ledger,
        seq,
    } = cmd;
    if digest.is_none() && ledger.is_none() {
        eprintln!("nothing to check against: give --digest, or --ledger and --seq");
        return ExitCode::from(2);
    }
    let bytes = match std::fs::read(&body) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{}: {e}", body.display());
            return ExitCode::from(2);
        }
    };
    let mut ok = true;
    if let Some(field) = digest {
        let mut headers = http::HeaderMap::new();
        let Ok(value) = http::HeaderValue::from_str(&field) else {
            eprintln!("--digest {field:?}: not a header value");
            return ExitCode::from(2);
        };
        headers.insert("content-digest", value);
        match crate::digest::expected(&headers) {
            Ok(Some(e)) => {
                let alg = match e.algorithm {
                    crate::digest::Algorithm::Sha256 => &ring::digest::SHA256,
                    crate::digest::Algorithm::Sha512 => &ring::digest::SHA512,
                };
                let matches = ring::digest::digest(alg, &bytes).as_ref() == e.value.as_slice();
                println!(
                    "content-digest: {}",
                    if matches { "matches" } else { "DOES NOT MATCH" }
                );
                ok &= matches;
            }
            Ok(None) | Err(_) => {
                eprintln!("--digest {field:?}: expected sha-256=:BASE64: or sha-512=:BASE64:");
                return ExitCode::from(2);
            }
        }
    }
    if let (Some(dir), Some(seq)) = (ledger, seq) {
        let entries = match crate::ledger::read::entries(&dir) {
            Ok(es) => es,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
        };
        let found = crate::ledger::read::disclosures(&dir, &entries)
            .into_iter()
            .find(|(v, _, _)| v["seq"] == seq);
        let Some((v, _, _)) = found else {
            eprintln!("{}: no disclosure begins at entry {seq}", dir.display());
            return ExitCode::from(1);
        };
        let sha: String = ring::digest::digest(&ring::digest::SHA256, &bytes)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let recorded = v["sha256_sent"].as_str().unwrap_or("");
        let matches = recorded == sha;
        println!(
            "ledger entry {seq} ({} / {}, outcome {}): {}",
            v["partner"].as_str().unwrap_or(""),
            v["contract"].as_str().unwrap_or(""),
            v["outcome"].as_str().unwrap_or(""),
            if matches {
                "the body is what was disclosed"
            } else {
                "the body is NOT what the ledger recorded"
            }
        );
        ok &= matches;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
