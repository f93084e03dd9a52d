//! Only data crosses sluice: a peer's trailer fields are dropped from every body it forwards.
//!
//! Trailer fields are header fields sent after a body (HTTP/2 always carries them; HTTP/1.1
//! when chunked and the peer asked). sluice lets header fields through allow-lists only
//! ([`crate::allow`]); trailers forwarded with a body would bypass them — the institution's
//! internal fields reaching a partner with a body passed through unfiltered, or a partner's
//! fields reaching the institution beside the identity headers sluice sets. So a body sluice
//! forwards carries its source's data frames only; the trailers a body leaves with are the ones
//! sluice writes itself (`content-digest` and its signature, [`crate::outgoing`]).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// `inner`'s data frames, without its trailers.
#[derive(Debug)]
pub struct DataOnly<B>(B);

impl<B> DataOnly<B> {
    /// Wraps `inner`.
    pub fn new(inner: B) -> Self {
        Self(inner)
    }
}

impl<B> Body for DataOnly<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        loop {
            match Pin::new(&mut self.0).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) if !frame.is_data() => continue,
                other => return other,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn trailers_are_dropped_and_data_kept() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-internal", "secret".parse().unwrap());
        let frames = vec![
            Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(b"one"))),
            Ok(Frame::data(Bytes::from_static(b"two"))),
            Ok(Frame::trailers(trailers)),
        ];
        let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
        let got = DataOnly::new(body).collect().await.unwrap();
        assert!(got.trailers().is_none());
        assert_eq!(got.to_bytes(), &b"onetwo"[..]);
    }
}
