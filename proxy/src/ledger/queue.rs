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
    /// When the oldest queued job was pushed.
    since: Option<Instant>,
    /// The writer sleeps on the condition variable.
    waiting: bool,
    closed: bool,
}

/// The queue (one per ledger, shared by every appender and the writer).
#[derive(Default)]
pub(super) struct Queue {
    state: Mutex<State>,
    wake: Condvar,
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
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job`; `waited` says whether somebody waits for it to be durable.
    pub(super) fn push(&self, job: Job, waited: bool) -> Result<(), LedgerError> {
        let s = self.lock();
        if s.closed {
            return Err(LedgerError::Unavailable("the ledger is closed".into()));
        }
        self.queue(s, job, waited);
        Ok(())
    }

    /// Queues an entry the writer itself owes (ending a begin whose waiter went away, from the
    /// writer's thread): accepted while closing too, since the writer drains the queue before
    /// it stops.
    pub(super) fn push_owed(&self, job: Job) {
        let s = self.lock();
        self.queue(s, job, false);
    }

    fn queue(&self, mut s: MutexGuard<'_, State>, job: Job, waited: bool) {
        s.jobs.push(job);
        s.since.get_or_insert_with(Instant::now);
        s.urgent |= waited;
        let wake = s.waiting && (s.urgent || s.jobs.len() >= DETACHED_MAX);
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

    /// The writer's side: blocks until a batch is due (a waited append, a detached one queued
    /// for `DETACHED_FLUSH`, `DETACHED_MAX` queued, or closing), or `idle` passes with nothing
    /// queued. `window` > 0 then waits that long for stragglers before taking the batch, and
    /// so does `delay` (the writer's commit delay, when it applies).
    pub(super) fn take(&self, idle: Duration, window: Duration, delay: Duration) -> Taken {
        let mut s = self.lock();
        loop {
            let due = s.urgent || s.closed || s.jobs.len() >= DETACHED_MAX;
            let wait = match s.since {
                _ if due => break,
                Some(since) => match DETACHED_FLUSH.checked_sub(since.elapsed()) {
                    Some(left) if !left.is_zero() => left,
                    _ => break,
                },
                None => idle,
            };
            s.waiting = true;
            let (next, timeout) = self
                .wake
                .wait_timeout(s, wait)
                .unwrap_or_else(|e| e.into_inner());
            s = next;
            s.waiting = false;
            if timeout.timed_out() && s.jobs.is_empty() && !s.closed {
                return Taken::Idle;
            }
        }
        if !window.is_zero() && !s.closed {
            drop(s);
            std::thread::sleep(window);
            s = self.lock();
        }
        if !delay.is_zero() && !s.closed {
            drop(s);
            std::thread::sleep(delay);
            s = self.lock();
        }
        let jobs = std::mem::take(&mut s.jobs);
        s.urgent = false;
        s.since = None;
        if jobs.is_empty() {
            return if s.closed { Taken::Closed } else { Taken::Idle };
        }
        Taken::Batch(jobs)
    }
}
