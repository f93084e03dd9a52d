//! Every bench binary's `--help` prints its usage and exits 0 without running anything
//! (`bench-suite --help` used to start the whole suite).

use std::process::Command;

#[test]
fn every_binary_prints_help_and_exits() {
    for (name, bin, want) in [
        (
            "bench-suite",
            env!("CARGO_BIN_EXE_bench-suite"),
            "Usage: bench-suite",
        ),
        (
            "engine-report",
            env!("CARGO_BIN_EXE_engine-report"),
            "Usage: engine-report",
        ),
        (
            "sluice-mock",
            env!("CARGO_BIN_EXE_sluice-mock"),
            "Usage: sluice-mock",
        ),
        ("soak", env!("CARGO_BIN_EXE_soak"), "Usage: soak"),
        (
            "sluice-load",
            env!("CARGO_BIN_EXE_sluice-load"),
            "Usage: sluice-load",
        ),
        (
            "gen-feed",
            env!("CARGO_BIN_EXE_gen-feed"),
            "Usage: gen-feed",
        ),
        (
            "format-bench",
            env!("CARGO_BIN_EXE_format-bench"),
            "Usage: format-bench",
        ),
        (
            "ledger-bench",
            env!("CARGO_BIN_EXE_ledger-bench"),
            "Usage: ledger-bench",
        ),
        (
            "store-bench",
            env!("CARGO_BIN_EXE_store-bench"),
            "Usage: store-bench",
        ),
        (
            "telemetry-cost",
            env!("CARGO_BIN_EXE_telemetry-cost"),
            "Usage: telemetry-cost",
        ),
        (
            "target-cost",
            env!("CARGO_BIN_EXE_target-cost"),
            "Usage: target-cost",
        ),
    ] {
        let out = Command::new(bin).arg("--help").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name} --help failed: {text}");
        assert!(text.contains(want), "{name} --help printed: {text}");
    }
}
