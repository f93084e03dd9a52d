//! Bodies: the partner-bound body streamed through the redaction engine, and content checks.
//!
//! [`RedactedBody`] pulls a chunk from the upstream body only when the partner is ready for more
//! (backpressure end to end), feeds it to the engine, and yields what the engine releases. A
//! violation, or an upstream that fails mid-body, ends the stream with an error: hyper then
//! resets the HTTP/2 stream or closes the HTTP/1.1 connection without the final chunk, so the
//! partner never sees a complete-looking message. Trailers from upstream are dropped (they can
//! carry data). The `Content-Length` of a redacted body is never sent.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use sluice_policy::engine::{Charset, Format, Redactor, Summary, Violation};

/// Errors inside bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type every response of the proxy has.
pub type ProxyBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// The body broke the contract after the response had started.
#[derive(Debug, thiserror::Error)]
#[error("policy violation: {0}")]
pub struct BodyViolation(pub Violation);

/// How a redacted body ended.
#[derive(Debug)]
pub enum Outcome<'a> {
    /// Completely sent.
    Sent(&'a Summary),
    /// Stopped by the engine.
    Violation(&'a Violation),
    /// The body being filtered failed (upstream closed, size limit, ...).
    SourceFailed(&'a BoxError),
    /// The body was dropped before its end (the receiving side went away).
    Dropped,
}

/// What happened to a redacted body, for the access log and (later) the ledger.
pub type OnFinish = Box<dyn FnOnce(Outcome<'_>) + Send>;

/// A body's [`OnFinish`], called exactly once: with how the body ended, or with
/// [`Outcome::Dropped`] when the body is dropped before it ended.
pub(crate) struct Finish(Option<OnFinish>);

impl Finish {
    pub(crate) fn new(f: OnFinish) -> Self {
        Self(Some(f))
    }

    /// Reports `outcome`, unless an outcome was reported already.
    pub(crate) fn call(&mut self, outcome: Outcome<'_>) {
        if let Some(f) = self.0.take() {
            f(outcome);
        }
    }

    /// True once an outcome was reported.
    pub(crate) fn is_done(&self) -> bool {
        self.0.is_none()
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.call(Outcome::Dropped);
    }
}

/// Receives subject hashes while a body streams (see [`crate::ledger::subjects`]); an error
/// stops the body: a disclosure the ledger cannot fully record does not go out.
pub type SubjectSink = Box<dyn FnMut(Vec<[u8; 32]>) -> std::io::Result<()> + Send>;

/// Subject hashes gathered before they are handed to the sink.
const SUBJECTS_PER_DRAIN: usize = 1024;

fn refused(v: &Violation) -> crate::shadow::compare::Result {
    crate::shadow::compare::Result::Refused(v.kind.code(), v.path.clone())
}

/// A body filtered through the engine as it streams.
pub struct RedactedBody<B> {
    inner: B,
    redactor: Redactor,
    done: bool,
    on_finish: Finish,
    subject_sink: Option<SubjectSink>,
    /// The `Content-Digest` trailer, once the last data frame is out.
    trailers: Option<http::HeaderMap>,
    /// Adds fields to the trailers once the digest is in them (the response signature).
    seal: Option<Seal>,
    /// SM3 of the output, for contracts that select it (`digest = "sm3"`).
    sm3: Option<crate::digest::Hasher>,
    /// The same input, offered to the shadow candidate (never waited for).
    shadow: Option<crate::shadow::Tap>,
}

/// Completes the trailers (which hold `content-digest`) before they are sent: sluice's RFC 9421
/// signature over the digest of what was actually sent.
pub type Seal = Box<dyn FnOnce(&mut http::HeaderMap) + Send>;

impl<B> std::fmt::Debug for RedactedBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedactedBody")
            .field("redactor", &self.redactor)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<B> RedactedBody<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, redactor: Redactor, on_finish: OnFinish) -> Self {
        Self {
            inner,
            redactor,
            done: false,
            on_finish: Finish::new(on_finish),
            subject_sink: None,
            trailers: None,
            seal: None,
            sm3: None,
            shadow: None,
        }
    }

    /// Offers every input chunk and the result to a shadow candidate.
    pub fn with_shadow(mut self, tap: Option<crate::shadow::Tap>) -> Self {
        self.shadow = tap;
        self
    }

    fn shadow_end(&mut self, live: impl FnOnce() -> crate::shadow::compare::Result) {
        if let Some(tap) = self.shadow.as_mut() {
            tap.end(live());
        }
    }

    /// Also digests the output with SM3: the trailer becomes `sha-256=:…:, sm3=:…:`.
    pub fn with_sm3(mut self) -> Self {
        self.sm3 = Some(crate::digest::Hasher::new(crate::digest::Algorithm::Sm3));
        self
    }

    /// Sets the seal on a body already being read (see [`Self::with_seal`]).
    pub fn set_seal(&mut self, seal: Seal) {
        self.seal = Some(seal);
    }

    /// Lets `seal` add fields to the trailers after `content-digest`.
    pub fn with_seal(mut self, seal: Seal) -> Self {
        self.seal = Some(seal);
        self
    }

    /// Hands subject hashes to `sink` as they accumulate, instead of holding them to the end.
    pub fn with_subject_sink(mut self, sink: SubjectSink) -> Self {
        self.subject_sink = Some(sink);
        self
    }

    fn fail(&mut self, outcome: Outcome<'_>) {
        self.done = true;
        self.on_finish.call(outcome);
    }
}

impl<B> Body for RedactedBody<B>
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
            if let Some(t) = this.trailers.take() {
                return Poll::Ready(Some(Ok(Frame::trailers(t))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue; // trailers: dropped
                    };
                    let mut out = Vec::with_capacity(data.len());
                    if let Some(tap) = this.shadow.as_mut() {
                        tap.chunk(&data);
                    }
                    if let Err(v) = this.redactor.feed(&data, &mut out) {
                        this.shadow_end(|| refused(&v));
                        this.fail(Outcome::Violation(&v));
                        return Poll::Ready(Some(Err(Box::new(BodyViolation(v)))));
                    }
                    if let Some(sink) = this.subject_sink.as_mut()
                        && this.redactor.pending_subjects() >= SUBJECTS_PER_DRAIN
                        && let Err(e) = sink(this.redactor.take_subjects())
                    {
                        let e: BoxError = Box::new(e);
                        this.fail(Outcome::SourceFailed(&e));
                        return Poll::Ready(Some(Err(e)));
                    }
                    if !out.is_empty() {
                        if let Some(h) = this.sm3.as_mut() {
                            h.update(&out);
                        }
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    let e: BoxError = e.into();
                    this.fail(Outcome::SourceFailed(&e));
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    let mut out = Vec::new();
                    match this.redactor.finish(&mut out) {
                        Ok(summary) => {
                            this.done = true;
                            let sm3 = this.sm3.take().map(|mut h| {
                                h.update(&out);
                                h.finish()
                            });
                            let mut trailers =
                                digest_fields(&summary.output_sha256, sm3.as_deref());
                            if let Some(seal) = this.seal.take() {
                                seal(&mut trailers);
                            }
                            this.trailers = Some(trailers);
                            this.shadow_end(|| {
                                crate::shadow::compare::Result::Passed(
                                    summary.fields.clone(),
                                    summary.output_sha256,
                                )
                            });
                            this.on_finish.call(Outcome::Sent(&summary));
                            if out.is_empty() {
                                continue;
                            }
                            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                        }
                        Err(v) => {
                            this.shadow_end(|| refused(&v));
                            this.fail(Outcome::Violation(&v));
                            return Poll::Ready(Some(Err(Box::new(BodyViolation(v)))));
                        }
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// A body whose first frame was already taken (to decide the response status) and is given back
/// first.
pub struct Prepend<B> {
    first: Option<Frame<Bytes>>,
    inner: B,
}

impl<B> std::fmt::Debug for Prepend<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepend").finish_non_exhaustive()
    }
}

impl<B> Prepend<B> {
    /// `first`, then the rest of `inner`.
    pub fn new(first: Option<Frame<Bytes>>, inner: B) -> Self {
        Self { first, inner }
    }
}

impl<B> Body for Prepend<B>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(f) = self.first.take() {
            return Poll::Ready(Some(Ok(f)));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.inner.is_end_stream()
    }
}

/// `Content-Digest: sha-256=:…:` (RFC 9530) of the bytes sluice sent — the digest the ledger's
/// `disclosure.end` records. HTTP/2 always carries it; HTTP/1.1 when the peer sent `TE: trailers`
/// (the response announces it with `Trailer: content-digest`).
pub fn digest_trailer(sha256: &[u8; 32]) -> http::HeaderMap {
    digest_fields(sha256, None)
}

/// As [`digest_trailer`], with `sm3=:…:` beside `sha-256` when the contract selects SM3.
pub fn digest_fields(sha256: &[u8; 32], sm3: Option<&[u8]>) -> http::HeaderMap {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    // Written once into one buffer, which becomes the header value's bytes.
    let mut value = String::with_capacity(56 + sm3.map_or(0, |s| 12 + s.len() * 4 / 3 + 4));
    value.push_str("sha-256=:");
    b64.encode_string(sha256, &mut value);
    value.push(':');
    if let Some(sm3) = sm3 {
        value.push_str(", sm3=:");
        b64.encode_string(sm3, &mut value);
        value.push(':');
    }
    let mut map = http::HeaderMap::with_capacity(1);
    map.insert(
        crate::headers::CONTENT_DIGEST,
        http::HeaderValue::from_maybe_shared(bytes::Bytes::from(value))
            .expect("base64 is a valid header value"),
    );
    map
}

/// What a `Content-Type` allows sluice to do with a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json` or `application/*+json`.
    Json,
    /// `application/x-ndjson`.
    Ndjson,
    /// `text/csv` (a header row required: `header=absent` is not filterable).
    Csv,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `application/xml`, `text/xml`, `application/soap+xml`, `application/*+xml`.
    Xml,
}

/// A filterable body's media type and character set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Media {
    /// The format.
    pub kind: MediaType,
    /// The `charset` parameter (UTF-8 when absent).
    pub charset: Charset,
    /// The type and subtype sluice names its output by: one of a fixed set, never the source's
    /// spelling (see [`Media::content_type`]).
    essence: &'static str,
}

impl Media {
    /// The engine format.
    pub fn format(self) -> Format {
        self.kind.format()
    }

    /// The `Content-Type` of the filtered body, written by sluice. A `Content-Type` is text no
    /// contract lists: copied from the source, its subtype (`application/vnd.<anything>+json`)
    /// and the spelling of its parameters would carry whatever the source put there to the
    /// partner. So the type is one of a fixed set of registered names (another `+json` or `+xml`
    /// type goes out as `application/json` or `application/xml`: what is left after filtering is
    /// a document of that syntax, not the source's representation), the charset its canonical
    /// label when the source named one (the body is re-encoded in it), and a CSV body says it
    /// has a header row (sluice's always has).
    pub fn content_type(self) -> http::HeaderValue {
        let charset = match self.charset {
            Charset::Unlabelled => "",
            Charset::Utf8 => "; charset=utf-8",
            Charset::Gb18030 => "; charset=gb18030",
            Charset::Gbk => "; charset=gbk",
        };
        let header = if self.kind == MediaType::Csv {
            "; header=present"
        } else {
            ""
        };
        if charset.is_empty() && header.is_empty() {
            return http::HeaderValue::from_static(self.essence);
        }
        http::HeaderValue::try_from(format!("{}{charset}{header}", self.essence))
            .expect("a media type of fixed ASCII parts is a valid header value")
    }
}

impl MediaType {
    /// The engine format.
    pub fn format(self) -> Format {
        match self {
            MediaType::Json => Format::Json,
            MediaType::Ndjson => Format::Ndjson,
            MediaType::Csv => Format::Csv,
            MediaType::Form => Format::Form,
            MediaType::Xml => Format::Xml,
        }
    }
}

/// Parses a `Content-Type` (RFC 9110: case-insensitive type and parameters, quoted values).
/// Only types sluice filters are filterable, with no charset or one sluice decodes (UTF-8; and
/// GB18030, GBK or GB2312 but for forms, whose escapes must be UTF-8), and for CSV
/// `header=present`; anything else is `None`. Whether a route filters the format is the route's
/// `formats`.
pub fn media_type(value: &str) -> Option<Media> {
    let mut parts = value.split(';');
    let essence = parts.next()?.trim().to_ascii_lowercase();
    let (ty, sub) = essence.split_once('/')?;
    // The type sluice says its output is (see [`Media::content_type`]): a registered name as
    // itself, any other structured-syntax suffix type as its syntax.
    let (media, essence) = match (ty, sub) {
        ("application", "json") => (MediaType::Json, "application/json"),
        ("application", "problem+json") => (MediaType::Json, "application/problem+json"),
        ("application", "x-ndjson") => (MediaType::Ndjson, "application/x-ndjson"),
        ("application", s) if s.ends_with("+json") && s.len() > 5 => {
            (MediaType::Json, "application/json")
        }
        ("text", "csv") => (MediaType::Csv, "text/csv"),
        ("application", "x-www-form-urlencoded") => {
            (MediaType::Form, "application/x-www-form-urlencoded")
        }
        ("application", "xml") => (MediaType::Xml, "application/xml"),
        ("text", "xml") => (MediaType::Xml, "text/xml"),
        ("application", "soap+xml") => (MediaType::Xml, "application/soap+xml"),
        ("application", "problem+xml") => (MediaType::Xml, "application/problem+xml"),
        ("application", s) if s.ends_with("+xml") && s.len() > 4 => {
            (MediaType::Xml, "application/xml")
        }
        _ => return None,
    };
    let mut charset = None;
    let mut header = false;
    for param in parts {
        let (name, val) = param.split_once('=')?;
        let name = name.trim().to_ascii_lowercase();
        let val = val.trim().trim_matches('"').to_ascii_lowercase();
        match name.as_str() {
            // A parameter given twice: which one a downstream parser believes is anyone's guess.
            "charset" if charset.is_none() => {
                let c = Charset::from_label(&val)?;
                if media == MediaType::Form && c != Charset::Utf8 {
                    return None;
                }
                charset = Some(c);
            }
            "header" if media == MediaType::Csv && !header && val == "present" => header = true,
            _ => return None,
        }
    }
    Some(Media {
        kind: media,
        // Without a parameter: UTF-8, but an XML body's declaration may name its charset.
        charset: charset.unwrap_or(Charset::Unlabelled),
        essence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        let kind = |v: &str| media_type(v).map(|m| m.kind);
        assert_eq!(kind("application/json"), Some(MediaType::Json));
        assert_eq!(
            kind("Application/JSON ; Charset=\"UTF-8\""),
            Some(MediaType::Json)
        );
        assert_eq!(kind("application/problem+json"), Some(MediaType::Json));
        assert_eq!(kind("application/x-ndjson"), Some(MediaType::Ndjson));
        assert_eq!(
            kind("text/csv; charset=utf-8; header=present"),
            Some(MediaType::Csv)
        );
        assert_eq!(
            kind("application/x-www-form-urlencoded"),
            Some(MediaType::Form)
        );
        assert_eq!(
            kind("application/soap+xml; charset=utf-8"),
            Some(MediaType::Xml)
        );
        assert_eq!(kind("text/xml"), Some(MediaType::Xml));
        let charset = |v: &str| media_type(v).map(|m| m.charset);
        assert_eq!(charset("text/csv; charset=GBK"), Some(Charset::Gbk));
        assert_eq!(
            charset("application/json; charset=gb2312"),
            Some(Charset::Gbk)
        );
        assert_eq!(
            charset("application/json; charset=\"gb18030\""),
            Some(Charset::Gb18030)
        );
        assert_eq!(charset("application/json"), Some(Charset::Unlabelled));
        assert_eq!(charset("text/xml; charset=utf-8"), Some(Charset::Utf8));
        for bad in [
            "text/plain",
            "application/json; charset=utf-16",
            "application/+json",
            "multipart/form-data",
            "text/csv; header=absent",
            "text/csv; charset=big5",
            "application/json; charset=utf-8; charset=gbk",
            "text/csv; header=present; header=present",
            "application/x-www-form-urlencoded; charset=gbk",
            "application/json; header=present",
            "application/+xml",
            "image/svg",
            "application/x-www-form-urlencoded; charset=iso-8859-1",
            "application/json; boundary=x",
            "",
        ] {
            assert_eq!(media_type(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_filtered_bodys_type_is_sluices_rendering_not_the_sources_text() {
        let rendered = |v: &str| media_type(v).map(|m| m.content_type());
        for (source, out) in [
            ("application/json", "application/json"),
            (
                "application/vnd.110101199003077777+json",
                "application/json",
            ),
            ("APPLICATION/Problem+JSON", "application/problem+json"),
            (
                "application/json ;CHARSET=\"Utf8\"",
                "application/json; charset=utf-8",
            ),
            (
                "application/x-ndjson; charset=gb2312",
                "application/x-ndjson; charset=gbk",
            ),
            ("text/csv", "text/csv; header=present"),
            (
                "text/csv; header=present; charset=GB18030",
                "text/csv; charset=gb18030; header=present",
            ),
            (
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded",
            ),
            ("Text/XML", "text/xml"),
            (
                "application/soap+xml; charset=UTF-8",
                "application/soap+xml; charset=utf-8",
            ),
            ("application/x-13812345678+xml", "application/xml"),
        ] {
            assert_eq!(
                rendered(source).as_ref().map(|v| v.to_str().unwrap()),
                Some(out),
                "{source}"
            );
        }
    }
}
