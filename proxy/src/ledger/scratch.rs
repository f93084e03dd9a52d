//! A fresh directory for a test of the ledger's files, removed when the guard drops (also when
//! the test fails). Not created: some tests check what makes it exist.

use std::path::PathBuf;

/// Removes its directory on drop.
pub(super) struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `$TMPDIR/sluice-{what}-{name}-{pid}`, emptied, and the guard that removes it.
pub(super) fn scratch(what: &str, name: &str) -> (PathBuf, Scratch) {
    let dir = std::env::temp_dir().join(format!("sluice-{what}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    (dir.clone(), Scratch(dir))
}
