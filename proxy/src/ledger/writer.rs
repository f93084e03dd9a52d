//! The ledger's writer thread: group commit (one `fdatasync` per batch), segment rotation,
//! signed checkpoints (after `checkpoint_every` entries and at least once a second), and the
//! check that the segment on disk is still what this writer wrote.
//!
//! The segment being appended to is preallocated: zeros are written (and synced, with the
//! file's new size) [`PREALLOCATE`] bytes ahead of the records, and batches overwrite them in
//! place. A batch's `fdatasync` then flushes data blocks only: on ext4 and XFS a sync that also
//! has to write the inode (a new size, new blocks) costs a journal commit, which was most of the
//! ledger thread's time at small bodies. `fallocate` would not do: unwritten extents still
//! change on first write. The reader tells the zero tail from records (`segment`); a segment is
//! trimmed to its records when it is rotated and when the ledger closes.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ring::signature::Ed25519KeyPair;

use super::answers::Answers;
pub(super) use super::answers::Done;
use super::checkpoint::{self, Checkpoint};
use super::entry::Entry;
use super::entry::Record;
use super::error::LedgerError;
use super::merkle;
use super::notes;
use super::queue::{Queue, Taken};
use super::segment;

/// A checkpoint at least this often while entries are uncovered.
pub(super) const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// How far ahead of its records the current segment is zero-filled.
pub(super) const PREALLOCATE: u64 = 1 << 20;

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

pub(super) struct Writer {
    pub(super) dir: PathBuf,
    pub(super) path: PathBuf,
    pub(super) file: File,
    /// Where the records end (the next batch is written here).
    pub(super) len: u64,
    /// The file's size: `len` plus the zero-filled space ahead of it.
    pub(super) allocated: u64,
    pub(super) segment: u32,
    pub(super) segment_bytes: u64,
    /// Entries in the log. Only the count and the O(log n) compact range are kept: memory does
    /// not grow with the log.
    pub(super) size: u64,
    pub(super) range: merkle::CompactRange,
    pub(super) origin: String,
    pub(super) key: Arc<Ed25519KeyPair>,
    pub(super) window: Duration,
    pub(super) delay: super::store::CommitDelay,
    /// Disclosures begun and not yet ended or marked incomplete, as written.
    pub(super) open: u64,
    /// Appends somebody waited for in the last batch.
    pub(super) last_waited: usize,
    pub(super) every: u64,
    /// The checkpoint log (`notes`) and where its records end, once opened.
    pub(super) notes: Option<(File, u64)>,
    pub(super) last_checkpoint: u64,
    pub(super) last_checkpoint_at: Instant,
    pub(super) min_interval: Duration,
    pub(super) healthy: Arc<AtomicBool>,
    /// `size`, published for the evidence store's shipper (its lag).
    pub(super) durable: Arc<std::sync::atomic::AtomicU64>,
    /// Set for good once the segment on disk is no longer what this writer wrote (someone else
    /// appended, cut or replaced it): nothing more is appended, and the instance stays not-ready.
    pub(super) diverged: bool,
    pub(super) _lock: Arc<super::lock::DirLock>,
    /// Buffers kept from one batch to the next (a record's bytes, a batch's frames), so that an
    /// append allocates nothing once they have grown to the usual sizes.
    pub(super) scratch: Vec<u8>,
    pub(super) frames: Vec<u8>,
    /// The answers to the batch's waiters.
    pub(super) answers: Answers,
}

impl Writer {
    pub(super) fn run(mut self, queue: Arc<Queue>) {
        loop {
            // Idle: sign what is not yet covered once a second, so a quiet log is still checkpointed.
            // Entries queue up while a sync runs, so batches grow with load at no added latency;
            // a window > 0 also waits that long for stragglers, trading latency for fewer syncs.
            // Waiting gathers more only when several appenders were waiting at once last time:
            // long-running streams keep disclosures open without new ones arriving.
            let delay = if self.open >= self.delay.siblings && self.last_waited >= 2 {
                self.delay.delay
            } else {
                Duration::ZERO
            };
            let batch = match queue.take(CHECKPOINT_INTERVAL, self.window, delay) {
                Taken::Batch(batch) => batch,
                Taken::Idle => {
                    if self.size > self.last_checkpoint {
                        self.checkpoint();
                    }
                    continue;
                }
                Taken::Closed => break,
            };
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
        self.trim();
    }

    /// Zero-fills the segment up to at least `end` (and [`PREALLOCATE`] beyond), and syncs the
    /// new size: the one sync per megabyte that writes the inode. When the disk has no room for
    /// the space ahead, only what the batch needs is filled (the batch then costs an inode
    /// write, as without preallocation); when not even that fits, the batch fails.
    fn preallocate(&mut self, end: u64) -> std::io::Result<()> {
        if end <= self.allocated {
            return Ok(());
        }
        let ahead = end.max((self.len + PREALLOCATE).min(self.segment_bytes));
        match self.zero_fill(ahead) {
            Err(_) if ahead > end => self.zero_fill(end),
            done => done,
        }
    }

    fn zero_fill(&mut self, target: u64) -> std::io::Result<()> {
        static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
        let mut at = self.allocated;
        while at < target {
            let n = (target - at).min(ZEROS.len() as u64);
            if let Err(e) = self.file.write_all_at(&ZEROS[..n as usize], at) {
                let _ = self.file.set_len(self.allocated);
                return Err(e);
            }
            at += n;
        }
        if let Err(e) = self.file.sync_all() {
            let _ = self.file.set_len(self.allocated);
            return Err(e);
        }
        self.allocated = target;
        Ok(())
    }

    /// Cuts the zero-filled space after the records (rotation, close).
    fn trim(&mut self) {
        if self.diverged || self.allocated == self.len {
            return;
        }
        match self
            .file
            .set_len(self.len)
            .and_then(|()| self.file.sync_all())
        {
            Ok(()) => self.allocated = self.len,
            Err(e) => tracing::error!(error = %e, "trimming the ledger segment failed"),
        }
    }

    fn commit(&mut self, batch: Vec<Job>) {
        self.last_waited = batch.iter().filter(|j| j.done.is_some()).count();
        let mut buf = std::mem::take(&mut self.frames);
        buf.clear();
        let mut leaves = Vec::new();
        let mut accepted = Vec::new();
        let time_ms = now_ms();
        let (mut begun, mut ended) = (0u64, 0u64);
        for job in batch {
            let seq = self.size + leaves.len() as u64;
            let (b, e) = match &job.entry {
                Entry::Begin(_) => (1, 0),
                Entry::End(_) | Entry::Incomplete { .. } => (0, 1),
                _ => (0, 0),
            };
            match (Record {
                seq,
                time_ms,
                entry: job.entry,
            })
            .encode_into(&mut self.scratch)
            {
                Ok(()) => {
                    segment::frame(&self.scratch, &mut buf);
                    leaves.push(merkle::leaf_hash(&self.scratch));
                    accepted.push((seq, job.done));
                    (begun, ended) = (begun + b, ended + e);
                }
                Err(n) => {
                    if let Some(done) = job.done {
                        self.answers.answer(done, Err(LedgerError::TooLarge(n)));
                    }
                }
            }
        }
        let end = self.len + buf.len() as u64;
        let written = self
            .check_unchanged(false)
            .and_then(|()| self.preallocate(end))
            .and_then(|()| self.file.write_all_at(&buf, self.len))
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.len += buf.len() as u64;
                if self.len >= self.segment_bytes {
                    self.rotate();
                }
                leaves.iter().for_each(|l| self.range.push(*l));
                self.size += leaves.len() as u64;
                self.durable.store(self.size, Ordering::Release);
                self.open = (self.open + begun).saturating_sub(ended);
                self.healthy.store(true, Ordering::SeqCst);
                for (seq, done) in accepted {
                    if let Some(done) = done {
                        self.answers.answer(done, Ok(seq));
                    }
                }
            }
            Err(e) => {
                // Nothing of this batch counts: cut whatever part of it reached the file (not
                // when the file is someone else's now), and the zeros after it with it.
                if !self.diverged && self.file.set_len(self.len).is_ok() {
                    self.allocated = self.len;
                }
                self.healthy.store(false, Ordering::SeqCst);
                let err = io("writing", &self.path, e);
                tracing::error!(error = %err, "ledger write failed; disclosures are refused until it recovers");
                for (_, done) in accepted {
                    if let Some(done) = done {
                        self.answers.answer(done, Err(err.clone()));
                    }
                }
            }
        }
        self.answers.send();
        // Kept for the next batch unless an unusual one grew it large.
        if buf.capacity() <= 1 << 20 {
            self.frames = buf;
        }
    }

    /// Fails (for good) when the current segment is no longer the file this writer has been
    /// appending to, or has another length than it wrote: a second writer, a restore or an edit.
    /// Appending after foreign bytes would bury them in a log whose tree no longer matches.
    ///
    /// Per batch the open file is checked (its size, and a link count of zero once it was
    /// deleted or another file renamed over its name); with `by_name`, at every checkpoint, the
    /// name is also looked up and must still be this file. The lookup walks the path, which
    /// cost 5% of the proxy's CPU at small bodies when it ran per batch.
    fn check_unchanged(&mut self, by_name: bool) -> std::io::Result<()> {
        if !self.diverged {
            let ours = identity(&self.file, Path::new(""))?;
            self.diverged = ours.len != self.allocated || ours.links == 0;
            if by_name && !self.diverged {
                let named = identity(rustix::fs::CWD, &self.path)?;
                self.diverged = (ours.dev, ours.ino) != (named.dev, named.ino);
            }
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

    /// Starts the next segment file (the current one is complete and synced, and is trimmed to
    /// its records first: only the last segment may have a zero tail).
    fn rotate(&mut self) {
        self.trim();
        if self.allocated != self.len {
            return; // appending to the current one, which the reader still reads
        }
        let next = self.dir.join(segment::name(self.segment + 1));
        let opened = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&next)
            .and_then(|f| File::open(&self.dir)?.sync_all().map(|()| f));
        match opened {
            Ok(f) => {
                self.file = f;
                self.path = next;
                self.segment += 1;
                self.len = 0;
                self.allocated = 0;
            }
            Err(e) => {
                tracing::error!(error = %e, "starting a new ledger segment failed; appending to the current one")
            }
        }
    }

    fn checkpoint(&mut self) {
        if self.check_unchanged(true).is_err() {
            // Signing over a log that is no longer ours would vouch for it.
            self.healthy.store(false, Ordering::SeqCst);
            return;
        }
        let cp = Checkpoint {
            origin: self.origin.clone(),
            size: self.size,
            root: self.range.root(),
        };
        let note = checkpoint::sign(&cp, &self.key);
        let written = match self.notes.take() {
            Some(open) => Ok(open),
            None => notes::open(&self.dir),
        }
        .and_then(
            |(mut file, end)| match notes::append(&mut file, end, &note) {
                Ok(end) => {
                    self.notes = Some((file, end));
                    Ok(())
                }
                Err(e) => {
                    self.notes = Some((file, end));
                    Err(e)
                }
            },
        );
        match written {
            Ok(()) => {
                self.last_checkpoint = cp.size;
                self.last_checkpoint_at = Instant::now();
            }
            Err(e) => tracing::error!(error = %e, "writing a ledger checkpoint failed"),
        }
    }
}

/// What [`Writer::check_unchanged`] compares: a file's length, link count and identity.
struct Identity {
    len: u64,
    links: u32,
    dev: (u32, u32),
    ino: u64,
}

/// `statx` asking for the length, link count and inode only. A full `fstat` (what std's
/// `File::metadata` does) also reads the timestamps, and on kernels with fine-grained timestamps
/// (Linux 6.13 and later) a file whose times were read gets a new modification time at its next
/// write: the inode becomes dirty again and every batch's `fdatasync` wrote it, one more device
/// write per batch (`a_batchs_check_leaves_the_inode_clean`).
///
/// `path` is looked up from `at`; an empty one is `at` itself (an open file).
fn identity(at: impl std::os::fd::AsFd, path: &Path) -> std::io::Result<Identity> {
    use rustix::fs::{AtFlags, StatxFlags};
    let want = StatxFlags::SIZE | StatxFlags::NLINK | StatxFlags::INO;
    let flags = if path.as_os_str().is_empty() {
        AtFlags::EMPTY_PATH
    } else {
        AtFlags::empty()
    };
    match rustix::fs::statx(&at, path, flags, want) {
        // A file system may leave out a field it was asked for (its bit is then missing from
        // `stx_mask` and the field reads 0): a link count of 0 would look like a deleted segment.
        Ok(x) if StatxFlags::from_bits_retain(x.stx_mask).contains(want) => Ok(Identity {
            len: x.stx_size,
            links: x.stx_nlink,
            dev: (x.stx_dev_major, x.stx_dev_minor),
            ino: x.stx_ino,
        }),
        // Kernels before 4.11, a sandbox that filters `statx`, or a file system that did not
        // answer every field: a full `fstatat`.
        Ok(_) | Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
            let m = rustix::fs::statat(&at, path, flags)?;
            Ok(Identity {
                len: m.st_size as u64,
                links: m.st_nlink as u32,
                dev: (rustix::fs::major(m.st_dev), rustix::fs::minor(m.st_dev)),
                ino: m.st_ino,
            })
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn scratch(name: &str) -> (PathBuf, super::super::scratch::Scratch) {
        let (dir, guard) = super::super::scratch::scratch("writer", name);
        std::fs::create_dir_all(&dir).unwrap();
        (dir, guard)
    }

    /// Two quick appends with `between` looking at the file after the first: whether the
    /// second one gave the file a new modification time (read only at the end: reading it marks
    /// it as read). A new time is at least the clock before the second append; the first's is
    /// earlier.
    fn second_append_moves_mtime(file: &File, between: impl Fn(&File)) -> bool {
        let mtime = |f: &File| -> SystemTime { f.metadata().unwrap().modified().unwrap() };
        // Read: the first append takes a fine-grained time.
        mtime(file);
        file.write_all_at(b"a", 0).unwrap();
        between(file);
        let before_second = SystemTime::now();
        file.write_all_at(b"b", 1).unwrap();
        mtime(file) >= before_second
    }

    #[test]
    fn a_batchs_check_leaves_the_inode_clean() {
        let (dir, _cleanup) = scratch("inode");
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(dir.join("segment"))
            .unwrap();
        // The control: on kernels with fine-grained timestamps (Linux 6.13+ on ext4, XFS,
        // btrfs, tmpfs), a full `fstat` between two appends makes the second one move the time
        // (the inode is dirty, and the batch's `fdatasync` writes it).
        let sensitive = (0..20).all(|_| {
            second_append_moves_mtime(&file, |f| {
                f.metadata().unwrap();
            })
        });
        // The check asks for no timestamp: the second append of a tick leaves the time alone
        // (the coarse clock may tick between the two appends, hence any of twenty tries).
        let clean = (0..20).any(|_| {
            !second_append_moves_mtime(&file, |f| {
                identity(f, Path::new("")).unwrap();
            })
        });
        if sensitive {
            assert!(clean, "the per-batch check marked the timestamps as read");
        }
    }

    #[test]
    fn the_check_sees_the_length_the_links_and_which_file_a_name_is() {
        use std::os::unix::fs::MetadataExt;
        let (dir, _cleanup) = scratch("identity");
        let path = dir.join("segment");
        let file = File::create(&path).unwrap();
        file.write_all_at(&[0; 300], 0).unwrap();
        let ours = identity(&file, Path::new("")).unwrap();
        let std = file.metadata().unwrap();
        assert_eq!((ours.len, ours.links, ours.ino), (300, 1, std.ino()));
        let named = identity(rustix::fs::CWD, &path).unwrap();
        assert_eq!((named.dev, named.ino), (ours.dev, ours.ino));
        // Another file renamed over the name: the open one has no link left, the name is
        // another inode.
        std::fs::write(dir.join("other"), b"x").unwrap();
        std::fs::rename(dir.join("other"), &path).unwrap();
        assert_eq!(identity(&file, Path::new("")).unwrap().links, 0);
        assert_ne!(identity(rustix::fs::CWD, &path).unwrap().ino, ours.ino);
    }
}
