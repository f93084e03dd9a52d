//! Following a live ledger directory from where the shipper stopped: its segments record by record
//! and its checkpoint log note by note, reading only what is new (a bounded chunk at a time),
//! never the whole log per poll.
//!
//! The shipper reads entries only up to the size of a signed checkpoint, and the writer signs a
//! checkpoint only over entries that are durable, so a record read here is never one a crash
//! could still take back (the segments are preallocated: past the records there are zeros, which
//! `segment::scan` tells from records).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::ledger::segment::{self, Tail};

/// The most read from a file at once: a chunk always holds at least one whole record.
const CHUNK: usize = 4 << 20;

/// Reads `[at, at + CHUNK)` of `path` (less at its end); a missing file reads as empty.
fn read_chunk(path: &Path, at: u64) -> Result<Vec<u8>, String> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let len = file
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let n = len.saturating_sub(at).min(CHUNK as u64) as usize;
    let mut buf = vec![0; n];
    file.read_exact_at(&mut buf, at)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(buf)
}

/// The records of `data` and how many bytes they span; damage is an error, a torn or
/// not-yet-written tail just ends them.
fn records(path: &Path, data: &[u8]) -> Result<(Vec<Vec<u8>>, u64), String> {
    let scan = segment::scan(data);
    if let Tail::Damaged(what) = &scan.tail {
        // A record cut by the chunk's end with data after it in the file still scans as torn
        // (the chunk ends there); damage inside the chunk is damage.
        return Err(format!("{}: {what}", path.display()));
    }
    Ok((
        scan.entries.iter().map(|e| e.to_vec()).collect(),
        scan.good_len,
    ))
}

/// A position in a ledger's segments.
pub(super) struct Entries {
    dir: PathBuf,
    segment: u32,
    offset: u64,
    /// The sequence number of the next record.
    pub(super) next: u64,
}

impl Entries {
    /// At the first entry of the log in `dir`.
    pub(super) fn new(dir: &Path) -> Self {
        let first = segment::list(dir).first().map_or(0, |(n, _)| *n);
        Entries {
            dir: dir.to_path_buf(),
            segment: first,
            offset: 0,
            next: 0,
        }
    }

    /// Calls `f(seq, record)` for the records from `next` up to `until` (exclusive), at most
    /// `max` of them; returns how many. Stops early when the records are not there (yet).
    pub(super) fn read(
        &mut self,
        until: u64,
        max: usize,
        mut f: impl FnMut(u64, &[u8]) -> Result<(), String>,
    ) -> Result<usize, String> {
        let mut done = 0;
        while self.next < until && done < max {
            let path = self.dir.join(segment::name(self.segment));
            let data = read_chunk(&path, self.offset)?;
            let scan = segment::scan(&data);
            if let Tail::Damaged(what) = &scan.tail {
                return Err(format!("{}: {what}", path.display()));
            }
            if scan.entries.is_empty() {
                // This segment holds no more: the writer moved on to the next one, if it exists.
                let next = self.dir.join(segment::name(self.segment + 1));
                if next.exists() {
                    self.segment += 1;
                    self.offset = 0;
                    continue;
                }
                break;
            }
            // The records are borrowed from the chunk; only those passed on are looked at.
            for record in scan.entries {
                if self.next >= until || done >= max {
                    break;
                }
                f(self.next, record)?;
                self.offset += 8 + record.len() as u64;
                self.next += 1;
                done += 1;
            }
        }
        Ok(done)
    }
}

/// A position in a ledger's checkpoint log (`checkpoints.log`).
pub(super) struct Notes {
    path: PathBuf,
    offset: u64,
}

impl Notes {
    /// At the first note in `dir`.
    pub(super) fn new(dir: &Path) -> Self {
        Notes {
            path: dir.join(crate::ledger::notes::FILE),
            offset: 0,
        }
    }

    /// The notes appended since the last call.
    pub(super) fn read_new(&mut self) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        loop {
            let data = read_chunk(&self.path, self.offset)?;
            let (records, len) = records(&self.path, &data)?;
            if records.is_empty() {
                return Ok(out);
            }
            for record in records {
                out.push(String::from_utf8(record).map_err(|_| {
                    format!("{}: a checkpoint note is not UTF-8", self.path.display())
                })?);
            }
            self.offset += len;
        }
    }
}
