//! A rule applied to a value the body carries as text: a CSV cell, a form value.
//!
//! JSON values have types of their own; in these formats every value is text, so a rule's type
//! is a check on the text: `keep = "number"` requires an RFC 8259 number (compared exactly
//! against `min`/`max`), `"boolean"` requires `true` or `false`, `"null"` requires the empty
//! value. `"scalar"`, `"string"` and `"subtree"` accept any text. An empty value carries no data:
//! a mask or a hash leaves it empty, and it names no data subject.
//!
//! The caller decodes the value (percent-escapes, quotes) and re-encodes a replacement in its
//! own syntax; this module decides, counts and never sees the syntax.

use super::EngineKeys;
use super::tally::{HASHED, KEPT, MASKED, REDACTED, Tally};
use super::violation::ViolationKind as V;
use crate::decimal::Decimal;
use crate::program::{FieldProgram, NodeId};
use crate::rule::{Action, Keep, KeepKind};

/// What a value becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// It goes out exactly as written.
    AsWritten,
    /// It goes out as the replacement text left in the caller's `out`.
    Replaced,
}

/// Buffers reused from value to value.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The replacement, when there is one.
    pub(crate) out: String,
    digits: Vec<u8>,
    subject: String,
}

/// A kept value's constraints, in the order every format checks them: a number (`number`: the
/// value is one, or its rule's type says it must be) goes out as written only when it says no
/// more than a binary64 or 64-bit integer reader reads of it
/// ([`readable_as_written`](crate::decimal::readable_as_written): `number_range` otherwise);
/// then the range of a number (`lexeme` as written, compared exactly; it must be a number when
/// `number` says so or a bound is set), then `max_len` and `pattern` on the decoded `text`.
/// `digits` is reused scratch.
pub(crate) fn check_keep(
    k: &Keep,
    lexeme: &[u8],
    number: bool,
    text: &str,
    digits: &mut Vec<u8>,
) -> Result<(), V> {
    if number || k.min.is_some() || k.max.is_some() {
        let Some(value) = Decimal::parse_reusing(lexeme, std::mem::take(digits)) else {
            return Err(V::TypeMismatch);
        };
        let low = k.min.as_ref().is_some_and(|(m, _)| &value < m);
        let high = k.max.as_ref().is_some_and(|(m, _)| &value > m);
        *digits = value.into_buffer();
        if !crate::decimal::readable_as_written(lexeme) {
            return Err(V::NumberRange);
        }
        if low || high {
            return Err(V::OutOfRange);
        }
    }
    if let Some(max) = k.max_len
        && text.chars().count() > max as usize
    {
        return Err(V::TooLong);
    }
    if let Some((re, _)) = &k.pattern
        && !re.is_match(text)
    {
        return Err(V::PatternMismatch);
    }
    Ok(())
}

/// A kept text value's type (its `keep` kind read as a check on the text, see the module docs)
/// and then its constraints ([`check_keep`]).
pub(crate) fn check_kept_text(k: &Keep, text: &str, digits: &mut Vec<u8>) -> Result<(), V> {
    let number = match k.kind {
        KeepKind::Number => true,
        KeepKind::Boolean if text != "true" && text != "false" => return Err(V::TypeMismatch),
        KeepKind::Null if !text.is_empty() => return Err(V::TypeMismatch),
        _ => false,
    };
    check_keep(k, text.as_bytes(), number, text, digits)
}

/// Puts the text at `node` through its rule (when it has one) and records its subject (when the
/// node names one). `subjects` gathers the record's subject hashes.
pub(crate) fn apply(
    program: &FieldProgram,
    node: NodeId,
    text: &str,
    keys: &EngineKeys,
    tally: &mut Tally,
    subjects: &mut Vec<[u8; 32]>,
    scratch: &mut Scratch,
) -> Result<Applied, V> {
    let node = program.node(node);
    if node.subject && !text.is_empty() {
        subjects.push(keys.subject.subject_hash_with(text, &mut scratch.subject));
    }
    let Some(r) = node.rule else {
        return Ok(Applied::AsWritten);
    };
    let counts = &mut tally.rule_counts[r as usize];
    let out = &mut scratch.out;
    out.clear();
    match &program.rules[r as usize].action {
        Action::Keep(k) => {
            check_kept_text(k, text, &mut scratch.digits)?;
            counts[KEPT] += 1;
            if !k.scan.is_empty() {
                let findings = crate::detect::scan(&k.scan, text, out);
                if findings > 0 {
                    counts[MASKED] += findings as u64;
                    return Ok(Applied::Replaced);
                }
            }
            Ok(Applied::AsWritten)
        }
        Action::Mask(_) | Action::Hash(_) if text.is_empty() => {
            counts[KEPT] += 1;
            Ok(Applied::AsWritten)
        }
        Action::Mask(m) => {
            if crate::mask::mask(*m, text, out) {
                counts[MASKED] += 1;
            } else {
                out.clear();
                out.push_str(crate::mask::REDACTED);
                counts[REDACTED] += 1;
            }
            Ok(Applied::Replaced)
        }
        Action::Hash(alg) => {
            keys.pseudonym.pseudonym(*alg, text, out);
            counts[HASHED] += 1;
            Ok(Applied::Replaced)
        }
        Action::Redact => {
            out.push_str(crate::mask::REDACTED);
            counts[REDACTED] += 1;
            Ok(Applied::Replaced)
        }
    }
}
