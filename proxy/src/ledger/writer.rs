//! The ledger's writer thread: group commit (one `fdatasync` per batch), segment rotation,
//! signed checkpoints (after `checkpoint_every` entries and at least once a second), and the
//! check that the segment on disk is still what this writer wrote.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use ring::signature::Ed25519KeyPair;

use super::checkpoint::{self, Checkpoint};
use super::entry::Entry;
use super::entry::Record;
use super::error::LedgerError;
use super::merkle;
use super::segment;

/// A checkpoint at least this often while entries are uncovered.
pub(super) const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Called once an append is durable (or failed).
pub(super) type Done = Box<dyn FnOnce(Result<u64, LedgerError>) + Send>;

pub(super) struct Job {
    pub(super) entry: Entry,
    pub(super) done: Option<Done>,
}

pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(super) fn io(what: &str, path: &Path, e: std::io::Error) -> LedgerError {
    LedgerError::Unavailable(format!("{what} {}: {e}", path.display()))
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

pub(super) struct Writer {
    pub(super) dir: PathBuf,
    pub(super) path: PathBuf,
    pub(super) file: File,
    pub(super) len: u64,
    pub(super) segment: u32,
    pub(super) segment_bytes: u64,
    /// Entries in the log. Only the count and the O(log n) compact range are kept: memory does
    /// not grow with the log.
    pub(super) size: u64,
    pub(super) range: merkle::CompactRange,
    pub(super) origin: String,
    pub(super) key: Arc<Ed25519KeyPair>,
    pub(super) window: Duration,
    pub(super) every: u64,
    pub(super) last_checkpoint: u64,
    pub(super) last_checkpoint_at: Instant,
    pub(super) min_interval: Duration,
    pub(super) healthy: Arc<AtomicBool>,
    /// Set for good once the segment on disk is no longer what this writer wrote (someone else
    /// appended, cut or replaced it): nothing more is appended, and the instance stays not-ready.
    pub(super) diverged: bool,
    pub(super) _lock: Arc<super::lock::DirLock>,
}

impl Writer {
    pub(super) fn run(mut self, rx: mpsc::Receiver<Job>) {
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
            // A checkpoint after `every` entries (but no more often than `min_interval`), and at
            // least once a second under steady load: what is not yet under a signed checkpoint
            // is never older than that.
            if (self.size >= self.last_checkpoint + self.every
                && self.last_checkpoint_at.elapsed() >= self.min_interval)
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
