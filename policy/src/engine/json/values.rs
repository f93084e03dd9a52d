//! What happens when a scalar ends: emitted values are closed, captured values go through their
//! rule (constraints, scan, mask, hash), subjects are hashed, and counters move.

use super::machine::{JsonRedactor, Lit, Scalar, Sink, Target};
use crate::engine::violation::ViolationKind as V;
use crate::mask::REDACTED;
use crate::program::FieldProgram;
use crate::rule::Action;

use crate::engine::tally::{HASHED, KEPT, MASKED, REDACTED as REDACTED_COUNT};

impl JsonRedactor {
    /// Called when a value's last byte has been read.
    pub(super) fn end_scalar(
        &mut self,
        program: &FieldProgram,
        kind: Scalar,
    ) -> Result<(), crate::engine::Violation> {
        match self.tok.sink {
            Sink::Discard => {
                if let Target::Node(n) = self.tok.target
                    && let Some(r) = program.node(n).rule
                {
                    // A `redact` rule: the value was validated, the marker goes out.
                    self.emit_prefix(program);
                    self.emit_str(REDACTED);
                    self.ev.rule_counts[r as usize][REDACTED_COUNT] += 1;
                }
            }
            Sink::Emit => {
                match kind {
                    Scalar::String => self.sink().push(b'"'),
                    Scalar::Literal(lit) => self.sink().extend_from_slice(lit.bytes()),
                    Scalar::Number => {}
                }
                if let Target::Node(n) = self.tok.target
                    && let Some(r) = program.node(n).rule
                {
                    self.ev.rule_counts[r as usize][KEPT] += 1;
                }
            }
            Sink::Capture => {
                let capture = std::mem::take(&mut self.tok.capture);
                let result = self.apply_rule(program, kind, &capture, None);
                self.tok.capture = capture;
                result?;
            }
        }
        self.after_value(program);
        Ok(())
    }

    fn emit_str(&mut self, s: &str) {
        let out = self.sink();
        out.push(b'"');
        crate::escape::write_json_string_body(out, s.as_bytes());
        out.push(b'"');
    }

    /// Puts a captured value through its node's rule. `raw` is the value as written (a
    /// string's interior or a number; a literal's bytes come from its kind); `valid` is the same
    /// bytes as text when the caller already has them so (read in place from a checked chunk).
    pub(super) fn apply_rule(
        &mut self,
        program: &FieldProgram,
        kind: Scalar,
        raw: &[u8],
        valid: Option<&str>,
    ) -> Result<(), crate::engine::Violation> {
        let Target::Node(n) = self.tok.target else {
            unreachable!("only rule nodes capture")
        };
        let node = program.node(n);
        let at = self.tok.start;
        let raw = match kind {
            Scalar::Literal(lit) => lit.bytes(),
            _ => raw,
        };
        // The decoded text: strings unescaped (into `decoded` when they have an escape);
        // numbers and literals as written.
        let mut decoded_buf = std::mem::take(&mut self.decoded);
        let text = match valid {
            Some(text) => text,
            None => std::str::from_utf8(raw).expect("validated UTF-8"),
        };
        let decoded = if kind == Scalar::String && self.tok.escape {
            decoded_buf.clear();
            crate::escape::unescape_str_into(&mut decoded_buf, text);
            &decoded_buf
        } else {
            text
        };
        if node.subject && kind != Scalar::Literal(Lit::Null) {
            let h = self
                .cfg
                .keys
                .subject
                .subject_hash_with(decoded, &mut self.scratch);
            self.rec.subjects.push(h);
        }
        let Some(r) = node.rule else { return Ok(()) };
        let r = r as usize;
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = match &program.rules[r].action {
            Action::Keep(k) => {
                if !k.kind.accepts(kind) {
                    return Err(self.violation(V::TypeMismatch, at));
                }
                // The type is checked above, so a bounded value is a validated number.
                let number = kind == Scalar::Number;
                crate::engine::text::check_keep(k, raw, number, decoded, &mut self.digits)
                    .map_err(|kind| self.violation(kind, at))?;
                let findings = if k.scan.is_empty() {
                    0
                } else {
                    crate::detect::scan(&k.scan, decoded, &mut scratch)
                };
                self.emit_prefix(program);
                if findings > 0 {
                    self.emit_str(&scratch);
                    self.ev.rule_counts[r][MASKED] += findings as u64;
                } else {
                    let out = self.sink();
                    if kind == Scalar::String {
                        out.push(b'"');
                        out.extend_from_slice(raw);
                        out.push(b'"');
                    } else {
                        out.extend_from_slice(raw);
                    }
                }
                self.ev.rule_counts[r][KEPT] += 1;
                Ok(())
            }
            Action::Mask(_) | Action::Hash(_) if kind == Scalar::Literal(Lit::Null) => {
                // null carries no data: it stays null.
                self.emit_prefix(program);
                self.sink().extend_from_slice(b"null");
                self.ev.rule_counts[r][KEPT] += 1;
                Ok(())
            }
            Action::Mask(m) => {
                let ok = matches!(kind, Scalar::String | Scalar::Number)
                    && crate::mask::mask(*m, decoded, &mut scratch);
                self.emit_prefix(program);
                if ok {
                    self.emit_str(&scratch);
                    self.ev.rule_counts[r][MASKED] += 1;
                } else {
                    self.emit_str(REDACTED);
                    self.ev.rule_counts[r][REDACTED_COUNT] += 1;
                }
                Ok(())
            }
            Action::Hash(alg) => {
                self.emit_prefix(program);
                if matches!(kind, Scalar::String | Scalar::Number) {
                    scratch.clear();
                    self.cfg
                        .keys
                        .pseudonym
                        .pseudonym(*alg, decoded, &mut scratch);
                    self.emit_str(&scratch);
                    self.ev.rule_counts[r][HASHED] += 1;
                } else {
                    self.emit_str(REDACTED);
                    self.ev.rule_counts[r][REDACTED_COUNT] += 1;
                }
                Ok(())
            }
            Action::Redact => {
                self.emit_prefix(program);
                self.emit_str(REDACTED);
                self.ev.rule_counts[r][REDACTED_COUNT] += 1;
                Ok(())
            }
        };
        self.scratch = scratch;
        self.decoded = decoded_buf;
        result
    }
}
