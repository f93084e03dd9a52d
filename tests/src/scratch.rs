//! Scratch directories for tests: `TMP/PREFIX-PID`, one per test process.
//!
//! Test processes used to leave their directories behind, dozens per run. Before handing out a
//! directory this removes the ones with the same prefix whose process is gone (checked in
//! `/proc`; where there is no `/proc`, nothing is removed), so a machine keeps at most one per
//! test name and live runs are never touched. Shared by the harness, the `sluice` binary's tests
//! and the certificate tests (included by path: they cannot depend on this crate).

use std::path::PathBuf;

/// The scratch directory for this process, `PREFIX-PID` in the temp dir, after removing those
/// that processes now gone left under the same prefix.
pub fn scratch_dir(prefix: &str) -> PathBuf {
    let tmp = std::env::temp_dir();
    let me = std::process::id();
    let proc_fs = std::path::Path::new("/proc/self").exists();
    if let (true, Ok(entries)) = (proc_fs, std::fs::read_dir(&tmp)) {
        for e in entries.flatten() {
            let name = e.file_name();
            let pid = name
                .to_str()
                .and_then(|n| n.strip_prefix(prefix))
                .and_then(|rest| rest.strip_prefix('-'))
                .and_then(|pid| pid.parse::<u32>().ok());
            if let Some(pid) = pid
                && pid != me
                && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    // This process's own directory is left as it is: several tests of one process may share it.
    tmp.join(format!("{prefix}-{me}"))
}
