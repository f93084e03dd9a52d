//! How a filtered body leaves sluice, towards a partner (a pull response or a pushed request).
//!
//! - **Streamed** (the default): the head goes out as soon as the first filtered bytes exist;
//!   `Content-Digest` of the bytes actually sent follows as a trailer (`Trailer:` announces it),
//!   with sluice's RFC 9421 signature beside it (`"content-digest";tr`) when a message-signing
//!   key is configured. HTTP/2 always carries trailers; HTTP/1.1 when the peer sent `TE: trailers`.
//! - **Buffered** (`buffer_limit = N` on the route): sluice holds the filtered body up to N bytes.
//!   If it ends within N, it goes out whole with `Content-Length`, and `Content-Digest` and the
//!   signature as header fields — for partners whose software drops trailers. A body that passes
//!   N streams on as above, starting with the bytes held.
//!
//! Either way the digest is the one the ledger's `disclosure.end` records, and a failure before
//! anything was sent is returned as an error (the caller answers with a status and a reason)
//! rather than a cut connection.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, header};
use http_body_util::BodyExt;

use crate::body::{BoxError, ProxyBody, RedactedBody};
use crate::signature::MessageSigner;

/// What sluice signs the message as.
#[derive(Debug, Clone)]
pub enum Signing {
    /// A response with this status.
    Response(u16),
    /// A request with this method and target URI.
    Request(String, String),
}

/// Seconds since the Unix epoch (signature `created`).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Signing {
    /// Signs the message and adds `signature-input` and `signature` to `into`: the trailers of a
    /// streamed body (`trailers` then holds the digest), or the head of a body sent whole. A
    /// signature that cannot be made is logged and left out: the digest still goes, and the
    /// ledger holds the same digest.
    fn sign_into(
        &self,
        signer: &MessageSigner,
        headers: &HeaderMap,
        trailers: Option<&HeaderMap>,
    ) -> Option<(HeaderValue, HeaderValue)> {
        let signed = match self {
            Signing::Response(status) => {
                signer.sign_response(*status, headers, trailers, unix_now())
            }
            Signing::Request(method, uri) => {
                signer.sign_request(method, uri, headers, trailers, unix_now())
            }
        };
        signed
            .map_err(|e| tracing::error!(error = %e, "message signature not made"))
            .ok()
    }
}

/// Adds a signature's two fields to `map`.
fn put(map: &mut HeaderMap, signed: Option<(HeaderValue, HeaderValue)>) {
    if let Some((input, signature)) = signed {
        map.insert(crate::headers::SIGNATURE_INPUT, input);
        map.insert(crate::headers::SIGNATURE, signature);
    }
}

/// Signs in the trailers once the digest of what was sent is known.
fn seal(signer: Arc<MessageSigner>, as_: Signing, headers: HeaderMap) -> crate::body::Seal {
    Box::new(move |trailers| {
        let signed = as_.sign_into(&signer, &headers, Some(trailers));
        put(trailers, signed);
    })
}

/// Reads `body` until it ends or holds more than `limit` bytes.
async fn buffer_up_to<B>(
    body: &mut B,
    limit: usize,
) -> Result<(Bytes, Option<HeaderMap>, bool), BoxError>
where
    B: http_body::Body<Data = Bytes, Error = BoxError> + Unpin,
{
    let mut data = BytesMut::new();
    let mut trailers = None;
    loop {
        match body.frame().await {
            None => return Ok((data.freeze(), trailers, true)),
            Some(Err(e)) => return Err(e),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(d) => {
                    data.extend_from_slice(&d);
                    if data.len() > limit {
                        return Ok((data.freeze(), None, false));
                    }
                }
                Err(frame) => trailers = frame.into_trailers().ok(),
            },
        }
    }
}

/// Completes `head` and returns the body to send: buffered whole when the route allows and it
/// fits, streamed otherwise (see the module docs). An error means nothing was sent yet.
pub async fn send(
    mut body: RedactedBody<ProxyBody>,
    head: &mut HeaderMap,
    signer: Option<&Arc<MessageSigner>>,
    as_: Signing,
    buffer_limit: Option<u32>,
) -> Result<ProxyBody, BoxError> {
    let first = match buffer_limit {
        Some(limit) => {
            let (data, trailers, whole) = buffer_up_to(&mut body, limit as usize).await?;
            if whole {
                return Ok(whole_body(data, trailers, head, signer, &as_));
            }
            Some(http_body::Frame::data(data))
        }
        None => None,
    };
    match signer {
        Some(signer) => {
            head.insert(
                header::TRAILER,
                HeaderValue::from_static("content-digest, signature-input, signature"),
            );
            body.set_seal(seal(signer.clone(), as_, head.clone()));
        }
        None => {
            head.insert(header::TRAILER, HeaderValue::from_static("content-digest"));
        }
    }
    // Without a buffer, wait for the first filtered bytes before the head: a body that fails that
    // early (a violation, a digest mismatch) gets a status and a reason instead of a cut
    // connection. Later failures can only abort the stream.
    let first = match first {
        Some(f) => Some(f),
        None => match body.frame().await {
            Some(Err(e)) => return Err(e),
            Some(Ok(frame)) => Some(frame),
            None => None,
        },
    };
    Ok(crate::body::Prepend::new(first, body).boxed_unsync())
}

/// A body that ended within the buffer: its digest (and signature) become header fields.
fn whole_body(
    data: Bytes,
    trailers: Option<HeaderMap>,
    head: &mut HeaderMap,
    signer: Option<&Arc<MessageSigner>>,
    as_: &Signing,
) -> ProxyBody {
    head.remove(header::TRAILER);
    head.insert(header::CONTENT_LENGTH, HeaderValue::from(data.len()));
    if let Some(digest) = trailers.as_ref().and_then(|t| t.get("content-digest")) {
        head.insert(crate::headers::CONTENT_DIGEST, digest.clone());
    }
    if let Some(signer) = signer {
        let signed = as_.sign_into(signer, head, None);
        put(head, signed);
    }
    http_body_util::Full::new(data)
        .map_err(|never| match never {})
        .boxed_unsync()
}
