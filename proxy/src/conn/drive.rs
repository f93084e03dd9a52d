//! The watchdog that drives one connection to its end: it serves the connection until it
//! finishes, and ends it early — gracefully, or at once — when a limit of [`Lifetimes`] passes,
//! a reload asks, or the server stops.
//!
//! Graceful means hyper's own: HTTP/2 sends GOAWAY and finishes the streams it has; HTTP/1.1
//! closes after the response in flight (at once when idle). A connection still open `grace`
//! after a graceful close was asked for is dropped. A response left unread past the send
//! deadline drops the connection at once (see [`super::activity`]).

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Activity, CloseReason};

/// The time limits of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// No request in flight for this long: close.
    pub idle: Duration,
    /// Older than this: close gracefully.
    pub max_age: Duration,
    /// A response the partner takes nothing of for this long: drop the connection.
    pub send: Duration,
    /// A request head due or under way, with no request in flight, for this long: drop the
    /// connection (see [`Activity::head_started`]).
    pub head: Duration,
    /// How long a graceful close may take before the connection is dropped.
    pub grace: Duration,
}

impl Lifetimes {
    /// How often the watchdog looks: a quarter of the shortest limit, between 10 ms and 1 s.
    fn tick(&self) -> Duration {
        (self.idle.min(self.max_age).min(self.send).min(self.head) / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(1))
    }
}

/// How a connection ended (for the log and the metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The connection finished on its own (or after a graceful close it asked for).
    Finished(Option<CloseReason>),
    /// Dropped by sluice.
    Dropped(CloseReason),
}

/// Serves `conn` until it ends, enforcing `limits`. `graceful` asks the connection to close
/// gracefully (hyper's `graceful_shutdown`); `housekeeping` runs at every tick (the
/// connection's held upstream connections expire there).
pub async fn drive<C>(
    mut conn: Pin<&mut C>,
    graceful: impl Fn(Pin<&mut C>),
    mut housekeeping: impl FnMut(),
    activity: &Activity,
    limits: Lifetimes,
    stopped: watch::Receiver<bool>,
) -> Ended
where
    C: Future,
{
    let born = Instant::now();
    let mut tick = tokio::time::interval(limits.tick());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing: Option<(CloseReason, Instant)> = None;
    loop {
        // Not `stopped.changed()` here: every connection's task would register with the one
        // shared watch channel on each wake-up. The server stopping asks each connection through
        // its activity (`Registry::close_all`), and each tick looks at `stopped` as well.
        tokio::select! {
            _ = conn.as_mut() => return Ended::Finished(closing.map(|c| c.0)),
            _ = tick.tick() => housekeeping(),
            _ = activity.wake.notified() => {}
        }
        let stopping = *stopped.borrow();
        let now = Instant::now();
        if let Some(deadline) = now.checked_sub(limits.send)
            && activity.expire_waiting(deadline) > 0
        {
            return Ended::Dropped(CloseReason::SendTimeout);
        }
        // A head counts only while no request is in flight: one a client sends early, while
        // the previous response still streams, is not read before that response ends.
        if let (Some(head), Some(idle)) = (activity.head_since(), activity.idle_since())
            && now.duration_since(head.max(idle)) >= limits.head
        {
            return Ended::Dropped(CloseReason::HeaderTimeout);
        }
        if let Some((reason, since)) = closing {
            if now.duration_since(since) >= limits.grace {
                return Ended::Dropped(reason);
            }
            continue;
        }
        let reason = if stopping {
            Some(CloseReason::Shutdown)
        } else if let Some(r) = activity.close_requested() {
            Some(r)
        } else if now.duration_since(born) >= limits.max_age {
            Some(CloseReason::MaxAge)
        } else {
            activity
                .idle_since()
                .filter(|t| now.duration_since(*t) >= limits.idle)
                .map(|_| CloseReason::Idle)
        };
        if let Some(reason) = reason {
            graceful(conn.as_mut());
            closing = Some((reason, now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn limits(idle: u64, age: u64, send: u64) -> Lifetimes {
        Lifetimes {
            idle: Duration::from_millis(idle),
            max_age: Duration::from_millis(age),
            send: Duration::from_millis(send),
            head: Duration::from_millis(60_000),
            grace: Duration::from_millis(50),
        }
    }

    /// A connection that never ends on its own and ignores graceful requests.
    async fn run(activity: &Activity, l: Lifetimes) -> Ended {
        let (_tx, rx) = watch::channel(false);
        let conn = std::future::pending::<()>();
        tokio::pin!(conn);
        drive(conn, |_| {}, || {}, activity, l, rx).await
    }

    #[tokio::test]
    async fn an_idle_connection_is_closed_and_a_busy_one_is_not() {
        let a = Arc::new(Activity::default());
        assert_eq!(
            run(&a, limits(100, 60_000, 60_000)).await,
            Ended::Dropped(CloseReason::Idle)
        );
        // A request in flight (not waiting on the partner) keeps it open past the idle limit,
        // until the age limit.
        let a = Arc::new(Activity::default());
        let _g = a.request();
        let started = Instant::now();
        assert_eq!(
            run(&a, limits(50, 300, 60_000)).await,
            Ended::Dropped(CloseReason::MaxAge)
        );
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn a_response_the_partner_does_not_take_drops_the_connection() {
        let a = Arc::new(Activity::default());
        let g = a.request();
        let flag = g.send_timed_out();
        let _body = super::super::Tracked::new(http_body_util::Empty::<bytes::Bytes>::new(), g);
        assert_eq!(
            run(&a, limits(60_000, 60_000, 100)).await,
            Ended::Dropped(CloseReason::SendTimeout)
        );
        assert!(flag.is_set());
    }

    #[tokio::test]
    async fn a_requested_close_is_graceful_then_forced() {
        let a = Arc::new(Activity::default());
        let _g = a.request();
        a.close(CloseReason::Revoked);
        assert_eq!(
            run(&a, limits(60_000, 60_000, 60_000)).await,
            Ended::Dropped(CloseReason::Revoked)
        );
    }

    #[tokio::test]
    async fn a_head_due_too_long_drops_an_idle_connection_but_not_one_serving_a_request() {
        let a = Arc::new(Activity::default());
        a.head_started();
        let mut l = limits(60_000, 60_000, 60_000);
        l.head = Duration::from_millis(100);
        assert_eq!(run(&a, l).await, Ended::Dropped(CloseReason::HeaderTimeout));
        // A head sent while a request is in flight is not read before its response ends: the
        // age limit comes first.
        let a = Arc::new(Activity::default());
        let _g = a.request();
        a.head_started();
        let mut l = limits(60_000, 400, 60_000);
        l.head = Duration::from_millis(100);
        assert_eq!(run(&a, l).await, Ended::Dropped(CloseReason::MaxAge));
    }
}
