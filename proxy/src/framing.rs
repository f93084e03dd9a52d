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

fn body_length(head: &[u8]) -> Option<Option<u64>> {
    // Some(Some(n)): a Content-Length body; Some(None): no body; None: chunked (stop sniffing).
    let text = String::from_utf8_lossy(head);
    let mut len = None;
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
        if name.eq_ignore_ascii_case("content-length") {
            len = value.trim().parse().ok();
        }
    }
    Some(len)
}

/// An IO stream that sniffs HTTP/1.1 request heads as hyper reads them.
#[derive(Debug)]
pub struct SniffedIo<T> {
    inner: T,
    scan: Scan,
    verdicts: Verdicts,
    max_head: usize,
}

impl<T> SniffedIo<T> {
    /// Wraps `inner`; heads longer than `max_head` stop the sniffer (hyper refuses them anyway).
    pub fn new(inner: T, verdicts: Verdicts, max_head: usize) -> Self {
        Self {
            inner,
            scan: Scan::Head(Vec::new()),
            verdicts,
            max_head,
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
                    let from = buf.len().saturating_sub(3);
                    let take = data
                        .len()
                        .min(self.max_head + 4 - buf.len().min(self.max_head + 4));
                    buf.extend_from_slice(&data[..take]);
                    let found = buf[from..]
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .map(|p| from + p);
                    let bare = buf[from..]
                        .windows(2)
                        .position(|w| w == b"\n\n")
                        .map(|p| from + p);
                    match (found, bare) {
                        (_, Some(b)) if found.is_none_or(|f| b < f + 2) => {
                            // A head ended by bare LFs: refuse it, and stop (hyper's framing is
                            // not ours to guess past this point).
                            self.verdicts.push(Framing::Bad);
                            self.scan = Scan::Off;
                        }
                        (Some(end), _) => {
                            let head = buf[..end].to_vec();
                            let consumed_before = buf.len() - take;
                            let used = end + 4 - consumed_before;
                            data = &data[used..];
                            self.verdicts.push(judge(&head));
                            self.scan = match body_length(&head) {
                                None => Scan::Off,
                                Some(Some(n)) if n > 0 => Scan::Body(n),
                                Some(_) => Scan::Head(Vec::new()),
                            };
                            continue;
                        }
                        _ => {
                            if buf.len() > self.max_head {
                                self.scan = Scan::Off;
                            }
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
            let new = buf.filled()[before..].to_vec();
            self.observe(&new);
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

    #[test]
    fn heads_are_found_across_reads_and_bodies_are_skipped() {
        let stream = b"POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nGET GET /b HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx";
        for cut in 0..stream.len() {
            let v = Verdicts::default();
            let mut s = SniffedIo::new((), v.clone(), 1024);
            s.observe(&stream[..cut]);
            s.observe(&stream[cut..]);
            assert_eq!(
                (v.next(), v.next(), v.next()),
                (Some(Framing::Ok), Some(Framing::Bad), None),
                "cut {cut}"
            );
        }
    }
}
