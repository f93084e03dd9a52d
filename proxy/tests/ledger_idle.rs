//! The ledger syncs a `disclosure.begin` batch when the serving runtime's workers go idle
//! (`ledger::idle`); when no worker goes idle, a begin still becomes durable within the
//! configured bound. Its own test binary: installing the hook is process-wide.

mod support;
use support::signing_key;

use std::time::{Duration, Instant};

use sluice::ledger::{Ledger, LedgerOptions};

#[tokio::test]
async fn a_begin_waits_no_longer_than_the_bound_when_no_worker_goes_idle() {
    // The hook is installed but this runtime never calls it: no worker ever "goes idle".
    sluice::ledger::idle::install();
    let dir = support::scratch_dir("sluice-ledger-idle");
    let _ = std::fs::remove_dir_all(&dir);
    let (key, _) = signing_key();
    let (l, _) = Ledger::open(LedgerOptions {
        dir: dir.clone(),
        origin: "t/idle".into(),
        key,
        commit_window: Duration::ZERO,
        checkpoint_every: 256,
        checkpoint_min_interval: Duration::ZERO,
        commit_delay: sluice::ledger::CommitDelay::default(),
        segment_bytes: 1 << 20,
        idle_commit_wait: Duration::from_millis(20),
    })
    .unwrap();
    // Twenty begins one after the other: each is due after the 20 ms bound at the latest. A
    // writer idle between them used to sleep out its idle interval (1 s) with the begin queued,
    // as nothing woke it: every few begins one took a whole second. The slowest must stay far
    // below that (30 times the bound: a slow machine does not make this fail).
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let started = Instant::now();
        l.append_begin(match support::begin(&format!("r{i}"), "acme-loans", "c") {
            sluice::ledger::Entry::Begin(b) => *b,
            _ => unreachable!(),
        })
        .await
        .unwrap();
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(600),
        "the slowest begin took {slowest:?}"
    );
    l.close();
}
