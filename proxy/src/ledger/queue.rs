//! The hand-off between the tasks that append and the ledger's writer thread.
//!
//! An append that somebody waits for (a `disclosure.begin`: no byte goes out before it is
//! durable) wakes the writer at once. An append nobody waits for (a `disclosure.end`, written
//! after the response) does not: it joins the next batch, which the writer starts at the next
//! waited append, after [`DETACHED_FLUSH`] at the latest, or once [`DETACHED_MAX`] are queued.
//! Each wake-up of the writer is a futex call and two context switches, which at small bodies
//! cost as much as the rest of the ledger's work; ends riding with begins halve them. An end is
//! therefore durable within `DETACHED_FLUSH` of being appended rather than at once; a crash in
//! that window leaves its begin open, and the next start records it `incomplete`.
//!
//! The writer is woken only when it is waiting (a flag under the same lock), so an append while
//! it syncs costs a lock and a push.
//!
//! A queue that defers to idle workers (`idle`) does not wake the writer for a waited append
//! either: the batch is due when a worker is about to park ([`Queue::kick`]), or once the oldest
//! waited append has waited the queue's bound, whichever comes first. A writer already asleep
//! when a batch's first waited append arrives set its sleep without that deadline: that append's
//! waiter kicks it when the bound passes (`Ledger::answer`).

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::error::LedgerError;
use super::writer::Job;

/// The longest an append nobody waits for stays queued.
pub(super) const DETACHED_FLUSH: Duration = Duration::from_millis(10);

/// Queued appends that start a batch without waiting for `DETACHED_FLUSH`.
pub(super) const DETACHED_MAX: usize = 1024;

#[derive(Default)]
struct State {
    jobs: Vec<Job>,
    /// Somebody waits for one of `jobs`.
    urgent: bool,
    /// When the first waited job of `jobs` was pushed (deferring queues only).
    urgent_since: Option<Instant>,
    /// A worker went idle since the last batch was taken.
    kicked: bool,
    /// When the oldest queued job was pushed.
    since: Option<Instant>,
    /// The writer sleeps on the condition variable.
    waiting: bool,
    closed: bool,
    /// Times the writer woke up (tests: a wake-up that finds nothing due is a wasted switch).
    #[cfg(test)]
    woken: usize,
}

/// The queue (one per ledger, shared by every appender and the writer).
#[derive(Default)]
pub(super) struct Queue {
    state: Mutex<State>,
    wake: Condvar,
    /// Waited appends wait for idle workers (`idle`), at most this long; `None`: they wake the
    /// writer at once.
    defer: Option<Duration>,
}

/// What the writer took.
pub(super) enum Taken {
    /// A batch to commit.
    Batch(Vec<Job>),
    /// Nothing arrived for `idle`.
    Idle,
    /// The ledger is closing and the queue is empty.
    Closed,
}

impl Queue {
    /// A queue whose waited appends wait for idle workers at most `bound` (see `idle`).
    pub(super) fn deferring(bound: Duration) -> Self {
        Queue {
            defer: Some(bound),
            ..Queue::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job`; `waited` says whether somebody waits for it to be durable.
    ///
    /// Returns the bound to watch, on a deferring queue, when this append started a batch while
    /// the writer sleeps: the writer's sleep was set before it, so the waiter must kick the writer
    /// itself once the bound passes (see `Ledger::answer`). Later appends of the batch need not:
    /// the first one's watch covers them.
    pub(super) fn push(&self, job: Job, waited: bool) -> Result<Option<Duration>, LedgerError> {
        let s = self.lock();
        if s.closed {
            return Err(LedgerError::Unavailable("the ledger is closed".into()));
        }
        Ok(self.queue(s, job, waited))
    }

    /// Queues an entry the writer itself owes (ending a begin whose waiter went away, from the
    /// writer's thread): accepted while closing too, since the writer drains the queue before
    /// it stops.
    pub(super) fn push_owed(&self, job: Job) {
        let s = self.lock();
        let _ = self.queue(s, job, false);
    }

    fn queue(&self, mut s: MutexGuard<'_, State>, job: Job, waited: bool) -> Option<Duration> {
        s.jobs.push(job);
        s.since.get_or_insert_with(Instant::now);
        s.urgent |= waited;
        let deferred = waited && self.defer.is_some();
        let mut watch = None;
        if deferred && s.urgent_since.is_none() {
            s.urgent_since = Some(Instant::now());
            watch = self.defer.filter(|_| s.waiting);
        }
        // Only what makes the batch due wakes the writer: not an end queued behind a begin that
        // waits for idle workers (each such wake-up found nothing due, and cost the writer two
        // context switches: 2.6 wake-ups per sync at small bodies).
        let wake = s.waiting && (s.jobs.len() >= DETACHED_MAX || (waited && !deferred));
        drop(s);
        if deferred {
            super::idle::waited_append();
        }
        if wake {
            self.wake.notify_one();
        }
        watch
    }

    /// Jobs queued and not yet taken.
    #[cfg(test)]
    pub(super) fn queued(&self) -> usize {
        self.lock().jobs.len()
    }

    /// A worker is about to park (or a waiter's bound passed): a waited batch is due now.
    pub(super) fn kick(&self) {
        let mut s = self.lock();
        s.kicked = true;
        let wake = s.waiting && s.urgent;
        drop(s);
        if wake {
            self.wake.notify_one();
        }
    }

    /// Refuses further appends; the writer drains what is queued, then sees [`Taken::Closed`].
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    /// The writer's side: blocks until a batch is due (a waited append — once a worker went
    /// idle or the bound passed, on a deferring queue —, a detached one queued for
    /// `DETACHED_FLUSH`, `DETACHED_MAX` queued, or closing), or `idle` passes with nothing
    /// queued. `window` > 0 then waits that long for stragglers before taking the batch, and
    /// so does `delay` (the writer's commit delay, when it applies; not on a deferring queue,
    /// whose bound is that wait).
    pub(super) fn take(&self, idle: Duration, window: Duration, delay: Duration) -> Taken {
        let mut s = self.lock();
        loop {
            let due = s.closed
                || s.jobs.len() >= DETACHED_MAX
                || (s.urgent && (self.defer.is_none() || s.kicked));
            let deferred = match (self.defer, s.urgent_since) {
                (Some(bound), Some(since)) if s.urgent => Some(bound.checked_sub(since.elapsed())),
                _ => None,
            };
            let wait = match (s.since, deferred) {
                _ if due => break,
                (_, Some(left)) => match left {
                    Some(left) if !left.is_zero() => left,
                    _ => break,
                },
                (Some(since), None) => match DETACHED_FLUSH.checked_sub(since.elapsed()) {
                    Some(left) if !left.is_zero() => left,
                    _ => break,
                },
                (None, None) => idle,
            };
            s.waiting = true;
            let (next, timeout) = self
                .wake
                .wait_timeout(s, wait)
                .unwrap_or_else(|e| e.into_inner());
            s = next;
            s.waiting = false;
            #[cfg(test)]
            {
                s.woken += 1;
            }
            if timeout.timed_out() && s.jobs.is_empty() && !s.closed {
                return Taken::Idle;
            }
        }
        if !window.is_zero() && !s.closed {
            drop(s);
            std::thread::sleep(window);
            s = self.lock();
        }
        if !delay.is_zero() && !s.closed && self.defer.is_none() {
            drop(s);
            std::thread::sleep(delay);
            s = self.lock();
        }
        let jobs = std::mem::take(&mut s.jobs);
        s.urgent = false;
        s.urgent_since = None;
        s.kicked = false;
        s.since = None;
        if jobs.is_empty() {
            return if s.closed { Taken::Closed } else { Taken::Idle };
        }
        Taken::Batch(jobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::mpsc;

    /// Queues a waited append; the bound its waiter must watch, if any.
    fn waited(queue: &Queue) -> Option<Duration> {
        let (tx, _) = tokio::sync::oneshot::channel();
        let done = super::super::writer::Done::Task(tx);
        let job = Job {
            entry: super::super::entry::Entry::Incomplete { begin: 0 },
            done: Some(done),
        };
        queue.push(job, true).unwrap()
    }

    /// Queues an append nobody waits for (a `disclosure.end`).
    fn detached(queue: &Queue) {
        let job = Job {
            entry: super::super::entry::Entry::Incomplete { begin: 0 },
            done: None,
        };
        queue.push(job, false).unwrap();
    }

    /// Waits (at most 30 s) until the writer's side sleeps on the queue.
    fn until_asleep(queue: &Queue) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !queue.lock().waiting {
            assert!(Instant::now() < deadline, "the taker never slept");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Takes on another thread; the receiver says how many jobs the batch held.
    fn taker(queue: &Arc<Queue>) -> mpsc::Receiver<usize> {
        let (tx, rx) = mpsc::channel();
        let queue = queue.clone();
        std::thread::spawn(move || {
            let n = match queue.take(Duration::from_secs(60), Duration::ZERO, Duration::ZERO) {
                Taken::Batch(b) => b.len(),
                _ => 0,
            };
            let _ = tx.send(n);
        });
        rx
    }

    #[test]
    fn a_waited_append_on_a_deferring_queue_waits_for_idle_workers() {
        let queue = Arc::new(Queue::deferring(Duration::from_secs(60)));
        waited(&queue);
        let batch = taker(&queue);
        // Not taken while the workers are busy (the bound is a minute away)...
        assert!(batch.recv_timeout(Duration::from_millis(100)).is_err());
        // ... and everything queued meanwhile joins the batch once a worker goes idle.
        waited(&queue);
        waited(&queue);
        queue.kick();
        assert_eq!(batch.recv_timeout(Duration::from_secs(30)), Ok(3));
    }

    #[test]
    fn a_deferred_batch_is_taken_after_its_bound_when_no_worker_goes_idle() {
        let queue = Arc::new(Queue::deferring(Duration::from_millis(20)));
        let batch = taker(&queue);
        waited(&queue);
        assert_eq!(batch.recv_timeout(Duration::from_secs(30)), Ok(1));
    }

    #[test]
    fn a_waited_append_on_a_plain_queue_wakes_the_writer_at_once() {
        let queue = Arc::new(Queue::default());
        let batch = taker(&queue);
        waited(&queue);
        assert_eq!(batch.recv_timeout(Duration::from_secs(30)), Ok(1));
    }

    #[test]
    fn the_first_waited_append_while_the_writer_sleeps_watches_the_bound() {
        let bound = Duration::from_secs(60);
        // The writer busy (not asleep on the queue): it will see the batch's deadline itself.
        let queue = Arc::new(Queue::deferring(bound));
        assert_eq!(waited(&queue), None);
        // Asleep: the batch's first append watches the bound, the others do not need to.
        let queue = Arc::new(Queue::deferring(bound));
        let batch = taker(&queue);
        until_asleep(&queue);
        assert_eq!(waited(&queue), Some(bound));
        assert_eq!(waited(&queue), None);
        // A plain queue never asks anyone to watch.
        assert_eq!(waited(&Queue::default()), None);
        queue.kick();
        assert_eq!(batch.recv_timeout(Duration::from_secs(30)), Ok(2));
    }

    #[test]
    fn a_kick_is_spent_with_the_batch_it_released() {
        // A worker went idle while the writer was busy: the append that follows is due at once
        // only until a batch is taken (the kick is spent with it).
        let queue = Arc::new(Queue::deferring(Duration::from_secs(60)));
        waited(&queue);
        queue.kick();
        assert_eq!(taker(&queue).recv_timeout(Duration::from_secs(30)), Ok(1));
        waited(&queue);
        assert!(
            taker(&queue)
                .recv_timeout(Duration::from_millis(100))
                .is_err()
        );
        queue.kick();
    }

    #[test]
    fn an_end_queued_behind_a_deferred_begin_does_not_wake_the_writer() {
        let queue = Arc::new(Queue::deferring(Duration::from_secs(60)));
        let batch = taker(&queue);
        until_asleep(&queue);
        waited(&queue);
        for _ in 0..5 {
            detached(&queue);
        }
        // The ends are queued behind the begin; the writer slept through them ...
        assert!(batch.recv_timeout(Duration::from_millis(100)).is_err());
        assert_eq!(queue.lock().woken, 0);
        // ... and takes all six when a worker goes idle, in one wake-up.
        queue.kick();
        assert_eq!(batch.recv_timeout(Duration::from_secs(30)), Ok(6));
        assert_eq!(queue.lock().woken, 1);
    }
}
