//! HTTP/1.1 framing verdicts from the raw bytes, before hyper tidies them up.
//!
//! hyper quietly drops a `Content-Length` that comes with `Transfer-Encoding`, merges repeated
//! equal `Content-Length` headers, and accepts bare-LF line endings — so by the time the service
//! sees a request, the evidence of ambiguous framing is gone. A filter in front of other parsers
//! must refuse such messages (RFC 9112 §6.1; request smuggling). [`SniffedIo`] watches the bytes
//! hyper reads on an HTTP/1.1 connection, finds each request head, and queues a verdict that the
//! service takes for the matching request (HTTP/1.1 requests on a connection are served in order).
//!
//! To find the next head it skips `Content-Length` bodies. A request with `Transfer-Encoding` is
//! answered with `Connection: close` (see the service), so nothing after a chunked body is ever
//! parsed and the sniffer can stop there.
//!
//! Knowing where each head begins and ends, it is also the clock of the head deadline
//! (`header_read_timeout_ms`): it tells the connection's [`crate::conn::Activity`], whose
//! watchdog drops a connection whose head takes too long — counted from the head's first byte,
//! never over the pause between requests.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The framing verdict for one request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Unambiguous.
    Ok,
    /// Ambiguous or forbidden; the request must be refused and the connection closed.
    Bad,
}

/// Verdicts, in request order, shared between the connection's IO and its service.
#[derive(Debug, Clone, Default)]
pub struct Verdicts(Arc<Mutex<VecDeque<Framing>>>);

impl Verdicts {
    /// The verdict for the next request, if its head was seen.
    pub fn next(&self) -> Option<Framing> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
    }

    fn push(&self, f: Framing) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(f);
    }
}

#[derive(Debug)]
enum Scan {
    Head(Vec<u8>),
    Body(u64),
    Off,
}

/// Judges one request head (request line and header lines, without the final empty line).
pub fn judge(head: &[u8]) -> Framing {
    let head = skip_empty_lines(head);
    let mut content_lengths = 0;
    let mut te: Vec<&[u8]> = Vec::new();
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, &b) in head.iter().enumerate() {
        if b == b'\n' {
            if i == 0 || head[i - 1] != b'\r' {
                return Framing::Bad; // bare LF
            }
            lines.push(&head[start..i - 1]);
            start = i + 1;
        } else if b == b'\r' && head.get(i + 1) != Some(&b'\n') {
            return Framing::Bad; // bare CR
        }
    }
    lines.push(&head[start..]);
    let lines: Vec<&[u8]> = lines.into_iter().skip_while(|l| l.is_empty()).collect();
    for line in lines.iter().skip(1) {
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            return Framing::Bad; // obs-fold
        }
        if line.contains(&0) {
            return Framing::Bad;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &line[..colon];
        if name.last().is_some_and(|b| b.is_ascii_whitespace()) {
            return Framing::Bad; // `Transfer-Encoding : chunked`
        }
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") {
            content_lengths += 1;
            if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                return Framing::Bad;
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            te.push(value);
        }
    }
    let te_ok = te.is_empty() || (te.len() == 1 && te[0].eq_ignore_ascii_case(b"chunked"));
    if content_lengths > 1 || (content_lengths == 1 && !te.is_empty()) || !te_ok {
        return Framing::Bad;
    }
    Framing::Ok
}

/// The head without the empty lines (`\r\n` or bare `\n`) that httparse skips before a
/// request line: they belong to no request, so they are not judged as part of one.
fn skip_empty_lines(mut head: &[u8]) -> &[u8] {
    loop {
        match head {
            [b'\r', b'\n', rest @ ..] | [b'\n', rest @ ..] => head = rest,
            _ => return head,
        }
    }
}

/// hyper's default limit on request header fields (more is refused with 431).
const MAX_HEADERS: usize = 100;

/// Where the request head at the start of `buf` ends, by the parser hyper itself uses
/// (httparse, with hyper's server defaults): `Ok(Some((head_len, body)))` once the head is
/// complete — `head_len` counts the empty lines httparse skips before a request line, so the
/// sniffer and hyper agree on where every request starts — `Ok(None)` while it is partial, `Err`
/// when hyper will refuse the bytes (and close the connection) itself.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, Body)>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(n)) => {
            let mut body = Body::None;
            for h in req.headers.iter() {
                if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    return Ok(Some((n, Body::Chunked)));
                }
                if h.name.eq_ignore_ascii_case("content-length") {
                    body = std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                        .map_or(Body::Chunked, Body::Length);
                }
            }
            Ok(Some((n, body)))
        }
        Err(_) => Err(()),
    }
}

/// What follows a head on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Nothing: the next head follows.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// A chunked body, or one whose length the sniffer cannot tell: the service answers such a
    /// request with `Connection: close`, so no later head on this connection is ever served.
    Chunked,
}

/// An IO stream that sniffs HTTP/1.1 request heads as hyper reads them.
#[derive(Debug)]
pub struct SniffedIo<T> {
    inner: T,
    scan: Scan,
    verdicts: Verdicts,
    max_head: usize,
    /// Told when a head begins and when it is complete (the head deadline's clock).
    heads: Option<Arc<crate::conn::Activity>>,
}

impl<T> SniffedIo<T> {
    /// Wraps `inner`; heads longer than `max_head` stop the sniffer (hyper refuses them anyway).
    /// `heads`, when given, learns when each head begins (its first byte) and ends.
    pub fn new(
        inner: T,
        verdicts: Verdicts,
        max_head: usize,
        heads: Option<Arc<crate::conn::Activity>>,
    ) -> Self {
        Self {
            inner,
            scan: Scan::Head(Vec::new()),
            verdicts,
            max_head,
            heads,
        }
    }

    fn head_read(&self) {
        if let Some(a) = &self.heads {
            a.head_read();
        }
    }

    fn observe(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match &mut self.scan {
                Scan::Off => return,
                Scan::Body(left) => {
                    let n = (*left).min(data.len() as u64);
                    *left -= n;
                    data = &data[n as usize..];
                    if *left == 0 {
                        self.scan = Scan::Head(Vec::new());
                    }
                }
                Scan::Head(buf) => {
                    let before = buf.len();
                    if before == 0
                        && let Some(a) = &self.heads
                    {
                        a.head_started();
                    }
                    let take = data
                        .len()
                        .min(self.max_head + 4 - before.min(self.max_head + 4));
                    buf.extend_from_slice(&data[..take]);
                    match parse_head(buf) {
                        Ok(Some((end, body))) => {
                            // `end` counts from the first byte of `buf`; what it took of `data`:
                            let used = end - before;
                            let verdict = judge(&buf[..end]);
                            self.verdicts.push(verdict);
                            self.head_read();
                            data = &data[used..];
                            self.scan = match body {
                                _ if verdict == Framing::Bad => Scan::Off,
                                Body::Chunked => Scan::Off,
                                Body::Length(n) if n > 0 => Scan::Body(n),
                                _ => Scan::Head(Vec::new()),
                            };
                            continue;
                        }
                        Ok(None) if buf.len() <= self.max_head => {}
                        // Too long, or bytes hyper refuses: hyper answers and closes; nothing
                        // after this point is served, so there is nothing more to judge.
                        _ => {
                            self.verdicts.push(Framing::Bad);
                            self.scan = Scan::Off;
                            self.head_read();
                        }
                    }
                    return;
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SniffedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            self.observe(&buf.filled()[before..]);
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SniffedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let ok = [
            &b"GET / HTTP/1.1\r\nHost: x"[..],
            b"POST / HTTP/1.1\r\nContent-Length: 5",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: Chunked",
        ];
        for h in ok {
            assert_eq!(judge(h), Framing::Ok, "{}", String::from_utf8_lossy(h));
        }
        let bad = [
            &b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked"[..],
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
            b"POST / HTTP/1.1\r\nTransfer-Encoding : chunked",
            b"POST / HTTP/1.1\r\nContent-Length: +5",
            b"POST / HTTP/1.1\r\nContent-Length: 0x10",
            b"GET / HTTP/1.1\r\nX: a\r\n b",
            b"GET / HTTP/1.1\nHost: x",
        ];
        for h in bad {
            assert_eq!(judge(h), Framing::Bad, "{}", String::from_utf8_lossy(h));
        }
    }

    /// Empty lines before a request line, which hyper skips: each must belong to the request
    /// that follows, not count as a request of its own (the verdicts shifted by one before).
    #[test]
    fn empty_lines_before_a_request_line_do_not_shift_the_verdicts() {
        for prefix in [&b"\r\n"[..], b"\r\n\r\n", b"\n", b"\n\n\r\n", b"\r\n\n"] {
            let mut stream = prefix.to_vec();
            stream.extend_from_slice(
                b"POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
            );
            let v = Verdicts::default();
            let mut s = SniffedIo::new((), v.clone(), 1024, None);
            for b in &stream {
                s.observe(std::slice::from_ref(b));
            }
            assert_eq!(
                (v.next(), v.next()),
                (Some(Framing::Bad), None),
                "{prefix:?}"
            );

            let mut stream = prefix.to_vec();
            stream.extend_from_slice(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
            stream.extend_from_slice(prefix);
            stream.extend_from_slice(b"POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nab");
            stream.extend_from_slice(prefix);
            stream.extend_from_slice(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
            for cut in 0..stream.len() {
                let v = Verdicts::default();
                let mut s = SniffedIo::new((), v.clone(), 1024, None);
                s.observe(&stream[..cut]);
                s.observe(&stream[cut..]);
                assert_eq!(
                    (v.next(), v.next(), v.next(), v.next()),
                    (
                        Some(Framing::Ok),
                        Some(Framing::Ok),
                        Some(Framing::Ok),
                        None
                    ),
                    "{prefix:?} cut {cut}"
                );
            }
        }
    }

    #[test]
    fn heads_are_found_across_reads_and_bodies_are_skipped() {
        let stream = b"POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nGET GET /b HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx";
        for cut in 0..stream.len() {
            let v = Verdicts::default();
            let mut s = SniffedIo::new((), v.clone(), 1024, None);
            s.observe(&stream[..cut]);
            s.observe(&stream[cut..]);
            assert_eq!(
                (v.next(), v.next(), v.next()),
                (Some(Framing::Ok), Some(Framing::Bad), None),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn the_head_clock_runs_from_a_heads_first_byte_to_its_end_and_not_over_a_body() {
        let a = Arc::new(crate::conn::Activity::default());
        let mut s = SniffedIo::new((), Verdicts::default(), 1024, Some(a.clone()));
        assert!(a.head_since().is_none());
        s.observe(b"POST /a HTTP/1.1\r\nContent-");
        assert!(a.head_since().is_some(), "a head under way");
        s.observe(b"Length: 4\r\n\r\nab");
        assert!(
            a.head_since().is_none(),
            "the head is complete; a body is no head"
        );
        s.observe(b"cd");
        assert!(a.head_since().is_none(), "between requests");
        s.observe(b"G");
        assert!(a.head_since().is_some(), "the next head began");
        s.observe(b"ET /b HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(a.head_since().is_none());
    }
}
