//! The disclosure ledger on disk: appends, recovery, and tampering that `verify` must name.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ring::signature::{Ed25519KeyPair, KeyPair};
use sluice::ledger::verify::verify_dir;
use sluice::ledger::{End, Entry, Ledger, LedgerError, LedgerOptions, Outcome};

fn key() -> Arc<Ed25519KeyPair> {
    support::signing_key().0
}

fn dir(name: &str) -> PathBuf {
    let d = support::scratch_dir(&format!("sluice-ledger-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn open(
    d: &Path,
    key: &Arc<Ed25519KeyPair>,
    every: u64,
) -> Result<(Ledger, sluice::ledger::Recovery), LedgerError> {
    open_with(d, key, every, None)
}

/// [`open`] by an instance with these keys (`keys.loaded`).
fn open_with(
    d: &Path,
    key: &Arc<Ed25519KeyPair>,
    every: u64,
    keys: Option<sluice::ledger::keycheck::KeyChecks>,
) -> Result<(Ledger, sluice::ledger::Recovery), LedgerError> {
    let options = LedgerOptions {
        dir: d.to_path_buf(),
        origin: "test.example/sluice/1".into(),
        key: key.clone(),
        commit_window: Duration::from_millis(1),
        checkpoint_every: every,
        checkpoint_min_interval: std::time::Duration::ZERO,
        commit_delay: sluice::ledger::CommitDelay::default(),
        segment_bytes: 1 << 20,
        idle_commit_wait: std::time::Duration::ZERO,
    };
    Ledger::open_checked(options, keys)
}

fn begin(i: u64) -> Entry {
    support::begin(&format!("req-{i}"), "acme-loans", "acme-prescreen-2026")
}

fn end(b: u64) -> Entry {
    Entry::End(Box::new(End {
        begin: b,
        outcome: Outcome::Sent,
        bytes_sent: 10,
        sha256_sent: [3; 32],
        records: 1,
        records_dropped: 0,
        fields: vec![],
        subject_count: 1,
        subjects: vec![[4; 32]],
        subjects_digest: [0; 32],
        integrity: "none".into(),
    }))
}

/// A log of 10 disclosures (21 entries with instance.started), closed cleanly.
fn populated(name: &str, key: &Arc<Ed25519KeyPair>) -> PathBuf {
    let d = dir(name);
    let (l, _) = open(&d, key, 4).unwrap();
    for i in 0..10 {
        let b = l.append_blocking(begin(i)).unwrap();
        l.append_blocking(end(b)).unwrap();
    }
    l.close();
    d
}

fn segment(d: &Path) -> PathBuf {
    d.join(sluice::ledger::segment::SEGMENT)
}

#[test]
fn a_clean_log_verifies() {
    let k = key();
    let d = populated("clean", &k);
    let r = verify_dir(&d, k.public_key().as_ref()).unwrap();
    assert_eq!(r.entries, 21);
    assert!(r.checkpoints >= 5);
    assert!(!r.torn_tail);
}

#[test]
fn tampering_is_named() {
    let k = key();
    let pubkey = k.public_key().as_ref().to_vec();
    let d = populated("tamper", &k);
    let original = std::fs::read(segment(&d)).unwrap();
    let records = sluice::ledger::segment::scan(&original)
        .entries
        .iter()
        .map(|e| e.len() + 8)
        .collect::<Vec<_>>();
    let offsets: Vec<usize> = records
        .iter()
        .scan(0, |acc, n| {
            let at = *acc;
            *acc += n;
            Some(at)
        })
        .collect();

    // Flip one byte anywhere before the last record: every position is caught.
    for pos in (0..offsets[20]).step_by(7) {
        let mut data = original.clone();
        data[pos] ^= 0x20;
        std::fs::write(segment(&d), &data).unwrap();
        assert!(
            verify_dir(&d, &pubkey).is_err(),
            "flip at byte {pos} not detected"
        );
    }
    // Delete an entry.
    let mut data = original.clone();
    data.drain(offsets[5]..offsets[6]);
    std::fs::write(segment(&d), &data).unwrap();
    assert_eq!(
        verify_dir(&d, &pubkey).unwrap_err().to_string(),
        "entry 5: has sequence number 6 (entries deleted, inserted or reordered)"
    );
    // Swap two entries.
    let mut data = original[..offsets[3]].to_vec();
    data.extend_from_slice(&original[offsets[4]..offsets[5]]);
    data.extend_from_slice(&original[offsets[3]..offsets[4]]);
    data.extend_from_slice(&original[offsets[5]..]);
    std::fs::write(segment(&d), &data).unwrap();
    assert_eq!(
        verify_dir(&d, &pubkey).unwrap_err().to_string(),
        "entry 3: has sequence number 4 (entries deleted, inserted or reordered)"
    );
    // Truncate mid-file: shorter than what was signed.
    std::fs::write(segment(&d), &original[..offsets[10] + 5]).unwrap();
    let e = verify_dir(&d, &pubkey).unwrap_err().to_string();
    assert!(
        e.contains("covers") && e.contains("but the log has 10"),
        "{e}"
    );
    assert!(
        matches!(open(&d, &k, 4), Err(LedgerError::Tampered(_))),
        "a shorter log refuses to start"
    );
    // A checkpoint signed by another key.
    std::fs::write(segment(&d), &original).unwrap();
    assert_eq!(
        verify_dir(&d, key().public_key().as_ref())
            .unwrap_err()
            .to_string()
            .split(':')
            .nth(1)
            .unwrap()
            .trim(),
        "no signature by the log key"
    );
}

/// A build rolled back over a log a newer one extended: the newer entry is intact (checksum,
/// framing), only of a kind this build does not read. Verify, open and read say so — they do not
/// call it altered or malformed, which would send an operator to "repair" signed evidence — and
/// nothing of the log is cut.
#[test]
fn a_log_a_newer_sluice_wrote_is_not_called_damaged() {
    let k = key();
    let d = populated("newer", &k);
    let mut data = std::fs::read(segment(&d)).unwrap();
    let before = data.len();
    // Entry 21 as a newer writer would frame it: format 1, an unknown kind, the next sequence
    // number and a time, then fields this build cannot know.
    let mut entry = vec![1u8, 200];
    entry.extend_from_slice(&21u64.to_be_bytes());
    entry.extend_from_slice(&1_800_000_000_000u64.to_be_bytes());
    entry.extend_from_slice(b"fields of a later format");
    sluice::ledger::segment::frame(&entry, &mut data);
    std::fs::write(segment(&d), &data).unwrap();

    let e = verify_dir(&d, k.public_key().as_ref())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("entry 21 is of format 1, kind 200") && e.contains("a newer sluice wrote it"),
        "{e}"
    );
    assert!(!e.contains("altered") && !e.contains("not a valid"), "{e}");
    let e = match open(&d, &k, 4) {
        Err(LedgerError::Tampered(e)) => e,
        other => panic!("opened a log it cannot read: {:?}", other.map(|_| ())),
    };
    assert!(e.contains("entry 21 is of format 1, kind 200"), "{e}");
    let e = sluice::ledger::read::entries(&d).unwrap_err();
    assert!(
        e.contains("a newer sluice wrote it") && !e.contains("verify"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(segment(&d)).unwrap().len(),
        before + 8 + entry.len(),
        "nothing cut"
    );
    // A known kind whose fields do not decode is still malformed.
    let mut bad = vec![1u8, 4];
    bad.extend_from_slice(&21u64.to_be_bytes());
    let mut data = data[..before].to_vec();
    sluice::ledger::segment::frame(&bad, &mut data);
    std::fs::write(segment(&d), &data).unwrap();
    let e = verify_dir(&d, k.public_key().as_ref())
        .unwrap_err()
        .to_string();
    assert_eq!(e, "entry 21 is not a valid entry encoding");
}

/// A restart with another subject key (a Secret regenerated by a deployment, a wrong backup)
/// went unnoticed: from then on the log's subject hashes were under a key no query of the
/// earlier ones uses, and each half of the history answered "no disclosure" for the other's
/// subjects. The log now records its keys' check values (`keys.loaded`); an instance whose
/// subject key is not the log's is refused before it writes anything, and a changed pseudonym
/// key (partners' pseudonyms change, the evidence does not) is recorded and reported.
#[test]
fn an_instance_whose_subject_key_is_not_the_ledgers_is_refused_before_it_writes() {
    use sluice::ledger::keycheck::KeyChecks;
    let k = key();
    let d = dir("keycheck");
    let keys_entries = || {
        sluice::ledger::read::entries(&d)
            .unwrap()
            .into_iter()
            .filter_map(|(r, _)| match r.entry {
                Entry::KeysLoaded(k) => Some((r.seq, k)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let first = KeyChecks::of(&[1; 32], &[2; 32]);
    let (l, rec) = open_with(&d, &k, 4, Some(first)).unwrap();
    assert_eq!(rec.pseudonym_key_changed_since, None);
    l.close();
    // The same keys again: nothing new to record.
    let (l, _) = open_with(&d, &k, 4, Some(first)).unwrap();
    l.close();
    assert_eq!(keys_entries().len(), 1);
    let first_at = keys_entries()[0].0;

    let before = std::fs::read(segment(&d)).unwrap();
    let other_subject = KeyChecks::of(&[3; 32], &[2; 32]);
    let e = match open_with(&d, &k, 4, Some(other_subject)) {
        Err(LedgerError::NotThisLedger(e)) => e,
        other => panic!("opened with another subject key: {:?}", other.map(|_| ())),
    };
    assert!(
        e.contains("is not the one this ledger's subject hashes were made with")
            && e.contains(&format!("entry {first_at}")),
        "{e}"
    );
    assert_eq!(
        std::fs::read(segment(&d)).unwrap(),
        before,
        "nothing written"
    );

    let other_pseudonym = KeyChecks::of(&[1; 32], &[4; 32]);
    let (l, rec) = open_with(&d, &k, 4, Some(other_pseudonym)).unwrap();
    assert_eq!(rec.pseudonym_key_changed_since, Some(first_at));
    l.close();
    let recorded = keys_entries();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[1].1, other_pseudonym);
    verify_dir(&d, k.public_key().as_ref()).unwrap();
}

/// `[ledger] origin` changed on a ledger directory in use (a copied configuration, a renamed
/// replica): the log went on under the new name — checkpoints signed for two origins in one log,
/// and its entries shipped to the evidence store a second time as another replica's, counted
/// twice by every report over the store. A log now keeps the origin it was created with: open
/// refuses another before writing, and verify names a log that already has two.
#[test]
fn a_ledger_keeps_the_origin_it_was_created_with() {
    let k = key();
    let d = populated("origin", &k);
    let before = std::fs::read(segment(&d)).unwrap();
    let mut options = LedgerOptions {
        dir: d.clone(),
        origin: "test.example/sluice/2".into(),
        key: k.clone(),
        commit_window: Duration::from_millis(1),
        checkpoint_every: 4,
        checkpoint_min_interval: Duration::ZERO,
        commit_delay: sluice::ledger::CommitDelay::default(),
        segment_bytes: 1 << 20,
        idle_commit_wait: Duration::ZERO,
    };
    let e = match Ledger::open(options.clone()) {
        Err(LedgerError::NotThisLedger(e)) => e,
        other => panic!("opened under another origin: {:?}", other.map(|_| ())),
    };
    assert!(
        e.contains(
            r#"the origin "test.example/sluice/2" is not this ledger's ("test.example/sluice/1""#
        ),
        "{e}"
    );
    assert_eq!(
        std::fs::read(segment(&d)).unwrap(),
        before,
        "nothing written"
    );
    // A log a build before this check extended under a second origin: verify names it.
    let mut data = before.clone();
    let started = sluice::ledger::Record {
        seq: 21,
        time_ms: 1,
        entry: Entry::InstanceStarted {
            origin: "test.example/sluice/2".into(),
            build: "0".into(),
        },
    };
    sluice::ledger::segment::frame(&started.encode().unwrap(), &mut data);
    std::fs::write(segment(&d), &data).unwrap();
    assert_eq!(
        verify_dir(&d, k.public_key().as_ref())
            .unwrap_err()
            .to_string(),
        r#"entry 21: an instance started as origin "test.example/sluice/2" on the log of origin "test.example/sluice/1" (one log, one origin)"#
    );
    std::fs::write(segment(&d), &before).unwrap();
    options.origin = "test.example/sluice/1".into();
    Ledger::open(options).unwrap().0.close();
    verify_dir(&d, k.public_key().as_ref()).unwrap();
}

#[test]
fn a_torn_tail_is_recovered_not_reported() {
    let k = key();
    let d = populated("torn", &k);
    let mut data = std::fs::read(segment(&d)).unwrap();
    let clean_len = data.len();
    data.extend_from_slice(&[0, 0, 0, 40, 1, 2, 3]); // half a record header: a crash mid-write
    std::fs::write(segment(&d), &data).unwrap();
    let r = verify_dir(&d, k.public_key().as_ref()).unwrap();
    assert!(r.torn_tail);
    let (l, rec) = open(&d, &k, 4).unwrap();
    assert_eq!((rec.entries, rec.cut_bytes), (21, 7));
    l.close();
    assert!(std::fs::read(segment(&d)).unwrap().len() > clean_len);
    let r = verify_dir(&d, k.public_key().as_ref()).unwrap();
    assert!(!r.torn_tail);
    assert_eq!(r.entries, 22, "instance.started appended after recovery");
}

#[test]
fn a_begin_without_an_end_gets_incomplete_on_restart() {
    let k = key();
    let d = dir("dangling");
    let (l, _) = open(&d, &k, 100).unwrap();
    let b = l.append_blocking(begin(1)).unwrap();
    drop(l); // as if the process died before the end
    let (l, rec) = open(&d, &k, 100).unwrap();
    assert_eq!(rec.incomplete, vec![b]);
    l.close();
    verify_dir(&d, k.public_key().as_ref()).unwrap();
}

/// RFC 6962 §2.1 written out directly from the text (MTH, PATH, PROOF/SUBPROOF), to check the
/// library's proofs and roots against an independent reading of the definitions.
mod rfc6962 {
    use ring::digest::{SHA256, digest};

    pub fn mth(d: &[Vec<u8>]) -> Vec<u8> {
        match d.len() {
            0 => digest(&SHA256, b"").as_ref().to_vec(),
            1 => digest(&SHA256, &[&[0u8][..], &d[0]].concat())
                .as_ref()
                .to_vec(),
            n => {
                let k = k_of(n);
                digest(
                    &SHA256,
                    &[&[1u8][..], &mth(&d[..k]), &mth(&d[k..])].concat(),
                )
                .as_ref()
                .to_vec()
            }
        }
    }

    fn k_of(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    pub fn path(m: usize, d: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let n = d.len();
        if n <= 1 {
            return vec![];
        }
        let k = k_of(n);
        if m < k {
            [path(m, &d[..k]), vec![mth(&d[k..])]].concat()
        } else {
            [path(m - k, &d[k..]), vec![mth(&d[..k])]].concat()
        }
    }

    pub fn proof(m: usize, d: &[Vec<u8>]) -> Vec<Vec<u8>> {
        fn sub(m: usize, d: &[Vec<u8>], b: bool) -> Vec<Vec<u8>> {
            let n = d.len();
            if m == n {
                return if b { vec![] } else { vec![mth(d)] };
            }
            let k = k_of(n);
            if m <= k {
                [sub(m, &d[..k], b), vec![mth(&d[k..])]].concat()
            } else {
                [sub(m - k, &d[k..], false), vec![mth(&d[..k])]].concat()
            }
        }
        sub(m, d, true)
    }
}

#[test]
fn proofs_match_an_independent_reading_of_rfc_6962() {
    use sluice::ledger::merkle;
    for n in 1..=40usize {
        let data: Vec<Vec<u8>> = (0..n).map(|i| format!("entry-{i}").into_bytes()).collect();
        let leaves: Vec<merkle::Hash> = data.iter().map(|d| merkle::leaf_hash(d)).collect();
        assert_eq!(
            merkle::root(&leaves).to_vec(),
            rfc6962::mth(&data),
            "root n={n}"
        );
        for m in 0..n {
            let got: Vec<Vec<u8>> = merkle::inclusion_proof(m, &leaves)
                .iter()
                .map(|h| h.to_vec())
                .collect();
            assert_eq!(got, rfc6962::path(m, &data), "path m={m} n={n}");
        }
        for m in 1..=n {
            let got: Vec<Vec<u8>> = merkle::consistency_proof(m, &leaves)
                .iter()
                .map(|h| h.to_vec())
                .collect();
            assert_eq!(got, rfc6962::proof(m, &data), "proof m={m} n={n}");
        }
    }
}

#[test]
fn segments_rotate_and_the_log_reads_across_them() {
    let k = key();
    let d = dir("rotate");
    let (l, _) = Ledger::open(LedgerOptions {
        dir: d.clone(),
        origin: "test.example/sluice/1".into(),
        key: k.clone(),
        commit_window: Duration::from_millis(0),
        checkpoint_every: 3,
        checkpoint_min_interval: std::time::Duration::ZERO,
        commit_delay: sluice::ledger::CommitDelay::default(),
        segment_bytes: 256,
        idle_commit_wait: std::time::Duration::ZERO,
    })
    .unwrap();
    for i in 0..12 {
        let b = l.append_blocking(begin(i)).unwrap();
        l.append_blocking(end(b)).unwrap();
    }
    l.close();
    let segments = sluice::ledger::segment::list(&d);
    assert!(segments.len() > 5, "{segments:?}");
    let r = verify_dir(&d, k.public_key().as_ref()).unwrap();
    assert_eq!(r.entries, 25);
    // Reopening appends to the last segment and everything still verifies.
    let (l, rec) = Ledger::open(LedgerOptions {
        dir: d.clone(),
        origin: "test.example/sluice/1".into(),
        key: k.clone(),
        commit_window: Duration::ZERO,
        checkpoint_every: 3,
        checkpoint_min_interval: std::time::Duration::ZERO,
        commit_delay: sluice::ledger::CommitDelay::default(),
        segment_bytes: 256,
        idle_commit_wait: std::time::Duration::ZERO,
    })
    .unwrap();
    assert_eq!(rec.entries, 25);
    l.close();
    assert_eq!(verify_dir(&d, k.public_key().as_ref()).unwrap().entries, 26);
    // Damage in an earlier segment is named.
    let (_, first) = &segments[0];
    let mut data = std::fs::read(first).unwrap();
    data[10] ^= 1;
    std::fs::write(first, &data).unwrap();
    assert!(verify_dir(&d, k.public_key().as_ref()).is_err());
}

#[test]
fn steady_appends_are_checkpointed_at_least_once_a_second() {
    // `every` far beyond what the test appends: only the time bound can sign checkpoints, and
    // the writer is never idle for a second, so only the under-load rule applies.
    let k = key();
    let d = dir("time-bound");
    let (l, _) = open(&d, &k, 1_000_000).unwrap();
    let started = std::time::Instant::now();
    let mut i = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        let b = l.append_blocking(begin(i)).unwrap();
        l.append_blocking(end(b)).unwrap();
        i += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    // Without closing (which would sign a final one): checkpoints signed while appending.
    let r = verify_dir(&d, k.public_key().as_ref()).unwrap();
    assert!(
        r.checkpoints >= 2,
        "{} checkpoints after {i} disclosures",
        r.checkpoints
    );
    l.close();
}

#[test]
fn verify_streams_many_segments_and_checks_every_checkpoint() {
    // Regression: `ledger verify` held every entry in memory and rehashed the whole prefix for
    // each checkpoint (a 10-minute soak's 7.4 M entries and 28 560 checkpoints: 4.5 GB and more
    // than 8 minutes; streaming: 80 MB and 17 s). Here: many small segments, a checkpoint after
    // every few entries, and damage in the middle named by the first checkpoint it breaks.
    let k = key();
    let d = dir("streaming");
    let (l, _) = Ledger::open(LedgerOptions {
        dir: d.clone(),
        origin: "test.example/sluice/1".into(),
        key: k.clone(),
        commit_window: Duration::ZERO,
        checkpoint_every: 3,
        checkpoint_min_interval: std::time::Duration::ZERO,
        commit_delay: sluice::ledger::CommitDelay::default(),
        segment_bytes: 2048,
        idle_commit_wait: std::time::Duration::ZERO,
    })
    .unwrap();
    for i in 0..200 {
        let b = l.append_blocking(begin(i)).unwrap();
        l.append_blocking(end(b)).unwrap();
    }
    l.close();
    let segments = sluice::ledger::segment::list(&d);
    assert!(segments.len() > 10, "{} segments", segments.len());
    let r = verify_dir(&d, k.public_key().as_ref()).unwrap();
    assert_eq!(r.entries, 401);
    let notes = sluice::ledger::notes::all(&d).unwrap().len() as u64;
    assert!(r.checkpoints > 100 && r.checkpoints == notes);
    // Flip one byte inside an entry of a middle segment (its checksum fixed up is not needed:
    // the record check catches it first, or the checkpoint root does).
    let (_, middle) = &segments[segments.len() / 2];
    let mut bytes = std::fs::read(middle).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(middle, &bytes).unwrap();
    let err = verify_dir(&d, k.public_key().as_ref())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(middle.file_name().unwrap().to_str().unwrap()) || err.contains("checkpoint"),
        "{err}"
    );
}

/// A request dropped while its `disclosure.begin` was being written (its client went away) left
/// the disclosure open for good: the begin was written, and nothing else knew its number to end
/// it. Now the writer ends it as `client_gone` with nothing sent.
#[tokio::test]
async fn a_begin_whose_waiter_went_away_is_ended_as_client_gone() {
    let key = key();
    let d = dir("begin-cancelled");
    let (l, _) = open(&d, &key, 4).unwrap();
    let Entry::Begin(b) = begin(1) else {
        unreachable!("begin() makes a begin")
    };
    // Each waiter is polled once (its entry is queued) and dropped before the write is durable
    // — almost always; one that finished in time is counted apart and stays open, as a begin
    // with no end does.
    let mut dropped = 0;
    for _ in 0..20 {
        if tokio::time::timeout(Duration::ZERO, l.append_begin((*b).clone()))
            .await
            .is_err()
        {
            dropped += 1;
        }
    }
    l.close();
    let entries = sluice::ledger::read::entries(&d).unwrap();
    let disclosures = sluice::ledger::read::disclosures(&d, &entries);
    assert_eq!(disclosures.len(), 20);
    let outcomes: Vec<&str> = disclosures
        .iter()
        .map(|(v, _, _)| v["outcome"].as_str().unwrap())
        .collect();
    let count = |o: &str| outcomes.iter().filter(|&&x| x == o).count();
    assert!(dropped > 0);
    assert_eq!(count("client_gone"), dropped, "{outcomes:?}");
    assert_eq!(count("open"), 20 - dropped, "{outcomes:?}");
    for (v, _, _) in &disclosures {
        if v["outcome"] == "client_gone" {
            assert_eq!(v["bytes_sent"], 0, "{v}");
        }
    }
    let report = verify_dir(&d, key.public_key().as_ref()).unwrap();
    assert_eq!(report.entries, 1 + 20 + dropped as u64);
}

/// A second writer once appended to a running instance's segment and the running instance went
/// on appending after the foreign bytes (issue 26): now the writer notices that the file is no
/// longer what it wrote, refuses every append from then on (so disclosures get 503) and stays
/// unhealthy (not ready), and signs no checkpoint over it.
#[test]
fn a_log_changed_under_the_running_writer_stops_disclosures_for_good() {
    let key = key();
    let d = dir("diverged");
    let (l, _) = open(&d, &key, 1000).unwrap();
    let b = l.append_blocking(begin(0)).unwrap();
    l.append_blocking(end(b)).unwrap();
    assert!(l.healthy());
    let segment = sluice::ledger::segment::list(&d)[0].1.clone();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    std::io::Write::write_all(&mut f, b"foreign bytes").unwrap();
    drop(f);
    for i in 1..3 {
        assert!(l.append_blocking(begin(i)).is_err(), "append {i} accepted");
        assert!(!l.healthy());
    }
    // Truncating back to what it wrote does not make it trust the file again.
    let len = std::fs::metadata(&segment).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(len - 13)
        .unwrap();
    assert!(l.append_blocking(begin(9)).is_err());
    assert!(!l.healthy());
    l.close();
}

/// A second `Ledger::open` of a directory in use, in the same process or another, is refused
/// before it reads or writes anything.
#[test]
fn a_second_writer_of_a_directory_is_refused_before_it_writes() {
    let key = key();
    let d = dir("second-writer");
    let (l, _) = open(&d, &key, 4).unwrap();
    l.append_blocking(begin(0)).unwrap();
    let size = |d: &Path| -> u64 {
        sluice::ledger::segment::list(d)
            .iter()
            .map(|(_, p)| std::fs::metadata(p).unwrap().len())
            .sum()
    };
    let before = size(&d);
    let err = open(&d, &key, 4).unwrap_err().to_string();
    assert!(err.contains("is in use by another sluice process"), "{err}");
    assert_eq!(size(&d), before);
    l.close();
    drop(l);
    let (again, _) = open(&d, &key, 4).unwrap();
    again.close();
}

/// Under load, `checkpoint_every` alone signed hundreds of checkpoints a second (a signature, a
/// file, two syncs and a rename each): `checkpoint_min_interval` bounds them, and the log still
/// verifies with every entry covered at close.
#[test]
fn checkpoints_are_bounded_by_the_minimum_interval() {
    let key = key();
    let count = |min_interval: Duration| -> u64 {
        let d = dir(&format!("min-interval-{}", min_interval.as_millis()));
        let (l, _) = Ledger::open(LedgerOptions {
            dir: d.clone(),
            origin: "test.example/sluice/1".into(),
            key: key.clone(),
            commit_window: Duration::ZERO,
            checkpoint_every: 1,
            checkpoint_min_interval: min_interval,
            commit_delay: sluice::ledger::CommitDelay::default(),
            segment_bytes: 1 << 20,
            idle_commit_wait: std::time::Duration::ZERO,
        })
        .unwrap();
        for i in 0..60 {
            l.append_blocking(begin(i)).unwrap();
        }
        let signed_while_appending = sluice::ledger::notes::all(&d).unwrap().len() as u64;
        l.close();
        let r = verify_dir(&d, key.public_key().as_ref()).unwrap();
        assert_eq!(r.entries, 61);
        signed_while_appending
    };
    assert!(count(Duration::ZERO) >= 60, "one per entry without a bound");
    // With an hour's bound only the once-a-second rule can sign while appending.
    let bounded = count(Duration::from_secs(3600));
    assert!(bounded <= 3, "{bounded} checkpoints signed with the bound");
}

/// Copies the files of a ledger directory (not the lock): what a crash leaves on disk.
fn crash_image(from: &Path, name: &str) -> PathBuf {
    let to = dir(name);
    std::fs::create_dir_all(&to).unwrap();
    for (_, p) in sluice::ledger::segment::list(from) {
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
    let notes = sluice::ledger::notes::FILE;
    std::fs::copy(from.join(notes), to.join(notes)).unwrap();
    to
}

/// The segment being written is preallocated (zeros ahead of the records, so a batch's sync
/// writes no inode): a copy taken while the writer runs — what SIGKILL leaves — verifies, and
/// a batch torn inside the zeros is cut at the next start; a closed ledger has no zero tail.
#[test]
fn a_preallocated_segment_reads_verifies_and_recovers() {
    let k = key();
    let d = dir("prealloc");
    let (l, _) = open(&d, &k, 4).unwrap();
    for i in 0..10 {
        let b = l.append_blocking(begin(i)).unwrap();
        l.append_blocking(end(b)).unwrap();
    }
    let seg = segment(&d);
    let on_disk = std::fs::read(&seg).unwrap();
    let records = sluice::ledger::segment::scan(&on_disk).good_len as usize;
    assert!(on_disk.len() > records, "no space preallocated");
    assert!(on_disk[records..].iter().all(|&b| b == 0));

    let image = crash_image(&d, "prealloc-image");
    let r = verify_dir(&image, k.public_key().as_ref()).unwrap();
    assert_eq!((r.entries, r.torn_tail), (21, false));
    // Half a batch reached the disk before the crash.
    let mut torn = std::fs::read(segment(&image)).unwrap();
    torn[records..records + 12].copy_from_slice(&[0, 0, 0, 40, 9, 9, 9, 9, 1, 2, 3, 4]);
    std::fs::write(segment(&image), &torn).unwrap();
    let r = verify_dir(&image, k.public_key().as_ref()).unwrap();
    assert_eq!((r.entries, r.torn_tail), (21, true));
    let (again, rec) = open(&image, &k, 4).unwrap();
    assert_eq!(
        (rec.entries, rec.cut_bytes),
        (21, (torn.len() - records) as u64)
    );
    again.close();
    let r = verify_dir(&image, k.public_key().as_ref()).unwrap();
    assert_eq!((r.entries, r.torn_tail), (22, false));

    l.close();
    let closed = std::fs::read(&seg).unwrap();
    assert_eq!(
        sluice::ledger::segment::scan(&closed).good_len,
        closed.len() as u64,
        "zero tail left after close"
    );
}

/// The writer checks its open file per batch and the file's name only at checkpoints: a segment
/// replaced by another file (renamed over its name) must still stop the next append, since its
/// entries would go to a file nobody can find.
#[test]
fn a_segment_replaced_under_the_running_writer_stops_the_next_append() {
    let key = key();
    let d = dir("replaced");
    let (l, _) = open(&d, &key, 1000).unwrap();
    l.append_blocking(begin(0)).unwrap();
    let seg = segment(&d);
    let copy = d.join("copy.log");
    std::fs::copy(&seg, &copy).unwrap();
    std::fs::rename(&copy, &seg).unwrap();
    assert!(
        l.append_blocking(begin(1)).is_err(),
        "append after the swap accepted"
    );
    assert!(!l.healthy());
    l.close();
}

/// An append nobody waits for (a disclosure's end) does not wake the writer, but it still
/// reaches the disk on its own, without any other append after it.
#[test]
fn a_detached_append_is_written_without_a_later_append() {
    let key = key();
    let d = dir("detached");
    let (l, _) = open(&d, &key, 1000).unwrap();
    let b = l.append_blocking(begin(0)).unwrap();
    l.append_detached(end(b));
    let on_disk = || {
        let data = std::fs::read(segment(&d)).unwrap();
        sluice::ledger::segment::scan(&data).entries.len()
    };
    let mut polls = 0;
    while on_disk() < 3 && polls < 500 {
        std::thread::sleep(Duration::from_millis(10));
        polls += 1;
    }
    assert_eq!(on_disk(), 3, "instance.started, begin and end");
    l.close();
}

/// Each checkpoint was a file of its own (create, sync, rename, directory sync; 28 000 files
/// after a 10-minute soak): now they are records of one `checkpoints.log`. A crash while
/// appending one leaves a torn record that readers ignore and the next writer cuts; damage
/// before the last record is named; a directory an earlier version wrote (note files) still
/// verifies and reopens, its notes read before the log's.
#[test]
fn checkpoints_are_records_of_one_file() {
    let k = key();
    let pubkey = k.public_key().as_ref().to_vec();
    let d = populated("notes", &k);
    let names: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!names.contains(&"checkpoints".to_string()), "{names:?}");
    let log = d.join(sluice::ledger::notes::FILE);
    let clean = std::fs::read(&log).unwrap();
    let notes = sluice::ledger::notes::all(&d).unwrap();
    assert!(notes.len() >= 5, "{}", notes.len());

    // Torn: half a record after the last one.
    let mut torn = clean.clone();
    torn.extend_from_slice(&[0, 0, 1, 0, 7, 7]);
    std::fs::write(&log, &torn).unwrap();
    assert_eq!(sluice::ledger::notes::all(&d).unwrap(), notes);
    assert_eq!(
        verify_dir(&d, &pubkey).unwrap().checkpoints,
        notes.len() as u64
    );
    let (l, _) = open(&d, &k, 1).unwrap();
    l.append_blocking(begin(99)).unwrap();
    l.close();
    let after = sluice::ledger::notes::all(&d).unwrap();
    assert!(after.len() > notes.len());
    assert_eq!(
        verify_dir(&d, &pubkey).unwrap().checkpoints,
        after.len() as u64
    );

    // Damage inside an earlier record is named.
    let mut damaged = std::fs::read(&log).unwrap();
    damaged[12] ^= 0x01;
    std::fs::write(&log, &damaged).unwrap();
    let e = verify_dir(&d, &pubkey).unwrap_err().to_string();
    assert!(
        e.contains("checkpoints.log") && e.contains("checksum"),
        "{e}"
    );
    assert!(matches!(open(&d, &k, 4), Err(LedgerError::Tampered(_))));

    // An earlier version's layout: the first notes as files, no log.
    let old = dir("notes-legacy");
    std::fs::create_dir_all(old.join("checkpoints")).unwrap();
    let src = populated("notes-src", &k);
    for (_, p) in sluice::ledger::segment::list(&src) {
        std::fs::copy(&p, old.join(p.file_name().unwrap())).unwrap();
    }
    for (name, note) in sluice::ledger::notes::all(&src).unwrap() {
        let size = note.lines().nth(1).unwrap().parse::<u64>().unwrap();
        let file = format!("{size:020}.note");
        std::fs::write(old.join("checkpoints").join(file), note).unwrap();
        assert!(name.starts_with("checkpoints.log#"));
    }
    let legacy = verify_dir(&old, &pubkey).unwrap();
    assert_eq!(legacy.entries, 21);
    let (l, rec) = open(&old, &k, 1).unwrap();
    assert_eq!(rec.entries, 21);
    l.append_blocking(begin(7)).unwrap();
    l.close();
    let mixed = verify_dir(&old, &pubkey).unwrap();
    assert_eq!(mixed.entries, 23);
    assert!(mixed.checkpoints > legacy.checkpoints);
}

/// With at least `siblings` disclosures open and several appenders waiting at once, a due batch
/// waits `delay` for more (PostgreSQL's commit_delay): entries appended after a begin, while
/// the writer waits, share its batch (a batch's entries carry one time; without the wait they
/// would go in a batch of their own, at least the 10 ms of a detached flush later).
#[test]
fn with_enough_open_disclosures_a_batch_gathers_while_entries_arrive() {
    let key = key();
    let d = dir("commit-delay");
    let (l, _) = Ledger::open(LedgerOptions {
        dir: d.clone(),
        origin: "test.example/sluice/1".into(),
        key: key.clone(),
        commit_window: Duration::ZERO,
        checkpoint_every: 100_000,
        checkpoint_min_interval: Duration::ZERO,
        commit_delay: sluice::ledger::CommitDelay {
            delay: Duration::from_millis(300),
            siblings: 1,
        },
        segment_bytes: 64 << 20,
        idle_commit_wait: std::time::Duration::ZERO,
    })
    .unwrap();
    let first = l.append_blocking(begin(0)).unwrap(); // one open: the delay applies from now on
    let stop = std::sync::atomic::AtomicBool::new(false);
    let target = std::thread::scope(|s| {
        s.spawn(|| {
            // Ends of the first disclosure's kind arrive continuously (a steady load).
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 20_000 {
                l.append_detached(Entry::InstanceStarted {
                    origin: "x".into(),
                    build: n.to_string(),
                });
                n += 1;
                std::thread::sleep(Duration::from_micros(20));
            }
        });
        // Begins from four appenders at once during the steady load, five each (one batch
        // would do; many keep a scheduling hiccup on a busy machine from failing the test).
        let appenders: Vec<_> = (0..4u64)
            .map(|a| {
                let l = &l;
                s.spawn(move || {
                    (1..=5u64)
                        .map(|i| {
                            std::thread::sleep(Duration::from_millis(10));
                            l.append_blocking(begin(a * 10 + i)).unwrap()
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        let targets: Vec<u64> = appenders
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        targets
    });
    l.close();
    let entries = sluice::ledger::read::entries(&d).unwrap();
    let after = |target: u64| {
        let time = entries[target as usize].0.time_ms;
        entries[target as usize + 1..]
            .iter()
            .take_while(|(r, _)| r.time_ms == time)
            .count()
    };
    let most = target.iter().map(|&t| after(t)).max().unwrap();
    assert!(first < target[0]);
    assert!(
        most >= 100,
        "at most {most} entries appended after a begin joined its batch"
    );
}
