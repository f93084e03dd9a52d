//! `ledger-bench`: the disclosure ledger's write and verify paths, each next to the disk's own
//! ceiling measured in the same run.
//!
//! - Durable appends per second with 1, 16 and 256 concurrent writers (each waits until its
//!   `disclosure.begin` is durable, as a request does, then appends its `disclosure.end`
//!   without waiting, as a request does once its response is out), under group commit; next to
//!   raw `write` + `fdatasync` of the same-sized record, one at a time, in the same directory.
//! - `ledger verify` speed in entries per second on a ledger of `--entries` entries (default one
//!   million), next to reading its segment files.
//!
//! ```text
//! ledger-bench [--seconds 3] [--entries 1000000] [--dir $TMPDIR]
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ring::signature::{Ed25519KeyPair, KeyPair};
use sluice::ledger::{End, Entry, Ledger, Outcome};
use sluice_bench::ledgers::{self, begin};

/// `--help`.
const USAGE: &str = "The ledger's durable appends/s (1, 16, 256 writers) and verify speed, next to the disk's ceiling.

Usage: ledger-bench [--seconds 3] [--entries 1000000] [--dir $TMPDIR]";

fn open(dir: &Path, key: &Arc<Ed25519KeyPair>, min_interval: Duration) -> Ledger {
    ledgers::open(dir, "bench.sluice/ledger", key, min_interval)
}

/// Durable appends per second with `writers` concurrent writers for `secs`.
fn appends(
    dir: &Path,
    key: &Arc<Ed25519KeyPair>,
    (writers, min_interval): (usize, Duration),
    secs: f64,
) -> f64 {
    let _ = std::fs::remove_dir_all(dir);
    let ledger = Arc::new(open(dir, key, min_interval));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let total: u64 = rt.block_on(async {
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        let seq = ledger
                            .append(begin(w as u64 * 1_000_000_000 + n))
                            .await
                            .expect("durable append");
                        // Its end, detached, as a request appends it once the response is out:
                        // the writer then sees as many open disclosures as there are writers.
                        ledger.append_detached(Entry::End(Box::new(End::new(seq, Outcome::Sent))));
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    let rate = total as f64 / started.elapsed().as_secs_f64();
    ledger.close();
    rate
}

/// Raw `write` + `fdatasync` of `record_len`-byte records, one at a time, for `secs`.
fn raw_syncs(dir: &Path, record_len: usize, secs: f64) -> f64 {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("raw.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    let record = vec![0x42u8; record_len];
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut n = 0u64;
    while Instant::now() < deadline {
        f.write_all(&record).unwrap();
        f.sync_data().unwrap();
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    rate
}

fn main() {
    if sluice_bench::help_requested(USAGE) {
        return;
    }
    let secs: f64 = sluice_bench::arg("--seconds", "3")
        .parse()
        .expect("--seconds: a number");
    let entries: u64 = sluice_bench::arg("--entries", "1000000")
        .parse()
        .expect("--entries: a whole number");
    let root = PathBuf::from(sluice_bench::arg(
        "--dir",
        &std::env::temp_dir().display().to_string(),
    ))
    .join(format!("sluice-ledger-bench-{}", std::process::id()));
    let key = ledgers::signing_key();
    let record_len = sluice::ledger::Record {
        seq: 0,
        time_ms: 0,
        entry: begin(0),
    }
    .encode()
    .unwrap()
    .len()
        + 8;

    println!("ledger-bench: {secs} s per measurement, entries of {record_len} bytes on disk");
    println!("{:<58} {:>12}", "measurement", "per second");
    let raw = raw_syncs(&root.join("raw"), record_len, secs);
    println!(
        "{:<58} {:>12.0}",
        "raw write+fdatasync, 1 at a time (ceiling)", raw
    );
    // Checkpoints every 256 entries with the production bound (200 ms between them), and with
    // no bound (one per 256 entries, whatever the rate), alternated: the lever measured alone.
    for writers in [1usize, 16, 256] {
        for (label, interval) in [
            ("200 ms", Duration::from_millis(200)),
            ("unbounded", Duration::ZERO),
        ] {
            let dir = root.join(format!("w{writers}"));
            let rate = appends(&dir, &key, (writers, interval), secs);
            println!(
                "{:<58} {:>12.0}   ({:.1}x the raw sync rate)",
                format!("durable appends, {writers} writers, checkpoints {label}"),
                rate,
                rate / raw
            );
        }
    }

    // Verify: a ledger of `entries` entries, written detached (batched), then verified.
    let dir = root.join("verify");
    let _ = std::fs::remove_dir_all(&dir);
    let ledger = open(&dir, &key, Duration::from_millis(200));
    for i in 1..entries {
        ledger.append_detached(begin(i));
    }
    ledger.close();
    let mut bytes = 0u64;
    let read = Instant::now();
    for (_, path) in sluice::ledger::segment::list(&dir) {
        bytes += std::fs::read(&path).map(|b| b.len() as u64).unwrap_or(0);
    }
    let read_secs = read.elapsed().as_secs_f64();
    let started = Instant::now();
    let report = sluice::ledger::verify::verify_dir(&dir, key.public_key().as_ref())
        .unwrap_or_else(|e| panic!("verify: {e:?}"));
    let verify_secs = started.elapsed().as_secs_f64();
    println!(
        "{:<58} {:>12.0}   ({} entries, {:.2} s; reading the {:.0} MiB of segments alone: {:.2} s)",
        "verify, entries",
        report.entries as f64 / verify_secs,
        report.entries,
        verify_secs,
        bytes as f64 / (1 << 20) as f64,
        read_secs
    );
    let _ = std::fs::remove_dir_all(&root);
}
