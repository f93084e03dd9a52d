//! Fast paths for what lies whole in the current chunk.
//!
//! The automaton in [`machine`](super::machine) can stop and resume at any byte, which costs a
//! store and a dispatch per byte and per token. Most of a body, though, is members and stripped
//! values that start and end inside one 64 KiB chunk. For those, this module parses with local
//! state only:
//!
//! - [`JsonRedactor::skip_whole`] validates a stripped value completely (strings, escapes, numbers
//!   with their range check, literals, nesting and depth) and returns where it ends;
//! - [`JsonRedactor::members`] runs through the members of an object at a trie node: it looks each
//!   key up, skips the values no rule wants, and puts a matched member's scalar value through
//!   the automaton's own value steps (where it goes, the member's prefix, the rule at its end)
//!   in one go. A matched container is handed to the automaton at its colon, exactly where the
//!   automaton would be after reading the key itself.
//!
//! Neither ever decides a violation. On anything unusual — an escape in a key, a token near its
//! limit, invalid JSON, the chunk's end — they give up, and the automaton starts over at the
//! same byte in the same state. So verdicts, offsets and output are the automaton's by
//! construction; the fast paths only decide how soon they are reached.

use super::machine::{JsonRedactor, Member, Scalar, Sink, State, Target};
use super::number::whole_number;
use crate::engine::Format;
use crate::engine::utf8::Checked;
use crate::escape::scan_plain;
use crate::program::FieldProgram;
use crate::rule::{Action, KeepKind};

#[inline]
fn is_ws(b: u8, ndjson: bool) -> bool {
    matches!(b, b' ' | b'\t' | b'\r') || (b == b'\n' && !ndjson)
}

#[inline]
fn skip_ws(buf: &[u8], mut i: usize, ndjson: bool) -> usize {
    // Minified JSON has none: one comparison says so.
    while let Some(&b) = buf.get(i) {
        if b > b' ' || !is_ws(b, ndjson) {
            break;
        }
        i += 1;
    }
    i
}

fn hex4(buf: &[u8], i: usize) -> Option<u16> {
    let digits = buf.get(i..i + 4)?;
    let mut v = 0u16;
    for &d in digits {
        v = v << 4 | (d as char).to_digit(16)? as u16;
    }
    Some(v)
}

/// Where a token whose bytes start at `start` must have ended: the end of `buf`, or its
/// `max_len` bytes, whichever comes first.
#[inline(always)]
fn token_stop(buf: &[u8], start: usize, max_len: u64) -> usize {
    buf.len()
        .min(start.saturating_add(usize::try_from(max_len).unwrap_or(usize::MAX)))
}

/// The end of a string whose interior starts at `i`, if it closes inside `buf` and within
/// `max_len` bytes, with valid escapes and no control characters.
#[inline(always)]
fn whole_string(buf: &[u8], i: usize, max_len: u64) -> Option<usize> {
    whole_string_escaped(buf, i, max_len).map(|(end, _)| end)
}

/// [`whole_string`], also saying whether the string has an escape.
#[inline(always)]
fn whole_string_escaped(buf: &[u8], mut i: usize, max_len: u64) -> Option<(usize, bool)> {
    let stop = token_stop(buf, i, max_len);
    let buf = &buf[..stop];
    let mut escaped = false;
    loop {
        i = scan_plain(buf, i, stop);
        match buf.get(i)? {
            b'"' => return Some((i + 1, escaped)),
            b'\\' => {
                escaped = true;
                i += 1;
                match buf.get(i)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 1,
                    b'u' => {
                        let v = hex4(buf, i + 1)?;
                        i += 5;
                        if (0xDC00..0xE000).contains(&v) {
                            return None;
                        }
                        if (0xD800..0xDC00).contains(&v) {
                            if buf.get(i..i + 2)? != b"\\u" {
                                return None;
                            }
                            let low = hex4(buf, i + 2)?;
                            if !(0xDC00..0xE000).contains(&low) {
                                return None;
                            }
                            i += 6;
                        }
                    }
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
}

/// A whole scalar (string, number or literal) at `buf[i]` that ends inside `buf`, checked as
/// the automaton checks one (token limit included): the index just past it, or `None` (also
/// for a container).
#[inline(always)]
fn whole_scalar(buf: &[u8], i: usize, max_len: u64) -> Option<usize> {
    match Scalar::starting_with(*buf.get(i)?)? {
        Scalar::String => whole_string(buf, i + 1, max_len),
        Scalar::Number => whole_number(buf, i).filter(|&end| ((end - i) as u64) < max_len),
        Scalar::Literal(lit) => {
            let end = i + lit.bytes().len();
            (buf.get(i..end)? == lit.bytes()).then_some(end)
        }
    }
}

impl JsonRedactor {
    /// A whole stripped value at `buf[i..]` (after whitespace) that ends inside `buf`: the
    /// index just past it, or `None` to leave the value to the automaton.
    #[inline]
    pub(super) fn skip_whole(&mut self, buf: &[u8], i: usize) -> Option<usize> {
        self.whole_value::<false>(buf, i)
    }

    /// A whole container at `buf[i]` inside a kept-whole subtree, ending inside `buf`, that
    /// the automaton would re-emit unchanged: minified (no whitespace) and with no escape in
    /// any key. Its keys are checked for duplicates like the automaton checks them. The index
    /// just past it, or `None` (nothing changed) to leave it to the automaton.
    pub(super) fn keep_whole(&mut self, buf: &[u8], i: usize) -> Option<usize> {
        let levels = self.keysets.depth();
        let end = self.whole_value::<true>(buf, i);
        if end.is_none() {
            self.keysets.truncate(levels);
        }
        end
    }

    /// A container at `buf[i]` that is kept whole (inside a subtree, or at a `keep = "subtree"`
    /// node) and that [`keep_whole`](Self::keep_whole) takes: copied to the output with the
    /// automaton's bookkeeping for a value (element count, record, rule count, prefix). The
    /// index just past it, or `None` (nothing changed) to leave it to the automaton.
    pub(super) fn copy_container(
        &mut self,
        program: &FieldProgram,
        buf: &[u8],
        i: usize,
    ) -> Option<usize> {
        // Held records are bounded byte by byte; they stay with the automaton.
        if self.rec.holding || self.cfg.consent.is_some() {
            return None;
        }
        let rule = match self.next_target(program) {
            Target::Subtree => None,
            Target::Node(n) => {
                let r = program.node(n).rule?;
                match &program.rules[r as usize].action {
                    Action::Keep(k) if k.kind == KeepKind::Subtree => Some((n, r)),
                    _ => return None,
                }
            }
            Target::Strip => return None,
        };
        let end = self.keep_whole(buf, i)?;
        self.root_seen = true;
        self.value_target(program);
        if let Some((n, r)) = rule {
            self.maybe_begin_record(program.node(n).record, self.offset + i as u64);
            self.ev.rule_counts[r as usize][0] += 1;
        }
        self.emit_prefix(program);
        self.sink().extend_from_slice(&buf[i..end]);
        self.after_value(program);
        Some(end)
    }

    /// Whitespace at `buf[i..]`: skipped, or with `KEEP` refused (kept bytes are copied as
    /// they are, and the automaton's output has none).
    #[inline]
    fn gap<const KEEP: bool>(&self, buf: &[u8], i: usize) -> Option<usize> {
        let ndjson = self.cfg.format == Format::Ndjson;
        if !KEEP {
            return Some(skip_ws(buf, i, ndjson));
        }
        match buf.get(i) {
            Some(&b) if is_ws(b, false) => None,
            _ => Some(i),
        }
    }

    fn whole_value<const KEEP: bool>(&mut self, buf: &[u8], i: usize) -> Option<usize> {
        let max_len = self.cfg.limits.max_token_len;
        // Opening a container is refused at this depth (as the automaton refuses it).
        let max_depth = self
            .cfg
            .limits
            .max_depth
            .min(127)
            .checked_sub(self.stack.len())?;
        let mut bits: u128 = 0;
        let mut depth = 0usize;
        let mut i = self.gap::<KEEP>(buf, i)?;
        'value: loop {
            // A value starts at `i`.
            let b = *buf.get(i)?;
            match b {
                b'{' | b'[' => {
                    if depth >= max_depth {
                        return None;
                    }
                    let is_obj = b == b'{';
                    bits = bits << 1 | u128::from(is_obj);
                    depth += 1;
                    if KEEP && is_obj {
                        self.keysets.push();
                    }
                    i = self.gap::<KEEP>(buf, i + 1)?;
                    let close = if is_obj { b'}' } else { b']' };
                    if *buf.get(i)? == close {
                        i += 1;
                        depth -= 1;
                        bits >>= 1;
                        if KEEP && is_obj {
                            self.keysets.pop();
                        }
                    } else if is_obj {
                        i = self.key_colon::<KEEP>(buf, i)?;
                        continue 'value;
                    } else {
                        continue 'value;
                    }
                }
                _ => i = whole_scalar(buf, i, max_len)?,
            }
            // After a value: close containers until one continues.
            loop {
                if depth == 0 {
                    return Some(i);
                }
                i = self.gap::<KEEP>(buf, i)?;
                let in_obj = bits & 1 == 1;
                match (*buf.get(i)?, in_obj) {
                    (b',', true) => {
                        i = self.gap::<KEEP>(buf, i + 1)?;
                        i = self.key_colon::<KEEP>(buf, i)?;
                        continue 'value;
                    }
                    (b',', false) => {
                        i = self.gap::<KEEP>(buf, i + 1)?;
                        continue 'value;
                    }
                    (b'}', true) | (b']', false) => {
                        i += 1;
                        depth -= 1;
                        bits >>= 1;
                        if KEEP && in_obj {
                            self.keysets.pop();
                        }
                    }
                    _ => return None,
                }
            }
        }
    }

    /// A key at `buf[i]` (its opening quote), its colon, and the whitespace after: the index of
    /// the value. With `KEEP` the key must be written without escapes, and is added to the
    /// innermost object's keys (a duplicate, or one key too many, leaves it to the automaton).
    #[inline]
    fn key_colon<const KEEP: bool>(&mut self, buf: &[u8], i: usize) -> Option<usize> {
        if *buf.get(i)? != b'"' {
            return None;
        }
        let (end, escaped) = whole_string_escaped(buf, i + 1, self.cfg.limits.max_token_len)?;
        if KEEP {
            if escaped {
                return None;
            }
            let key = &buf[i + 1..end - 1];
            self.keysets
                .insert(key, self.cfg.limits.max_keys_per_object)
                .ok()?;
        }
        let i = self.gap::<KEEP>(buf, end)?;
        if *buf.get(i)? != b':' {
            return None;
        }
        self.gap::<KEEP>(buf, i + 1)
    }

    /// A matched member's value from its colon at `buf[i..]`, when it is a scalar that ends
    /// inside `buf`: it goes through the automaton's own steps for a value (where it goes,
    /// the member's prefix, the rule at its end), fed the whole token at once. Returns the index
    /// after it, or `None` (nothing done) to leave it to the automaton.
    fn scalar_member(
        &mut self,
        program: &FieldProgram,
        buf: &[u8],
        text: Checked<'_>,
        i: usize,
    ) -> Result<Option<usize>, crate::engine::Violation> {
        let ndjson = self.cfg.format == Format::Ndjson;
        let max_len = self.cfg.limits.max_token_len;
        let colon = skip_ws(buf, i, ndjson);
        if buf.get(colon) != Some(&b':') {
            return Ok(None);
        }
        let v = skip_ws(buf, colon + 1, ndjson);
        let Some(&first) = buf.get(v) else {
            return Ok(None);
        };
        let Some(kind) = Scalar::starting_with(first) else {
            return Ok(None);
        };
        let whole = if kind == Scalar::String {
            whole_string_escaped(buf, v + 1, max_len)
        } else {
            whole_scalar(buf, v, max_len).map(|end| (end, false))
        };
        let Some((end, escaped)) = whole else {
            return Ok(None);
        };
        let target = self.tok.member_target;
        if let Target::Node(n) = target
            && let node = program.node(n)
            && let (Some(keep), Some(r)) = (node.as_written, node.rule)
            && keep.accepts(kind)
            && (kind != Scalar::Number || crate::decimal::readable_as_written(&buf[v..end]))
        {
            // Kept as written: the member's prefix and the value's bytes, nothing to capture
            // (what `value_sink`, the token's steps and `end_scalar` come to for this rule). A
            // number that says more than binary64 holds is left to the rule, which refuses it.
            self.emit_prefix(program);
            self.sink().extend_from_slice(&buf[v..end]);
            self.ev.rule_counts[r as usize][0] += 1;
            self.after_value(program);
            return Ok(Some(end));
        }
        let abs = self.offset + v as u64;
        let string = kind == Scalar::String;
        let sink = self.value_sink(program, target, kind, abs)?;
        self.start_token(target, sink, abs, string);
        let token = match kind {
            Scalar::String => &buf[v + 1..end - 1],
            Scalar::Number => &buf[v..end],
            Scalar::Literal(_) => &[],
        };
        match sink {
            Sink::Emit => {
                let out = self.sink();
                if string {
                    out.push(b'"');
                }
                out.extend_from_slice(token);
            }
            Sink::Capture => {
                // The rule reads the value where it lies, already known to be text.
                self.tok.escape = escaped;
                let valid = match kind {
                    Scalar::String => text.get(v + 1, end - 1),
                    Scalar::Number => text.get(v, end),
                    Scalar::Literal(_) => None,
                };
                self.apply_rule(program, kind, token, valid)?;
                self.after_value(program);
                return Ok(Some(end));
            }
            Sink::Discard => {}
        }
        self.end_scalar(program, kind)?;
        Ok(Some(end))
    }

    /// Runs through the members of the innermost object, a trie node's, from `i` (in state
    /// `ObjFirst`, `ObjNext` or `After`) up to the end of `buf`. Returns where the automaton
    /// takes over, with the state set for that byte: at a matched member's colon, at the
    /// object's close, or wherever the fast path gave up.
    pub(super) fn members(
        &mut self,
        program: &FieldProgram,
        buf: &[u8],
        text: Checked<'_>,
        mut i: usize,
    ) -> Result<usize, crate::engine::Violation> {
        let top = *self.stack.last().expect("members are inside objects");
        let Target::Node(n) = top.target else {
            return Ok(i);
        };
        let node = program.node(n);
        let ndjson = self.cfg.format == Format::Ndjson;
        let max_len = self.cfg.limits.max_token_len;
        loop {
            // `i` is after `{`, after `,`, or after a member's value.
            let mut j = skip_ws(buf, i, ndjson);
            if self.state == State::After {
                if buf.get(j) != Some(&b',') {
                    return Ok(i);
                }
                j = skip_ws(buf, j + 1, ndjson);
                // Progress is kept per member: the automaton resumes at the key.
                self.state = State::ObjNext;
                i = j;
            }
            if buf.get(j) != Some(&b'"') {
                return Ok(i);
            }
            let key_start = j + 1;
            let limit = token_stop(buf, key_start, max_len);
            let key_end = scan_plain(buf, key_start, limit);
            if buf[..limit].get(key_end) != Some(&b'"') {
                return Ok(i);
            }
            let key = &buf[key_start..key_end];
            if let Some((idx, child)) = node.child(key) {
                // The automaton's own key handling, as if it had read this key.
                self.tok.start = self.offset + j as u64;
                self.tok.escape = false;
                self.tok.in_key = false;
                self.key_matched(idx, child)?;
                self.state = State::Colon;
                self.tok.span_start = key_end;
                if program.node(child).record {
                    return Ok(key_end + 1);
                }
                match self.scalar_member(program, buf, text, key_end + 1)? {
                    Some(end) => {
                        i = end;
                        continue;
                    }
                    None => return Ok(key_end + 1),
                }
            }
            let mut v = skip_ws(buf, key_end + 1, ndjson);
            if buf.get(v) != Some(&b':') {
                return Ok(i);
            }
            v = skip_ws(buf, v + 1, ndjson);
            // Scalars, the usual stripped values, without the container machinery.
            let end = match buf.get(v) {
                Some(b'{' | b'[') => self.skip_whole(buf, v),
                _ => whole_scalar(buf, v, max_len),
            };
            let Some(end) = end else {
                return Ok(i);
            };
            self.ev.node_stripped[n as usize] += 1;
            let top = self.stack.last_mut().expect("open object");
            top.member = Member::Unlisted;
            top.count += 1;
            self.tok.member_target = Target::Strip;
            self.state = State::After;
            i = end;
        }
    }
}
