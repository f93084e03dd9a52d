//! `sluice integrity verify`: checks, without trusting sluice, that what someone kept (the
//! partner's copy of a response, a pushed request) is exactly what was disclosed.
//!
//! - `--message FILE --pubkey FILE`: a saved HTTP/1.1 response (head, chunked body, trailers):
//!   recomputes its `Content-Digest` from the body, verifies sluice's RFC 9421 signature over it
//!   with the institution's public key, and — with `--ledger` — compares the digest with the
//!   ledger's record of the disclosure its `Sluice-Disclosure` header names.
//! - `--body FILE [--digest FIELD] [--ledger DIR --seq N]`: a bare body against a
//!   `Content-Digest` value and/or the ledger.
//!
//! Run `sluice ledger verify` on the ledger first: this command trusts its copy.

use super::Failure;
use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum IntegrityCommand {
    /// Check a kept message or body against its Content-Digest, sluice's signature and/or the
    /// ledger's record of it.
    Verify {
        /// A saved HTTP/1.1 response (status line, fields, body with its framing, trailers).
        #[arg(long, conflicts_with_all = ["body", "digest", "seq"], requires = "pubkey")]
        message: Option<PathBuf>,
        /// The institution's message-signing public key (PEM SubjectPublicKeyInfo or 64 hex
        /// digits), to verify the signature of `--message`.
        #[arg(long, requires = "message")]
        pubkey: Option<PathBuf>,
        /// A body, as received (after any content coding was undone).
        #[arg(long, required_unless_present = "message")]
        body: Option<PathBuf>,
        /// The `Content-Digest` it came with (header or trailer value), e.g. `sha-256=:…:`.
        #[arg(long)]
        digest: Option<String>,
        /// The ledger directory.
        #[arg(long)]
        ledger: Option<PathBuf>,
        /// The disclosure's `begin` sequence number (the number after the `/` of
        /// `Sluice-Disclosure`); taken from the message with `--message`.
        #[arg(long)]
        seq: Option<u64>,
    },
}

/// Checks `bytes` against a `Content-Digest` field value; `None` when the value is unusable.
fn digest_matches(field: &str, bytes: &[u8]) -> Option<bool> {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-digest", http::HeaderValue::from_str(field).ok()?);
    let e = sluice::digest::expected(&headers).ok()??;
    Some(e.algorithm.digest(bytes) == e.value)
}

/// Verifies a saved message; returns its body, its `Sluice-Disclosure` seq and whether every
/// check passed.
fn check_message(
    message: &PathBuf,
    pubkey: &PathBuf,
) -> Result<(Vec<u8>, Option<u64>, bool), String> {
    let raw = std::fs::read(message).map_err(|e| format!("{}: {e}", message.display()))?;
    let key_text =
        std::fs::read_to_string(pubkey).map_err(|e| format!("{}: {e}", pubkey.display()))?;
    let key = sluice::ledger::checkpoint::parse_public_key(&key_text).ok_or_else(|| {
        format!(
            "{}: expected a PEM Ed25519 public key or 64 hex digits",
            pubkey.display()
        )
    })?;
    let checked = sluice::signature::message::check(&raw, &key)
        .map_err(|e| format!("{}: {e}", message.display()))?;
    println!(
        "content-digest: {}",
        match checked.digest_matches {
            Some(true) => "matches the body",
            Some(false) => "DOES NOT MATCH the body",
            None => "MISSING (no trailer or header)",
        }
    );
    match &checked.signature {
        Ok((keyid, created)) => println!("signature: valid (keyid {keyid:?}, created {created})"),
        Err(e) => println!("signature: NOT VALID ({})", e.code()),
    }
    let passed = checked.passed();
    Ok((checked.body, checked.disclosure_seq, passed))
}

pub(crate) fn run(cmd: IntegrityCommand) -> Result<(), Failure> {
    let IntegrityCommand::Verify {
        message,
        pubkey,
        body,
        digest,
        ledger,
        seq,
    } = cmd;
    let mut ok = true;
    let (bytes, seq) = match (&message, &pubkey, &body) {
        (Some(m), Some(k), _) => match check_message(m, k) {
            Ok((bytes, found, passed)) => {
                ok &= passed;
                if ledger.is_some() && found.is_none() {
                    eprintln!(
                        "{}: no Sluice-Disclosure header to find the ledger entry by",
                        m.display()
                    );
                    return Err(Failure::Failed);
                }
                (bytes, found)
            }
            Err(e) => {
                eprintln!("{e}");
                return Err(Failure::Input);
            }
        },
        (_, _, Some(body)) => {
            if digest.is_none() && (ledger.is_none() || seq.is_none()) {
                eprintln!("nothing to check against: give --digest, or --ledger and --seq");
                return Err(Failure::Input);
            }
            match std::fs::read(body) {
                Ok(b) => (b, seq),
                Err(e) => {
                    eprintln!("{}: {e}", body.display());
                    return Err(Failure::Input);
                }
            }
        }
        _ => {
            eprintln!("give --message and --pubkey, or --body");
            return Err(Failure::Input);
        }
    };
    if let Some(field) = digest {
        match digest_matches(&field, &bytes) {
            Some(matches) => {
                println!(
                    "content-digest: {}",
                    if matches { "matches" } else { "DOES NOT MATCH" }
                );
                ok &= matches;
            }
            None => {
                eprintln!("--digest {field:?}: expected sha-256=:BASE64: or sha-512=:BASE64:");
                return Err(Failure::Input);
            }
        }
    }
    if let (Some(dir), Some(seq)) = (ledger, seq) {
        let mut found = None;
        if let Err(e) = sluice::ledger::read::for_each_disclosure(&dir, |d| {
            if found.is_none() && d.0["seq"] == seq {
                found = Some(d);
            }
        }) {
            eprintln!("{e}");
            return Err(Failure::Failed);
        }
        let Some((v, _, _)) = found else {
            eprintln!("{}: no disclosure begins at entry {seq}", dir.display());
            return Err(Failure::Failed);
        };
        let sha =
            sluice_policy::hex::hex(ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref());
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
    if ok { Ok(()) } else { Err(Failure::Failed) }
}
