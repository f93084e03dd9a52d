//! Where signed checkpoints are kept: one append-only file, `checkpoints.log`, of records framed
//! as the segments' are (`u32 length | u32 crc32c | note`), oldest first.
//!
//! Each checkpoint used to be a file of its own (`checkpoints/<size>.note`: a create, a sync, a
//! rename and a sync of the directory): about a hundred a second under load, and a 10-minute soak
//! left 28 000 files. Appending a record and one `fdatasync` costs a fraction of that, and the
//! directory stays small. Directories written before keep their note files: they are read first,
//! then the log, and `verify` checks the sizes never shrink across both.
//!
//! A torn last record (a crash while appending) is ignored by readers and cut by the next writer;
//! damage with data after it is reported, as in a segment.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::segment::{self, Tail};

/// The checkpoint log's file name in a ledger directory.
pub const FILE: &str = "checkpoints.log";

/// The directory of one-file-per-checkpoint notes that earlier versions wrote.
const LEGACY_DIR: &str = "checkpoints";

/// Why the checkpoints could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotesError {
    /// Reading failed.
    #[error("{0}")]
    Io(String),
    /// The checkpoint log is damaged (not a torn last record).
    #[error("{0}")]
    Damaged(String),
}

/// Every checkpoint note in `dir`, oldest first, each with a name for messages
/// (`checkpoints/<size>.note` or `checkpoints.log#<index>`).
pub fn all(dir: &Path) -> Result<Vec<(String, String)>, NotesError> {
    let legacy = dir.join(LEGACY_DIR);
    let mut names: Vec<String> = std::fs::read_dir(&legacy)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".note"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let path = legacy.join(&name);
        let note = std::fs::read_to_string(&path)
            .map_err(|e| NotesError::Io(format!("{}: {e}", path.display())))?;
        out.push((format!("{LEGACY_DIR}/{name}"), note));
    }
    let path = dir.join(FILE);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(NotesError::Io(format!("{}: {e}", path.display()))),
    };
    let scan = segment::scan(&data);
    if let Tail::Damaged(what) = &scan.tail {
        return Err(NotesError::Damaged(format!("{}: {what}", path.display())));
    }
    for (i, record) in scan.entries.iter().enumerate() {
        let note = std::str::from_utf8(record).map_err(|_| {
            NotesError::Damaged(format!("{}: record {i} is not UTF-8", path.display()))
        })?;
        out.push((format!("{FILE}#{i}"), note.to_owned()));
    }
    Ok(out)
}

/// The newest checkpoint note in `dir`, if any.
pub fn latest(dir: &Path) -> Result<Option<String>, NotesError> {
    Ok(all(dir)?.pop().map(|(_, note)| note))
}

/// Opens the checkpoint log for appending, cutting a torn last record.
pub(super) fn open(dir: &Path) -> std::io::Result<(File, u64)> {
    let path = dir.join(FILE);
    let created = !path.exists();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)?;
    let data = std::fs::read(&path)?;
    let scan = segment::scan(&data);
    if let Tail::Damaged(what) = scan.tail {
        return Err(std::io::Error::other(format!("{}: {what}", path.display())));
    }
    if scan.good_len < data.len() as u64 {
        file.set_len(scan.good_len)?;
        file.sync_all()?;
    }
    if created {
        File::open(dir)?.sync_all()?; // the new name, durable
    }
    Ok((file, scan.good_len))
}

/// Appends `note` at `at` (the end of the records) and syncs it; returns the new end.
pub(super) fn append(file: &mut File, at: u64, note: &str) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut record = Vec::with_capacity(note.len() + 8);
    segment::frame(note.as_bytes(), &mut record);
    let written = file
        .write_all_at(&record, at)
        .and_then(|()| file.flush())
        .and_then(|()| file.sync_data());
    match written {
        Ok(()) => Ok(at + record.len() as u64),
        Err(e) => {
            let _ = file.set_len(at);
            Err(e)
        }
    }
}
