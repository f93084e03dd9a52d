//! [`Redactor`]: the filter of one body, dispatching to its format's engine.

use super::csv::CsvRedactor;
use super::form::FormRedactor;
use super::json::JsonRedactor;
use super::{EngineConfig, Format, Summary, Violation};

/// The streaming filter for one body. See [`engine`](super).
pub struct Redactor(Inner);

// One redactor per body, held in place: boxing the JSON engine would cost every JSON body an
// allocation to save a few hundred bytes on the rarer formats.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Json(JsonRedactor),
    Csv(CsvRedactor),
    Form(FormRedactor),
}

impl Redactor {
    /// A redactor for one body in `cfg.format`.
    pub fn new(cfg: EngineConfig) -> Self {
        Self(match cfg.format {
            Format::Json | Format::Ndjson => Inner::Json(JsonRedactor::new(cfg)),
            Format::Csv => Inner::Csv(CsvRedactor::new(cfg)),
            Format::Form => Inner::Form(FormRedactor::new(cfg)),
        })
    }

    /// Filters the next chunk, appending what can be released to `out`. After a violation every
    /// call returns it again; the caller must abort the message (never send a prefix as if it
    /// were complete).
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Violation> {
        match &mut self.0 {
            Inner::Json(r) => r.feed(chunk, out),
            Inner::Csv(r) => r.feed(chunk, out),
            Inner::Form(r) => r.feed(chunk, out),
        }
    }

    /// Ends the body: the summary, or the violation if the body is incomplete or invalid.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<Summary, Violation> {
        match &mut self.0 {
            Inner::Json(r) => r.finish(out),
            Inner::Csv(r) => r.finish(out),
            Inner::Form(r) => r.finish(out),
        }
    }

    /// Subject hashes gathered and not yet taken.
    pub fn pending_subjects(&self) -> usize {
        match &self.0 {
            Inner::Json(r) => r.pending_subjects(),
            Inner::Csv(r) => r.flat_ref().pending_subjects(),
            Inner::Form(r) => r.flat_ref().pending_subjects(),
        }
    }

    /// Takes the subject hashes gathered so far, so that a long body does not accumulate them.
    pub fn take_subjects(&mut self) -> Vec<[u8; 32]> {
        match &mut self.0 {
            Inner::Json(r) => r.take_subjects(),
            Inner::Csv(r) => r.flat().take_subjects(),
            Inner::Form(r) => r.flat().take_subjects(),
        }
    }
}

impl std::fmt::Debug for Redactor {
    /// The format's engine state and counts only: a redactor's buffers hold body data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Inner::Json(r) => r.fmt(f),
            Inner::Csv(_) => f.write_str("Redactor(csv)"),
            Inner::Form(_) => f.write_str("Redactor(form)"),
        }
    }
}
