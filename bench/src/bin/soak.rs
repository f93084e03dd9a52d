//! `soak`: sluice with `reference-policy.toml` (ledger on) under a steady open-loop load for a
//! long time: zero errors expected, resident memory flat after warm-up, and the ledger verifies
//! afterwards — after sluice is killed with SIGKILL, so recovery is part of the check.
//!
//! ```text
//! cargo build --release -p sluice -p sluice-bench --bins
//! target/release/soak [--minutes 10] [--fraction 0.7] [--size 1024] [--keep]
//! ```
//! The rate is `--fraction` of the closed-loop maximum measured first, in the same run.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sluice_bench::arg;
use sluice_bench::load::{self, Protocol, Spec};
use sluice_bench::suite::{procs, targets};

fn spec(url: &str, pki: &Path, rate: Option<f64>, duration: Duration) -> Spec {
    Spec {
        url: url.parse().expect("a valid URL"),
        protocol: Protocol::Http1,
        connections: 16,
        streams: 1,
        new_connection_per_request: false,
        rate,
        duration,
        count: None,
        tls: Some(sluice_bench::suite::targets::partner_tls(pki)),
        method: http::Method::GET,
        body: bytes::Bytes::new(),
        headers: http::HeaderMap::new(),
        progress: false,
    }
}

/// `--help`.
const USAGE: &str = "sluice under a steady open-loop load for a long time: zero errors, flat memory, a ledger that verifies after SIGKILL.

Usage: soak [--minutes 10] [--fraction 0.7] [--size 1024] [--keep]";

fn main() {
    if sluice_bench::help_requested(USAGE) {
        return;
    }
    let minutes: f64 = arg("--minutes", "10").parse().expect("--minutes N");
    let fraction: f64 = arg("--fraction", "0.7").parse().expect("--fraction F");
    let size = arg("--size", "1024");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent");
    let bin = |n: &str| root.join("target/release").join(n);
    let (setup, mock) =
        targets::prepare("soak", &root.join("target/release"), None).expect("setup");
    let dir = setup.dir.clone();
    let pki = dir.join("pki");
    let target =
        targets::sluice(&setup, "sluice-reference", "reference-policy.toml").expect("sluice");
    let url = format!("{}/feed?size={size}", target.base);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let max = runtime
        .block_on(load::run(spec(&url, &pki, None, Duration::from_secs(5))))
        .expect("calibration");
    let rate = (max.rate() * fraction).max(1.0);
    println!(
        "calibration: {:.0} req/s closed loop; soaking at {rate:.0} req/s ({:.0}%) for {minutes} min",
        max.rate(),
        fraction * 100.0
    );
    let pid = target.measured;
    let total = Duration::from_secs_f64(minutes * 60.0);
    let run = runtime.spawn(load::run(spec(&url, &pki, Some(rate), total)));
    let start = Instant::now();
    let mut samples = Vec::new();
    while !run.is_finished() {
        std::thread::sleep(Duration::from_secs(10));
        let rss = procs::rss_mib(pid);
        samples.push((start.elapsed().as_secs(), rss));
        println!("{:>5} s  RSS {rss:.1} MiB", start.elapsed().as_secs());
    }
    let report = runtime.block_on(run).expect("load task").expect("load");
    print!("{}", report.summary());
    // RSS after a warm-up of a tenth of the run: max / min within 10% counts as flat.
    let warm: Vec<f64> = samples
        .iter()
        .filter(|(t, _)| *t as f64 >= total.as_secs_f64() / 10.0)
        .map(|(_, r)| *r)
        .collect();
    let (lo, hi) = warm
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    let flat = !warm.is_empty() && hi <= lo * 1.10;
    println!(
        "RSS after warm-up: {lo:.1}–{hi:.1} MiB ({}) over {} samples",
        if flat { "flat, within 10%" } else { "NOT flat" },
        warm.len()
    );
    // SIGKILL, then verify the ledger it left.
    target.crash();
    drop(mock);
    let out = Command::new(bin("sluice"))
        .args(["ledger", "verify"])
        .arg(dir.join("sluice-reference/ledger"))
        .arg("--pubkey")
        .arg(pki.join("signing.pub"))
        .output()
        .expect("sluice ledger verify");
    let verified = out.status.success();
    println!(
        "ledger verify after SIGKILL: {}\n{}",
        if verified { "ok" } else { "FAILED" },
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .take(6)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let ok = report.error_count() == 0 && flat && verified;
    println!("soak: {}", if ok { "PASS" } else { "FAIL" });
    if std::env::args().any(|a| a == "--keep") {
        // For the compliance commands on a big ledger (bench/README.md).
        println!("kept: {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    std::process::exit(if ok { 0 } else { 1 });
}
