//! Content-coding: `gzip` and `deflate` bodies are decoded before filtering (and sent on
//! identity-encoded), under two caps: a decoded-size limit and a ratio limit, so a small
//! compressed body cannot expand into gigabytes (a "zip bomb"). Compressed input is fed in small
//! steps and the output is checked after each one. `deflate` means the zlib format (RFC 9110);
//! raw deflate is refused by the zlib header check. Unknown or stacked codings are refused
//! before any byte is read.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

use crate::body::BoxError;

/// A supported content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// No coding.
    Identity,
    /// gzip (RFC 1952).
    Gzip,
    /// zlib-wrapped deflate (RFC 1950).
    Deflate,
}

/// The coding of a message, or `None` when it is unknown, stacked, or repeated.
pub fn coding(headers: &HeaderMap) -> Option<Coding> {
    let values: Vec<_> = headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .collect();
    match values.as_slice() {
        [] => Some(Coding::Identity),
        [one] => match one.to_str().ok()?.trim().to_ascii_lowercase().as_str() {
            "identity" => Some(Coding::Identity),
            "gzip" | "x-gzip" => Some(Coding::Gzip),
            "deflate" => Some(Coding::Deflate),
            _ => None,
        },
        _ => None,
    }
}

/// Caps on decoding.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Largest decoded body.
    pub max_decoded: u64,
    /// Largest decoded/encoded ratio once past the first MiB.
    pub max_ratio: u64,
}

impl Default for Caps {
    fn default() -> Self {
        Self {
            max_decoded: 1 << 30,
            max_ratio: 100,
        }
    }
}

/// Why a body could not be decoded: it would break a cap, or is not valid compressed data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The decoded body would pass the size cap.
    #[error("content decoding refused: decoded size over the limit")]
    TooLarge,
    /// The body expands more than the ratio cap allows (a bomb).
    #[error("content decoding refused: compression ratio over the limit")]
    RatioTooHigh,
    /// The bytes are not valid data in their coding.
    #[error("content decoding refused: not valid compressed data")]
    Corrupt,
    /// The compressed stream ends before its end marker.
    #[error("content decoding refused: truncated compressed data")]
    Truncated,
}

impl DecodeError {
    /// A bomb (size or ratio cap), rather than corrupt data.
    pub fn is_over_limit(&self) -> bool {
        matches!(self, DecodeError::TooLarge | DecodeError::RatioTooHigh)
    }
}

enum Decoder {
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    Zlib(flate2::write::ZlibDecoder<Vec<u8>>),
}

impl Decoder {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Decoder::Gzip(d) => d.write_all(data),
            Decoder::Zlib(d) => d.write_all(data),
        }
    }
    fn take(&mut self) -> Vec<u8> {
        match self {
            Decoder::Gzip(d) => std::mem::take(d.get_mut()),
            Decoder::Zlib(d) => std::mem::take(d.get_mut()),
        }
    }
    fn finish(&mut self) -> std::io::Result<()> {
        match self {
            Decoder::Gzip(d) => d.try_finish(),
            Decoder::Zlib(d) => d.try_finish(),
        }
    }
}

/// A body decoded as it streams.
pub struct Decoded<B> {
    inner: B,
    decoder: Decoder,
    caps: Caps,
    encoded: u64,
    decoded: u64,
    done: bool,
}

impl<B> std::fmt::Debug for Decoded<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoded")
            .field("encoded", &self.encoded)
            .field("decoded", &self.decoded)
            .finish_non_exhaustive()
    }
}

const STEP: usize = 4096;

impl<B> Decoded<B> {
    /// Decodes `inner` (which must not be `Identity`).
    pub fn new(inner: B, coding: Coding, caps: Caps) -> Self {
        let decoder = match coding {
            Coding::Gzip => Decoder::Gzip(flate2::write::GzDecoder::new(Vec::new())),
            _ => Decoder::Zlib(flate2::write::ZlibDecoder::new(Vec::new())),
        };
        Self {
            inner,
            decoder,
            caps,
            encoded: 0,
            decoded: 0,
            done: false,
        }
    }

    fn check(&mut self, out_len: usize) -> Result<(), DecodeError> {
        self.decoded += out_len as u64;
        if self.decoded > self.caps.max_decoded {
            return Err(DecodeError::TooLarge);
        }
        if self.decoded > (1 << 20)
            && self.decoded > self.encoded.saturating_mul(self.caps.max_ratio)
        {
            return Err(DecodeError::RatioTooHigh);
        }
        Ok(())
    }

    fn feed(&mut self, data: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::new();
        for step in data.chunks(STEP) {
            self.encoded += step.len() as u64;
            self.decoder.write(step).map_err(|_| DecodeError::Corrupt)?;
            let piece = self.decoder.take();
            self.check(piece.len())?;
            out.extend_from_slice(&piece);
        }
        Ok(out)
    }
}

impl<B> Body for Decoded<B>
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
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    match this.feed(&data) {
                        Ok(out) if out.is_empty() => continue,
                        Ok(out) => return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out))))),
                        Err(e) => {
                            this.done = true;
                            return Poll::Ready(Some(Err(Box::new(e))));
                        }
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    if this.decoder.finish().is_err() {
                        return Poll::Ready(Some(Err(Box::new(DecodeError::Truncated))));
                    }
                    let rest = this.decoder.take();
                    if let Err(e) = this.check(rest.len()) {
                        return Poll::Ready(Some(Err(Box::new(e))));
                    }
                    return Poll::Ready(if rest.is_empty() {
                        None
                    } else {
                        Some(Ok(Frame::data(Bytes::from(rest))))
                    });
                }
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    async fn decode(body: Vec<u8>, coding: Coding, caps: Caps) -> Result<Vec<u8>, String> {
        let d = Decoded::new(http_body_util::Full::new(Bytes::from(body)), coding, caps);
        d.collect()
            .await
            .map(|c| c.to_bytes().to_vec())
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn small_chunks_decode_the_same() {
        let text = br#"{"a":"hello"}"#.repeat(100);
        let z = gz(&text);
        let mut d = Decoded::new(
            http_body_util::Empty::<Bytes>::new(),
            Coding::Gzip,
            Caps::default(),
        );
        let mut out = Vec::new();
        for c in z.chunks(7) {
            out.extend(d.feed(c).unwrap());
        }
        d.decoder.finish().unwrap();
        out.extend(d.decoder.take());
        assert_eq!(out, text);
    }

    #[tokio::test]
    async fn gzip_and_zlib_round_trip() {
        let text = br#"{"a":"hello"}"#.repeat(100);
        assert_eq!(
            decode(gz(&text), Coding::Gzip, Caps::default())
                .await
                .unwrap(),
            text
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&text).unwrap();
        assert_eq!(
            decode(z.finish().unwrap(), Coding::Deflate, Caps::default())
                .await
                .unwrap(),
            text
        );
    }

    #[tokio::test]
    async fn bombs_truncation_and_raw_deflate_are_refused() {
        let bomb = gz(&vec![b' '; 64 << 20]);
        assert!(bomb.len() < 200_000);
        assert_eq!(
            decode(bomb, Coding::Gzip, Caps::default())
                .await
                .unwrap_err(),
            "content decoding refused: compression ratio over the limit"
        );
        let small = gz(&[b'x'; 5000]);
        let caps = Caps {
            max_decoded: 1000,
            max_ratio: 100,
        };
        assert_eq!(
            decode(small.clone(), Coding::Gzip, caps).await.unwrap_err(),
            "content decoding refused: decoded size over the limit"
        );
        assert!(
            decode(
                small[..small.len() / 2].to_vec(),
                Coding::Gzip,
                Caps::default()
            )
            .await
            .is_err()
        );
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(b"{}").unwrap();
        assert!(
            decode(raw.finish().unwrap(), Coding::Deflate, Caps::default())
                .await
                .is_err()
        );
    }

    #[test]
    fn codings() {
        let h = |v: &[&str]| {
            let mut m = HeaderMap::new();
            for x in v {
                m.append(http::header::CONTENT_ENCODING, x.parse().unwrap());
            }
            coding(&m)
        };
        assert_eq!(h(&[]), Some(Coding::Identity));
        assert_eq!(h(&["GZIP"]), Some(Coding::Gzip));
        assert_eq!(h(&["deflate"]), Some(Coding::Deflate));
        assert_eq!(h(&["br"]), None);
        assert_eq!(h(&["gzip, deflate"]), None);
        assert_eq!(h(&["gzip", "gzip"]), None);
    }
}
