//! The process's log: JSON lines on standard output, written by a thread of their own.
//!
//! A thread that serves requests never waits for whoever reads standard output (a container
//! runtime, journald, a pipe to a log shipper). Each line goes to a bounded queue ([`QUEUED_LINES`])
//! that the `sluice-log` thread drains, batching what has piled up into few writes. When the
//! reader falls so far behind that the queue is full, further lines are dropped and counted
//! (`sluice_log_lines_dropped_total` on `/metrics`) instead of stopping the proxy: written
//! synchronously, one access-log line per request, a reader that stopped would have stopped every
//! connection once the pipe's buffer filled. The disclosure ledger, not this log, is the record of
//! what went out; it is durable before the first byte whatever happens here.

use std::sync::OnceLock;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};

/// Lines the queue holds while the reader of standard output is behind (about half a megabyte of
/// access-log lines).
pub const QUEUED_LINES: usize = 1024;

/// The lines dropped so far, once [`init`] ran.
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// Keeps the log thread; dropping it writes what is queued and stops the thread.
#[must_use = "the log stops when the guard is dropped"]
pub struct LogGuard(#[allow(dead_code)] WorkerGuard);

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogGuard")
    }
}

/// Installs the process's subscriber: JSON lines, filtered by `RUST_LOG` (default `info`),
/// through the queue. Nothing is installed when a subscriber already is (tests).
pub fn init() -> LogGuard {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("sluice-log")
        .finish(std::io::BufWriter::new(std::io::stdout()));
    let _ = DROPPED.set(writer.error_counter());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_writer(writer)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    LogGuard(guard)
}

/// Log lines dropped because the queue was full (0 before [`init`]).
pub fn dropped_lines() -> u64 {
    DROPPED.get().map_or(0, |c| c.dropped_lines() as u64)
}
