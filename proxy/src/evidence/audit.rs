//! The compliance commands on the store, across every replica: `ledger verify --store` and
//! `ledger query --store`.
//!
//! `verify` re-checks what the shippers checked, from the rows alone: per origin, the entries are
//! numbered from 0 without a gap, each decodes and names its own sequence number, and at every
//! stored checkpoint the Merkle root of the entries so far is the one the note signs, under the
//! key registered for the origin. A deleted row is named by its sequence number; a changed one by
//! its number when it no longer decodes as that entry, else by the span between the two
//! checkpoints whose roots enclose it (the tree says where, not which). Entries are streamed from
//! the server, so memory does not grow with the store.
//!
//! `query --subject` is one index lookup (`sluice_subjects_by_subject`) over every replica, then
//! the begin and end of each disclosure found.

use std::collections::BTreeMap;
use std::path::Path;

use futures_util::StreamExt;
use tokio_postgres::{Client, Row, RowStream};

use super::{StoreError, StoreUrl};
use crate::ledger::read::{Disclosure, Joiner};
use crate::ledger::{Record, Unreadable, checkpoint, merkle};

/// An origin's entries, oldest first, as `(seq, record)` rows streamed from the server.
async fn entry_rows(
    client: &Client,
    url: &StoreUrl,
    origin: &str,
) -> Result<std::pin::Pin<Box<RowStream>>, StoreError> {
    let rows = client
        .query_raw(
            "SELECT seq, record FROM sluice_entries WHERE origin = $1 ORDER BY seq",
            [origin],
        )
        .await
        .map_err(|e| StoreError::db(url, "reading entries", e))?;
    Ok(Box::pin(rows))
}

/// The next row of [`entry_rows`], if any.
async fn next_entry(
    rows: &mut std::pin::Pin<Box<RowStream>>,
    url: &StoreUrl,
) -> Result<Option<Row>, StoreError> {
    rows.next()
        .await
        .transpose()
        .map_err(|e| StoreError::db(url, "reading entries", e))
}

/// One origin's verification.
#[derive(Debug)]
pub struct Verdict {
    /// The origin.
    pub origin: String,
    /// What verified, or what is wrong.
    pub result: Result<Verified, String>,
}

/// A log that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Entries stored.
    pub entries: u64,
    /// Signed checkpoints stored.
    pub checkpoints: u64,
    /// The Merkle root of all the entries (hex).
    pub root: String,
    /// Entries under the last signed checkpoint; the rest were shipped in the first transactions
    /// of a checkpoint whose last one has not arrived yet (the shipper stopped mid-way).
    pub covered: u64,
}

/// Alarms the shippers recorded: (origin, seq, kind, detail).
pub type Alarm = (String, Option<i64>, String, String);

/// The origins in the store (or just `only`), with their keys.
async fn origins(
    client: &Client,
    url: &StoreUrl,
    only: Option<&str>,
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let rows = client
        .query(
            "SELECT origin, public_key FROM sluice_origins WHERE $1::text IS NULL OR origin = $1 ORDER BY origin",
            &[&only],
        )
        .await
        .map_err(|e| StoreError::db(url, "listing origins", e))?;
    let out: Vec<_> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    if let (Some(o), true) = (only, out.is_empty()) {
        return Err(StoreError::Refused(format!(
            "{url}: no origin {o:?} in the store"
        )));
    }
    Ok(out)
}

/// The alarms recorded for the origins (or just `only`).
pub async fn alarms(
    client: &Client,
    url: &StoreUrl,
    only: Option<&str>,
) -> Result<Vec<Alarm>, StoreError> {
    let rows = client
        .query(
            "SELECT origin, seq, kind, detail FROM sluice_alarms WHERE $1::text IS NULL OR origin = $1 ORDER BY id",
            &[&only],
        )
        .await
        .map_err(|e| StoreError::db(url, "reading alarms", e))?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect())
}

/// Verifies every origin (or just `only`).
pub async fn verify(
    client: &Client,
    url: &StoreUrl,
    only: Option<&str>,
) -> Result<Vec<Verdict>, StoreError> {
    let mut out = Vec::new();
    for (origin, public) in origins(client, url, only).await? {
        let result = verify_origin(client, url, &origin, &public).await?;
        out.push(Verdict { origin, result });
    }
    Ok(out)
}

async fn verify_origin(
    client: &Client,
    url: &StoreUrl,
    origin: &str,
    public: &[u8],
) -> Result<Result<Verified, String>, StoreError> {
    let checkpoints: Vec<(i64, Vec<u8>, String)> = client
        .query(
            "SELECT size, root, note FROM sluice_checkpoints WHERE origin = $1 ORDER BY size",
            &[&origin],
        )
        .await
        .map_err(|e| StoreError::db(url, "reading checkpoints", e))?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let mut checkpoints = checkpoints.into_iter().peekable();
    let mut rows = entry_rows(client, url, origin).await?;
    let mut range = merkle::CompactRange::default();
    let (mut expected, mut signed, mut verified_to) = (0u64, 0u64, 0u64);
    // A checkpoint of the empty log (size 0) is checked against the empty tree's root.
    while let Some((size, root, note)) = checkpoints.next_if(|c| c.0 == 0) {
        if let Err(e) = check_note(&note, public, origin, 0, &root) {
            return Ok(Err(format!("checkpoint {size}: {e}")));
        }
        if range.root().as_slice() != root.as_slice() {
            return Ok(Err("checkpoint 0 does not have the empty log's root".into()));
        }
        signed += 1;
    }
    while let Some(row) = next_entry(&mut rows, url).await? {
        let (seq, bytes): (i64, Vec<u8>) = (row.get(0), row.get(1));
        if seq as u64 != expected {
            return Ok(Err(format!(
                "entry {expected} is missing (deleted?): the next stored entry is {seq}"
            )));
        }
        match Record::read(&bytes) {
            // Not a sign of change: a newer sluice shipped it, and only a reader that knows the
            // kind can check what follows from it (begins and their ends).
            Err(e @ Unreadable::Newer { .. }) => return Ok(Err(format!("entry {seq} {e}"))),
            Ok(r) if r.seq == expected => {}
            _ => {
                return Ok(Err(format!(
                    "entry {seq} has been changed: it no longer decodes as entry {seq}"
                )));
            }
        }
        range.push(merkle::leaf_hash(&bytes));
        expected += 1;
        while let Some((size, root, note)) = checkpoints.next_if(|c| c.0 as u64 <= expected) {
            if let Err(e) = check_note(&note, public, origin, size as u64, &root) {
                return Ok(Err(format!("checkpoint {size}: {e}")));
            }
            if size as u64 == expected && range.root().as_slice() != root.as_slice() {
                return Ok(Err(format!(
                    "entries {verified_to}..{} differ from what the signed checkpoint at {size} covers: one of them was changed",
                    size - 1
                )));
            }
            verified_to = size as u64;
            signed += 1;
        }
    }
    if let Some((size, _, _)) = checkpoints.next() {
        return Ok(Err(format!(
            "entry {expected} is missing (deleted?): the signed checkpoint at {size} covers entries up to {}",
            size - 1
        )));
    }
    Ok(Ok(Verified {
        entries: expected,
        checkpoints: signed,
        root: sluice_policy::hex::hex(&range.root()),
        covered: verified_to,
    }))
}

/// A disclosure whose subjects went to a side file on the replica (more than an end entry holds
/// inline): its subject hashes from the store's rows.
async fn with_side_file_subjects(
    client: &Client,
    url: &StoreUrl,
    origin: &str,
    (v, subjects, time): Disclosure,
) -> Result<Disclosure, StoreError> {
    let counted = v["subject_count"].as_u64().unwrap_or(0);
    let Some(end) = v["end_seq"]
        .as_i64()
        .filter(|_| (subjects.len() as u64) < counted)
    else {
        return Ok((v, subjects, time));
    };
    let rows = client
        .query(
            "SELECT subject FROM sluice_subjects WHERE origin = $1 AND end_seq = $2 ORDER BY position",
            &[&origin, &end],
        )
        .await
        .map_err(|e| StoreError::db(url, "reading subject hashes", e))?;
    let subjects = rows
        .iter()
        .filter_map(|r| r.get::<_, &[u8]>(0).try_into().ok())
        .collect();
    Ok((v, subjects, time))
}

/// Calls `f(origin, record)` for every entry in the store (or of `only`), origin by origin, in
/// order, streamed from the server.
pub async fn for_each_entry(
    client: &Client,
    url: &StoreUrl,
    only: Option<&str>,
    mut f: impl FnMut(&str, &Record),
) -> Result<(), StoreError> {
    for (origin, _) in origins(client, url, only).await? {
        let mut rows = entry_rows(client, url, &origin).await?;
        while let Some(row) = next_entry(&mut rows, url).await? {
            let seq: i64 = row.get(0);
            let record = Record::read(row.get::<_, &[u8]>(1)).map_err(|e| {
                StoreError::Refused(match e {
                    Unreadable::Newer { .. } => format!("origin {origin}: entry {seq} {e}"),
                    Unreadable::Malformed => format!(
                        "origin {origin}: entry {seq} {e}; run `sluice ledger verify --store`"
                    ),
                })
            })?;
            f(&origin, &record);
        }
    }
    Ok(())
}

/// The subject key check values each origin's log recorded (`keys.loaded` entries), origin by
/// origin (an origin that recorded none is listed with none).
pub async fn subject_key_checks(
    client: &Client,
    url: &StoreUrl,
    only: Option<&str>,
) -> Result<Vec<(String, Vec<(u64, [u8; 32])>)>, StoreError> {
    let mut out = Vec::new();
    for (origin, _) in origins(client, url, only).await? {
        let rows = client
            .query(
                "SELECT seq, record FROM sluice_entries WHERE origin = $1 AND kind = 'keys.loaded' ORDER BY seq",
                &[&origin],
            )
            .await
            .map_err(|e| StoreError::db(url, "reading key check values", e))?;
        let mut checks = Vec::new();
        for row in rows {
            if let Some(Record {
                seq,
                entry: crate::ledger::Entry::KeysLoaded(k),
                ..
            }) = Record::decode(row.get::<_, &[u8]>(1))
            {
                checks.push((seq, k.subject));
            }
        }
        out.push((origin, checks));
    }
    Ok(out)
}

/// A stored note: signed by the origin's key, for this origin, size and root.
fn check_note(
    note: &str,
    public: &[u8],
    origin: &str,
    size: u64,
    root: &[u8],
) -> Result<(), String> {
    let cp = checkpoint::verify(note, public).map_err(|e| e.to_string())?;
    if cp.origin != origin || cp.size != size || cp.root.as_slice() != root {
        return Err("the note does not say what its row says (origin, size or root)".into());
    }
    Ok(())
}

/// Calls `f(origin, disclosure)` for the disclosures in the store (or of `only`): with
/// `subject`, those about that subject hash (from the index), else all, origin by origin.
pub async fn for_each_disclosure(
    client: &Client,
    url: &StoreUrl,
    only: Option<&str>,
    subject: Option<[u8; 32]>,
    mut f: impl FnMut(&str, Disclosure),
) -> Result<(), StoreError> {
    let origins = origins(client, url, only).await?;
    let no_dir = Path::new("");
    let Some(subject) = subject else {
        for (origin, _) in &origins {
            let mut rows = entry_rows(client, url, origin).await?;
            let mut joiner = Joiner::default();
            let mut done = Vec::new();
            let mut finished = false;
            while !finished {
                match next_entry(&mut rows, url).await? {
                    Some(row) => {
                        if let Some(r) = Record::decode(row.get::<_, &[u8]>(1)) {
                            joiner.add(no_dir, &r, &mut |d| done.push(d));
                        }
                    }
                    None => {
                        std::mem::take(&mut joiner).finish(&mut |d| done.push(d));
                        finished = true;
                    }
                }
                for d in done.drain(..) {
                    let d = with_side_file_subjects(client, url, origin, d).await?;
                    f(origin, d);
                }
            }
        }
        return Ok(());
    };
    let rows = client
        .query(
            "SELECT origin, begin_seq, end_seq FROM sluice_subjects WHERE subject = $1 AND ($2::text IS NULL OR origin = $2) ORDER BY origin, begin_seq",
            &[&subject.as_slice(), &only],
        )
        .await
        .map_err(|e| StoreError::db(url, "looking up the subject", e))?;
    let mut by_origin: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &rows {
        let seqs = by_origin.entry(r.get(0)).or_default();
        seqs.push(r.get(1));
        seqs.push(r.get(2));
    }
    for (origin, mut seqs) in by_origin {
        seqs.sort_unstable();
        seqs.dedup();
        let records = client
            .query(
                "SELECT record FROM sluice_entries WHERE origin = $1 AND seq = ANY($2) ORDER BY seq",
                &[&origin, &seqs],
            )
            .await
            .map_err(|e| StoreError::db(url, "reading disclosures", e))?;
        let mut joiner = Joiner::default();
        let mut out = |(v, _, time): Disclosure| f(&origin, (v, vec![subject], time));
        for row in &records {
            if let Some(r) = Record::decode(row.get::<_, &[u8]>(0)) {
                joiner.add(no_dir, &r, &mut out);
            }
        }
        joiner.finish(&mut out);
    }
    Ok(())
}
