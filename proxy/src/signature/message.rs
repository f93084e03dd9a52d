//! A saved HTTP/1.1 response, as a partner or an auditor keeps it (`curl --raw -i`, or any
//! client's head, raw body and trailers): status line, header fields, the body with its framing
//! (chunked with trailers, `Content-Length`, or to the end of the file).

use http::{HeaderMap, HeaderName, HeaderValue};

/// A parsed saved response.
#[derive(Debug)]
pub struct SavedResponse {
    /// Status code.
    pub status: u16,
    /// Header fields.
    pub headers: HeaderMap,
    /// The body with its transfer framing removed.
    pub body: Vec<u8>,
    /// Trailer fields (chunked framing only).
    pub trailers: HeaderMap,
}

fn fields(parsed: &[httparse::Header<'_>]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for h in parsed {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| format!("bad field name {:?}", h.name))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| format!("bad value of {name}"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// Parses `bytes` as a saved HTTP/1.1 response.
pub fn parse(bytes: &[u8]) -> Result<SavedResponse, String> {
    let mut storage = [httparse::EMPTY_HEADER; 128];
    let mut response = httparse::Response::new(&mut storage);
    let head_len = match response.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return Err("the head (status line and fields) is incomplete".into());
        }
        Err(e) => return Err(format!("not an HTTP/1.1 response: {e}")),
    };
    let status = response.code.ok_or("no status code")?;
    let headers = fields(response.headers)?;
    let rest = &bytes[head_len..];
    let chunked = headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    if !chunked {
        let body = match headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        {
            Some(n) if n <= rest.len() => rest[..n].to_vec(),
            Some(n) => {
                return Err(format!(
                    "Content-Length {n} but only {} body bytes",
                    rest.len()
                ));
            }
            None => rest.to_vec(),
        };
        return Ok(SavedResponse {
            status,
            headers,
            body,
            trailers: HeaderMap::new(),
        });
    }
    let mut body = Vec::new();
    let mut at = 0usize;
    loop {
        let (consumed, size) = match httparse::parse_chunk_size(&rest[at..]) {
            Ok(httparse::Status::Complete(c)) => c,
            _ => return Err(format!("bad chunk size line at body byte {at}")),
        };
        at += consumed;
        if size == 0 {
            break;
        }
        let size = usize::try_from(size).map_err(|_| "chunk too large")?;
        let end = at
            .checked_add(size)
            .filter(|&e| e + 2 <= rest.len())
            .ok_or("the body ends inside a chunk (an incomplete message: the sender aborted it)")?;
        body.extend_from_slice(&rest[at..end]);
        if &rest[end..end + 2] != b"\r\n" {
            return Err(format!("chunk at body byte {at} does not end with CRLF"));
        }
        at = end + 2;
    }
    let mut storage = [httparse::EMPTY_HEADER; 32];
    let trailers = match httparse::parse_headers(&rest[at..], &mut storage) {
        Ok(httparse::Status::Complete((_, parsed))) => fields(parsed)?,
        _ => return Err("the trailer section is incomplete (no final CRLF)".into()),
    };
    Ok(SavedResponse {
        status,
        headers,
        body,
        trailers,
    })
}

/// What an offline check of a saved response found.
#[derive(Debug)]
pub struct MessageCheck {
    /// The body (transfer framing removed).
    pub body: Vec<u8>,
    /// Whether the body matches its `Content-Digest` (trailer, else header); `None` if it has
    /// none.
    pub digest_matches: Option<bool>,
    /// Sluice's signature: its `keyid` and `created`, or why it does not verify.
    pub signature: Result<(String, i64), super::SignatureError>,
    /// The ledger sequence number from `Sluice-Disclosure: origin/seq`.
    pub disclosure_seq: Option<u64>,
}

impl MessageCheck {
    /// Digest present and matching, signature valid.
    pub fn passed(&self) -> bool {
        self.digest_matches == Some(true) && self.signature.is_ok()
    }
}

/// Checks a saved response without trusting sluice: recomputes the digest of its body and
/// verifies sluice's signature with the institution's raw Ed25519 public key.
pub fn check(raw: &[u8], pubkey: &[u8]) -> Result<MessageCheck, String> {
    let saved = parse(raw)?;
    let digest_matches = match saved
        .trailers
        .get("content-digest")
        .or_else(|| saved.headers.get("content-digest"))
    {
        None => None,
        Some(field) => {
            let mut h = HeaderMap::new();
            h.insert("content-digest", field.clone());
            let e = crate::digest::expected(&h)
                .ok()
                .flatten()
                .ok_or("the Content-Digest is malformed or names no supported algorithm")?;
            Some(e.algorithm.digest(&saved.body) == e.value)
        }
    };
    let signature =
        super::verify::verify_response(saved.status, &saved.headers, &saved.trailers, pubkey);
    let disclosure_seq = saved
        .headers
        .get("sluice-disclosure")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit_once('/'))
        .and_then(|(_, n)| n.parse().ok());
    Ok(MessageCheck {
        body: saved.body,
        digest_matches,
        signature,
        disclosure_seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_body_and_trailers_are_separated() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n3\r\n{\"a\r\n3;ext=1\r\n\":1\r\n1\r\n}\r\n0\r\ncontent-digest: sha-256=:x:\r\n\r\n";
        let m = parse(raw).unwrap();
        assert_eq!(m.status, 200);
        assert_eq!(m.body, b"{\"a\":1}");
        assert_eq!(m.trailers["content-digest"], "sha-256=:x:");
    }

    #[test]
    fn a_message_cut_inside_a_chunk_is_refused() {
        let raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\n{\"a\":1";
        assert!(parse(raw).unwrap_err().contains("incomplete"));
    }

    #[test]
    fn content_length_body() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse(raw).unwrap().body, b"{}");
    }
}
