//! The shipper: copies this instance's ledger into the evidence store, behind the log, one signed
//! checkpoint at a time, and says how far behind it is.
//!
//! Per checkpoint (in the order they were signed): the entries it newly covers are read from the
//! local segments, their leaves added to the Merkle range the shipper keeps, and sent in
//! transactions of at most `batch` entries (with the subject hashes of the disclosures that end
//! among them); the last one also carries the checkpoint, after its root was found equal to the
//! range's and its signature valid under the origin's registered key. So the store only ever
//! holds checkpoints that cover exactly the entries it holds.
//!
//! Idempotent and insert-only: an entry already stored at its sequence number must be the same
//! bytes (a replay after an outage or a crash), a checkpoint already stored at its size the same
//! root. Anything else — a log restored from an old volume that now writes other entries at
//! numbers already shipped, a history rewritten in place, another key under the same origin — is
//! refused: an alarm row is written, shipping stops for this instance, `/readyz` warns and
//! `sluice_ledger_store_refused` is 1. Nothing stored is ever changed.
//!
//! On start and after every failure the shipper reconnects (with a growing pause, at most
//! `MAX_PAUSE`), asks the store where this origin ends and resumes there, rebuilding the Merkle
//! range from the local log. The store is never on the request path: while it is away the ledger
//! grows locally, the lag gauges grow, and the backlog follows when it returns.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::{Client, GenericClient};

use super::tail::{Entries, Notes};
use super::{StoreError, StoreSettings, schema};
use crate::ledger::checkpoint::{self, Checkpoint};
use crate::ledger::{Entry, Record, merkle};

/// How often the local log is looked at for new checkpoints.
const POLL: Duration = Duration::from_millis(100);

/// The longest pause between reconnection attempts.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// What the shipper ships and how.
#[derive(Debug, Clone)]
pub struct ShipOptions {
    /// The store.
    pub store: StoreSettings,
    /// The local ledger's directory.
    pub dir: PathBuf,
    /// Its origin.
    pub origin: String,
    /// Its checkpoints' public key.
    pub public: Vec<u8>,
    /// Entries per transaction.
    pub batch: usize,
}

/// How the shipper is doing, read by `/metrics` and `/readyz`. Counts and states only.
#[derive(Debug, Default)]
pub struct ShipStatus {
    /// Entries of this origin in the store (as far as this shipper knows).
    shipped: AtomicU64,
    /// How current the store is (ms since the epoch): the time of the newest entry shipped, or
    /// when the shipper last found nothing left to ship, whichever is later.
    current_ms: AtomicU64,
    connected: AtomicBool,
    /// Why shipping stopped for good, when it did.
    refused: Mutex<Option<String>>,
}

impl ShipStatus {
    /// Entries in the store.
    pub fn shipped(&self) -> u64 {
        self.shipped.load(Ordering::Acquire)
    }

    /// Whether the shipper is connected to the store.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Why the store refused this log, if it did.
    pub fn refused(&self) -> Option<String> {
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Entries behind `durable`, and how old the store's view is when it is behind: seconds
    /// since the newest entry it holds was written (or since the shipper last had everything).
    /// Under steady load the store trails by about a checkpoint interval (≤ ~1 s); while it is
    /// away this grows with the outage.
    pub fn lag(&self, durable: u64) -> (u64, f64) {
        let entries = durable.saturating_sub(self.shipped());
        let seconds = if entries == 0 {
            0.0
        } else {
            let since = self.current_ms.load(Ordering::Acquire);
            now_ms().saturating_sub(since) as f64 / 1000.0
        };
        (entries, seconds)
    }

    /// The store is current as of `ms` (never moves back).
    fn current_as_of(&self, ms: u64) {
        self.current_ms.fetch_max(ms, Ordering::AcqRel);
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The entry kind's name (as `ledger show` prints it), for the store's `kind` column.
fn kind(entry: &Entry) -> &'static str {
    match entry {
        Entry::InstanceStarted { .. } => "instance.started",
        Entry::PolicyLoaded { .. } => "policy.loaded",
        Entry::Begin(_) => "disclosure.begin",
        Entry::End(_) => "disclosure.end",
        Entry::Incomplete { .. } => "disclosure.incomplete",
        Entry::KeysLoaded(_) => "keys.loaded",
    }
}

/// Ships until `stop` turns true. `durable` reads the local log's durable size.
pub async fn run(
    opts: ShipOptions,
    status: Arc<ShipStatus>,
    durable: impl Fn() -> u64 + Send + 'static,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    status.current_as_of(now_ms());
    let mut pause = Duration::from_millis(200);
    loop {
        let result = tokio::select! {
            r = session(&opts, &status, &durable) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        status.connected.store(false, Ordering::Release);
        match result {
            Err(StoreError::Refused(why)) => {
                tracing::error!(store = %opts.store.url, reason = %why, "the evidence store refused this ledger; shipping stopped until an operator looks (sluice ledger verify --store)");
                *status.refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "shipping the ledger to the evidence store failed; it continues locally");
            }
            Ok(()) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// One connection's work: resume, then ship each new checkpoint. Returns only on failure.
async fn session(
    opts: &ShipOptions,
    status: &ShipStatus,
    durable: &impl Fn() -> u64,
) -> Result<(), StoreError> {
    let url = &opts.store.url;
    let mut client = opts.store.connect().await?;
    schema::check(&client, url).await?;
    register(&client, opts).await?;
    let row = client
        .query_one(
            "SELECT coalesce(max(seq) + 1, 0) FROM sluice_entries WHERE origin = $1",
            &[&opts.origin],
        )
        .await
        .map_err(|e| StoreError::db(url, "finding where the origin ends", e))?;
    let stored = row.get::<_, i64>(0) as u64;
    status.connected.store(true, Ordering::Release);
    tracing::info!(store = %url, entries = stored, "shipping the ledger to the evidence store");

    // The signed checkpoints not yet in the store, and the local log up to where it resumes.
    let mut notes = Notes::new(&opts.dir);
    let mut notes_of = VecDeque::new();
    for note in notes.read_new().map_err(StoreError::Local)? {
        notes_of.push_back((verified(&note, &opts.public)?, note));
    }
    let local_signed = notes_of.back().map_or(0, |(cp, _)| cp.size);
    // Resume at the store's end, or earlier if the local log is shorter (a restored volume: the
    // entries it writes from there must be the stored ones, or the store refuses them).
    let start = stored.min(local_signed);
    let mut entries = Entries::new(&opts.dir);
    let mut range = merkle::CompactRange::default();
    let mut last = None;
    while entries.next < start {
        let n = entries
            .read(start, usize::MAX, |_, bytes| {
                range.push(merkle::leaf_hash(bytes));
                last = Some(bytes.to_vec());
                Ok(())
            })
            .map_err(StoreError::Local)?;
        if n == 0 {
            return Err(StoreError::Local(format!(
                "{}: the log ends before entry {start}, which its checkpoints cover",
                opts.dir.display()
            )));
        }
    }
    if let Some(bytes) = last
        && let Some((seq, kind, detail)) = mismatch(&client, opts, &[(start - 1, bytes)]).await?
    {
        return refuse(&client, opts, Some(seq), kind, detail).await;
    }
    notes_of.retain(|(cp, _)| cp.size > start);
    status.shipped.store(start, Ordering::Release);
    loop {
        match notes_of.pop_front() {
            Some((cp, note)) => {
                ship_checkpoint(
                    &mut client,
                    opts,
                    &mut entries,
                    &mut range,
                    &cp,
                    &note,
                    status,
                )
                .await?;
            }
            None => {
                if status.shipped() >= durable() {
                    status.current_as_of(now_ms());
                }
                tokio::time::sleep(POLL).await;
                for note in notes.read_new().map_err(StoreError::Local)? {
                    let cp = verified(&note, &opts.public)?;
                    if cp.size > entries.next {
                        notes_of.push_back((cp, note));
                    }
                }
            }
        }
    }
}

/// A local checkpoint note, checked against the log's own key.
fn verified(note: &str, public: &[u8]) -> Result<Checkpoint, StoreError> {
    checkpoint::verify(note, public).map_err(|e| {
        StoreError::Refused(format!(
            "a local checkpoint does not verify under the log's key: {e}"
        ))
    })
}

/// Registers the origin's key, or checks it is the one registered.
async fn register(client: &Client, opts: &ShipOptions) -> Result<(), StoreError> {
    let url = &opts.store.url;
    client
        .execute(
            "INSERT INTO sluice_origins (origin, public_key) VALUES ($1, $2) ON CONFLICT (origin) DO NOTHING",
            &[&opts.origin, &opts.public],
        )
        .await
        .map_err(|e| StoreError::db(url, "registering the origin", e))?;
    let row = client
        .query_one(
            "SELECT public_key FROM sluice_origins WHERE origin = $1",
            &[&opts.origin],
        )
        .await
        .map_err(|e| StoreError::db(url, "reading the origin's key", e))?;
    let registered: Vec<u8> = row.get(0);
    if registered != opts.public {
        return refuse(
            client,
            opts,
            None,
            "key_changed",
            "the origin is registered in the store with another checkpoint key".into(),
        )
        .await;
    }
    Ok(())
}

/// Records an alarm (best effort: the refusal stands even if the alarm cannot be written).
async fn refuse<T>(
    client: &Client,
    opts: &ShipOptions,
    seq: Option<u64>,
    kind: &str,
    detail: String,
) -> Result<T, StoreError> {
    let seq = seq.map(|s| s as i64);
    let _ = client
        .execute(
            "INSERT INTO sluice_alarms (origin, seq, kind, detail) VALUES ($1, $2, $3, $4)",
            &[&opts.origin, &seq, &kind, &detail],
        )
        .await;
    Err(StoreError::Refused(format!(
        "origin {}: {detail}",
        opts.origin
    )))
}

/// Why the store cannot take these entries: the first `(seq, bytes)` that is not what the store
/// holds at `seq` — as an alarm's sequence number, kind and detail — or `None` when all are.
async fn mismatch(
    db: &impl GenericClient,
    opts: &ShipOptions,
    expected: &[(u64, Vec<u8>)],
) -> Result<Option<(u64, &'static str, String)>, StoreError> {
    let seqs: Vec<i64> = expected.iter().map(|(s, _)| *s as i64).collect();
    let rows = db
        .query(
            "SELECT seq, record FROM sluice_entries WHERE origin = $1 AND seq = ANY($2)",
            &[&opts.origin, &seqs],
        )
        .await
        .map_err(|e| StoreError::db(&opts.store.url, "comparing stored entries", e))?;
    let stored: std::collections::HashMap<i64, Vec<u8>> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok(expected.iter().find_map(|(seq, bytes)| match stored.get(&(*seq as i64)) {
        Some(s) if s == bytes => None,
        Some(_) => Some((
            *seq,
            "fork",
            format!("entry {seq} differs from the one already stored: the log forked (restored from an old volume?) or was rewritten"),
        )),
        None => Some((*seq, "missing", format!("entry {seq} is missing from the store"))),
    }))
}

/// Ships the entries up to `cp.size` and then `cp` itself.
async fn ship_checkpoint(
    client: &mut Client,
    opts: &ShipOptions,
    entries: &mut Entries,
    range: &mut merkle::CompactRange,
    cp: &Checkpoint,
    note: &str,
    status: &ShipStatus,
) -> Result<(), StoreError> {
    let url = &opts.store.url;
    loop {
        let mut batch = Batch::default();
        entries
            .read(cp.size, opts.batch.max(1), |seq, bytes| {
                let record = Record::read(bytes)
                    .map_err(|e| format!("{}: entry {seq} {e}", opts.dir.display()))?;
                if record.seq != seq {
                    return Err(format!(
                        "{}: entry {seq} has sequence number {}",
                        opts.dir.display(),
                        record.seq
                    ));
                }
                range.push(merkle::leaf_hash(bytes));
                batch.add(&opts.dir, &record, bytes);
                Ok(())
            })
            .map_err(StoreError::Local)?;
        let last = entries.next >= cp.size;
        if batch.seqs.is_empty() && !last {
            return Err(StoreError::Local(format!(
                "{}: the log ends before entry {}, which a checkpoint covers",
                opts.dir.display(),
                entries.next
            )));
        }
        if last && range.root() != cp.root {
            return refuse(
                client,
                opts,
                Some(cp.size),
                "root_mismatch",
                format!(
                    "the local entries up to {} do not have the root their signed checkpoint names",
                    cp.size
                ),
            )
            .await;
        }
        let tx = client
            .transaction()
            .await
            .map_err(|e| StoreError::db(url, "starting a transaction", e))?;
        let inserted: Vec<i64> = tx
            .query(
                "INSERT INTO sluice_entries (origin, seq, time_ms, kind, record)
                 SELECT $1, s, t, k, r FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bytea[]) AS u(s, t, k, r)
                 ON CONFLICT (origin, seq) DO NOTHING RETURNING seq",
                &[&opts.origin, &batch.seqs, &batch.times, &batch.kinds, &batch.records],
            )
            .await
            .map_err(|e| StoreError::db(url, "inserting entries", e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if inserted.len() < batch.seqs.len() {
            // Some were there already: a replay must be the same bytes, or nothing of this batch
            // is kept (the transaction rolls back) and the store refuses the log.
            let inserted: std::collections::HashSet<i64> = inserted.into_iter().collect();
            let again: Vec<(u64, Vec<u8>)> = batch
                .seqs
                .iter()
                .zip(&batch.records)
                .filter(|(s, _)| !inserted.contains(s))
                .map(|(s, r)| (*s as u64, r.clone()))
                .collect();
            if let Some((seq, kind, detail)) = mismatch(&tx, opts, &again).await? {
                drop(tx);
                return refuse(client, opts, Some(seq), kind, detail).await;
            }
        }
        if let Err(e) = insert_rest(&tx, opts, &batch, last.then_some((cp, note))).await {
            drop(tx);
            return with_alarm(client, opts, cp, e).await;
        }
        tx.commit()
            .await
            .map_err(|e| StoreError::db(url, "committing entries", e))?;
        status.shipped.store(entries.next, Ordering::Release);
        if let Some(t) = batch.times.iter().max() {
            status.current_as_of(*t as u64);
        }
        if last {
            return Ok(());
        }
    }
}

/// A failure of a batch's transaction (rolled back): a refusal is recorded as an alarm against
/// the checkpoint, anything else passed on.
async fn with_alarm(
    client: &Client,
    opts: &ShipOptions,
    cp: &Checkpoint,
    e: StoreError,
) -> Result<(), StoreError> {
    match e {
        StoreError::Refused(detail) => {
            refuse(client, opts, Some(cp.size), "checkpoint_mismatch", detail).await
        }
        other => Err(other),
    }
}

/// The subject rows of a batch, and its closing checkpoint (compared with a stored one).
async fn insert_rest(
    tx: &tokio_postgres::Transaction<'_>,
    opts: &ShipOptions,
    batch: &Batch,
    checkpoint: Option<(&Checkpoint, &str)>,
) -> Result<(), StoreError> {
    let url = &opts.store.url;
    if !batch.subject_hashes.is_empty() {
        tx.execute(
            "INSERT INTO sluice_subjects (origin, end_seq, position, begin_seq, subject)
             SELECT $1, e, p, b, s FROM unnest($2::bigint[], $3::int[], $4::bigint[], $5::bytea[]) AS u(e, p, b, s)
             ON CONFLICT DO NOTHING",
            &[
                &opts.origin,
                &batch.subject_ends,
                &batch.subject_positions,
                &batch.subject_begins,
                &batch.subject_hashes,
            ],
        )
        .await
        .map_err(|e| StoreError::db(url, "inserting subject hashes", e))?;
    }
    if let Some((cp, note)) = checkpoint {
        let size = cp.size as i64;
        let root = cp.root.to_vec();
        tx.execute(
            "INSERT INTO sluice_checkpoints (origin, size, root, note) VALUES ($1, $2, $3, $4)
             ON CONFLICT (origin, size) DO NOTHING",
            &[&opts.origin, &size, &root, &note],
        )
        .await
        .map_err(|e| StoreError::db(url, "inserting a checkpoint", e))?;
        let stored: Vec<u8> = tx
            .query_one(
                "SELECT root FROM sluice_checkpoints WHERE origin = $1 AND size = $2",
                &[&opts.origin, &size],
            )
            .await
            .map_err(|e| StoreError::db(url, "reading a checkpoint", e))?
            .get(0);
        if stored != root {
            return Err(StoreError::Refused(format!(
                "the store holds another root for checkpoint {}: the log forked or a checkpoint was rewritten",
                cp.size
            )));
        }
    }
    Ok(())
}

/// The columns of one transaction's entries and subject rows.
#[derive(Default)]
struct Batch {
    seqs: Vec<i64>,
    times: Vec<i64>,
    kinds: Vec<&'static str>,
    records: Vec<Vec<u8>>,
    /// Subject rows: the end's sequence number, the hash's position in it, the begin's sequence
    /// number, the hash.
    subject_ends: Vec<i64>,
    subject_positions: Vec<i32>,
    subject_begins: Vec<i64>,
    subject_hashes: Vec<Vec<u8>>,
}

impl Batch {
    fn add(&mut self, dir: &std::path::Path, record: &Record, bytes: &[u8]) {
        self.seqs.push(record.seq as i64);
        self.times.push(record.time_ms as i64);
        self.kinds.push(kind(&record.entry));
        self.records.push(bytes.to_vec());
        if let Entry::End(end) = &record.entry {
            let hashes = crate::ledger::read::subjects_of(dir, end);
            for (i, h) in hashes.iter().enumerate() {
                self.subject_ends.push(record.seq as i64);
                self.subject_positions.push(i as i32);
                self.subject_begins.push(end.begin as i64);
                self.subject_hashes.push(h.to_vec());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_seconds_are_the_age_of_the_newest_entry_shipped_while_behind() {
        let status = ShipStatus::default();
        status.shipped.store(10, Ordering::Release);
        status.current_as_of(now_ms() - 5_000);
        assert_eq!(status.lag(10), (0, 0.0), "caught up: no lag");
        let (entries, seconds) = status.lag(12);
        assert_eq!(entries, 2);
        assert!((5.0..60.0).contains(&seconds), "{seconds}");
        // An older entry shipped later (a backlog) does not make the store look older.
        status.current_as_of(now_ms() - 50_000);
        assert!(status.lag(12).1 < 50.0);
    }
}
