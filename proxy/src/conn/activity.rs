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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame};

use super::CloseReason;

/// One request's place in its connection's activity: whether (and since when) its response
/// waits on the partner, and whether the send deadline passed. Atomics, so that a body's every
/// poll costs two stores and no lock.
#[derive(Debug)]
struct Slot {
    /// Milliseconds since the activity's epoch, plus one, at which the response started to wait
    /// on the partner; 0 while it does not.
    waiting_since: AtomicU64,
    timed_out: AtomicBool,
}

/// Set when sluice ended a request's connection because the partner took none of its response
/// for `send_timeout` (read by the ledger's end entry: `send_timeout`, not `client_gone`).
#[derive(Debug, Clone)]
pub struct SendTimedOut(Arc<Slot>);

impl SendTimedOut {
    /// True once the send deadline passed.
    pub fn is_set(&self) -> bool {
        self.0.timed_out.load(Ordering::Acquire)
    }
}

#[derive(Debug)]
struct State {
    next: u64,
    in_flight: HashMap<u64, Arc<Slot>>,
    idle_since: Instant,
    close: Option<CloseReason>,
}

/// One connection's activity, shared by its watchdog, its service and its response bodies.
#[derive(Debug)]
pub struct Activity {
    epoch: Instant,
    state: Mutex<State>,
    /// Milliseconds since `epoch`, plus one, from which a request head has been awaited or
    /// read without being complete (see [`Activity::head_started`]); 0 while none is.
    head_since: AtomicU64,
    /// Wakes the watchdog when the connection should close at once.
    pub(super) wake: tokio::sync::Notify,
}

impl Default for Activity {
    fn default() -> Self {
        let now = Instant::now();
        Self {
            epoch: now,
            state: Mutex::new(State {
                next: 0,
                in_flight: HashMap::new(),
                idle_since: now,
                close: None,
            }),
            head_since: AtomicU64::new(0),
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
        let slot = Arc::new(Slot {
            waiting_since: AtomicU64::new(0),
            timed_out: AtomicBool::new(false),
        });
        let mut s = self.state();
        let id = s.next;
        s.next += 1;
        s.in_flight.insert(id, slot.clone());
        drop(s);
        RequestGuard {
            activity: self.clone(),
            id,
            slot,
            share: None,
        }
    }

    /// A request head is due from now (a new HTTP/1.1 connection's first), or its first byte
    /// arrived: the watchdog's head deadline runs until [`head_read`](Self::head_read). A head
    /// already under way keeps its start.
    pub fn head_started(&self) {
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        let _ = self
            .head_since
            .compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The head under way is complete (or no more heads will be read on this connection).
    pub fn head_read(&self) {
        self.head_since.store(0, Ordering::Release);
    }

    /// Since when a request head has been due or under way, if one is.
    pub(crate) fn head_since(&self) -> Option<Instant> {
        match self.head_since.load(Ordering::Acquire) {
            0 => None,
            ms => Some(self.epoch + std::time::Duration::from_millis(ms - 1)),
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

    /// The responses waiting on the partner since `deadline` or before: marked as timed out,
    /// and counted.
    pub(super) fn expire_waiting(&self, deadline: Instant) -> usize {
        let Some(limit) = deadline.checked_duration_since(self.epoch) else {
            return 0;
        };
        let limit = limit.as_millis() as u64 + 1;
        let s = self.state();
        let mut n = 0;
        for slot in s.in_flight.values() {
            let since = slot.waiting_since.load(Ordering::Acquire);
            if since != 0 && since <= limit {
                slot.timed_out.store(true, Ordering::Release);
                n += 1;
            }
        }
        n
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
    slot: Arc<Slot>,
    /// The request's place in its partner's share, once the partner is known: given back
    /// with the guard, when the response body ends.
    share: Option<super::shares::Share>,
}

impl RequestGuard {
    /// The flag the ledger reads to tell a send timeout from a partner that went away.
    pub fn send_timed_out(&self) -> SendTimedOut {
        SendTimedOut(self.slot.clone())
    }

    /// Holds `share` until the request ends (see [`super::shares`]).
    pub fn hold(&mut self, share: super::shares::Share) {
        self.share = Some(share);
    }

    /// Marks the response as waiting on the partner from now on, or (`false`) not waiting.
    fn set_waiting(&self, waiting: bool) {
        let since = if waiting {
            self.activity.epoch.elapsed().as_millis() as u64 + 1
        } else {
            0
        };
        self.slot.waiting_since.store(since, Ordering::Release);
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
        guard.set_waiting(true);
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
            g.set_waiting(false);
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(_))) => {
                if let Some(g) = &self.guard {
                    g.set_waiting(true);
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
