//! Helpers shared by the `sluice` binary's tests: run the real binary, pick a free loopback port,
//! make a ledger signing key.
#![allow(dead_code)]

use std::process::Command;
use std::sync::Arc;

use ring::signature::{Ed25519KeyPair, KeyPair};

#[path = "../../../tests/src/scratch.rs"]
mod scratch;
pub use scratch::scratch_dir;

/// The binary under test.
pub const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// Runs `sluice ARGS`: (exit code, stdout, stderr).
pub fn sluice(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(SLUICE)
        .args(args)
        .output()
        .expect("run sluice");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh Ed25519 ledger signing key and its public key in hex (as `log.pub` holds it).
pub fn signing_key() -> (Arc<Ed25519KeyPair>, String) {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let key = Arc::new(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap());
    let public = key
        .public_key()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (key, public)
}

/// A test ledger's `disclosure.begin`: `partner` under `contract`, a pull of
/// `/v1/applicants/{id}`, fixed certificate and policy hashes.
pub fn begin(request_id: &str, partner: &str, contract: &str) -> sluice::ledger::Entry {
    sluice::ledger::Entry::Begin(Box::new(sluice::ledger::Begin {
        request_id: request_id.into(),
        trace_id: String::new(),
        partner: partner.into(),
        spki_sha256: [1; 32],
        serial: "01".into(),
        contract: contract.into(),
        route: "/v1/applicants/{id}".into(),
        flow: "pull".into(),
        policy_version: [2; 32],
        target: None,
    }))
}

/// A test ledger's `disclosure.end`: the disclosure begun at `begin` sent whole (one record,
/// five bytes) about `subjects`, held inline.
pub fn sent(begin: u64, subjects: Vec<[u8; 32]>) -> sluice::ledger::Entry {
    sluice::ledger::Entry::End(Box::new(sluice::ledger::End {
        begin,
        outcome: sluice::ledger::Outcome::Sent,
        bytes_sent: 5,
        sha256_sent: [3; 32],
        records: 1,
        records_dropped: 0,
        fields: vec![],
        subject_count: subjects.len() as u64,
        subjects,
        subjects_digest: [0; 32],
        integrity: "none".into(),
    }))
}
