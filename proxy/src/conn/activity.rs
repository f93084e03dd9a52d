//! What a connection is doing, as its watchdog ([`super::drive`]) needs to know it: how many
//! requests are in flight, since when none has been, and which responses are waiting for the
//! partner to take their next bytes.
//!
//! A request holds a [`RequestGuard`] from the moment the service is called until its response
//! body ends or is dropped ([`Tracked`] carries the guard into the body). A tracked body is
//! *waiting on the partner* from the moment it hands hyper a frame (or its head) until hyper
//! polls it again: hyper polls a body only when it can send, so a body left unpolled for
//! `send_timeout` is one the partner is not reading. While the body itself waits on its
//! upstream it is not counted as waiting (the upstream has its own stall timeout).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame};

use super::CloseReason;

/// Set when sluice ended a request's connection because the partner took none of its response
/// for `send_timeout` (read by the ledger's end entry: `send_timeout`, not `client_gone`).
#[derive(Debug, Clone, Default)]
pub struct SendTimedOut(Arc<AtomicBool>);

impl SendTimedOut {
    /// True once the send deadline passed.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

#[derive(Debug)]
struct State {
    next: u64,
    in_flight: HashMap<u64, InFlight>,
    idle_since: Instant,
    close: Option<CloseReason>,
}

#[derive(Debug)]
struct InFlight {
    /// Since when a response waits for the partner to take bytes (`None`: not waiting).
    waiting_since: Option<Instant>,
    timed_out: SendTimedOut,
}

/// One connection's activity, shared by its watchdog, its service and its response bodies.
#[derive(Debug)]
pub struct Activity {
    state: Mutex<State>,
    /// Wakes the watchdog when the connection should close at once.
    pub(super) wake: tokio::sync::Notify,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                next: 0,
                in_flight: HashMap::new(),
                idle_since: Instant::now(),
                close: None,
            }),
            wake: tokio::sync::Notify::new(),
        }
    }
}

impl Activity {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request arrived: in flight until the guard (or the body it moves into) is dropped.
    pub fn request(self: &Arc<Self>) -> RequestGuard {
        let timed_out = SendTimedOut::default();
        let mut s = self.state();
        let id = s.next;
        s.next += 1;
        s.in_flight.insert(
            id,
            InFlight {
                waiting_since: None,
                timed_out: timed_out.clone(),
            },
        );
        RequestGuard {
            activity: self.clone(),
            id,
            timed_out,
        }
    }

    /// Asks the watchdog to close the connection gracefully (reload found it revoked).
    pub fn close(&self, reason: CloseReason) {
        self.state().close.get_or_insert(reason);
        self.wake.notify_one();
    }

    /// A close asked for with [`close`](Self::close), if any.
    pub(super) fn close_requested(&self) -> Option<CloseReason> {
        self.state().close
    }

    /// Since when no request has been in flight (`None` while one is).
    pub(super) fn idle_since(&self) -> Option<Instant> {
        let s = self.state();
        s.in_flight.is_empty().then_some(s.idle_since)
    }

    /// The responses waiting on the partner since before `deadline`: marked as timed out, and
    /// counted.
    pub(super) fn expire_waiting(&self, deadline: Instant) -> usize {
        let s = self.state();
        let mut n = 0;
        for f in s.in_flight.values() {
            if f.waiting_since.is_some_and(|t| t <= deadline) {
                f.timed_out.set();
                n += 1;
            }
        }
        n
    }

    fn set_waiting(&self, id: u64, since: Option<Instant>) {
        if let Some(f) = self.state().in_flight.get_mut(&id) {
            f.waiting_since = since;
        }
    }

    fn end(&self, id: u64) {
        let mut s = self.state();
        s.in_flight.remove(&id);
        if s.in_flight.is_empty() {
            s.idle_since = Instant::now();
        }
    }
}

/// A request in flight on its connection (see [`Activity::request`]).
#[derive(Debug)]
pub struct RequestGuard {
    activity: Arc<Activity>,
    id: u64,
    timed_out: SendTimedOut,
}

impl RequestGuard {
    /// The flag the ledger reads to tell a send timeout from a partner that went away.
    pub fn send_timed_out(&self) -> SendTimedOut {
        self.timed_out.clone()
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.activity.end(self.id);
    }
}

/// A response body that tells its connection's watchdog when it waits on the partner.
#[derive(Debug)]
pub struct Tracked<B> {
    inner: B,
    guard: Option<RequestGuard>,
}

impl<B> Tracked<B> {
    /// Tracks `inner`: waiting on the partner from now (hyper has its head to send).
    pub fn new(inner: B, guard: RequestGuard) -> Self {
        guard.activity.set_waiting(guard.id, Some(Instant::now()));
        Self {
            inner,
            guard: Some(guard),
        }
    }
}

impl<B> Body for Tracked<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        // hyper is asking for more: the partner took what it had.
        if let Some(g) = &self.guard {
            g.activity.set_waiting(g.id, None);
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) => {
                if let Some(g) = &self.guard {
                    g.activity.set_waiting(g.id, Some(Instant::now()));
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.guard = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
