//! Commit when the workers go idle: the signal from the runtime's worker threads that lets the
//! ledger's writer sync a `disclosure.begin` batch at the moment nothing else can run.
//!
//! Without it, every waited append wakes the writer at once. On a busy core the writer then
//! preempts the worker that queued the entry, syncs a batch of one, and wakes the worker again:
//! at small bodies that was one `fdatasync`, two context switches and a virtio doorbell per
//! request, about a third of the proxy's CPU. The entries of the other requests on the same
//! worker would have followed within microseconds, had the worker been allowed to run on.
//!
//! With it, a waited append only raises a flag; the runtime's `on_thread_park` hook
//! ([`workers_idle`]) wakes the writers of the ledgers with waited entries when a worker is
//! about to park — when every request it holds is waiting (for its begin, for the partner, for
//! a client). The batch then holds every begin that worker had to give, the sync costs the same,
//! and no request waits longer than it would have: the worker had nothing else to run. When the
//! workers stay busy and never park, a waiting append kicks the writer itself once the
//! configured bound (`ledger.idle_commit_wait_us`) has passed (a runtime timer on the waiting
//! task, cancelled when the answer comes first), so a saturated instance trades at most that
//! latency for fewer syncs, as PostgreSQL's `commit_delay` does.
//!
//! The hook is process-wide (as the runtime is): [`install`] is called by the command that builds
//! the serving runtime with the hook, and a ledger opened afterwards defers to it. A ledger opened
//! in a runtime without the hook (the library's tests, tools) wakes its writer at once, as before.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::queue::Queue;

/// The ledgers waiting for idle workers, and whether any has a waited entry queued.
struct Hub {
    queues: Mutex<Vec<Weak<Queue>>>,
    pending: AtomicBool,
    installed: AtomicBool,
}

static HUB: Hub = Hub {
    queues: Mutex::new(Vec::new()),
    pending: AtomicBool::new(false),
    installed: AtomicBool::new(false),
};

/// Marks the process's serving runtime as calling [`workers_idle`] before each worker parks.
/// Ledgers opened from now on defer their waited appends to it.
pub fn install() {
    HUB.installed.store(true, Ordering::Release);
}

/// The runtime's `on_thread_park` hook: a worker has nothing left to run. Wakes the writers of
/// the ledgers holding waited entries. One atomic load when nothing is pending.
pub fn workers_idle() {
    if !HUB.pending.load(Ordering::Acquire) || !HUB.pending.swap(false, Ordering::AcqRel) {
        return;
    }
    let queues = HUB.queues.lock().unwrap_or_else(|e| e.into_inner());
    for queue in queues.iter().filter_map(Weak::upgrade) {
        queue.kick();
    }
}

/// Whether the serving runtime calls [`workers_idle`].
pub(super) fn installed() -> bool {
    HUB.installed.load(Ordering::Acquire)
}

/// Registers `queue` to be woken by [`workers_idle`] (forgetting the queues of closed ledgers).
pub(super) fn register(queue: &Arc<Queue>) {
    let mut queues = HUB.queues.lock().unwrap_or_else(|e| e.into_inner());
    queues.retain(|q| q.strong_count() > 0);
    queues.push(Arc::downgrade(queue));
}

/// A waited entry was queued (after it is in the queue, so a worker that sees the flag finds it).
pub(super) fn waited_append() {
    HUB.pending.store(true, Ordering::Release);
}
