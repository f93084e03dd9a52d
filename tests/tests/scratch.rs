//! The test scratch directories (`sluice_tests::scratch`): what is removed and what is kept.

use sluice_tests::scratch::scratch_dir;

#[test]
fn directories_of_gone_processes_are_removed_and_live_ones_kept() {
    // A prefix of its own per process, so that concurrent runs do not meet.
    let prefix = format!("sluice-scratch-selftest-{}", std::process::id());
    let tmp = std::env::temp_dir();
    let gone = (400_000..u32::MAX)
        .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        .unwrap();
    let live = 1; // init
    for pid in [gone, live] {
        std::fs::create_dir_all(tmp.join(format!("{prefix}-{pid}")).join("x")).unwrap();
    }
    let other = tmp.join(format!("{prefix}-other-{gone}"));
    std::fs::create_dir_all(&other).unwrap();
    let mine = scratch_dir(&prefix);
    assert_eq!(mine, tmp.join(format!("{prefix}-{}", std::process::id())));
    if std::path::Path::new("/proc/self").exists() {
        assert!(
            !tmp.join(format!("{prefix}-{gone}")).exists(),
            "gone: removed"
        );
    }
    assert!(tmp.join(format!("{prefix}-{live}")).exists(), "live: kept");
    assert!(other.exists(), "another prefix: kept");
    for d in [tmp.join(format!("{prefix}-{live}")), other] {
        std::fs::remove_dir_all(d).unwrap();
    }
}
