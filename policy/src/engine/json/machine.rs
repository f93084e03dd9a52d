//! The grammar walker: a byte-at-a-time pushdown automaton over RFC 8259, with the policy trie
//! riding on its stack. See the module docs of [`engine`](super) for the overall shape.

use std::sync::Arc;

pub(crate) use super::number::Num;
use super::number::{NumFault, NumScan, NumStep};
use crate::engine::keyset::KeySets;
use crate::engine::summary::Summary;
use crate::engine::utf8::{Checked, Utf8Error, Utf8Stream};
use crate::engine::violation::{Violation, ViolationKind as V};
use crate::engine::{EngineConfig, Format};
use crate::escape::scan_plain;
use crate::program::{FieldProgram, NodeId};
use crate::rule::KeepKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lit {
    True,
    False,
    Null,
}

impl Lit {
    pub(super) fn bytes(self) -> &'static [u8] {
        match self {
            Lit::True => b"true",
            Lit::False => b"false",
            Lit::Null => b"null",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Expecting a value.
    Value,
    /// After `[`: a value or `]`.
    ArrFirst,
    /// After `{`: a key or `}`.
    ObjFirst,
    /// After `,` in an object: a key.
    ObjNext,
    /// After a key.
    Colon,
    /// After a value inside a container.
    After,
    /// After the document (JSON) or a line's value (NDJSON).
    RootDone,
    /// NDJSON: before a record.
    LineStart,
    Str,
    Esc,
    Hex {
        n: u8,
        acc: u16,
    },
    LowBs,
    LowU,
    LowHex {
        n: u8,
        acc: u16,
    },
    Num(Num),
    Lit {
        lit: Lit,
        pos: u8,
    },
}

/// What a value's rules are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// Validated, not emitted.
    Strip,
    /// Emitted whole (`keep = "subtree"` or inside one).
    Subtree,
    /// At a node of the trie.
    Node(NodeId),
}

/// Where the current token's bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sink {
    Discard,
    Emit,
    Capture,
}

/// The kind of a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scalar {
    String,
    Number,
    Literal(Lit),
}

impl Scalar {
    /// The kind of scalar whose first byte is `b`, if one starts with it.
    #[inline]
    pub(super) fn starting_with(b: u8) -> Option<Scalar> {
        Some(match b {
            b'"' => Scalar::String,
            b'-' | b'0'..=b'9' => Scalar::Number,
            b't' => Scalar::Literal(Lit::True),
            b'f' => Scalar::Literal(Lit::False),
            b'n' => Scalar::Literal(Lit::Null),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Member {
    None,
    Matched(NodeId),
    Unlisted,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Frame {
    pub(super) is_obj: bool,
    pub(super) target: Target,
    pub(super) emit: bool,
    pub(super) has_items: bool,
    pub(super) count: u64,
    pub(super) member: Member,
    pub(super) seen_at: u32,
    pub(super) record: bool,
}

/// The token being read and the member key it belongs to.
#[derive(Debug)]
pub(super) struct Token {
    pub(super) target: Target,
    pub(super) sink: Sink,
    pub(super) in_key: bool,
    pub(super) start: u64,
    pub(super) limit: u64,
    pub(super) escape: bool,
    pub(super) span_start: usize,
    pub(super) capture: Vec<u8>,
    pub(super) key: Vec<u8>,
    pub(super) key_unescaped: Vec<u8>,
    pub(super) key_escape: bool,
    pub(super) member_target: Target,
}

/// The record being held (a route with `records` releases one record at a time).
#[derive(Debug)]
pub(super) struct RecordState {
    pub(super) hold: Vec<u8>,
    pub(super) holding: bool,
    pub(super) depth: Option<usize>,
    pub(super) limit: u64,
    pub(super) saved_has_items: bool,
    pub(super) subjects: Vec<[u8; 32]>,
}

pub(crate) use crate::engine::tally::Tally as Evidence;

/// The stripped-value skipper's state.
#[derive(Debug)]
pub(super) struct Skip {
    pub(super) active: bool,
    pub(super) depth: u32,
    pub(super) bits: u128,
    pub(super) in_key: bool,
    pub(super) num: NumScan,
}

/// The streaming filter for one body. See [`engine`](super).
pub struct JsonRedactor {
    pub(super) cfg: EngineConfig,
    pub(super) state: State,
    pub(super) stack: Vec<Frame>,
    /// Absolute offset of the current chunk's first byte.
    pub(super) offset: u64,
    utf8: Utf8Stream,
    pub(super) failed: Option<Violation>,
    pub(super) root_seen: bool,

    /// The current token and member key (the grammar walker: machine, structure, values).
    pub(super) tok: Token,

    // Output: the caller's buffer while `feed` runs.
    pub(super) out: Vec<u8>,

    /// The record being held, when the route declares records (records.rs).
    pub(super) rec: RecordState,

    // Duplicate detection.
    pub(super) seen: Vec<u64>,
    pub(super) keysets: KeySets,

    /// What the summary reports: counts, subjects, bytes and the output's digest.
    pub(super) ev: Evidence,

    /// The stripped-value skipper (skip.rs, number.rs).
    pub(super) skip: Skip,

    // Scratch for values.
    pub(super) decoded: String,
    pub(super) digits: Vec<u8>,
    pub(super) scratch: String,
}

impl std::fmt::Debug for JsonRedactor {
    /// State and counts only: a redactor's buffers hold body data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonRedactor")
            .field("format", &self.cfg.format)
            .field("state", &self.state)
            .field("depth", &self.stack.len())
            .field("offset", &self.offset)
            .field("records", &self.ev.records)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

const WS: u8 = 1;
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = WS;
    t[b'\t' as usize] = WS;
    t[b'\r' as usize] = WS;
    t[b'\n' as usize] = WS;
    t
};

fn hex_val(b: u8) -> Option<u16> {
    crate::hex::digit(b).map(u16::from)
}

impl JsonRedactor {
    /// A redactor for one body.
    pub(crate) fn new(cfg: EngineConfig) -> Self {
        let ev = Evidence::new(&cfg.program);
        let state = match cfg.format {
            Format::Ndjson => State::LineStart,
            _ => State::Value,
        };
        Self {
            cfg,
            state,
            stack: Vec::with_capacity(16),
            offset: 0,
            utf8: Utf8Stream::default(),
            failed: None,
            root_seen: false,
            tok: Token {
                target: Target::Strip,
                sink: Sink::Discard,
                in_key: false,
                start: 0,
                limit: u64::MAX,
                escape: false,
                span_start: 0,
                capture: Vec::new(),
                key: Vec::new(),
                key_unescaped: Vec::new(),
                key_escape: false,
                member_target: Target::Strip,
            },
            out: Vec::new(),
            rec: RecordState {
                hold: Vec::new(),
                holding: false,
                depth: None,
                limit: u64::MAX,
                saved_has_items: false,
                subjects: Vec::new(),
            },
            seen: Vec::new(),
            keysets: KeySets::default(),
            ev,
            skip: Skip {
                active: false,
                depth: 0,
                bits: 0,
                in_key: false,
                num: NumScan::default(),
            },
            // Room for a typical value up front: one allocation each per body, where growing
            // from empty took three.
            decoded: String::with_capacity(64),
            digits: Vec::new(),
            scratch: String::with_capacity(64),
        }
    }

    /// Filters the next chunk, appending what can be released to `out`. After a violation every
    /// call returns it again; the caller must abort the message (never send a prefix as if it
    /// were complete).
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Violation> {
        if let Some(v) = &self.failed {
            return Err(v.clone());
        }
        std::mem::swap(&mut self.out, out);
        let start = self.out.len();
        let result = self.feed_chunk(chunk);
        self.commit(start);
        std::mem::swap(&mut self.out, out);
        self.offset += chunk.len() as u64;
        self.ev.bytes_in += chunk.len() as u64;
        if let Err(v) = &result {
            self.failed = Some(v.clone());
        }
        result
    }

    /// Ends the body: the summary, or the violation if the body is incomplete or invalid.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<Summary, Violation> {
        if let Some(v) = &self.failed {
            return Err(v.clone());
        }
        std::mem::swap(&mut self.out, out);
        let start = self.out.len();
        let result = self.finish_body();
        self.commit(start);
        std::mem::swap(&mut self.out, out);
        match result {
            Ok(()) => Ok(self.summary()),
            Err(v) => {
                self.failed = Some(v.clone());
                Err(v)
            }
        }
    }

    /// Subject hashes gathered and not yet taken.
    pub fn pending_subjects(&self) -> usize {
        self.ev.subjects.len()
    }

    /// Takes the subject hashes gathered so far, so that a long body does not accumulate them.
    pub fn take_subjects(&mut self) -> Vec<[u8; 32]> {
        std::mem::take(&mut self.ev.subjects)
    }

    fn commit(&mut self, start: usize) {
        self.ev.released(&self.out[start..]);
    }

    fn feed_chunk(&mut self, chunk: &[u8]) -> Result<(), Violation> {
        let program = Arc::clone(&self.cfg.program);
        match self.utf8.check(chunk, self.offset) {
            Ok(text) => self.walk(&program, chunk, text, chunk.len()),
            Err(Utf8Error::Carried(at)) => Err(self.violation(V::InvalidUtf8, at)),
            Err(Utf8Error::InChunk(k)) => {
                self.walk(&program, chunk, Checked::default(), k)?;
                if self.state == State::Str {
                    return Err(self.violation(V::InvalidUtf8, self.offset + k as u64));
                }
                // Outside a string interior a non-ASCII byte is a grammar error of its own.
                self.walk_from(&program, chunk, Checked::default(), k, k + 1)?;
                Err(self.violation(V::InvalidUtf8, self.offset + k as u64))
            }
        }
    }

    fn finish_body(&mut self) -> Result<(), Violation> {
        let end = self.offset;
        if let Err(at) = self.utf8.finish() {
            return Err(self.violation(V::InvalidUtf8, at));
        }
        match self.state {
            State::RootDone | State::LineStart => Ok(()),
            State::Value if self.stack.is_empty() && !self.root_seen => {
                Err(self.violation(V::EmptyBody, end))
            }
            State::Num(Num::Zero | Num::Int | Num::Frac | Num::Exp) if self.stack.is_empty() => {
                self.number_at_end()?;
                let program = Arc::clone(&self.cfg.program);
                self.end_scalar(&program, Scalar::Number)
            }
            _ => Err(self.violation(V::Truncated, end)),
        }
    }

    fn in_token(&self) -> bool {
        !self.skip.active
            && matches!(
                self.state,
                State::Str
                    | State::Esc
                    | State::Hex { .. }
                    | State::LowBs
                    | State::LowU
                    | State::LowHex { .. }
                    | State::Num(_)
            )
    }

    fn walk(
        &mut self,
        program: &FieldProgram,
        buf: &[u8],
        text: Checked<'_>,
        end: usize,
    ) -> Result<(), Violation> {
        self.walk_from(program, buf, text, 0, end)
    }

    fn walk_from(
        &mut self,
        program: &FieldProgram,
        buf: &[u8],
        text: Checked<'_>,
        mut i: usize,
        end: usize,
    ) -> Result<(), Violation> {
        let base = self.offset;
        if self.in_token() {
            self.tok.span_start = i;
        }
        if self.skip.active && i < end {
            // A stripped value continues from the previous chunk.
            let stop = self.rec.limit.saturating_sub(base).min(end as u64) as usize;
            i = self.skip(buf, i, stop)?;
        }
        while i < end {
            let abs = base + i as u64;
            // Records are only bounded while held for a consent check.
            if self.rec.holding && abs >= self.rec.limit {
                return Err(self.violation(V::RecordTooLarge, abs));
            }
            let b = buf[i];
            match self.state {
                State::Str => {
                    let tok_stop = self.tok.limit.saturating_sub(base).min(end as u64) as usize;
                    let rec_stop = self.rec.limit.saturating_sub(base).min(end as u64) as usize;
                    let stop = tok_stop.min(rec_stop).max(i);
                    i = scan_plain(buf, i, stop);
                    if i >= end || i == rec_stop {
                        continue;
                    }
                    match buf[i] {
                        b'"' => {
                            if self.tok.in_key
                                && self.tok.key.is_empty()
                                && !self.tok.escape
                                && self.tok.sink == Sink::Capture
                            {
                                // The whole key is in this chunk: look it up in place.
                                let start = self.tok.span_start;
                                self.tok.span_start = i;
                                i += 1;
                                self.tok.in_key = false;
                                self.key_done(program, Some(&buf[start..i - 1]))?;
                                self.state = State::Colon;
                                continue;
                            }
                            self.flush(buf, i);
                            i += 1;
                            self.end_string(program, base + i as u64)?;
                        }
                        _ if i >= tok_stop => {
                            return Err(self.violation(V::TokenTooLong, base + i as u64));
                        }
                        b'\\' => {
                            self.tok.escape = true;
                            self.state = State::Esc;
                            i += 1;
                        }
                        _ => return Err(self.violation(V::ControlCharacter, base + i as u64)),
                    }
                }
                State::Esc
                | State::Hex { .. }
                | State::LowBs
                | State::LowU
                | State::LowHex { .. } => {
                    if abs >= self.tok.limit {
                        return Err(self.violation(V::TokenTooLong, abs));
                    }
                    self.escape_byte(b, abs)?;
                    i += 1;
                }
                State::Num(n) => {
                    let lim = self.tok.limit.saturating_sub(base).min(end as u64) as usize;
                    match self.number_step(n, buf, i, lim.max(i), abs)? {
                        NumStep::To(j) => i = j,
                        NumStep::Ended => {
                            self.flush(buf, i);
                            self.end_scalar(program, Scalar::Number)?;
                        }
                    }
                }
                State::Lit { lit, pos } => {
                    let want = lit.bytes();
                    if b != want[pos as usize] {
                        return Err(self.violation(V::InvalidJson, abs));
                    }
                    i += 1;
                    if pos as usize + 1 == want.len() {
                        self.end_scalar(program, Scalar::Literal(lit))?;
                    } else {
                        self.state = State::Lit { lit, pos: pos + 1 };
                    }
                }
                _ => {
                    if CLASS[b as usize] == WS {
                        if b == b'\n' && self.cfg.format == Format::Ndjson {
                            match self.state {
                                State::RootDone => self.state = State::LineStart,
                                State::LineStart => {}
                                _ => return Err(self.violation(V::InvalidJson, abs)),
                            }
                        }
                        i += 1;
                        continue;
                    }
                    match self.state {
                        State::Value | State::ArrFirst => {
                            if b == b']' && self.state == State::ArrFirst {
                                self.close(program, false, abs)?;
                                i += 1;
                                continue;
                            }
                            i += 1;
                            match b {
                                b'"' => {
                                    self.begin_value(program, Scalar::String, abs)?;
                                    self.state = State::Str;
                                    self.tok.span_start = i;
                                }
                                b'{' | b'[' => {
                                    if let Some(j) =
                                        self.copy_container(program, &buf[..end], i - 1)
                                    {
                                        i = j;
                                    } else {
                                        self.begin_container(program, b == b'{', abs)?;
                                    }
                                }
                                b'-' | b'0'..=b'9' => {
                                    self.begin_value(program, Scalar::Number, abs)?;
                                    self.tok.span_start = i - 1;
                                    self.state = self.begin_number(b);
                                }
                                b't' | b'f' | b'n' => {
                                    let lit = match b {
                                        b't' => Lit::True,
                                        b'f' => Lit::False,
                                        _ => Lit::Null,
                                    };
                                    self.begin_value(program, Scalar::Literal(lit), abs)?;
                                    self.state = State::Lit { lit, pos: 1 };
                                }
                                0xEF if abs == 0 => {
                                    return Err(self.violation(V::ByteOrderMark, abs));
                                }
                                _ => return Err(self.violation(V::InvalidJson, abs)),
                            }
                        }
                        State::ObjFirst | State::ObjNext => match b {
                            b'"' => {
                                if !self.rec.holding {
                                    let state = self.state;
                                    let j = self.members(program, &buf[..end], text, i)?;
                                    if j != i || self.state != state {
                                        i = j;
                                        continue;
                                    }
                                }
                                i += 1;
                                self.begin_key(abs);
                                self.tok.span_start = i;
                            }
                            b'}' if self.state == State::ObjFirst => {
                                self.close(program, true, abs)?;
                                i += 1;
                            }
                            _ => return Err(self.violation(V::InvalidJson, abs)),
                        },
                        State::Colon => {
                            if b != b':' {
                                return Err(self.violation(V::InvalidJson, abs));
                            }
                            i += 1;
                            if self.tok.member_target != Target::Strip {
                                self.state = State::Value;
                            } else if !self.rec.holding
                                && let Some(j) = self.skip_whole(&buf[..end], i)
                            {
                                self.state = State::After;
                                i = j;
                            } else {
                                self.begin_skip();
                                let stop =
                                    self.rec.limit.saturating_sub(base).min(end as u64) as usize;
                                i = self.skip(buf, i, stop)?;
                            }
                        }
                        State::After => {
                            let top = self.stack.last().expect("After implies an open container");
                            match (b, top.is_obj) {
                                (b',', true) => self.state = State::ObjNext,
                                (b',', false) => self.state = State::Value,
                                (b'}', true) => self.close(program, true, abs)?,
                                (b']', false) => self.close(program, false, abs)?,
                                _ => return Err(self.violation(V::InvalidJson, abs)),
                            }
                            i += 1;
                        }
                        State::RootDone => return Err(self.violation(V::TrailingData, abs)),
                        State::LineStart => self.state = State::Value,
                        _ => unreachable!("token states are handled above"),
                    }
                }
            }
        }
        if self.in_token() {
            self.flush(buf, end);
        }
        Ok(())
    }

    pub(super) fn escape_byte(&mut self, b: u8, abs: u64) -> Result<(), Violation> {
        self.state = match self.state {
            State::Esc => match b {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => State::Str,
                b'u' => State::Hex { n: 0, acc: 0 },
                _ => return Err(self.violation(V::InvalidEscape, abs - 1)),
            },
            State::Hex { n, acc } => {
                let Some(v) = hex_val(b) else {
                    return Err(self.violation(V::InvalidEscape, abs));
                };
                let acc = acc << 4 | v;
                if n < 3 {
                    State::Hex { n: n + 1, acc }
                } else if (0xD800..0xDC00).contains(&acc) {
                    State::LowBs
                } else if (0xDC00..0xE000).contains(&acc) {
                    return Err(self.violation(V::LoneSurrogate, abs));
                } else {
                    State::Str
                }
            }
            State::LowBs if b == b'\\' => State::LowU,
            State::LowU if b == b'u' => State::LowHex { n: 0, acc: 0 },
            State::LowBs | State::LowU => return Err(self.violation(V::LoneSurrogate, abs)),
            State::LowHex { n, acc } => {
                let Some(v) = hex_val(b) else {
                    return Err(self.violation(V::InvalidEscape, abs));
                };
                let acc = acc << 4 | v;
                if n < 3 {
                    State::LowHex { n: n + 1, acc }
                } else if (0xDC00..0xE000).contains(&acc) {
                    State::Str
                } else {
                    return Err(self.violation(V::LoneSurrogate, abs));
                }
            }
            _ => unreachable!("escape states only"),
        };
        Ok(())
    }

    /// Moves the current token's bytes `buf[span_start..to]` to where they go.
    #[inline(always)]
    fn flush(&mut self, buf: &[u8], to: usize) {
        let bytes = &buf[self.tok.span_start..to];
        self.tok.span_start = to;
        match self.tok.sink {
            Sink::Discard => {}
            Sink::Emit => {
                if self.rec.holding {
                    self.rec.hold.extend_from_slice(bytes)
                } else {
                    self.out.extend_from_slice(bytes)
                }
            }
            Sink::Capture if self.tok.in_key => self.tok.key.extend_from_slice(bytes),
            Sink::Capture => self.tok.capture.extend_from_slice(bytes),
        }
    }

    /// The output buffer: the held record, or the caller's buffer.
    #[inline]
    pub(super) fn sink(&mut self) -> &mut Vec<u8> {
        if self.rec.holding {
            &mut self.rec.hold
        } else {
            &mut self.out
        }
    }

    /// A violation at `offset`, with the current structural path.
    pub(super) fn violation(&self, kind: V, offset: u64) -> Violation {
        let program = &self.cfg.program;
        let mut path = String::from("$");
        for f in &self.stack {
            if f.is_obj {
                match f.member {
                    Member::Matched(n) => path.push_str(&program.node(n).label),
                    Member::Unlisted => path.push_str(".?"),
                    Member::None => {}
                }
            } else if f.count > 0 {
                path.push_str(&format!("[{}]", f.count - 1));
            }
        }
        Violation { kind, path, offset }
    }
}

impl KeepKind {
    /// True when a scalar of `kind` satisfies this keep.
    pub(super) fn accepts(self, kind: Scalar) -> bool {
        matches!(
            (self, kind),
            (KeepKind::Scalar | KeepKind::Subtree, _)
                | (KeepKind::String, Scalar::String)
                | (KeepKind::Number, Scalar::Number)
                | (KeepKind::Boolean, Scalar::Literal(Lit::True | Lit::False))
                | (KeepKind::Null, Scalar::Literal(Lit::Null))
        )
    }
}

impl JsonRedactor {
    /// Starts a number at its first byte (`-` or a digit).
    #[inline]
    pub(super) fn begin_number(&mut self, first: u8) -> State {
        let (scan, at) = NumScan::begin(first);
        self.skip.num = scan;
        State::Num(at)
    }

    /// One step of the number grammar at `buf[i]` (see [`NumScan::step`]), within the token limit.
    #[inline]
    pub(super) fn number_step(
        &mut self,
        n: Num,
        buf: &[u8],
        i: usize,
        lim: usize,
        abs: u64,
    ) -> Result<NumStep, Violation> {
        let continues = matches!(buf[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-');
        if continues && abs >= self.tok.limit {
            return Err(self.violation(V::TokenTooLong, abs));
        }
        match self.skip.num.step(n, buf, i, lim) {
            Ok((step, at)) => {
                if let NumStep::To(_) = step {
                    self.state = State::Num(at);
                }
                Ok(step)
            }
            Err(NumFault::Grammar) => Err(self.violation(V::InvalidJson, abs)),
            Err(NumFault::Range) => Err(self.violation(V::NumberRange, self.tok.start)),
        }
    }

    /// The number ends with the body (a bare number as the whole document).
    pub(super) fn number_at_end(&self) -> Result<(), Violation> {
        if self.skip.num.ends_well() {
            Ok(())
        } else {
            Err(self.violation(V::NumberRange, self.tok.start))
        }
    }
}
