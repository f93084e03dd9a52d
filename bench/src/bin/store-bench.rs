//! `store-bench`: the evidence store (issue 22) on a throwaway PostgreSQL cluster on loopback.
//!
//! - **Shipping.** 16 writers append disclosures (a waited `disclosure.begin`, a detached
//!   `disclosure.end` with two subject hashes) to a local ledger at `--rate` disclosures a second
//!   (default 11 000: sluice-reference's 1 KiB h1 requests/s on this machine) for `--seconds`,
//!   while the shipper copies the log into the store. Reported from the same run: the local
//!   append rate, the shipper's rate, the largest lag seen (entries, sampled every 100 ms), and the
//!   shipper's unpaced rate on the backlog of a second run without pacing.
//! - **Query.** A store holding `--disclosures` disclosures (default 10 million: 20 million
//!   entry rows and as many subject rows, from 4 origins, loaded with SQL), among them 8 about one
//!   person: `query --subject` timed in process (connect excluded, median and worst of 20) and once
//!   as the `sluice ledger query --store` command (process start and connect included).
//!
//! ```text
//! store-bench [--seconds 10] [--rate 11000] [--disclosures 10000000] [--skip-query]
//! ```
//! Needs PostgreSQL's server programs (`apt-get install postgresql`); as root the cluster runs as
//! the `postgres` user.

use sluice::evidence::throwaway as postgres;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ring::signature::{Ed25519KeyPair, KeyPair};
use sluice::evidence::ship::{self, ShipOptions, ShipStatus};
use sluice::evidence::{StoreSettings, audit, schema};
use sluice::ledger::{End, Entry, Ledger, Outcome, Record};
use sluice_bench::ledgers::{self, begin};

const USAGE: &str =
    "The evidence store: shipping rate next to the local append rate, and query --subject time.

Usage: store-bench [--seconds 10] [--rate 11000] [--disclosures 10000000] [--skip-query]";

const SUBJECT: &str = "31011519751103008X";
const KEY: [u8; 32] = [7; 32];

fn end(begin: u64, subjects: Vec<[u8; 32]>) -> Entry {
    let mut e = End::new(begin, Outcome::Sent);
    e.records = 1;
    e.subject_count = subjects.len() as u64;
    e.subjects = subjects;
    Entry::End(Box::new(e))
}

fn open(dir: &Path, origin: &str, key: &Arc<Ed25519KeyPair>) -> Arc<Ledger> {
    let _ = std::fs::remove_dir_all(dir);
    Arc::new(ledgers::open(dir, origin, key, Duration::from_millis(200)))
}

/// Writes disclosures at `rate` a second (0: as fast as 16 writers go) for `secs` while the
/// shipper runs; returns (local entries/s, shipped entries/s in the window, largest lag, seconds
/// to drain after the writers stopped).
fn shipping(
    root: &Path,
    settings: &StoreSettings,
    origin: &str,
    rate: f64,
    secs: f64,
) -> (f64, f64, u64, f64) {
    let dir = root.join(origin.replace('/', "-"));
    let key = ledgers::signing_key();
    let ledger = open(&dir, origin, &key);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let status = Arc::new(ShipStatus::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let opts = ShipOptions {
        store: settings.clone(),
        dir: dir.clone(),
        origin: origin.into(),
        public: key.public_key().as_ref().to_vec(),
        batch: 1000,
    };
    let l = ledger.clone();
    let shipper = rt.spawn(ship::run(
        opts,
        status.clone(),
        move || l.durable_entries(),
        stopped,
    ));
    let writing = Arc::new(AtomicBool::new(true));
    // Every thousandth disclosure is about one person (not the query's).
    let someone =
        sluice_policy::pseudonym::SubjectKey::derive(&KEY).subject_hash("11010519491231002X");
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let (before, max_lag) = rt.block_on(async {
        let before = ledger.durable_entries();
        let writers: Vec<_> = (0..16u64)
            .map(|w| {
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        if rate > 0.0 {
                            // Paced: writer w's n-th disclosure is due at n × 16 / rate.
                            let due = started + Duration::from_secs_f64(n as f64 * 16.0 / rate);
                            tokio::time::sleep_until(due.into()).await;
                        }
                        let i = w * 1_000_000_000 + n;
                        let seq = ledger.append(begin(i)).await.expect("durable append");
                        let other = *ring::digest::digest(&ring::digest::SHA256, &i.to_le_bytes())
                            .as_ref()
                            .first_chunk::<32>()
                            .unwrap();
                        let subjects = if n.is_multiple_of(1000) {
                            vec![someone, other]
                        } else {
                            vec![other, [w as u8; 32]]
                        };
                        ledger.append_detached(end(seq, subjects));
                        n += 1;
                    }
                })
            })
            .collect();
        let w = writing.clone();
        let s = status.clone();
        let l = ledger.clone();
        let sampler = tokio::spawn(async move {
            let mut max = 0;
            while w.load(Ordering::Acquire) {
                max = max.max(s.lag(l.durable_entries()).0);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            max
        });
        for t in writers {
            t.await.unwrap();
        }
        writing.store(false, Ordering::Release);
        (before, sampler.await.unwrap())
    });
    let window = started.elapsed().as_secs_f64();
    // The detached ends of the last disclosures, then a checkpoint over them.
    std::thread::sleep(Duration::from_millis(50));
    let written = ledger.durable_entries() - before;
    let shipped_in_window = status.shipped();
    let ended = Instant::now();
    ledger.close();
    let total = sluice::ledger::read::entries(&dir).unwrap().len() as u64;
    let drain_deadline = Instant::now() + Duration::from_secs(600);
    while status.shipped() < total && Instant::now() < drain_deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let drain = ended.elapsed().as_secs_f64();
    assert_eq!(status.shipped(), total, "the shipper did not catch up");
    let _ = stop.send(true);
    let _ = rt.block_on(shipper);
    (
        written as f64 / window,
        shipped_in_window as f64 / window,
        max_lag,
        drain,
    )
}

/// Loads `disclosures` filler disclosures from 4 origins with SQL, and 8 real ones about the test
/// subject (2 per origin) through their canonical records.
async fn load(client: &tokio_postgres::Client, disclosures: u64) {
    let per = disclosures / 4;
    client
        .batch_execute(
            "DROP INDEX sluice_subjects_by_subject;
             ALTER TABLE sluice_entries DROP CONSTRAINT sluice_entries_pkey;
             ALTER TABLE sluice_subjects DROP CONSTRAINT sluice_subjects_pkey;",
        )
        .await
        .unwrap();
    let someone = sluice_policy::pseudonym::SubjectKey::derive(&KEY).subject_hash(SUBJECT);
    for o in 0..4 {
        let origin = format!("bench/replica-{o}");
        let t = Instant::now();
        client
            .batch_execute(&format!(
                "INSERT INTO sluice_origins (origin, public_key) VALUES ('{origin}', '\\x00');
                 INSERT INTO sluice_entries (origin, seq, time_ms, kind, record)
                   SELECT '{origin}', g, 1790000000000 + g,
                          CASE WHEN g % 2 = 0 THEN 'disclosure.begin' ELSE 'disclosure.end' END,
                          decode(repeat(lpad(to_hex(g), 8, '0'), 40), 'hex')
                   FROM generate_series(0, {} - 1) g;
                 INSERT INTO sluice_subjects (origin, end_seq, position, begin_seq, subject)
                   SELECT '{origin}', 2 * i + 1, 0, 2 * i, sha256(('{origin}/' || i)::bytea)
                   FROM generate_series(0, {per} - 1) i;",
                2 * per
            ))
            .await
            .unwrap();
        // Two real disclosures about the subject, after the filler.
        for k in 0..2u64 {
            let b = 2 * per + 2 * k;
            for (seq, entry) in [(b, begin(b)), (b + 1, end(b, vec![someone]))] {
                let bytes = Record {
                    seq,
                    time_ms: 1_790_000_000_000 + seq,
                    entry,
                }
                .encode()
                .unwrap();
                let hex = sluice_policy::hex::hex(&bytes);
                client
                    .batch_execute(&format!(
                        "INSERT INTO sluice_entries VALUES ('{origin}', {seq}, {}, 'x', '\\x{hex}')",
                        1_790_000_000_000 + seq
                    ))
                    .await
                    .unwrap();
            }
            client
                .batch_execute(&format!(
                    "INSERT INTO sluice_subjects VALUES ('{origin}', {}, 0, {b}, '\\x{}')",
                    b + 1,
                    sluice_policy::hex::hex(&someone)
                ))
                .await
                .unwrap();
        }
        eprintln!(
            "loaded {origin}: {per} disclosures in {:.0} s",
            t.elapsed().as_secs_f64()
        );
    }
    let t = Instant::now();
    client
        .batch_execute(
            "ALTER TABLE sluice_entries ADD PRIMARY KEY (origin, seq);
             ALTER TABLE sluice_subjects ADD PRIMARY KEY (origin, end_seq, position);
             CREATE INDEX sluice_subjects_by_subject ON sluice_subjects (subject);
             ANALYZE;",
        )
        .await
        .unwrap();
    eprintln!("indexes built in {:.0} s", t.elapsed().as_secs_f64());
}

fn main() {
    if sluice_bench::help_requested(USAGE) {
        return;
    }
    let secs: f64 = sluice_bench::arg("--seconds", "10")
        .parse()
        .expect("--seconds");
    let rate: f64 = sluice_bench::arg("--rate", "11000")
        .parse()
        .expect("--rate");
    let disclosures: u64 = sluice_bench::arg("--disclosures", "10000000")
        .parse()
        .expect("--disclosures");
    let skip_query = std::env::args().any(|a| a == "--skip-query");
    let root: PathBuf =
        std::env::temp_dir().join(format!("sluice-store-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let cluster = postgres::Cluster::start(&root.join("pg"), None).unwrap();
    cluster.database("evidence", "shipper", "bench-pw").unwrap();
    std::fs::write(root.join("pw"), "bench-pw\n").unwrap();
    let settings = StoreSettings {
        url: cluster.url("shipper", "evidence").parse().unwrap(),
        password_file: Some(root.join("pw")),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut client = rt.block_on(settings.connect()).unwrap();
    rt.block_on(schema::init(&mut client, &settings.url))
        .unwrap();

    println!("## Shipping (one origin, 16 writers, batch 1000)\n");
    println!(
        "| run | local entries/s | shipped entries/s (same window) | largest lag (entries) | drain after the writers stopped |"
    );
    println!("|---|---:|---:|---:|---:|");
    let (local, shipped, lag, drain) = shipping(&root, &settings, "ship/paced", rate, secs);
    println!(
        "| paced at {rate:.0} disclosures/s | {local:.0} | {shipped:.0} | {lag} | {drain:.2} s |"
    );
    let (local, shipped, lag, drain) = shipping(&root, &settings, "ship/unpaced", 0.0, secs);
    println!("| unpaced | {local:.0} | {shipped:.0} | {lag} | {drain:.2} s |");

    if skip_query {
        return;
    }
    println!("\n## query --subject on {disclosures} disclosures from 4 origins\n");
    rt.block_on(load(&client, disclosures));
    let someone = sluice_policy::pseudonym::SubjectKey::derive(&KEY).subject_hash(SUBJECT);
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let mut found = 0;
        rt.block_on(audit::for_each_disclosure(
            &client,
            &settings.url,
            None,
            Some(someone),
            |_, _| found += 1,
        ))
        .unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(found, 8, "the subject's disclosures");
    }
    times.sort_by(f64::total_cmp);
    std::fs::write(root.join("subject.key"), KEY).unwrap();
    let sluice_bin = std::env::current_exe().unwrap().with_file_name("sluice");
    let t = Instant::now();
    let out = std::process::Command::new(&sluice_bin)
        .args(["ledger", "query", "--store"])
        .arg(cluster.url("shipper", "evidence"))
        .arg("--password-file")
        .arg(root.join("pw"))
        .args(["--subject", SUBJECT, "--key-file"])
        .arg(root.join("subject.key"))
        .output();
    let cli_ms = t.elapsed().as_secs_f64() * 1000.0;
    let cli = match out {
        Ok(o) if o.status.success() => format!(
            "{cli_ms:.1} ms ({} lines)",
            String::from_utf8_lossy(&o.stdout).lines().count()
        ),
        _ => format!(
            "not run ({} missing: cargo build --release -p sluice)",
            sluice_bin.display()
        ),
    };
    println!("| measurement | time |\n|---|---:|");
    println!(
        "| query --subject, in process, median of 20 | {:.2} ms |",
        times[10]
    );
    println!(
        "| query --subject, in process, worst of 20 | {:.2} ms |",
        times[19]
    );
    println!("| `sluice ledger query --store --subject` (process, connect, query) | {cli} |");
    drop(cluster);
    let _ = std::fs::remove_dir_all(&root);
}
