//! What the ledger benches (`ledger-bench`, `store-bench`) write: a `disclosure.begin` shaped as
//! the proxy writes one, a fresh checkpoint key, and a ledger opened with the proxy's defaults
//! (group commit, a checkpoint every 256 entries) — without the serving runtime's idle hook, so
//! every waited append wakes the writer.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ring::signature::Ed25519KeyPair;
use sluice::ledger::{Begin, Entry, Ledger, LedgerOptions};

/// The `i`-th disclosure's begin: ids of real length, a route template, a target hash.
pub fn begin(i: u64) -> Entry {
    Entry::Begin(Box::new(Begin {
        request_id: format!("{i:032x}"),
        trace_id: format!("{:032x}", i ^ 0x5a5a),
        partner: "acme-loans".into(),
        spki_sha256: [7; 32],
        serial: "0a1b2c3d4e5f".into(),
        contract: "acme-prescreen-2026".into(),
        route: "/v1/applicants/{id}".into(),
        flow: "pull".into(),
        policy_version: [9; 32],
        target: Some([3; 32]),
        headers: None,
    }))
}

/// A fresh Ed25519 checkpoint key.
pub fn signing_key() -> Arc<Ed25519KeyPair> {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    Arc::new(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
}

/// Opens (or creates) the ledger in `dir` as `origin`, signing checkpoints no more often than
/// `min_interval`.
pub fn open(dir: &Path, origin: &str, key: &Arc<Ed25519KeyPair>, min_interval: Duration) -> Ledger {
    Ledger::open(LedgerOptions {
        dir: dir.to_path_buf(),
        origin: origin.into(),
        key: key.clone(),
        commit_window: Duration::ZERO,
        checkpoint_every: 256,
        checkpoint_min_interval: min_interval,
        commit_delay: sluice::ledger::CommitDelay::default(),
        segment_bytes: 64 << 20,
        idle_commit_wait: Duration::ZERO,
    })
    .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
    .0
}
