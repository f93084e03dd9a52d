//! Records and evidence: where a record starts and ends, the consent check that may drop it
//! whole, and the summary of what was disclosed.

use super::machine::{JsonRedactor, State};
use crate::engine::Format;
use crate::engine::summary::Summary;
use crate::program::FieldProgram;

impl JsonRedactor {
    /// Starts a record when the value is at the records node (or an NDJSON line). Returns true
    /// when it did.
    pub(super) fn maybe_begin_record(&mut self, at_record_node: bool, abs: u64) -> bool {
        let line = self.cfg.format == Format::Ndjson && self.stack.is_empty();
        if !(at_record_node || line) || self.rec.depth.is_some() {
            return false;
        }
        self.ev.records += 1;
        self.rec.depth = Some(self.stack.len());
        self.rec.subjects.clear();
        if self.cfg.consent.is_some() {
            self.rec.holding = true;
            self.rec.hold.clear();
            self.rec.saved_has_items = self.stack.last().is_some_and(|f| f.has_items);
            self.rec.limit = abs.saturating_add(self.cfg.limits.record_cap);
        }
        true
    }

    pub(super) fn end_record(&mut self) {
        self.rec.depth = None;
        self.ev.subject_count += self.rec.subjects.len() as u64;
        let withdrawn = match &self.cfg.consent {
            Some(list) => self.rec.subjects.iter().any(|s| list.is_withdrawn(s)),
            None => false,
        };
        self.ev.subjects.extend_from_slice(&self.rec.subjects);
        let line = self.cfg.format == Format::Ndjson && self.stack.is_empty();
        if self.rec.holding {
            self.rec.holding = false;
            self.rec.limit = u64::MAX;
            if withdrawn {
                self.ev.records_dropped += 1;
                self.rec.hold.clear();
                if let Some(top) = self.stack.last_mut() {
                    top.has_items = self.rec.saved_has_items;
                } else if self.cfg.format == Format::Json {
                    self.out.extend_from_slice(b"null");
                }
                return;
            }
            let hold = std::mem::take(&mut self.rec.hold);
            self.out.extend_from_slice(&hold);
            self.rec.hold = hold;
            self.rec.hold.clear();
        }
        if line {
            self.out.push(b'\n');
        }
    }

    #[inline]
    pub(super) fn after_value(&mut self, _program: &FieldProgram) {
        if self.rec.depth == Some(self.stack.len()) {
            self.end_record();
        }
        self.state = if self.stack.is_empty() {
            State::RootDone
        } else {
            State::After
        };
    }

    pub(super) fn summary(&mut self) -> Summary {
        self.ev.summary(&self.cfg.program)
    }
}
