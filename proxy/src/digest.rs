//! Incoming `Content-Digest` (RFC 9530): parsed as an RFC 8941 dictionary, verified
//! incrementally over the body as it streams (the bytes as transferred, before any content
//! coding is undone), without buffering it.
//!
//! A body whose digest does not match ends in an error instead of its end of stream, so whatever
//! consumes it — the engine, then the upstream request or the partner's response — never sees a
//! complete message: the upstream's request is aborted, the partner's stream is cut, and the
//! ledger records `aborted_integrity`.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame};

/// A boxed body error (the same type as `crate::body::BoxError`).
type BoxError = tower::BoxError;

/// A digest algorithm sluice verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `sha-256`.
    Sha256,
    /// `sha-512`.
    Sha512,
    /// `sm3` (GB/T 32905; not in the IANA registry, agreed bilaterally with partners that must
    /// use the national algorithms).
    Sm3,
}

impl Algorithm {
    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Algorithm::Sha256 | Algorithm::Sm3 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    /// Preference when a message carries several: the strongest known wins.
    fn rank(self) -> u8 {
        match self {
            Algorithm::Sha512 => 3,
            Algorithm::Sha256 => 2,
            Algorithm::Sm3 => 1,
        }
    }

    /// The digest of `bytes`.
    pub fn digest(self, bytes: &[u8]) -> Vec<u8> {
        let mut h = Hasher::new(self);
        h.update(bytes);
        h.finish()
    }
}

/// An incremental digest in one of the supported algorithms.
pub enum Hasher {
    /// SHA-2 from ring.
    Ring(ring::digest::Context),
    /// SM3.
    Sm3(sm3::Sm3),
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Hasher::Ring(_) => "Hasher::Ring",
            Hasher::Sm3(_) => "Hasher::Sm3",
        })
    }
}

impl Hasher {
    /// A fresh context.
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => Hasher::Ring(ring::digest::Context::new(&ring::digest::SHA256)),
            Algorithm::Sha512 => Hasher::Ring(ring::digest::Context::new(&ring::digest::SHA512)),
            Algorithm::Sm3 => Hasher::Sm3(sm3::Sm3::default()),
        }
    }

    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Ring(c) => c.update(bytes),
            Hasher::Sm3(h) => sm3::Digest::update(h, bytes),
        }
    }

    /// The digest.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Ring(c) => c.finish().as_ref().to_vec(),
            Hasher::Sm3(h) => sm3::Digest::finalize(h).to_vec(),
        }
    }
}

/// The digest a message claims for its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Which algorithm.
    pub algorithm: Algorithm,
    /// The claimed value.
    pub value: Vec<u8>,
}

/// Why a `Content-Digest` field could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// Not an RFC 8941 dictionary of byte sequences, or a value of the wrong length.
    #[error("Content-Digest is not a valid structured field of byte sequences")]
    Malformed,
    /// Only algorithms sluice does not verify (it verifies sha-256 and sha-512).
    #[error("Content-Digest names no supported algorithm (sha-256, sha-512)")]
    Unsupported,
}

/// The body's bytes do not match the digest its message claimed.
#[derive(Debug, thiserror::Error)]
#[error("the content does not match its Content-Digest")]
pub struct DigestMismatch;

/// The strongest supported digest in `headers`, if the message has a `Content-Digest`.
pub fn expected(headers: &HeaderMap) -> Result<Option<Expected>, DigestError> {
    let values: Vec<&[u8]> = headers
        .get_all("content-digest")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    if values.is_empty() {
        return Ok(None);
    }
    // Several field lines form one dictionary (RFC 9110 §5.3).
    let joined = values.join(&b", "[..]);
    let dict = sfv::Parser::new(&joined)
        .parse_dictionary()
        .map_err(|_| DigestError::Malformed)?;
    let mut best: Option<Expected> = None;
    for (key, entry) in &dict {
        let algorithm = match key.as_str() {
            "sha-512" => Algorithm::Sha512,
            "sha-256" => Algorithm::Sha256,
            "sm3" => Algorithm::Sm3,
            _ => continue,
        };
        let sfv::ListEntry::Item(item) = entry else {
            return Err(DigestError::Malformed);
        };
        let value = item
            .bare_item
            .as_byte_sequence()
            .ok_or(DigestError::Malformed)?;
        if value.len() != algorithm.output_len() {
            return Err(DigestError::Malformed);
        }
        if best
            .as_ref()
            .is_none_or(|b| b.algorithm.rank() < algorithm.rank())
        {
            best = Some(Expected {
                algorithm,
                value: value.to_vec(),
            });
        }
    }
    if best.is_none() {
        return Err(DigestError::Unsupported);
    }
    Ok(best)
}

/// A body that verifies its bytes against a claimed digest as they pass.
pub struct Verified<B> {
    inner: B,
    /// Taken when the content ends and the digest is compared.
    context: Option<Hasher>,
    expected: Vec<u8>,
}

impl<B> std::fmt::Debug for Verified<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified").finish_non_exhaustive()
    }
}

impl<B> Verified<B> {
    /// Wraps `inner`, which must produce the content `expected` was computed over.
    pub fn new(inner: B, expected: Expected) -> Self {
        Self {
            inner,
            context: Some(Hasher::new(expected.algorithm)),
            expected: expected.value,
        }
    }

    fn check(&mut self) -> Result<(), BoxError> {
        let got = self.context.take().map(Hasher::finish);
        // Not secret: a plain comparison is fine.
        if got.is_some_and(|d| d == self.expected) {
            Ok(())
        } else {
            Err(Box::new(DigestMismatch))
        }
    }
}

impl<B> Body for Verified<B>
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
        let Some(context) = this.context.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    context.update(data);
                    if !this.inner.is_end_stream() {
                        return Poll::Ready(Some(Ok(frame)));
                    }
                }
                // Trailers end the content, and so do its last bytes (an HTTP/1.1 writer whose
                // `Content-Length` is reached never polls for the end): verify before passing
                // them on.
                match this.check() {
                    Ok(()) => Poll::Ready(Some(Ok(frame))),
                    Err(e) => Poll::Ready(Some(Err(e))),
                }
            }
            Poll::Ready(Some(Err(e))) => {
                this.context = None;
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => match this.check() {
                Ok(()) => Poll::Ready(None),
                Err(e) => Poll::Ready(Some(Err(e))),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.context.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use http_body_util::BodyExt;

    fn header(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-digest", value.parse().unwrap());
        h
    }

    fn sf(alg: &'static ring::digest::Algorithm, body: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(ring::digest::digest(alg, body))
    }

    #[test]
    fn rfc_9530_example_parses() {
        // RFC 9530 §2, the digest of {"hello": "world"}.
        let h = header("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
        let e = expected(&h).unwrap().unwrap();
        assert_eq!(e.algorithm, Algorithm::Sha256);
        assert_eq!(
            e.value,
            ring::digest::digest(&ring::digest::SHA256, b"{\"hello\": \"world\"}").as_ref()
        );
    }

    #[test]
    fn the_strongest_known_algorithm_wins_and_unknown_ones_are_ignored() {
        let body = b"x";
        let h = header(&format!(
            "md5=:AAAA:, sha-256=:{}:, sha-512=:{}:",
            sf(&ring::digest::SHA256, body),
            sf(&ring::digest::SHA512, body)
        ));
        assert_eq!(expected(&h).unwrap().unwrap().algorithm, Algorithm::Sha512);
        assert_eq!(
            expected(&header("md5=:AAAA:")),
            Err(DigestError::Unsupported)
        );
        assert_eq!(
            expected(&header("sha-256=abc")),
            Err(DigestError::Malformed)
        );
        assert_eq!(
            expected(&header("sha-256=:AAAA:")),
            Err(DigestError::Malformed)
        );
        assert_eq!(expected(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn sm3_digests_are_verified_and_rank_below_sha_2() {
        // GB/T 32905 example: SM3("abc").
        let abc = Algorithm::Sm3.digest(b"abc");
        let hex = sluice_policy::hex::hex(&abc);
        assert_eq!(
            hex,
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        let field = |alg: &str, v: &[u8]| {
            format!(
                "{alg}=:{}:",
                base64::engine::general_purpose::STANDARD.encode(v)
            )
        };
        let only = expected(&header(&field("sm3", &abc))).unwrap().unwrap();
        assert_eq!((only.algorithm, only.value), (Algorithm::Sm3, abc.clone()));
        let both = format!(
            "{}, {}",
            field("sm3", &abc),
            field("sha-256", &Algorithm::Sha256.digest(b"abc"))
        );
        assert_eq!(
            expected(&header(&both)).unwrap().unwrap().algorithm,
            Algorithm::Sha256
        );
    }

    /// What `Content-Digest: sha-256=:…:` of `body` parses to.
    fn sha256_of(body: &[u8]) -> Expected {
        let field = format!("sha-256=:{}:", sf(&ring::digest::SHA256, body));
        expected(&header(&field)).unwrap().unwrap()
    }

    #[tokio::test]
    async fn a_mismatch_replaces_the_end_of_the_stream_with_an_error() {
        let body = b"{\"a\":1}";
        let good = sha256_of(body);
        let ok = Verified::new(
            http_body_util::Full::new(Bytes::from_static(body)),
            good.clone(),
        );
        assert_eq!(ok.collect().await.unwrap().to_bytes(), &body[..]);
        let bad = Verified::new(
            http_body_util::Full::new(Bytes::from_static(b"{\"a\":2}")),
            good,
        );
        let err = bad.collect().await.unwrap_err();
        assert!(err.is::<DigestMismatch>(), "{err}");
    }

    #[tokio::test]
    async fn a_mismatch_withholds_the_last_bytes_from_a_writer_that_stops_at_its_length() {
        // hyper's HTTP/1.1 writer stops polling once `Content-Length` bytes are written: the
        // content is verified with its last frame, not at an end it would never ask for.
        let body = b"{\"a\":1}";
        let good = sha256_of(body);
        let mut ok = Verified::new(
            http_body_util::Full::new(Bytes::from_static(body)),
            good.clone(),
        );
        let last = ok.frame().await.unwrap().unwrap();
        assert_eq!(last.into_data().unwrap(), &body[..]);
        assert!(ok.is_end_stream(), "verified with its last frame");
        let mut bad = Verified::new(
            http_body_util::Full::new(Bytes::from_static(b"{\"a\":2}")),
            good,
        );
        let err = bad.frame().await.unwrap().unwrap_err();
        assert!(err.is::<DigestMismatch>(), "{err}");
    }
}
