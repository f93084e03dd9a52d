//! The evidence store against a real PostgreSQL server (a throwaway cluster on loopback): the
//! shipper's copying and refusals, and `sluice ledger store init | verify --store |
//! query --store` through the real binary.

mod support;
use support::{signing_key, sluice};

use sluice::evidence::throwaway as postgres;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ring::signature::Ed25519KeyPair;
use sluice::evidence::ship::{self, ShipOptions, ShipStatus};
use sluice::evidence::{StoreSettings, StoreUrl};
use sluice::ledger::{Entry, Ledger, LedgerOptions};

const SUBJECT: &str = "31011519751103008X";
const SHIPPER_PASSWORD: &str = "shipper-pw";

/// A cluster with an `evidence` database, its schema created by its owner with
/// `sluice ledger store init`, and a shipper role with the grants `deploy/docs/evidence-store.md`
/// documents (SELECT and INSERT, no UPDATE or DELETE), which every test ships and reads as.
struct Store {
    cluster: postgres::Cluster,
    url: String,
    password_file: PathBuf,
    dir: PathBuf,
}

impl Store {
    fn start(name: &str) -> Self {
        let dir = support::scratch_dir(&format!("sluice-store-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cluster = postgres::Cluster::start(&dir.join("pg"), None).unwrap();
        cluster
            .database("evidence", "evidence_owner", "owner-pw")
            .unwrap();
        let owner_pw = dir.join("owner.password");
        std::fs::write(&owner_pw, "owner-pw\n").unwrap();
        let (code, out, err) = sluice(&[
            "ledger",
            "store",
            "init",
            &cluster.url("evidence_owner", "evidence"),
            "--password-file",
            owner_pw.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("schema version 1 (was 0)"), "{out}");
        // The documented grants, as documented.
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/docs/evidence-store.md"
        ))
        .unwrap();
        let sql = doc
            .split("```sql")
            .nth(1)
            .and_then(|s| s.split("```").next())
            .unwrap()
            .replace("PASSWORD '…'", &format!("PASSWORD '{SHIPPER_PASSWORD}'"));
        // Roles by the administrator, grants by the tables' owner.
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            if statement.starts_with("CREATE ROLE") {
                cluster.psql("evidence", statement).unwrap();
            } else {
                cluster
                    .psql("evidence", &format!("SET ROLE evidence_owner; {statement}"))
                    .unwrap();
            }
        }
        let password_file = dir.join("store.password");
        std::fs::write(&password_file, format!("{SHIPPER_PASSWORD}\n")).unwrap();
        let url = cluster.url("sluice_shipper", "evidence");
        Store {
            cluster,
            url,
            password_file,
            dir,
        }
    }

    /// `sluice ARGS URL --password-file F REST` (the URL as the first argument after `args`
    /// for `store init`, as `--store URL` otherwise).
    fn cli(&self, args: &[&str], rest: &[&str]) -> (i32, String, String) {
        let pw = self.password_file.to_str().unwrap();
        let mut all: Vec<&str> = args.to_vec();
        if args.contains(&"init") {
            all.push(&self.url);
        } else {
            all.extend(["--store", &self.url]);
        }
        all.extend(["--password-file", pw]);
        all.extend(rest);
        sluice(&all)
    }

    fn settings(&self) -> StoreSettings {
        StoreSettings {
            url: self.url.parse::<StoreUrl>().unwrap(),
            password_file: Some(self.password_file.clone()),
        }
    }

    fn rows(&self, table: &str, origin: &str) -> u64 {
        self.cluster
            .psql(
                "evidence",
                &format!("SELECT count(*) FROM {table} WHERE origin = '{origin}'"),
            )
            .unwrap()
            .parse()
            .unwrap()
    }
}

fn subject_key(dir: &Path) -> PathBuf {
    let path = dir.join("subject.key");
    std::fs::write(&path, [7u8; 32]).unwrap();
    path
}

/// Opens (and recovers) the ledger in `dir` as `origin`, appends `n` disclosures to `partner`
/// about the test subject (and one other person each), and closes it: a checkpoint every 4
/// entries and a last one at the close. Its keys are [`subject_key`]'s and a pseudonym key, as a
/// running instance records them (`keys.loaded`).
fn write(dir: &Path, origin: &str, key: &Arc<Ed25519KeyPair>, partner: &str, n: usize) {
    let keys = sluice::ledger::keycheck::KeyChecks::of(&[7u8; 32], &[1u8; 32]);
    let options = LedgerOptions {
        dir: dir.to_path_buf(),
        origin: origin.into(),
        key: key.clone(),
        commit_window: Duration::ZERO,
        checkpoint_every: 4,
        checkpoint_min_interval: Duration::ZERO,
        commit_delay: sluice::ledger::CommitDelay::default(),
        segment_bytes: 2048,
        idle_commit_wait: Duration::ZERO,
    };
    let (l, _) = Ledger::open_checked(options, Some(keys)).unwrap();
    let someone = sluice_policy::pseudonym::SubjectKey::derive(&[7u8; 32]).subject_hash(SUBJECT);
    for i in 0..n {
        let b = l
            .append_blocking(support::begin(
                &format!("r{i}"),
                partner,
                &format!("{partner}-contract"),
            ))
            .unwrap();
        l.append_blocking(support::sent(b, vec![someone, [i as u8; 32]]))
            .unwrap();
    }
    l.close();
}

fn entries(dir: &Path) -> u64 {
    sluice::ledger::read::entries(dir).unwrap().len() as u64
}

/// Runs the shipper for the (closed) ledger in `dir` until it has shipped everything or been
/// refused (at most 60 s); returns its status.
fn ship(store: &Store, dir: &Path, origin: &str, key: &Ed25519KeyPair) -> Arc<ShipStatus> {
    let total = entries(dir);
    let opts = ShipOptions {
        store: store.settings(),
        dir: dir.to_path_buf(),
        origin: origin.into(),
        public: ring::signature::KeyPair::public_key(key).as_ref().to_vec(),
        batch: 3,
    };
    let status = Arc::new(ShipStatus::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let s = status.clone();
    runtime.block_on(async move {
        let task = tokio::spawn(ship::run(opts, s.clone(), move || total, stopped));
        let deadline = Instant::now() + Duration::from_secs(60);
        while s.shipped() < total && s.refused().is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = stop.send(true);
        let _ = task.await;
    });
    status
}

#[test]
fn two_origins_ship_to_one_store_and_one_query_sees_both() {
    let store = Store::start("two-origins");
    let key_file = subject_key(&store.dir);
    let mut dirs = Vec::new();
    for (origin, partner) in [
        ("bank/replica-1", "acme-loans"),
        ("bank/replica-2", "safe-insure"),
    ] {
        let (key, _) = signing_key();
        let dir = store.dir.join(origin.replace('/', "-"));
        dirs.push((origin, dir.clone()));
        write(&dir, origin, &key, partner, 5);
        let status = ship(&store, &dir, origin, &key);
        assert_eq!(status.refused(), None);
        assert_eq!(status.shipped(), entries(&dir));
        assert_eq!(store.rows("sluice_entries", origin), entries(&dir));
        // Shipping again (a restart) adds nothing and is not refused.
        let again = ship(&store, &dir, origin, &key);
        assert_eq!(again.refused(), None);
        assert_eq!(store.rows("sluice_entries", origin), entries(&dir));
        // Every subject hash of every end, once: 5 disclosures × 2 subjects.
        assert_eq!(store.rows("sluice_subjects", origin), 10);
    }

    // "Which partners received data about this person?" over every replica: one command.
    let (code, out, err) = store.cli(
        &["ledger", "query"],
        &[
            "--subject",
            SUBJECT,
            "--key-file",
            key_file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10, "{out}");
    let mut seen: Vec<(String, String)> = lines
        .iter()
        .map(|v| {
            assert_eq!(v["outcome"], "sent");
            (
                v["origin"].as_str().unwrap().to_string(),
                v["partner"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.dedup();
    assert_eq!(
        seen,
        [
            ("bank/replica-1".to_string(), "acme-loans".to_string()),
            ("bank/replica-2".to_string(), "safe-insure".to_string())
        ]
    );
    // --origin picks one replica; the other filters apply as on a directory.
    let (_, out, _) = store.cli(
        &["ledger", "query"],
        &[
            "--origin",
            "bank/replica-2",
            "--subject",
            SUBJECT,
            "--key-file",
            key_file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.lines().count(), 5, "{out}");
    let (_, out, _) = store.cli(&["ledger", "query"], &["--partner", "acme-loans"]);
    assert_eq!(out.lines().count(), 5, "{out}");
    // Nobody else's disclosures answer for a subject never disclosed.
    let (code, out, _) = store.cli(
        &["ledger", "query"],
        &[
            "--subject",
            "11010519491231002X",
            "--key-file",
            key_file.to_str().unwrap(),
        ],
    );
    assert_eq!((code, out.as_str()), (0, ""));
    // A key file that is not the logs' subject key matches nothing: refused, not answered with
    // "no disclosure" (regression: it printed nothing and exited 0).
    let other_key = store.dir.join("other.key");
    std::fs::write(&other_key, [8u8; 32]).unwrap();
    let (code, out, err) = store.cli(
        &["ledger", "query"],
        &[
            "--subject",
            SUBJECT,
            "--key-file",
            other_key.to_str().unwrap(),
        ],
    );
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains("origin bank/replica-1: the key file is not this log's subject key"),
        "{err}"
    );

    let (code, out, err) = store.cli(&["ledger", "verify"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ok: origin bank/replica-1: ") && out.contains("ok: origin bank/replica-2: "),
        "{out}"
    );
    // export and stats: what the directories say, across both, each line with its origin.
    let (code, out, err) = store.cli(&["ledger", "export"], &["--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    for (origin, dir) in &dirs {
        let (_, local, _) = sluice(&["ledger", "export", dir.to_str().unwrap()]);
        let stored: Vec<String> = out
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["origin"] == *origin)
            .map(|mut v| {
                // instance.started names its origin itself.
                if v["kind"] != "instance.started" {
                    v.as_object_mut().unwrap().remove("origin");
                }
                v.to_string()
            })
            .collect();
        assert_eq!(stored, local.lines().collect::<Vec<_>>(), "{origin}");
    }
    let (code, csv, _) = store.cli(&["ledger", "export"], &["--format", "csv"]);
    assert_eq!(code, 0);
    assert!(csv.starts_with("origin,seq,time_ms,kind,"), "{csv}");
    assert_eq!(
        csv.lines().count() as u64,
        1 + dirs.iter().map(|(_, d)| entries(d)).sum::<u64>()
    );
    let (code, out, err) = store.cli(&["ledger", "stats"], &[]);
    assert_eq!(code, 0, "{err}");
    let stats: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(stats.len(), 3, "{out}");
    assert_eq!(stats[0]["partner"], "acme-loans");
    assert_eq!(stats[0]["disclosures"], 5);
    assert_eq!(stats[1]["partner"], "safe-insure");
    // The test subject and the five others, each disclosed by both replicas: six persons.
    assert_eq!(stats[2]["distinct_subjects_total"], 6, "{out}");

    // The compliance team's HTML report over every replica, verified from the store.
    let html = store.dir.join("report.html");
    let (code, out, err) = store.cli(&["ledger", "report"], &["--html", html.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("report written (log verified)"), "{out}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("class=\"ok\" id=\"verification\""), "{page}");
    assert!(
        page.contains("bank/replica-1, bank/replica-2")
            && page.contains("2 logs in the evidence store"),
        "{page}"
    );

    // init again: nothing to do (and nothing written: the shipper's role may run it).
    let (code, out, err) = store.cli(&["ledger", "store", "init"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("up to date"), "{out}");
    // The shipper's role cannot change what is stored.
    for sql in [
        "DELETE FROM sluice_entries",
        "UPDATE sluice_checkpoints SET note = ''",
    ] {
        let denied = store
            .cluster
            .psql_as("sluice_shipper", SHIPPER_PASSWORD, "evidence", sql)
            .unwrap();
        assert!(
            String::from_utf8_lossy(&denied.stderr).contains("permission denied"),
            "{sql}: {denied:?}"
        );
    }
}

#[test]
fn a_changed_or_deleted_row_is_named_by_verify_store() {
    let store = Store::start("tamper");
    let (key, _) = signing_key();
    let dir = store.dir.join("ledger");
    write(&dir, "bank/replica-1", &key, "acme-loans", 8);
    assert_eq!(ship(&store, &dir, "bank/replica-1", &key).refused(), None);
    let (code, out, err) = store.cli(&["ledger", "verify"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("not yet covered"), "{out}");

    // A row added after the last signed checkpoint: nothing signs it, and verify says so.
    let n = entries(&dir);
    let extra = sluice::ledger::Record {
        seq: n,
        time_ms: 1,
        entry: Entry::Incomplete { begin: 1 },
    }
    .encode()
    .unwrap();
    store.cluster.psql(
        "evidence",
        &format!(
            "INSERT INTO sluice_entries VALUES ('bank/replica-1', {n}, 1, 'disclosure.incomplete', '\\x{}')",
            sluice_policy::hex::hex(&extra)
        ),
    ).unwrap();
    let (code, out, err) = store.cli(&["ledger", "verify"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("(1 entries after the last signed checkpoint, not yet covered"),
        "{out}"
    );

    // A row a newer sluice shipped, of a kind this build does not read: not "changed" (the
    // verdict for an altered row), but what it is (regression: every undecodable row was
    // reported as changed).
    let mut newer = vec![1u8, 200];
    newer.extend_from_slice(&(n + 1).to_be_bytes());
    newer.extend_from_slice(&1u64.to_be_bytes());
    store.cluster.psql(
        "evidence",
        &format!(
            "INSERT INTO sluice_entries VALUES ('bank/replica-1', {}, 1, 'disclosure.later', '\\x{}')",
            n + 1,
            sluice_policy::hex::hex(&newer)
        ),
    ).unwrap();
    let (code, _, err) = store.cli(&["ledger", "verify"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("entry {} is of format 1, kind 200", n + 1))
            && err.contains("a newer sluice wrote it")
            && !err.contains("changed"),
        "{err}"
    );
    store
        .cluster
        .psql(
            "evidence",
            &format!(
                "DELETE FROM sluice_entries WHERE origin = 'bank/replica-1' AND seq = {}",
                n + 1
            ),
        )
        .unwrap();

    // A disclosure's partner rewritten in place (the record still decodes).
    let db = &store.cluster;
    db.psql(
        "evidence",
        "UPDATE sluice_entries SET record = decode(replace(encode(record, 'hex'), encode('acme-loans', 'hex'), encode('acme-loanz', 'hex')), 'hex') WHERE origin = 'bank/replica-1' AND seq = 6",
    ).unwrap();
    let (code, _, err) = store.cli(&["ledger", "verify"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("origin bank/replica-1: entries "), "{err}");
    let span: Vec<u64> = err
        .split("entries ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .map(|s| s.split("..").map(|n| n.parse().unwrap()).collect())
        .unwrap();
    assert!(span[0] <= 6 && 6 <= span[1], "{err}");
    let html = store.dir.join("report.html");
    let (code, out, _) = store.cli(&["ledger", "report"], &["--html", html.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("LOG DOES NOT VERIFY"), "{out}");

    // A row deleted: named by its sequence number.
    db.psql(
        "evidence",
        "DELETE FROM sluice_entries WHERE origin = 'bank/replica-1' AND seq = 3",
    )
    .unwrap();
    let (code, _, err) = store.cli(&["ledger", "verify"], &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("origin bank/replica-1: entry 3 is missing"),
        "{err}"
    );
}

#[test]
fn a_log_restored_from_an_old_volume_is_refused_as_a_fork() {
    let store = Store::start("fork");
    let (key, _) = signing_key();
    let dir = store.dir.join("ledger");
    let old = store.dir.join("ledger-backup");
    write(&dir, "bank/replica-1", &key, "acme-loans", 2);
    copy_dir(&dir, &old);
    write(&dir, "bank/replica-1", &key, "acme-loans", 4);
    assert_eq!(ship(&store, &dir, "bank/replica-1", &key).refused(), None);
    let shipped = store.rows("sluice_entries", "bank/replica-1");

    // The volume is restored from the old copy and the instance goes on writing: other entries
    // at numbers the store already holds.
    std::fs::remove_dir_all(&dir).unwrap();
    copy_dir(&old, &dir);
    write(&dir, "bank/replica-1", &key, "safe-insure", 1);
    let status = ship(&store, &dir, "bank/replica-1", &key);
    let why = status.refused().expect("refused");
    assert!(why.contains("forked"), "{why}");
    // Nothing stored was changed, and the alarm is there for the compliance team.
    assert_eq!(store.rows("sluice_entries", "bank/replica-1"), shipped);
    assert_eq!(
        store
            .cluster
            .psql(
                "evidence",
                "SELECT kind FROM sluice_alarms WHERE origin = 'bank/replica-1'"
            )
            .unwrap(),
        "fork"
    );
    let (code, _, err) = store.cli(&["ledger", "verify"], &[]);
    assert_eq!(code, 0, "the stored log itself is intact: {err}");
    assert!(
        err.contains("alarm: origin bank/replica-1 at entry "),
        "{err}"
    );

    // A checkpoint the store holds with another root than the log's own at that size: refused.
    let (key3, _) = signing_key();
    let dir3 = store.dir.join("ledger-3");
    write(&dir3, "bank/replica-3", &key3, "acme-loans", 3);
    let public3 = sluice_policy::hex::hex(ring::signature::KeyPair::public_key(&*key3).as_ref());
    store
        .cluster
        .psql(
            "evidence",
            &format!(
                "INSERT INTO sluice_origins VALUES ('bank/replica-3', '\\x{public3}');
             INSERT INTO sluice_checkpoints VALUES ('bank/replica-3', 4, '\\x{}', 'forged')",
                "00".repeat(32)
            ),
        )
        .unwrap();
    let why = ship(&store, &dir3, "bank/replica-3", &key3)
        .refused()
        .expect("refused");
    assert!(why.contains("another root for checkpoint 4"), "{why}");
    assert_eq!(
        store
            .cluster
            .psql(
                "evidence",
                "SELECT kind || ' ' || seq FROM sluice_alarms WHERE origin = 'bank/replica-3'"
            )
            .unwrap(),
        "checkpoint_mismatch 4"
    );
    // Never overwritten: the store's row stays as it was, and nothing after it was shipped.
    assert_eq!(
        store
            .cluster
            .psql(
                "evidence",
                "SELECT string_agg(size || ' ' || note, ',') FROM sluice_checkpoints WHERE origin = 'bank/replica-3'"
            )
            .unwrap(),
        "4 forged"
    );
    assert!(store.rows("sluice_entries", "bank/replica-3") < 4);

    // Another key under the same origin is refused too.
    let (other, _) = signing_key();
    let dir2 = store.dir.join("impostor");
    write(&dir2, "bank/replica-1", &other, "acme-loans", 0);
    let why = ship(&store, &dir2, "bank/replica-1", &other)
        .refused()
        .expect("refused");
    assert!(why.contains("another checkpoint key"), "{why}");
}

#[test]
fn wrong_password_tls_and_schema_problems_are_clear_errors() {
    let store = Store::start("errors");
    // A wrong password: the server's answer, the store named without credentials.
    let bad = store.dir.join("bad.password");
    std::fs::write(&bad, "not-it\n").unwrap();
    let (code, _, err) = sluice(&[
        "ledger",
        "verify",
        "--store",
        &store.url,
        "--password-file",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "127.0.0.1:{}/evidence: connecting: ",
            store.cluster.port
        )) && err.contains("password authentication failed"),
        "{err}"
    );
    assert!(
        !err.contains("not-it") && !err.contains("shipper@"),
        "{err}"
    );

    // TLS required from a server that has none: refused, never sent in the clear.
    let pki = store.dir.join("pki");
    sluice_certs::devpki::init(&pki, &["acme".to_string()]).unwrap();
    let tls_url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        store.url.split('?').next().unwrap(),
        pki.join("ca.pem").display()
    );
    let (code, _, err) = sluice(&[
        "ledger",
        "verify",
        "--store",
        &tls_url,
        "--password-file",
        store.password_file.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("connecting: ") && err.contains("TLS"), "{err}");

    // Settings refused before connecting: a password in the URL (not echoed), no sslrootcert.
    let (code, _, err) = sluice(&[
        "ledger",
        "verify",
        "--store",
        &format!(
            "postgresql://shipper:hunter2@127.0.0.1:{}/evidence",
            store.cluster.port
        ),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("carries a password") && !err.contains("hunter2"),
        "{err}"
    );

    // A schema newer than this binary's is refused with what to do.
    store
        .cluster
        .psql("evidence", "UPDATE sluice_schema SET version = 99")
        .unwrap();
    let (code, _, err) = store.cli(&["ledger", "store", "init"], &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("schema is version 99, newer than this sluice knows (1): upgrade sluice"),
        "{err}"
    );
    let (code, _, err) = store.cli(&["ledger", "verify"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("upgrade sluice"), "{err}");
}

#[test]
fn tls_to_the_store_verifies_the_server_certificate() {
    let dir = support::scratch_dir("sluice-store-tls");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pki = dir.join("pki");
    sluice_certs::devpki::init(&pki, &["acme".to_string()]).unwrap();
    let cluster = postgres::Cluster::start(
        &dir.join("pg"),
        Some((&pki.join("server.pem"), &pki.join("server.key"))),
    )
    .unwrap();
    cluster
        .database("evidence", "shipper", SHIPPER_PASSWORD)
        .unwrap();
    let pw = dir.join("pw");
    std::fs::write(&pw, SHIPPER_PASSWORD).unwrap();
    let url = |host: &str, ca: &Path| {
        format!(
            "postgresql://shipper@{host}:{}/evidence?sslmode=verify-full&sslrootcert={}",
            cluster.port,
            ca.display()
        )
    };
    // The dev PKI's server certificate names localhost.
    let (code, out, err) = sluice(&[
        "ledger",
        "store",
        "init",
        &url("localhost", &pki.join("ca.pem")),
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("schema version 1"), "{out}");
    // Another CA: the handshake fails, nothing is sent.
    let other = dir.join("other-pki");
    sluice_certs::devpki::init(&other, &["acme".to_string()]).unwrap();
    let (code, _, err) = sluice(&[
        "ledger",
        "verify",
        "--store",
        &url("localhost", &other.join("ca.pem")),
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("connecting: ") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else if e.file_name() != "LOCK" {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A `sluice run` process, killed if the test ends first.
struct Instance(std::process::Child);

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sluice run` on the example configuration in `dir`, shipping to `store` one entry per
/// transaction.
fn spawn_shipping(dir: &Path, store: &Store) -> Instance {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/examples");
    if !dir.join("certs").exists() {
        let (code, _, err) = sluice(&["certs", "init", dir.join("certs").to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let policy = std::fs::read_to_string(format!("{examples}/policy.toml")).unwrap();
        std::fs::write(dir.join("policy.toml"), policy).unwrap();
    }
    let (p1, p2, admin) = (
        support::free_port(),
        support::free_port(),
        support::free_port(),
    );
    let config = std::fs::read_to_string(format!("{examples}/sluice.toml"))
        .unwrap()
        .replace("127.0.0.1:8443", &format!("127.0.0.1:{p1}"))
        .replace("127.0.0.1:8444", &format!("127.0.0.1:{p2}"))
        .replace("127.0.0.1:9090", &format!("127.0.0.1:{admin}"));
    let config = format!(
        "{config}\n[ledger.store]\nurl = \"{}\"\npassword_file = \"{}\"\nbatch = 1\n",
        store.url,
        store.password_file.display()
    );
    std::fs::write(dir.join("sluice.toml"), config).unwrap();
    let child = std::process::Command::new(support::SLUICE)
        .args(["run", "--config"])
        .arg(dir.join("sluice.toml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    Instance(child)
}

/// Waits (at most 60 s) until the local log holds more than `after` entries and the store as
/// many of `origin` as it.
fn wait_shipped(store: &Store, ledger: &Path, origin: &str, after: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let local = entries(ledger);
        let stored = store.rows("sluice_entries", origin);
        if stored == local && local > after {
            return stored;
        }
        assert!(
            Instant::now() < deadline,
            "the store has {stored} entries of {origin}, the local log {local}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_instance_killed_with_sigkill_resumes_shipping_from_the_right_entry() {
    let store = Store::start("sigkill");
    let dir = store.dir.join("instance");
    std::fs::create_dir_all(&dir).unwrap();
    let ledger = dir.join("var/ledger");
    let origin = "sluice.example/ledger/instance-1";

    let mut first = spawn_shipping(&dir, &store);
    // Killed as soon as shipping has begun (one entry per transaction: mid-way, most runs).
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.rows("sluice_entries", origin) == 0 {
        assert!(Instant::now() < deadline, "nothing was shipped");
        std::thread::sleep(Duration::from_millis(5));
    }
    first.0.kill().unwrap();
    let _ = first.0.wait();
    let before = entries(&ledger);

    let mut second = spawn_shipping(&dir, &store);
    let shipped = wait_shipped(&store, &ledger, origin, before);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &second.0.id().to_string()])
        .status();
    assert_eq!(second.0.wait().unwrap().code(), Some(0));
    // The two starts' entries, each exactly once, byte for byte the local ones.
    let local = sluice::ledger::read::entries(&ledger).unwrap();
    assert!(shipped > before, "{shipped} {before}");
    let starts = local
        .iter()
        .filter(|(r, _)| matches!(r.entry, Entry::InstanceStarted { .. }))
        .count();
    assert!(starts >= 2, "{starts}");
    for (record, bytes) in local.iter().take(shipped as usize) {
        let stored = store.cluster.psql(
            "evidence",
            &format!(
                "SELECT encode(record, 'hex') FROM sluice_entries WHERE origin = '{origin}' AND seq = {}",
                record.seq
            ),
        ).unwrap();
        assert_eq!(
            stored,
            sluice_policy::hex::hex(bytes),
            "entry {}",
            record.seq
        );
    }
    let (code, out, err) = store.cli(&["ledger", "verify"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("ok: origin {origin}: ")), "{out}");
}

/// Cuts the last `n` checkpoint notes from `dir/checkpoints.log` (notes the shipper read before
/// the writer's sync of them completed, lost in a crash).
fn drop_last_notes(dir: &Path, n: usize) {
    let path = dir.join("checkpoints.log");
    let data = std::fs::read(&path).unwrap();
    let mut starts = Vec::new();
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let len = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        starts.push(at);
        at += 8 + len;
    }
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(starts[starts.len() - n] as u64).unwrap();
}

#[test]
fn a_replay_over_entries_already_stored_ships_the_rest_and_the_checkpoint() {
    let store = Store::start("replay");
    let (key, _) = signing_key();
    let dir = store.dir.join("ledger");
    write(&dir, "bank/replica-1", &key, "acme-loans", 6);
    assert_eq!(ship(&store, &dir, "bank/replica-1", &key).refused(), None);
    // The local log lost its two newest notes: a shipper starting now resumes before the store's
    // end, and the next checkpoints' spans begin over entries the store already holds (the same
    // bytes), in batches of 3, one of them crossing that boundary.
    drop_last_notes(&dir, 2);
    let opts = ShipOptions {
        store: store.settings(),
        dir: dir.clone(),
        origin: "bank/replica-1".into(),
        public: ring::signature::KeyPair::public_key(&*key)
            .as_ref()
            .to_vec(),
        batch: 3,
    };
    let status = Arc::new(ShipStatus::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let s = status.clone();
    let shipper = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(ship::run(opts, s, || u64::MAX, stopped));
    });
    std::thread::sleep(Duration::from_millis(500));
    write(&dir, "bank/replica-1", &key, "acme-loans", 3);
    let total = entries(&dir);
    let deadline = Instant::now() + Duration::from_secs(60);
    while status.shipped() < total && status.refused().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = stop.send(true);
    shipper.join().unwrap();
    assert_eq!(status.refused(), None);
    assert_eq!(status.shipped(), total);
    assert_eq!(store.rows("sluice_entries", "bank/replica-1"), total);
    // Every checkpoint the local log signed is in the store, those of spans that began over
    // entries already stored among them.
    let stored: Vec<String> = store
        .cluster
        .psql(
            "evidence",
            "SELECT size FROM sluice_checkpoints WHERE origin = 'bank/replica-1' ORDER BY size",
        )
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let public = ring::signature::KeyPair::public_key(&*key)
        .as_ref()
        .to_vec();
    for (name, note) in sluice::ledger::notes::all(&dir).unwrap() {
        let size = sluice::ledger::checkpoint::verify(&note, &public)
            .unwrap()
            .size;
        assert!(
            stored.contains(&size.to_string()),
            "{name} ({size}) not in {stored:?}"
        );
    }
    let (code, out, err) = store.cli(&["ledger", "verify"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("not yet covered"), "{out}");
}

#[test]
fn a_store_that_authenticates_clients_by_certificate_gets_one() {
    let dir = support::scratch_dir("sluice-store-client-cert");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pki = dir.join("pki");
    sluice_certs::devpki::init(&pki, &["acme".to_string()]).unwrap();
    let cluster = postgres::Cluster::start_requiring_client_certificates(
        &dir.join("pg"),
        (&pki.join("server.pem"), &pki.join("server.key")),
        &pki.join("ca.pem"),
    )
    .unwrap();
    cluster
        .database("evidence", "shipper", SHIPPER_PASSWORD)
        .unwrap();
    let pw = dir.join("pw");
    std::fs::write(&pw, SHIPPER_PASSWORD).unwrap();
    let base = format!(
        "postgresql://shipper@localhost:{}/evidence?sslmode=verify-full&sslrootcert={}",
        cluster.port,
        pki.join("ca.pem").display()
    );
    // Without a client certificate the server refuses the login, however right the password.
    let (code, _, err) = sluice(&[
        "ledger",
        "store",
        "init",
        &base,
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("connecting: ") && err.contains("certificate"),
        "{err}"
    );
    // With the institution's certificate (signed by the CA the server trusts) it is let in.
    let with_cert = format!(
        "{base}&sslcert={}&sslkey={}",
        pki.join("institution.pem").display(),
        pki.join("institution.key").display()
    );
    let (code, out, err) = sluice(&[
        "ledger",
        "store",
        "init",
        &with_cert,
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("schema version 1"), "{out}");
    // A key that is not the certificate's is refused before connecting.
    let mismatched = format!(
        "{base}&sslcert={}&sslkey={}",
        pki.join("institution.pem").display(),
        pki.join("server.key").display()
    );
    let (code, _, err) = sluice(&["ledger", "verify", "--store", &mismatched]);
    assert_ne!(code, 0);
    assert!(
        err.contains("sslcert") || err.contains("connecting"),
        "{err}"
    );
}
