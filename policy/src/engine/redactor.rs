//! [`Redactor`]: the filter of one body, dispatching to its format's engine.

use super::charset::{Charset, Transcoder};
use super::csv::CsvRedactor;
use super::flat::FlatEngine;
use super::form::FormRedactor;
use super::json::JsonRedactor;
use super::xml::{self, Sniffed, XmlRedactor};
use super::{EngineConfig, Format, Summary, Violation};

/// The streaming filter for one body. See [`engine`](super).
pub struct Redactor {
    inner: Inner,
    /// Set for a body in GB18030 or GBK.
    charset: Option<Box<Transcoder>>,
    /// The engine's UTF-8 output, before encoding (with a charset only).
    utf8: Vec<u8>,
    /// An unlabelled XML body's first bytes, held until its declaration says its charset.
    sniffing: Option<Vec<u8>>,
    failed: Option<Violation>,
}

// One redactor per body, held in place: boxing the JSON engine would cost every JSON body an
// allocation to save a few hundred bytes on the rarer formats.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Json(JsonRedactor),
    Csv(CsvRedactor),
    Form(FormRedactor),
    Xml(XmlRedactor),
}

impl Redactor {
    /// A redactor for one body in `cfg.format`.
    pub fn new(cfg: EngineConfig) -> Self {
        let charset = Transcoder::new(cfg.charset).map(Box::new);
        let sniffing =
            (cfg.format == Format::Xml && cfg.charset == Charset::Unlabelled).then(Vec::new);
        let inner = match cfg.format {
            Format::Json | Format::Ndjson => Inner::Json(JsonRedactor::new(cfg)),
            Format::Csv => Inner::Csv(CsvRedactor::new(cfg)),
            Format::Form => Inner::Form(FormRedactor::new(cfg)),
            Format::Xml => Inner::Xml(XmlRedactor::new(cfg)),
        };
        Self {
            inner,
            charset,
            utf8: Vec::new(),
            sniffing,
            failed: None,
        }
    }

    /// With an unlabelled XML body: holds `chunk` until the declaration names the charset
    /// (`last`: the body ends), then sets the charset up. Returns the bytes to filter now.
    fn sniff(&mut self, chunk: &[u8], last: bool) -> Result<Option<Vec<u8>>, Violation> {
        let Some(head) = self.sniffing.as_mut() else {
            return Ok(None);
        };
        head.extend_from_slice(chunk);
        let charset = match xml::sniff(head) {
            Sniffed::More if !last => return Ok(Some(Vec::new())),
            Sniffed::More => Charset::Utf8,
            Sniffed::Charset(c) => c,
            Sniffed::Unknown => {
                return Err(Violation {
                    kind: super::ViolationKind::InvalidEncoding,
                    path: "$".into(),
                    offset: 0,
                });
            }
        };
        if let Inner::Xml(x) = &mut self.inner {
            x.set_charset(charset);
        }
        self.charset = Transcoder::new(charset).map(Box::new);
        Ok(self.sniffing.take())
    }

    /// Filters the next chunk, appending what can be released to `out`. After a violation every
    /// call returns it again; the caller must abort the message (never send a prefix as if it
    /// were complete).
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Violation> {
        if let Some(v) = &self.failed {
            return Err(v.clone());
        }
        match self.sniff(chunk, false) {
            Ok(None) => {}
            Ok(Some(head)) if head.is_empty() => return Ok(()),
            Ok(Some(head)) => return self.feed(&head, out),
            Err(v) => {
                self.failed = Some(v.clone());
                return Err(v);
            }
        }
        if self.charset.is_none() {
            return self.inner.feed(chunk, out);
        }
        self.transcoded(chunk, out, false).map(|_| ())
    }

    /// Ends the body: the summary, or the violation if the body is incomplete or invalid.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<Summary, Violation> {
        if let Some(v) = &self.failed {
            return Err(v.clone());
        }
        match self.sniff(&[], true) {
            Ok(Some(head)) if !head.is_empty() => self.feed(&head, out)?,
            Ok(_) => {}
            Err(v) => {
                self.failed = Some(v.clone());
                return Err(v);
            }
        }
        if self.charset.is_none() {
            return self.inner.finish(out);
        }
        self.transcoded(&[], out, true)
            .map(|summary| summary.expect("the body's end gives a summary"))
    }

    /// A body in another charset: `chunk` decoded, the text filtered, what the engine releases
    /// encoded back into `out`; at the body's end (`last`) the summary, of the body's own bytes.
    fn transcoded(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<u8>,
        last: bool,
    ) -> Result<Option<Summary>, Violation> {
        let t = self.charset.as_deref_mut().expect("a charset to transcode");
        let (text, decoded) = t.decode(chunk, last);
        self.utf8.clear();
        let mut result = self
            .inner
            .feed(text.as_bytes(), &mut self.utf8)
            .and(decoded)
            .map(|()| None);
        if last {
            result = result.and_then(|_| self.inner.finish(&mut self.utf8).map(Some));
        }
        let result = result.and_then(|summary| {
            t.encode(&self.utf8, out, last)?;
            Ok(summary.map(|s| t.summary(s)))
        });
        result.inspect_err(|v| self.failed = Some(v.clone()))
    }

    /// Subject hashes gathered and not yet taken.
    pub fn pending_subjects(&self) -> usize {
        match &self.inner {
            Inner::Json(r) => r.pending_subjects(),
            Inner::Csv(r) => r.flat_ref().pending_subjects(),
            Inner::Form(r) => r.flat_ref().pending_subjects(),
            Inner::Xml(r) => r.flat_ref().pending_subjects(),
        }
    }

    /// Takes the subject hashes gathered so far, so that a long body does not accumulate them.
    pub fn take_subjects(&mut self) -> Vec<[u8; 32]> {
        match &mut self.inner {
            Inner::Json(r) => r.take_subjects(),
            Inner::Csv(r) => r.flat().take_subjects(),
            Inner::Form(r) => r.flat().take_subjects(),
            Inner::Xml(r) => r.flat().take_subjects(),
        }
    }
}

impl Inner {
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Violation> {
        match self {
            Inner::Json(r) => r.feed(chunk, out),
            Inner::Csv(r) => r.feed(chunk, out),
            Inner::Form(r) => r.feed(chunk, out),
            Inner::Xml(r) => r.feed(chunk, out),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<Summary, Violation> {
        match self {
            Inner::Json(r) => r.finish(out),
            Inner::Csv(r) => r.finish(out),
            Inner::Form(r) => r.finish(out),
            Inner::Xml(r) => r.finish(out),
        }
    }
}

impl std::fmt::Debug for Redactor {
    /// The format's engine state and counts only: a redactor's buffers hold body data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Json(r) => r.fmt(f),
            Inner::Csv(_) => f.write_str("Redactor(csv)"),
            Inner::Form(_) => f.write_str("Redactor(form)"),
            Inner::Xml(_) => f.write_str("Redactor(xml)"),
        }
    }
}
