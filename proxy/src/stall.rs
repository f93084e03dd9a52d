//! Bodies that must keep coming: a body that yields nothing for a while, *while it is asked
//! for*, is aborted with [`Stalled`] instead of being waited on for ever.
//!
//! Used for every body sluice reads from a peer: a response body from an upstream
//! (`upstream.body_stall_timeout_ms`: the institution's answer to a pull — the partner's stream
//! is cut and the ledger says `upstream_error` — or a partner API's answer to a push) and a
//! request body from a client (`limits.body_read_timeout_ms`: `408 body_timeout`, like nginx's
//! `client_body_timeout`).
//!
//! Only time spent waiting on the body counts. A body nobody polls — its reader is held up by
//! a slow partner downstream — is not stalled: the clock starts at the first poll that finds
//! nothing and is cleared by every frame, so a pause caused by the other side is never
//! blamed on this one.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};

use crate::body::BoxError;

/// A body that went quiet for longer than its stall timeout.
#[derive(Debug, thiserror::Error)]
#[error("the body stalled")]
pub struct Stalled;

/// A body that fails with [`Stalled`] when, asked for a frame, it has none for `timeout`.
pub struct StallGuard<B> {
    inner: B,
    timeout: Duration,
    /// Armed while the body is waited on; `None` until the first poll that finds nothing.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    waiting: bool,
}

impl<B> std::fmt::Debug for StallGuard<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StallGuard")
            .field("timeout", &self.timeout)
            .field("waiting", &self.waiting)
            .finish_non_exhaustive()
    }
}

impl<B> StallGuard<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            timer: None,
            waiting: false,
        }
    }
}

impl<B> Body for StallGuard<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                // Allocated at the first wait: a body never waited on (most requests have
                // none) costs no timer.
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(this.timeout)));
                if !this.waiting {
                    // Waiting starts now, not at the last frame: the time nobody asked does
                    // not count. (The clock is read when a wait starts, not at every poll.)
                    timer
                        .as_mut()
                        .reset(tokio::time::Instant::now() + this.timeout);
                    this.waiting = true;
                }
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(Stalled)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// One frame, then nothing for ever.
    fn one_then_silence() -> impl Body<Data = Bytes, Error = std::convert::Infallible> + Unpin {
        let first = futures_util::stream::iter([Ok(Frame::data(Bytes::from_static(b"a")))]);
        http_body_util::StreamBody::new(first.chain(futures_util::stream::pending()))
    }

    use futures_util::StreamExt as _;

    #[tokio::test(start_paused = true)]
    async fn a_body_waited_on_for_the_timeout_is_stalled() {
        let mut b = StallGuard::new(one_then_silence(), Duration::from_secs(5));
        assert!(b.frame().await.unwrap().is_ok());
        let started = tokio::time::Instant::now();
        let err = b.frame().await.unwrap().unwrap_err();
        assert!(err.is::<Stalled>());
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn time_nobody_asked_for_the_body_does_not_count() {
        let mut b = StallGuard::new(one_then_silence(), Duration::from_secs(5));
        assert!(b.frame().await.unwrap().is_ok());
        // The reader is held up elsewhere for longer than the timeout...
        tokio::time::sleep(Duration::from_secs(60)).await;
        // ...and then waits the whole timeout again before the body counts as stalled.
        let asked = tokio::time::Instant::now();
        assert!(b.frame().await.unwrap().unwrap_err().is::<Stalled>());
        assert_eq!(asked.elapsed(), Duration::from_secs(5));
    }
}
