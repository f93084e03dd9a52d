//! A body a route forwards unfiltered (a media type named in its `pass_through`), recorded in
//! the ledger like a filtered one.
//!
//! Unfiltered is still disclosed. [`PassThroughBody`] lets the bytes through as they come and
//! counts and digests them on the way, so the disclosure ends as every other does: `sent` with
//! the byte count and the SHA-256 of exactly what the other side received, or how it stopped —
//! the source failing (`upstream_error`) or the body being dropped unfinished (`client_gone`).
//! Nothing is parsed, so there are no records, field counts or subjects. The source's trailer
//! fields are dropped, as from every body sluice forwards ([`crate::frames`]).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use sluice_policy::engine::Summary;

use crate::body::{BoxError, Finish, OnFinish, Outcome, ProxyBody};
use crate::frames::DataOnly;

/// A body passed through as it is, ending its disclosure when it ends (see the module docs).
pub struct PassThroughBody {
    /// The source, without its trailers ([`crate::frames`]).
    inner: DataOnly<ProxyBody>,
    digest: ring::digest::Context,
    bytes: u64,
    on_finish: Finish,
}

impl std::fmt::Debug for PassThroughBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassThroughBody")
            .field("bytes", &self.bytes)
            .field("finished", &self.on_finish.is_done())
            .finish()
    }
}

impl PassThroughBody {
    /// Wraps `inner`; `on_finish` is called once, with how the body ended.
    pub fn new(inner: ProxyBody, on_finish: OnFinish) -> Self {
        Self {
            inner: DataOnly::new(inner),
            digest: ring::digest::Context::new(&ring::digest::SHA256),
            bytes: 0,
            on_finish: Finish::new(on_finish),
        }
    }

    /// Ends the disclosure as sent, with what went out.
    fn sent(&mut self) {
        let summary = self.summary();
        self.on_finish.call(Outcome::Sent(&summary));
    }

    /// What went out: every byte, in and out alike.
    fn summary(&mut self) -> Summary {
        let digest = std::mem::replace(
            &mut self.digest,
            ring::digest::Context::new(&ring::digest::SHA256),
        )
        .finish();
        Summary {
            bytes_in: self.bytes,
            bytes_out: self.bytes,
            output_sha256: digest.as_ref().try_into().expect("SHA-256 is 32 bytes"),
            ..Summary::default()
        }
    }
}

impl Body for PassThroughBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.on_finish.is_done() {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.digest.update(data);
                    this.bytes += data.len() as u64;
                }
                // The source's last frame: ended now. An HTTP/1.1 writer whose `Content-Length`
                // is reached stops polling and drops the body without asking for its end.
                if this.inner.is_end_stream() {
                    this.sent();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.on_finish.call(Outcome::SourceFailed(&e));
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.sent();
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        // Not the inner body's word: a server that stops polling when the source says it is
        // done would never let this body see the end, and the disclosure would end as dropped.
        self.on_finish.is_done()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use std::collections::VecDeque;

    use http_body_util::{BodyExt, Full};

    use super::*;

    /// A body that yields these frames, then ends.
    struct Frames(VecDeque<Result<Frame<Bytes>, BoxError>>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = BoxError;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            Poll::Ready(self.0.pop_front())
        }
    }

    /// How the body ended, as `on_finish` saw it: outcome, bytes, digest.
    type Seen = Arc<Mutex<Vec<(&'static str, u64, [u8; 32])>>>;

    fn recorder() -> (Seen, OnFinish) {
        let seen: Seen = Arc::default();
        let into = seen.clone();
        let f: OnFinish = Box::new(move |o| {
            let row = match o {
                Outcome::Sent(s) => ("sent", s.bytes_out, s.output_sha256),
                Outcome::SourceFailed(_) => ("source_failed", 0, [0; 32]),
                Outcome::Dropped => ("dropped", 0, [0; 32]),
                Outcome::Violation(_) => ("violation", 0, [0; 32]),
            };
            into.lock().unwrap().push(row);
        });
        (seen, f)
    }

    fn boxed(body: impl Body<Data = Bytes, Error = BoxError> + Send + 'static) -> ProxyBody {
        body.boxed_unsync()
    }

    #[tokio::test]
    async fn a_whole_body_ends_sent_with_its_length_and_digest() {
        let (seen, f) = recorder();
        let source = Full::new(Bytes::from_static(b"%PDF-1.7 binary")).map_err(|e| match e {});
        let got = PassThroughBody::new(boxed(source), f)
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&got[..], b"%PDF-1.7 binary");
        let sha = ring::digest::digest(&ring::digest::SHA256, b"%PDF-1.7 binary");
        assert_eq!(
            *seen.lock().unwrap(),
            [("sent", 15, sha.as_ref().try_into().unwrap())]
        );
    }

    #[tokio::test]
    async fn a_reader_that_stops_at_end_of_stream_still_sees_the_end_recorded_as_sent() {
        // As a server may: read frames until the body says it is at its end, then drop it.
        let (seen, f) = recorder();
        let source = Full::new(Bytes::from_static(b"%PDF-1.7 binary")).map_err(|e| match e {});
        let mut body = PassThroughBody::new(boxed(source), f);
        while !body.is_end_stream() {
            if body.frame().await.is_none() {
                break;
            }
        }
        drop(body);
        let sha = ring::digest::digest(&ring::digest::SHA256, b"%PDF-1.7 binary");
        assert_eq!(
            *seen.lock().unwrap(),
            [("sent", 15, sha.as_ref().try_into().unwrap())]
        );
    }

    #[tokio::test]
    async fn a_writer_that_stops_at_its_content_length_still_sees_the_end_recorded_as_sent() {
        // hyper's HTTP/1.1 writer: the declared length written, the body is dropped unpolled.
        let (seen, f) = recorder();
        let source = Full::new(Bytes::from_static(b"%PDF-1.7 binary")).map_err(|e| match e {});
        let mut body = PassThroughBody::new(boxed(source), f);
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), &b"%PDF-1.7 binary"[..]);
        assert!(body.is_end_stream());
        drop(body);
        let sha = ring::digest::digest(&ring::digest::SHA256, b"%PDF-1.7 binary");
        assert_eq!(
            *seen.lock().unwrap(),
            [("sent", 15, sha.as_ref().try_into().unwrap())]
        );
    }

    #[tokio::test]
    async fn a_failing_source_ends_it_once_as_failed() {
        let (seen, f) = recorder();
        let source = Frames(VecDeque::from([
            Ok(Frame::data(Bytes::from_static(b"part"))),
            Err("upstream reset".into()),
        ]));
        let mut body = PassThroughBody::new(boxed(source), f);
        assert!(body.frame().await.unwrap().is_ok());
        assert!(body.frame().await.unwrap().is_err());
        drop(body);
        assert_eq!(*seen.lock().unwrap(), [("source_failed", 0, [0; 32])]);
    }

    #[tokio::test]
    async fn a_body_dropped_unfinished_ends_it_as_dropped() {
        let (seen, f) = recorder();
        let source = Frames(VecDeque::from([
            Ok(Frame::data(Bytes::from_static(b"one"))),
            Ok(Frame::data(Bytes::from_static(b"two"))),
        ]));
        let mut body = PassThroughBody::new(boxed(source), f);
        assert!(body.frame().await.unwrap().is_ok());
        drop(body);
        assert_eq!(*seen.lock().unwrap(), [("dropped", 0, [0; 32])]);
    }
}
