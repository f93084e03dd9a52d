//! `sluice-mock`: the bench harness's mock institution API as its own process (so it can be
//! pinned to a core and measured apart from the load generator). Prints `listening on ADDR`.
//!
//! ```text
//! sluice-mock [--listen 127.0.0.1:0] [--feed /tmp/sluice-feed-1MiB.json]
//! ```

use sluice_bench::{arg, mock, workload};

/// `--help`.
const USAGE: &str =
    "The bench harness's mock institution API as its own process. Prints `listening on ADDR`.

Usage: sluice-mock [--listen 127.0.0.1:0] [--feed /tmp/sluice-feed-1MiB.json]";

fn main() {
    if sluice_bench::help_requested(USAGE) {
        return;
    }
    let listen = arg("--listen", "127.0.0.1:0");
    let feed_path = arg(
        "--feed",
        &std::env::temp_dir()
            .join("sluice-feed-1MiB.json")
            .display()
            .to_string(),
    );
    let feed = workload::feed(std::path::Path::new(&feed_path), "1MiB", "json");
    let records = mock::Records::from_feed(&feed);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let address = mock::spawn(&listen, records)
            .await
            .unwrap_or_else(|e| panic!("--listen {listen}: {e}"));
        println!("listening on {address}");
        std::future::pending::<()>().await;
    });
}
