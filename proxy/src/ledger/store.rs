//! The ledger's writer: recovery on open, then one thread that appends batches, syncs them once,
//! answers every waiting append, and signs checkpoints.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use ring::signature::Ed25519KeyPair;

use super::checkpoint::{self, Checkpoint};
use super::entry::{Begin, End, Entry, Outcome, Record};
use super::merkle;
use super::segment::{self, Tail};

/// Why the ledger cannot do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The log cannot be written (disk full, read-only, I/O error): nothing may be disclosed.
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
    /// The log on disk is not the log that was signed.
    #[error("ledger refused: {0}")]
    Tampered(String),
    /// An entry over the size limit.
    #[error("ledger entry of {0} bytes is over the limit")]
    TooLarge(usize),
    /// Another process holds the ledger directory.
    #[error("ledger refused: {0}")]
    Locked(String),
}

/// How the ledger is opened.
pub struct LedgerOptions {
    /// Directory.
    pub dir: PathBuf,
    /// The log's origin (and signing key name), e.g. `bank.example/sluice/replica-1`.
    pub origin: String,
    /// Checkpoint signing key.
    pub key: Arc<Ed25519KeyPair>,
    /// Group-commit window.
    pub commit_window: Duration,
    /// Sign a checkpoint after this many new entries (or at shutdown).
    pub checkpoint_every: u64,
    /// Start a new segment file once the current one reaches this size.
    pub segment_bytes: u64,
}

impl std::fmt::Debug for LedgerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerOptions")
            .field("dir", &self.dir)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// What recovery did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Entries found.
    pub entries: u64,
    /// Bytes of a torn tail that were cut.
    pub cut_bytes: u64,
    /// Begins that got an `incomplete` entry.
    pub incomplete: Vec<u64>,
}

/// A checkpoint at least this often while entries are uncovered.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Called once an append is durable (or failed).
type Done = Box<dyn FnOnce(Result<u64, LedgerError>) + Send>;

struct Job {
    entry: Entry,
    done: Option<Done>,
}

/// An open ledger.
pub struct Ledger {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    healthy: Arc<AtomicBool>,
    origin: String,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Held until [`close`](Self::close) (and by the writer thread until it has stopped).
    lock: Mutex<Option<Arc<super::lock::DirLock>>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("origin", &self.origin)
            .field("healthy", &self.healthy())
            .finish()
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn io(what: &str, path: &Path, e: std::io::Error) -> LedgerError {
    LedgerError::Unavailable(format!("{what} {}: {e}", path.display()))
}

/// The latest checkpoint note in `dir/checkpoints`, if any.
pub fn latest_checkpoint(dir: &Path) -> Result<Option<String>, LedgerError> {
    let cps = dir.join("checkpoints");
    let Ok(rd) = std::fs::read_dir(&cps) else {
        return Ok(None);
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".note"))
        .collect();
    names.sort();
    match names.last() {
        Some(n) => std::fs::read_to_string(cps.join(n))
            .map(Some)
            .map_err(|e| io("reading", &cps.join(n), e)),
        None => Ok(None),
    }
}

fn write_checkpoint(dir: &Path, note: &str, size: u64) -> std::io::Result<()> {
    let cps = dir.join("checkpoints");
    std::fs::create_dir_all(&cps)?;
    let tmp = cps.join(format!("{size:020}.note.tmp"));
    let fin = cps.join(format!("{size:020}.note"));
    let mut f = File::create(&tmp)?;
    f.write_all(note.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &fin)?;
    File::open(&cps)?.sync_all()
}

impl Ledger {
    /// Opens (and recovers) the ledger in `opts.dir`.
    pub fn open(opts: LedgerOptions) -> Result<(Self, Recovery), LedgerError> {
        // Before anything in the directory is read or written: one writer per ledger.
        let lock = Arc::new(super::lock::DirLock::acquire(&opts.dir)?);
        let public = ring::signature::KeyPair::public_key(&*opts.key)
            .as_ref()
            .to_vec();
        // The public key beside the log, for `ledger verify` without --pubkey (a convenience: an
        // auditor should verify with a key obtained independently).
        let pub_hex = sluice_policy::hex::hex(&public);
        let _ = std::fs::write(opts.dir.join("log.pub"), format!("{pub_hex}\n"));
        let latest = match latest_checkpoint(&opts.dir)? {
            Some(note) => Some(
                checkpoint::verify(&note, &public)
                    .map_err(|e| LedgerError::Tampered(format!("latest checkpoint: {e}")))?,
            ),
            None => None,
        };
        // One pass over the segments, one in memory at a time: numbering, open disclosures, the
        // compact Merkle range, and the root where the latest checkpoint says it ends.
        let mut range = merkle::CompactRange::default();
        let mut open_begins = BTreeSet::new();
        let mut root_at_checkpoint = latest
            .as_ref()
            .filter(|cp| cp.size == 0)
            .map(|_| range.root());
        let end = segment::visit(&opts.dir, |i, bytes| {
            let rec = Record::decode(bytes)
                .ok_or_else(|| format!("{}: entry {i} does not decode", opts.dir.display()))?;
            if rec.seq != i {
                return Err(format!(
                    "{}: entry at position {i} has sequence number {}",
                    opts.dir.display(),
                    rec.seq
                ));
            }
            match rec.entry {
                Entry::Begin(_) => {
                    open_begins.insert(rec.seq);
                }
                Entry::End(e) => {
                    open_begins.remove(&e.begin);
                }
                Entry::Incomplete { begin } => {
                    open_begins.remove(&begin);
                }
                _ => {}
            }
            range.push(merkle::leaf_hash(bytes));
            if latest.as_ref().is_some_and(|cp| cp.size == i + 1) {
                root_at_checkpoint = Some(range.root());
            }
            Ok(())
        })
        .map_err(LedgerError::Tampered)?;
        let (seg_no, path, good_len) =
            end.last
                .clone()
                .unwrap_or((0, opts.dir.join(segment::name(0)), 0));
        let file_len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let mut recovery = Recovery {
            entries: end.entries,
            ..Recovery::default()
        };
        if end.tail == Tail::Torn {
            recovery.cut_bytes = file_len - good_len;
        }
        if let Some(cp) = &latest {
            if cp.size > end.entries {
                return Err(LedgerError::Tampered(format!(
                    "the log has {} entries but its last signed checkpoint covers {}: it was truncated or restored from an old copy",
                    end.entries, cp.size
                )));
            }
            if root_at_checkpoint != Some(cp.root) {
                return Err(LedgerError::Tampered(format!(
                    "the first {} entries differ from what the last signed checkpoint covers",
                    cp.size
                )));
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io("opening", &path, e))?;
        if recovery.cut_bytes > 0 {
            file.set_len(good_len)
                .map_err(|e| io("cutting the torn tail of", &path, e))?;
            file.sync_all().map_err(|e| io("syncing", &path, e))?;
        }
        let healthy = Arc::new(AtomicBool::new(true));
        let (tx, rx) = mpsc::channel::<Job>();
        let writer = Writer {
            dir: opts.dir.clone(),
            path,
            file,
            len: good_len,
            segment: seg_no,
            segment_bytes: opts.segment_bytes.max(1),
            range,
            size: end.entries,
            origin: opts.origin.clone(),
            key: opts.key.clone(),
            window: opts.commit_window,
            every: opts.checkpoint_every.max(1),
            last_checkpoint: 0,
            last_checkpoint_at: Instant::now(),
            healthy: healthy.clone(),
            diverged: false,
            _lock: lock.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("sluice-ledger".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| LedgerError::Unavailable(e.to_string()))?;
        let ledger = Ledger {
            tx: Mutex::new(Some(tx)),
            healthy,
            origin: opts.origin,
            thread: Mutex::new(Some(thread)),
            lock: Mutex::new(Some(lock)),
        };
        for begin in open_begins {
            ledger.append_blocking(Entry::Incomplete { begin })?;
            recovery.incomplete.push(begin);
        }
        ledger.append_blocking(Entry::InstanceStarted {
            origin: ledger.origin.clone(),
            build: env!("CARGO_PKG_VERSION").into(),
        })?;
        Ok((ledger, recovery))
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// False after a write or sync failed, until one succeeds again.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    fn send(&self, job: Job) -> Result<(), LedgerError> {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        match tx.as_ref() {
            Some(tx) => tx
                .send(job)
                .map_err(|_| LedgerError::Unavailable("the ledger writer stopped".into())),
            None => Err(LedgerError::Unavailable("the ledger is closed".into())),
        }
    }

    /// Appends and waits until the entry is durable; returns its sequence number.
    pub async fn append(&self, entry: Entry) -> Result<u64, LedgerError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Job {
            entry,
            done: Some(Box::new(move |r| drop(tx.send(r)))),
        })?;
        rx.await
            .unwrap_or_else(|_| Err(LedgerError::Unavailable("the ledger writer stopped".into())))
    }

    /// Appends a `disclosure.begin` and waits until it is durable; returns its sequence number.
    ///
    /// Cancellation-safe, unlike [`append`](Self::append) for this entry: once the entry is
    /// queued it will be written, and a request dropped while it waits (its client went away)
    /// would leave the disclosure open for good, since nothing else knows the sequence number.
    /// So a disclosure whose waiter is gone before it took the number is ended as
    /// `client_gone`, with nothing sent — which is the truth: no byte goes out before its
    /// begin is durable. The writer ends it when nobody waits any more for its answer, the
    /// dropped waiter when the answer was already there (`BeginWaiter`).
    pub async fn append_begin(&self, begin: Begin) -> Result<u64, LedgerError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let queue = self
            .tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| LedgerError::Unavailable("the ledger is closed".into()))?;
        self.send(Job {
            entry: Entry::Begin(Box::new(begin)),
            done: Some(Box::new(move |r| {
                if let Err(Ok(seq)) = tx.send(r) {
                    let _ = queue.send(Job {
                        entry: client_gone(seq),
                        done: None,
                    });
                }
            })),
        })?;
        // Dropped before it has the number (the writer's answer may already be in the channel):
        // the waiter ends the disclosure itself; see `BeginWaiter`.
        let mut waiter = BeginWaiter {
            rx: Some(rx),
            ledger: self,
        };
        let answer = waiter.rx.as_mut().expect("set above").await;
        waiter.rx = None;
        answer.unwrap_or_else(|_| Err(LedgerError::Unavailable("the ledger writer stopped".into())))
    }

    /// Appends and waits, from a thread that is not async.
    pub fn append_blocking(&self, entry: Entry) -> Result<u64, LedgerError> {
        let (tx, rx) = mpsc::channel();
        self.send(Job {
            entry,
            done: Some(Box::new(move |r| drop(tx.send(r)))),
        })?;
        rx.recv()
            .unwrap_or_else(|_| Err(LedgerError::Unavailable("the ledger writer stopped".into())))
    }

    /// Appends without waiting (the entry is still group-committed; failures are logged).
    pub fn append_detached(&self, entry: Entry) {
        if let Err(e) = self.send(Job { entry, done: None }) {
            tracing::error!(error = %e, "ledger append failed");
        }
    }

    /// Flushes, signs a final checkpoint, and stops the writer.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
        // Nothing more is written: the next writer may have the directory.
        self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// The end of the disclosure begun at `seq` whose request went away before anything was sent.
fn client_gone(seq: u64) -> Entry {
    Entry::End(Box::new(End::new(seq, Outcome::ClientGone)))
}

/// The wait for a `disclosure.begin`'s number. Between the writer's answer and the waiter
/// reading it there is a moment in which the request may be dropped: then the number is in the
/// channel and nobody ends the disclosure. Dropped unanswered, the waiter closes the channel —
/// after which the writer's answer fails and the writer ends the disclosure — and ends it here
/// if the answer came first. One of the two, never both.
struct BeginWaiter<'a> {
    rx: Option<tokio::sync::oneshot::Receiver<Result<u64, LedgerError>>>,
    ledger: &'a Ledger,
}

impl Drop for BeginWaiter<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(Ok(seq)) = rx.try_recv() {
                self.ledger.append_detached(client_gone(seq));
            }
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.close();
    }
}

struct Writer {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    len: u64,
    segment: u32,
    segment_bytes: u64,
    /// Entries in the log. Only the count and the O(log n) compact range are kept: memory does
    /// not grow with the log.
    size: u64,
    range: merkle::CompactRange,
    origin: String,
    key: Arc<Ed25519KeyPair>,
    window: Duration,
    every: u64,
    last_checkpoint: u64,
    last_checkpoint_at: Instant,
    healthy: Arc<AtomicBool>,
    /// Set for good once the segment on disk is no longer what this writer wrote (someone else
    /// appended, cut or replaced it): nothing more is appended, and the instance stays not-ready.
    diverged: bool,
    _lock: Arc<super::lock::DirLock>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Job>) {
        loop {
            // Idle: sign what is not yet covered once a second, so a quiet log is still checkpointed.
            let first = match rx.recv_timeout(CHECKPOINT_INTERVAL) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if self.size > self.last_checkpoint {
                        self.checkpoint();
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            // Everything already queued joins the batch (entries queue up while a sync runs, so
            // batches grow with load at no added latency); a window > 0 also waits that long for
            // stragglers, trading latency for fewer syncs.
            let mut batch = vec![first];
            let deadline = Instant::now() + self.window;
            while batch.len() < 256 {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(mpsc::TryRecvError::Disconnected) => break,
                    Err(mpsc::TryRecvError::Empty) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        match rx.recv_timeout(left) {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                }
            }
            self.commit(batch);
            // A checkpoint after `every` entries, and at least once a second under steady load:
            // what is not yet under a signed checkpoint is never older than that.
            if self.size >= self.last_checkpoint + self.every
                || (self.size > self.last_checkpoint
                    && self.last_checkpoint_at.elapsed() >= CHECKPOINT_INTERVAL)
            {
                self.checkpoint();
            }
        }
        if self.size > self.last_checkpoint {
            self.checkpoint();
        }
    }

    fn commit(&mut self, batch: Vec<Job>) {
        let mut buf = Vec::new();
        let mut leaves = Vec::new();
        let mut accepted = Vec::new();
        let time_ms = now_ms();
        for job in batch {
            let seq = self.size + leaves.len() as u64;
            match (Record {
                seq,
                time_ms,
                entry: job.entry,
            })
            .encode()
            {
                Ok(bytes) => {
                    segment::frame(&bytes, &mut buf);
                    leaves.push(merkle::leaf_hash(&bytes));
                    accepted.push((seq, job.done));
                }
                Err(n) => {
                    if let Some(done) = job.done {
                        done(Err(LedgerError::TooLarge(n)));
                    }
                }
            }
        }
        let written = self
            .check_unchanged()
            .and_then(|()| self.file.write_all(&buf))
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.len += buf.len() as u64;
                if self.len >= self.segment_bytes {
                    self.rotate();
                }
                leaves.iter().for_each(|l| self.range.push(*l));
                self.size += leaves.len() as u64;
                self.healthy.store(true, Ordering::SeqCst);
                for (seq, done) in accepted {
                    if let Some(done) = done {
                        done(Ok(seq));
                    }
                }
            }
            Err(e) => {
                // Nothing of this batch counts: cut whatever part of it reached the file (not
                // when the file is someone else's now).
                if !self.diverged {
                    let _ = self.file.set_len(self.len);
                }
                self.healthy.store(false, Ordering::SeqCst);
                let err = io("writing", &self.path, e);
                tracing::error!(error = %err, "ledger write failed; disclosures are refused until it recovers");
                for (_, done) in accepted {
                    if let Some(done) = done {
                        done(Err(err.clone()));
                    }
                }
            }
        }
    }

    /// Fails (for good) when the current segment is no longer the file this writer has been
    /// appending to, or has another length than it wrote: a second writer, a restore or an edit.
    /// Appending after foreign bytes would bury them in a log whose tree no longer matches.
    fn check_unchanged(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        if !self.diverged {
            let ours = self.file.metadata()?;
            let named = std::fs::metadata(&self.path)?;
            self.diverged =
                ours.len() != self.len || ours.ino() != named.ino() || ours.dev() != named.dev();
            if self.diverged {
                tracing::error!(
                    segment = %self.path.display(),
                    "the ledger on disk no longer matches what this instance wrote; disclosures are refused and the instance is not ready until it is restarted (sluice ledger verify says what changed)"
                );
            }
        }
        if self.diverged {
            return Err(std::io::Error::other(
                "the log on disk no longer matches what this instance wrote",
            ));
        }
        Ok(())
    }

    /// Starts the next segment file (the current one is complete and synced).
    fn rotate(&mut self) {
        let next = self.dir.join(segment::name(self.segment + 1));
        let opened = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&next)
            .and_then(|f| File::open(&self.dir)?.sync_all().map(|()| f));
        match opened {
            Ok(f) => {
                self.file = f;
                self.path = next;
                self.segment += 1;
                self.len = 0;
            }
            Err(e) => {
                tracing::error!(error = %e, "starting a new ledger segment failed; appending to the current one")
            }
        }
    }

    fn checkpoint(&mut self) {
        if self.diverged {
            return; // signing over a log that is no longer ours would vouch for it
        }
        let cp = Checkpoint {
            origin: self.origin.clone(),
            size: self.size,
            root: self.range.root(),
        };
        let note = checkpoint::sign(&cp, &self.key);
        match write_checkpoint(&self.dir, &note, cp.size) {
            Ok(()) => {
                self.last_checkpoint = cp.size;
                self.last_checkpoint_at = Instant::now();
            }
            Err(e) => tracing::error!(error = %e, "writing a ledger checkpoint failed"),
        }
    }
}

/// Loads an Ed25519 signing key from a PEM PKCS#8 file (as `sluice certs init` writes).
pub fn load_signing_key(path: &Path) -> Result<Ed25519KeyPair, String> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_file(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.secret_pkcs8_der())
        .map_err(|e| format!("{}: not an Ed25519 PKCS#8 key ({e})", path.display()))
}
