//! One writer per ledger directory.
//!
//! Two processes appending to one log corrupt it for both: their entries interleave with the
//! same sequence numbers, the tree no longer matches either's checkpoints, and the next start
//! refuses the log. So the writer takes an exclusive lock on `LOCK` in the directory before it
//! reads or writes anything else there, and holds it for as long as it runs. The lock is an
//! advisory `flock` (std's `File::try_lock`): the kernel releases it when the holder dies, even by
//! SIGKILL, so a crash never leaves a stale lock behind. The file holds the holder's pid, for
//! the refusal message only (the lock, not the file's content, is what decides).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::LedgerError;

/// The lock file's name in a ledger directory.
pub const LOCK_FILE: &str = "LOCK";

/// A held ledger lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock of `dir` (created if missing), or says who holds it.
    pub fn acquire(dir: &Path) -> Result<Self, LedgerError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| LedgerError::Unavailable(format!("{}: creating: {e}", dir.display())))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LedgerError::Unavailable(format!("{}: opening: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another process".to_string()
                } else {
                    format!("another sluice process (pid {holder})")
                };
                return Err(LedgerError::Locked(format!(
                    "ledger directory {} is in use by {who}; one instance writes one ledger: stop that instance first, or give this one its own [ledger] dir (--ledger-dir); nothing was written",
                    dir.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(LedgerError::Unavailable(format!(
                    "{}: locking: {e}",
                    path.display()
                )));
            }
        }
        let pid = std::process::id().to_string();
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(format!("{pid}\n").as_bytes()));
        if let Err(e) = written {
            return Err(LedgerError::Unavailable(format!(
                "{}: writing the holder's pid: {e}",
                path.display()
            )));
        }
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let (dir, _cleanup) = super::super::scratch::scratch("lock", "holders");
        let first = DirLock::acquire(&dir).unwrap();
        let err = DirLock::acquire(&dir).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("is in use by another sluice process"), "{err}");
        drop(first);
        let again = DirLock::acquire(&dir).unwrap();
        assert_eq!(again.path(), dir.join(LOCK_FILE));
    }
}
