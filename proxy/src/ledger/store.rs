//! The ledger's writer: recovery on open, then one thread that appends batches, syncs them once,
//! answers every waiting append, and signs checkpoints.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ring::signature::Ed25519KeyPair;

use super::answers::{Done, client_gone};
use super::checkpoint;
use super::entry::{Begin, Entry, Record};
pub use super::error::LedgerError;
use super::keycheck::KeyChecks;
use super::merkle;
use super::queue::Queue;
use super::segment::{self, Tail};
use super::writer::{Job, Writer, io};

/// How the ledger is opened.
#[derive(Clone)]
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
    /// ... but not more often than this (a checkpoint is a signature, a file, two syncs and a
    /// rename: under load, `checkpoint_every` alone would sign hundreds a second). Zero: no
    /// bound. Entries are never left unsigned longer than a second either way.
    pub checkpoint_min_interval: Duration,
    /// The wait for more entries when many disclosures are open at once.
    pub commit_delay: CommitDelay,
    /// Start a new segment file once the current one reaches this size.
    pub segment_bytes: u64,
    /// How long a waited append may wait for the runtime's workers to go idle before its batch
    /// is synced anyway (see `idle`); zero, or a runtime without the hook: no wait.
    pub idle_commit_wait: Duration,
}

/// PostgreSQL's `commit_delay` and `commit_siblings`, for the ledger: when at least `siblings`
/// disclosures are open (begun, not yet ended) and the last batch answered at least two
/// waiting appenders, a batch that is due waits `delay` for more entries before its one
/// `fdatasync` (long-running streams keep disclosures open without new ones arriving: batches
/// of one waiter then do not wait). With that many requests in flight, latency is already
/// queueing, and each sync saved is CPU (a sync costs the proxy ~100 µs of CPU on a virtual
/// disk). With few requests in flight there is no wait: at 16 connections every added
/// microsecond is latency and throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitDelay {
    /// The wait.
    pub delay: Duration,
    /// Open disclosures from which it applies.
    pub siblings: u64,
}

impl Default for CommitDelay {
    fn default() -> Self {
        CommitDelay {
            delay: Duration::from_micros(1000),
            siblings: 64,
        }
    }
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
    /// The pseudonym key is not the one last recorded (at this entry): every partner's
    /// pseudonyms change from now on. Recorded in a `keys.loaded` entry; for the caller to warn.
    pub pseudonym_key_changed_since: Option<u64>,
}

/// An open ledger.
pub struct Ledger {
    queue: Arc<Queue>,
    healthy: Arc<AtomicBool>,
    durable: Arc<std::sync::atomic::AtomicU64>,
    dir: PathBuf,
    public: Vec<u8>,
    origin: String,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The answers on their way to the runtime's tasks (`answers`), when opened on a runtime.
    mailbox: Option<Arc<super::answers::Mailbox>>,
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

/// The latest checkpoint note in `dir`, if any (see `notes`).
pub fn latest_checkpoint(dir: &Path) -> Result<Option<String>, LedgerError> {
    super::notes::latest(dir).map_err(|e| match e {
        super::notes::NotesError::Io(e) => LedgerError::Unavailable(e),
        super::notes::NotesError::Damaged(e) => LedgerError::Tampered(e),
    })
}

impl Ledger {
    /// Opens (and recovers) the ledger in `opts.dir`.
    pub fn open(opts: LedgerOptions) -> Result<(Self, Recovery), LedgerError> {
        Self::open_checked(opts, None)
    }

    /// [`open`](Self::open) for an instance that writes with these keys (see
    /// [`keycheck`](super::keycheck)): refused, before anything is written, when the subject key
    /// is not the one the log last recorded; a `keys.loaded` entry after `instance.started` when
    /// either key is not the last recorded (or none is).
    pub fn open_checked(
        opts: LedgerOptions,
        keys: Option<KeyChecks>,
    ) -> Result<(Self, Recovery), LedgerError> {
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
        let mut last_keys: Option<(u64, KeyChecks)> = None;
        let mut first_origin: Option<String> = None;
        let mut root_at_checkpoint = latest
            .as_ref()
            .filter(|cp| cp.size == 0)
            .map(|_| range.root());
        let end = segment::visit(&opts.dir, |i, bytes| {
            let rec = Record::read(bytes)
                .map_err(|e| format!("{}: entry {i} {e}", opts.dir.display()))?;
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
                Entry::KeysLoaded(k) => last_keys = Some((rec.seq, k)),
                Entry::InstanceStarted { origin, .. } if first_origin.is_none() => {
                    first_origin = Some(origin);
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
        // One log, one origin: its checkpoints and the evidence store's rows are named by it,
        // so a second name would make one log two (or two logs one) to whoever reads them.
        if let Some(first) = first_origin.filter(|o| *o != opts.origin) {
            return Err(LedgerError::NotThisLedger(format!(
                "the origin {:?} is not this ledger's ({first:?}, named by its first instance.started): a log keeps the origin it was created with — put it back, or start a new ledger directory for the new origin",
                opts.origin
            )));
        }
        if let (Some(want), Some((at, had))) = (keys, last_keys) {
            if want.subject != had.subject {
                return Err(LedgerError::NotThisLedger(format!(
                    "the subject key (check value {}…) is not the one this ledger's subject hashes were made with (check value {}…, entry {at}): give the ledger its key back, or rotate by starting a new ledger directory ([ledger] dir) for the new key and keep this one, with its key, for `sluice ledger query`",
                    super::keycheck::short(&want.subject),
                    super::keycheck::short(&had.subject),
                )));
            }
            if want.pseudonym != had.pseudonym {
                recovery.pseudonym_key_changed_since = Some(at);
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io("opening", &path, e))?;
        if file_len > good_len {
            // A torn tail, or the zeros a writer preallocated and did not trim (a crash).
            file.set_len(good_len)
                .map_err(|e| io("cutting the torn tail of", &path, e))?;
            file.sync_all().map_err(|e| io("syncing", &path, e))?;
        }
        let healthy = Arc::new(AtomicBool::new(true));
        let durable = Arc::new(std::sync::atomic::AtomicU64::new(end.entries));
        let queue = if !opts.idle_commit_wait.is_zero() && super::idle::installed() {
            let queue = Arc::new(Queue::deferring(opts.idle_commit_wait));
            super::idle::register(&queue);
            queue
        } else {
            Arc::new(Queue::default())
        };
        let writer_queue = queue.clone();
        let (answers, mailbox) = super::answers::Answers::new(queue.clone());
        let writer = Writer {
            dir: opts.dir.clone(),
            path,
            file,
            len: good_len,
            allocated: good_len,
            segment: seg_no,
            segment_bytes: opts.segment_bytes.max(1),
            range,
            size: end.entries,
            origin: opts.origin.clone(),
            key: opts.key.clone(),
            window: opts.commit_window,
            delay: opts.commit_delay,
            open: open_begins.len() as u64,
            last_waited: 0,
            every: opts.checkpoint_every.max(1),
            min_interval: opts.checkpoint_min_interval,
            notes: None,
            last_checkpoint: 0,
            last_checkpoint_at: Instant::now(),
            healthy: healthy.clone(),
            durable: durable.clone(),
            diverged: false,
            _lock: lock.clone(),
            scratch: Vec::new(),
            frames: Vec::new(),
            answers,
        };
        let thread = std::thread::Builder::new()
            .name("sluice-ledger".into())
            .spawn(move || writer.run(writer_queue))
            .map_err(|e| LedgerError::Unavailable(e.to_string()))?;
        let ledger = Ledger {
            queue,
            healthy,
            durable,
            dir: opts.dir.clone(),
            public,
            origin: opts.origin,
            thread: Mutex::new(Some(thread)),
            mailbox,
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
        if let Some(keys) = keys
            && last_keys.map(|(_, k)| k) != Some(keys)
        {
            ledger.append_blocking(Entry::KeysLoaded(keys))?;
        }
        Ok((ledger, recovery))
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The directory the log is in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The Ed25519 public key of the checkpoint signatures.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// Entries durable in the log.
    pub fn durable_entries(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    /// False after a write or sync failed, until one succeeds again.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    /// Queues a waited append; the bound its waiter must watch, if any (see [`Queue::push`]).
    fn send(&self, job: Job) -> Result<Option<Duration>, LedgerError> {
        self.queue.push(job, true)
    }

    /// Appends and waits until the entry is durable; returns its sequence number.
    pub async fn append(&self, entry: Entry) -> Result<u64, LedgerError> {
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let watch = self.send(Job {
            entry,
            done: Some(Done::Task(tx)),
        })?;
        self.answer(&mut rx, watch)
            .await
            .unwrap_or_else(|_| Err(LedgerError::Unavailable("the ledger writer stopped".into())))
    }

    /// Waits for the writer's answer to a waited append. With a bound to `watch` (the append
    /// started a batch on a queue deferring to idle workers while the writer slept: `idle`),
    /// workers that stay busy would never signal; once the bound passes, the waiting task kicks
    /// the writer itself (a runtime timer, cancelled when the answer comes first). So no append
    /// waits longer than the bound, with one timer per batch and no wake of the writer per
    /// append.
    async fn answer(
        &self,
        rx: &mut tokio::sync::oneshot::Receiver<Result<u64, LedgerError>>,
        watch: Option<Duration>,
    ) -> Result<Result<u64, LedgerError>, tokio::sync::oneshot::error::RecvError> {
        let Some(bound) = watch else {
            return rx.await;
        };
        tokio::select! {
            biased;
            answer = &mut *rx => answer,
            () = tokio::time::sleep(bound) => {
                self.queue.kick();
                rx.await
            }
        }
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
        let watch = self.send(Job {
            entry: Entry::Begin(Box::new(begin)),
            done: Some(Done::Begin(tx)),
        })?;
        // Dropped before it has the number (the writer's answer may already be in the channel):
        // the waiter ends the disclosure itself; see `BeginWaiter`.
        let mut waiter = BeginWaiter {
            rx: Some(rx),
            ledger: self,
        };
        let answer = self
            .answer(waiter.rx.as_mut().expect("set above"), watch)
            .await;
        waiter.rx = None;
        answer.unwrap_or_else(|_| Err(LedgerError::Unavailable("the ledger writer stopped".into())))
    }

    /// Appends and waits, from a thread that is not async (start-up, reloads): due at once, as
    /// no worker of a runtime is there to go idle for it.
    pub fn append_blocking(&self, entry: Entry) -> Result<u64, LedgerError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.send(Job {
            entry,
            done: Some(Done::Thread(tx)),
        })?;
        self.queue.kick();
        rx.recv()
            .unwrap_or_else(|_| Err(LedgerError::Unavailable("the ledger writer stopped".into())))
    }

    /// Appends without waiting: the entry joins the next batch and is durable within
    /// `DETACHED_FLUSH` (see `queue`); failures are logged.
    pub fn append_detached(&self, entry: Entry) {
        if let Err(e) = self.queue.push(Job { entry, done: None }, false) {
            tracing::error!(error = %e, "ledger append failed");
        }
    }

    /// Flushes, signs a final checkpoint, and stops the writer.
    pub fn close(&self) {
        // Answers the runtime has not given yet are given here first: close may be called on
        // the runtime's only thread, and a waiter that went away is owed an end the writer must
        // still write.
        if let Some(m) = &self.mailbox {
            m.deliver(&self.queue);
        }
        self.queue.close();
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
        if let Some(m) = &self.mailbox {
            m.deliver(&self.queue);
            m.close();
        }
        // Nothing more is written: the next writer may have the directory.
        self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
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
            match rx.try_recv() {
                Ok(Ok(seq)) => self.ledger.append_detached(client_gone(seq)),
                Ok(Err(_)) => {}
                // Unanswered: if this waiter watched its batch's bound, nobody does now; the
                // batch is due at once instead.
                Err(_) => self.ledger.queue.kick(),
            }
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.close();
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
