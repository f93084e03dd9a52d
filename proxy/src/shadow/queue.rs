//! The hand-off to the shadow thread, built so that the request path never wakes it per
//! message: a push is a lock and a `Vec::push`; the thread drains everything queued every
//! [`DRAIN`] while there is work, and sleeps until the first push after it went idle. (A
//! channel whose receiver sleeps costs a futex wake and two context switches per message — with
//! three messages a body that was three times the candidate engine's own CPU at 1 KiB bodies.)
//!
//! The queue is bounded in bytes of body queued ([`MAX_BYTES`]): a push over the bound is
//! refused and the body's shadow abandoned, so a slow shadow never holds more than that.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::Msg;

/// How often a busy shadow thread drains the queue.
pub(super) const DRAIN: Duration = Duration::from_millis(5);

/// Body bytes queued at most.
pub(super) const MAX_BYTES: usize = 8 << 20;

#[derive(Default)]
struct State {
    msgs: Vec<Msg>,
    bytes: usize,
    /// The thread sleeps until a push (it found nothing at its last drain).
    idle: bool,
    closed: bool,
}

/// The queue.
#[derive(Default)]
pub(super) struct Queue {
    state: Mutex<State>,
    wake: Condvar,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("shadow::Queue")
    }
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `msg` carrying `bytes` of body; false when the queue is full or closed.
    pub(super) fn push(&self, msg: Msg, bytes: usize) -> bool {
        let mut s = self.lock();
        if s.closed || s.bytes + bytes > MAX_BYTES {
            return false;
        }
        s.msgs.push(msg);
        s.bytes += bytes;
        let wake = std::mem::take(&mut s.idle);
        drop(s);
        if wake {
            self.wake.notify_one();
        }
        true
    }

    /// Stops the thread once it has drained what is queued.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    /// The thread's side: the next messages (waiting [`DRAIN`], or until a push when the last
    /// drain found nothing); `None` once closed and drained.
    pub(super) fn take(&self, into: &mut Vec<Msg>) -> Option<()> {
        let mut s = self.lock();
        if s.msgs.is_empty() && !s.closed {
            s.idle = true;
            while s.idle && !s.closed {
                s = self.wake.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        }
        if !s.closed {
            // Gather for a while: one wake-up per batch, not per message.
            drop(s);
            std::thread::sleep(DRAIN);
            s = self.lock();
        }
        if s.closed && s.msgs.is_empty() {
            return None;
        }
        into.append(&mut s.msgs);
        s.bytes = 0;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> Msg {
        Msg::Chunk {
            id: 0,
            data: bytes::Bytes::new(),
        }
    }

    #[test]
    fn the_queue_is_bounded_in_bytes_and_drains_before_it_closes() {
        let q = Queue::default();
        assert!(q.push(msg(), MAX_BYTES - 10));
        assert!(!q.push(msg(), 11), "over the bound");
        assert!(q.push(msg(), 10));
        q.close();
        assert!(!q.push(msg(), 0), "closed");
        let mut got = Vec::new();
        assert!(q.take(&mut got).is_some());
        assert_eq!(got.len(), 2);
        assert!(q.take(&mut got).is_none());
    }
}
