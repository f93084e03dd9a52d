//! The grammar walker: a byte-at-a-time pushdown automaton over RFC 8259, with the policy trie
//! riding on its stack. See the module docs of [`engine`](super) for the overall shape.

use std::sync::Arc;

use super::keyset::KeySets;
use super::number::{NumScan, NumStep};
use super::summary::Summary;
use super::utf8::{Utf8Error, Utf8Stream};
use super::violation::{Violation, ViolationKind as V};
use super::{EngineConfig, Format};
use crate::compile::{FieldProgram, NodeId};
use crate::rule::{Action, KeepKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    E,
    ESign,
    Exp,
}

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

#[derive(Debug, Clone, Copy)]
pub(super) enum Member {
    None,
    Matched(NodeId),
    Unlisted,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Frame {
    is_obj: bool,
    target: Target,
    emit: bool,
    has_items: bool,
    count: u64,
    member: Member,
    seen_at: u32,
    record: bool,
}

/// Per-rule counters: kept, masked, hashed, redacted.
pub(super) type RuleCounts = [u64; 4];

/// The streaming filter for one body. See [`engine`](super).
pub struct Redactor {
    pub(super) cfg: EngineConfig,
    pub(super) state: State,
    pub(super) stack: Vec<Frame>,
    /// Absolute offset of the current chunk's first byte.
    pub(super) offset: u64,
    utf8: Utf8Stream,
    pub(super) failed: Option<Violation>,
    pub(super) root_seen: bool,

    // The current token.
    pub(super) tok_target: Target,
    pub(super) tok_sink: Sink,
    pub(super) tok_in_key: bool,
    pub(super) tok_start: u64,
    pub(super) tok_limit: u64,
    pub(super) tok_escape: bool,
    pub(super) span_start: usize,
    pub(super) capture: Vec<u8>,
    pub(super) key: Vec<u8>,
    pub(super) key_unescaped: Vec<u8>,
    pub(super) key_escape: bool,
    pub(super) member_target: Target,

    // Output: the caller's buffer while `feed` runs, and the held record.
    pub(super) out: Vec<u8>,
    pub(super) hold: Vec<u8>,
    pub(super) holding: bool,

    // Records.
    pub(super) record_depth: Option<usize>,
    pub(super) record_limit: u64,
    pub(super) record_saved_has_items: bool,
    pub(super) record_subjects: Vec<[u8; 32]>,

    // Duplicate detection.
    pub(super) seen: Vec<u64>,
    pub(super) keysets: KeySets,

    // Evidence.
    pub(super) rule_counts: Vec<RuleCounts>,
    pub(super) node_stripped: Vec<u64>,
    pub(super) records: u64,
    pub(super) records_dropped: u64,
    pub(super) subjects: Vec<[u8; 32]>,
    pub(super) subject_count: u64,
    pub(super) bytes_in: u64,
    pub(super) bytes_out: u64,
    pub(super) digest: ring::digest::Context,

    // The stripped-value skipper (skip.rs).
    pub(super) skip_active: bool,
    pub(super) skip_depth: u32,
    pub(super) skip_bits: u128,
    pub(super) skip_in_key: bool,
    pub(super) num: NumScan,

    // Scratch for values.
    pub(super) decoded: Vec<u8>,
    pub(super) scratch: String,
}

impl std::fmt::Debug for Redactor {
    /// State and counts only: a redactor's buffers hold body data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("format", &self.cfg.format)
            .field("state", &self.state)
            .field("depth", &self.stack.len())
            .field("offset", &self.offset)
            .field("records", &self.records)
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

/// Bytes that may appear as-is inside a string (anything but `"`, `\` and controls).
static PLAIN: [bool; 256] = {
    let mut t = [true; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = false;
        i += 1;
    }
    t[b'"' as usize] = false;
    t[b'\\' as usize] = false;
    t
};

/// Index of the first byte in `buf[i..stop]` that is `"`, `\` or a control character, or `stop`.
/// Eight bytes at a time (SWAR): the lowest flagged byte of each test is exact, so the lowest
/// over all tests is too.
#[inline]
pub(super) fn scan_plain(buf: &[u8], mut i: usize, stop: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while i + 8 <= stop {
        let w = u64::from_le_bytes(buf[i..i + 8].try_into().expect("8 bytes"));
        let q = w ^ (LO * b'"' as u64);
        let s = w ^ (LO * b'\\' as u64);
        let t =
            (q.wrapping_sub(LO) & !q | s.wrapping_sub(LO) & !s | w.wrapping_sub(LO * 0x20) & !w)
                & HI;
        if t != 0 {
            return i + (t.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < stop && PLAIN[buf[i] as usize] {
        i += 1;
    }
    i
}

fn hex_val(b: u8) -> Option<u16> {
    match b {
        b'0'..=b'9' => Some(u16::from(b - b'0')),
        b'a'..=b'f' => Some(u16::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u16::from(b - b'A' + 10)),
        _ => None,
    }
}

impl Redactor {
    /// A redactor for one body.
    pub fn new(cfg: EngineConfig) -> Self {
        let rules = cfg.program.rules.len();
        let nodes = cfg.program.nodes.len();
        let state = match cfg.format {
            Format::Json => State::Value,
            Format::Ndjson => State::LineStart,
        };
        Self {
            cfg,
            state,
            stack: Vec::with_capacity(16),
            offset: 0,
            utf8: Utf8Stream::default(),
            failed: None,
            root_seen: false,
            tok_target: Target::Strip,
            tok_sink: Sink::Discard,
            tok_in_key: false,
            tok_start: 0,
            tok_limit: u64::MAX,
            tok_escape: false,
            span_start: 0,
            capture: Vec::new(),
            key: Vec::new(),
            key_unescaped: Vec::new(),
            key_escape: false,
            member_target: Target::Strip,
            out: Vec::new(),
            hold: Vec::new(),
            holding: false,
            record_depth: None,
            record_limit: u64::MAX,
            record_saved_has_items: false,
            record_subjects: Vec::new(),
            seen: Vec::new(),
            keysets: KeySets::default(),
            rule_counts: vec![[0; 4]; rules],
            node_stripped: vec![0; nodes],
            records: 0,
            records_dropped: 0,
            subjects: Vec::new(),
            subject_count: 0,
            bytes_in: 0,
            bytes_out: 0,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
            skip_active: false,
            skip_depth: 0,
            skip_bits: 0,
            skip_in_key: false,
            num: NumScan::default(),
            decoded: Vec::new(),
            scratch: String::new(),
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
        self.bytes_in += chunk.len() as u64;
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

    /// Takes the subject hashes gathered so far, so that a long body does not accumulate them.
    pub fn take_subjects(&mut self) -> Vec<[u8; 32]> {
        std::mem::take(&mut self.subjects)
    }

    fn commit(&mut self, start: usize) {
        let new = &self.out[start..];
        self.digest.update(new);
        self.bytes_out += new.len() as u64;
    }

    fn feed_chunk(&mut self, chunk: &[u8]) -> Result<(), Violation> {
        let program = Arc::clone(&self.cfg.program);
        match self.utf8.check(chunk, self.offset) {
            Ok(()) => self.walk(&program, chunk, chunk.len()),
            Err(Utf8Error::Carried(at)) => Err(self.violation(V::InvalidUtf8, at)),
            Err(Utf8Error::InChunk(k)) => {
                self.walk(&program, chunk, k)?;
                if self.state == State::Str {
                    return Err(self.violation(V::InvalidUtf8, self.offset + k as u64));
                }
                // Outside a string interior a non-ASCII byte is a grammar error of its own.
                self.walk_from(&program, chunk, k, k + 1)?;
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
        !self.skip_active
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

    fn walk(&mut self, program: &FieldProgram, buf: &[u8], end: usize) -> Result<(), Violation> {
        self.walk_from(program, buf, 0, end)
    }

    fn walk_from(
        &mut self,
        program: &FieldProgram,
        buf: &[u8],
        mut i: usize,
        end: usize,
    ) -> Result<(), Violation> {
        let base = self.offset;
        if self.in_token() {
            self.span_start = i;
        }
        while i < end {
            let abs = base + i as u64;
            if abs >= self.record_limit {
                return Err(self.violation(V::RecordTooLarge, abs));
            }
            if self.skip_active {
                // Bounded by the record limit like everything else.
                let stop = self.record_limit.saturating_sub(base).min(end as u64) as usize;
                i = self.skip(buf, i, stop)?;
                continue;
            }
            let b = buf[i];
            match self.state {
                State::Str => {
                    let tok_stop = self.tok_limit.saturating_sub(base).min(end as u64) as usize;
                    let rec_stop = self.record_limit.saturating_sub(base).min(end as u64) as usize;
                    let stop = tok_stop.min(rec_stop).max(i);
                    i = scan_plain(buf, i, stop);
                    if i >= end || i == rec_stop {
                        continue;
                    }
                    match buf[i] {
                        b'"' => {
                            if self.tok_in_key
                                && self.key.is_empty()
                                && !self.tok_escape
                                && self.tok_sink == Sink::Capture
                            {
                                // The whole key is in this chunk: look it up in place.
                                let start = self.span_start;
                                self.span_start = i;
                                i += 1;
                                self.tok_in_key = false;
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
                            self.tok_escape = true;
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
                    if abs >= self.tok_limit {
                        return Err(self.violation(V::TokenTooLong, abs));
                    }
                    self.escape_byte(b, abs)?;
                    i += 1;
                }
                State::Num(n) => {
                    let lim = self.tok_limit.saturating_sub(base).min(end as u64) as usize;
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
                                    self.span_start = i;
                                }
                                b'{' | b'[' => self.begin_container(program, b == b'{', abs)?,
                                b'-' | b'0'..=b'9' => {
                                    self.begin_value(program, Scalar::Number, abs)?;
                                    self.span_start = i - 1;
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
                                i += 1;
                                self.begin_key(abs);
                                self.span_start = i;
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
                            if self.member_target == Target::Strip {
                                self.begin_skip();
                            } else {
                                self.state = State::Value;
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
        let bytes = &buf[self.span_start..to];
        self.span_start = to;
        match self.tok_sink {
            Sink::Discard => {}
            Sink::Emit => {
                if self.holding {
                    self.hold.extend_from_slice(bytes)
                } else {
                    self.out.extend_from_slice(bytes)
                }
            }
            Sink::Capture if self.tok_in_key => self.key.extend_from_slice(bytes),
            Sink::Capture => self.capture.extend_from_slice(bytes),
        }
    }

    /// The output buffer: the held record, or the caller's buffer.
    #[inline]
    pub(super) fn sink(&mut self) -> &mut Vec<u8> {
        if self.holding {
            &mut self.hold
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

    #[inline]
    fn begin_key(&mut self, abs: u64) {
        let top = self.stack.last().expect("keys are inside objects");
        self.tok_in_key = true;
        self.tok_escape = false;
        self.tok_start = abs;
        self.tok_limit = (abs + 1).saturating_add(self.cfg.limits.max_token_len);
        self.tok_sink = if top.target == Target::Strip {
            Sink::Discard
        } else {
            Sink::Capture
        };
        self.key.clear();
        self.state = State::Str;
    }

    fn end_string(&mut self, program: &FieldProgram, _abs_after: u64) -> Result<(), Violation> {
        if self.tok_in_key {
            self.tok_in_key = false;
            self.key_done(program, None)?;
            self.state = State::Colon;
            Ok(())
        } else {
            self.end_scalar(program, Scalar::String)
        }
    }

    /// A key ended. `direct` is the raw key when it lay whole in the current chunk without
    /// escapes; otherwise it was captured into `self.key`.
    fn key_done(&mut self, program: &FieldProgram, direct: Option<&[u8]>) -> Result<(), Violation> {
        let key_at = self.tok_start;
        self.key_escape = self.tok_escape;
        let top_target = self.stack.last().expect("keys are inside objects").target;
        if let (Some(raw), Target::Subtree) = (direct, top_target) {
            // Subtree keys are re-emitted, so they must be kept.
            self.key.clear();
            self.key.extend_from_slice(raw);
        }
        let key: &[u8] = if let (Some(raw), Target::Node(_)) = (direct, top_target) {
            raw
        } else if self.tok_escape {
            self.key_unescaped.clear();
            crate::escape::unescape_into(&mut self.key_unescaped, &self.key);
            &self.key_unescaped
        } else {
            &self.key
        };
        let top = *self.stack.last().expect("keys are inside objects");
        let (member, target) = match top.target {
            Target::Strip => (Member::Unlisted, Target::Strip),
            Target::Subtree => {
                if let Err(dup) = self
                    .keysets
                    .insert(key, self.cfg.limits.max_keys_per_object)
                {
                    self.stack.last_mut().expect("open object").member = Member::Unlisted;
                    return Err(
                        self.violation(if dup { V::DuplicateKey } else { V::TooManyKeys }, key_at)
                    );
                }
                (Member::Unlisted, Target::Subtree)
            }
            Target::Node(n) => match program.node(n).child(key) {
                Some((idx, child)) => {
                    let word = top.seen_at as usize + idx / 64;
                    let bit = 1u64 << (idx % 64);
                    self.stack.last_mut().expect("open object").member = Member::Matched(child);
                    if self.seen[word] & bit != 0 {
                        return Err(self.violation(V::DuplicateKey, key_at));
                    }
                    self.seen[word] |= bit;
                    (Member::Matched(child), Target::Node(child))
                }
                None => {
                    self.node_stripped[n as usize] += 1;
                    (Member::Unlisted, Target::Strip)
                }
            },
        };
        let top = self.stack.last_mut().expect("open object");
        top.member = member;
        top.count += 1;
        self.member_target = target;
        Ok(())
    }

    /// The target of the value about to start.
    #[inline]
    fn value_target(&mut self, program: &FieldProgram) -> Target {
        let root = match self.cfg.format {
            Format::Json => program.root(),
            Format::Ndjson => program.record_node.unwrap_or(program.root()),
        };
        let Some(top) = self.stack.last_mut() else {
            return Target::Node(root);
        };
        if top.is_obj {
            return self.member_target;
        }
        top.count += 1;
        match top.target {
            Target::Node(n) => Target::Node(
                program
                    .node(n)
                    .any
                    .expect("array frames have an element node"),
            ),
            other => other,
        }
    }

    /// Writes `,` and the member key before a kept value.
    #[inline]
    pub(super) fn emit_prefix(&mut self, program: &FieldProgram) {
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        let comma = top.has_items;
        top.has_items = true;
        let (is_obj, target, member) = (top.is_obj, top.target, top.member);
        let out = if self.holding {
            &mut self.hold
        } else {
            &mut self.out
        };
        if comma {
            out.push(b',');
        }
        if is_obj {
            match (target, member) {
                (Target::Node(_), Member::Matched(n)) => {
                    out.extend_from_slice(&program.node(n).emit_key)
                }
                _ if !self.key_escape => {
                    out.push(b'"');
                    out.extend_from_slice(&self.key);
                    out.extend_from_slice(b"\":");
                }
                _ => {
                    out.push(b'"');
                    crate::escape::write_json_string_body(out, &self.key_unescaped);
                    out.extend_from_slice(b"\":");
                }
            }
        }
    }

    #[inline]
    fn start_token(&mut self, target: Target, sink: Sink, abs: u64, string: bool) {
        self.tok_target = target;
        self.tok_sink = sink;
        self.tok_in_key = false;
        self.tok_escape = false;
        self.tok_start = abs;
        self.tok_limit = (abs + u64::from(string)).saturating_add(self.cfg.limits.max_token_len);
        self.capture.clear();
    }

    #[inline]
    fn begin_value(
        &mut self,
        program: &FieldProgram,
        kind: Scalar,
        abs: u64,
    ) -> Result<(), Violation> {
        self.root_seen = true;
        let target = self.value_target(program);
        let string = kind == Scalar::String;
        let sink = match target {
            Target::Strip => Sink::Discard,
            Target::Subtree => {
                self.emit_prefix(program);
                Sink::Emit
            }
            Target::Node(n) => {
                let node = program.node(n);
                self.maybe_begin_record(node.record, abs);
                match node.rule.map(|r| &program.rules[r as usize].action) {
                    Some(Action::Keep(k)) if k.kind == KeepKind::Subtree => {
                        self.rule_counts[node.rule.expect("rule") as usize][0] += 1;
                        self.emit_prefix(program);
                        Sink::Emit
                    }
                    Some(Action::Keep(k)) => {
                        if !k.kind.accepts(kind) {
                            return Err(self.violation(V::TypeMismatch, abs));
                        }
                        if k.needs_whole_value() || node.subject {
                            Sink::Capture
                        } else {
                            self.emit_prefix(program);
                            Sink::Emit
                        }
                    }
                    Some(Action::Redact) if !node.subject => Sink::Discard,
                    Some(_) => Sink::Capture,
                    None if node.expects_object() || node.expects_array() => {
                        return Err(self.violation(V::WrongContainer, abs));
                    }
                    None if node.subject => Sink::Capture,
                    None => Sink::Discard,
                }
            }
        };
        self.start_token(target, sink, abs, string);
        if sink == Sink::Emit && string {
            self.sink().push(b'"');
        }
        Ok(())
    }

    fn begin_container(
        &mut self,
        program: &FieldProgram,
        is_obj: bool,
        abs: u64,
    ) -> Result<(), Violation> {
        self.root_seen = true;
        if self.stack.len() >= self.cfg.limits.max_depth {
            return Err(self.violation(V::DepthExceeded, abs));
        }
        let target = self.value_target(program);
        let mut record = false;
        let (target, emit) = match target {
            Target::Strip => (Target::Strip, false),
            Target::Subtree => (Target::Subtree, true),
            Target::Node(n) => {
                let node = program.node(n);
                record = self.maybe_begin_record(node.record, abs);
                match node.rule.map(|r| &program.rules[r as usize].action) {
                    Some(Action::Keep(k)) if k.kind == KeepKind::Subtree => {
                        self.rule_counts[node.rule.expect("rule") as usize][0] += 1;
                        (Target::Subtree, true)
                    }
                    Some(_) => return Err(self.violation(V::TypeMismatch, abs)),
                    None if (is_obj && node.expects_object())
                        || (!is_obj && node.expects_array()) =>
                    {
                        (Target::Node(n), node.emits || self.stack.is_empty())
                    }
                    None if node.expects_object() || node.expects_array() => {
                        return Err(self.violation(V::WrongContainer, abs));
                    }
                    None if node.subject => return Err(self.violation(V::TypeMismatch, abs)),
                    None => (Target::Strip, false),
                }
            }
        };
        if emit {
            self.emit_prefix(program);
            self.sink().push(if is_obj { b'{' } else { b'[' });
        }
        let seen_at = self.seen.len() as u32;
        if let (true, Target::Node(n)) = (is_obj, target) {
            let words = program.node(n).children.len().div_ceil(64);
            self.seen.resize(self.seen.len() + words, 0);
        }
        if is_obj && target == Target::Subtree {
            self.keysets.push();
        }
        self.stack.push(Frame {
            is_obj,
            target,
            emit,
            has_items: false,
            count: 0,
            member: Member::None,
            seen_at,
            record,
        });
        self.state = if is_obj {
            State::ObjFirst
        } else {
            State::ArrFirst
        };
        Ok(())
    }

    fn close(&mut self, program: &FieldProgram, is_obj: bool, _abs: u64) -> Result<(), Violation> {
        let f = self.stack.pop().expect("close implies an open container");
        debug_assert_eq!(f.is_obj, is_obj);
        self.seen.truncate(f.seen_at as usize);
        if is_obj && f.target == Target::Subtree {
            self.keysets.pop();
        }
        if f.emit {
            self.sink().push(if is_obj { b'}' } else { b']' });
        }
        let _ = f.record;
        self.after_value(program);
        Ok(())
    }

    /// Starts a record when the value is at the records node (or an NDJSON line). Returns true
    /// when it did.
    fn maybe_begin_record(&mut self, at_record_node: bool, abs: u64) -> bool {
        let line = self.cfg.format == Format::Ndjson && self.stack.is_empty();
        if !(at_record_node || line) || self.record_depth.is_some() {
            return false;
        }
        self.records += 1;
        self.record_depth = Some(self.stack.len());
        self.record_subjects.clear();
        if self.cfg.consent.is_some() {
            self.holding = true;
            self.hold.clear();
            self.record_saved_has_items = self.stack.last().is_some_and(|f| f.has_items);
            self.record_limit = abs.saturating_add(self.cfg.limits.record_cap);
        }
        true
    }

    fn end_record(&mut self) {
        self.record_depth = None;
        self.subject_count += self.record_subjects.len() as u64;
        let withdrawn = match &self.cfg.consent {
            Some(list) => self.record_subjects.iter().any(|s| list.is_withdrawn(s)),
            None => false,
        };
        self.subjects.extend_from_slice(&self.record_subjects);
        let line = self.cfg.format == Format::Ndjson && self.stack.is_empty();
        if self.holding {
            self.holding = false;
            self.record_limit = u64::MAX;
            if withdrawn {
                self.records_dropped += 1;
                self.hold.clear();
                if let Some(top) = self.stack.last_mut() {
                    top.has_items = self.record_saved_has_items;
                } else if self.cfg.format == Format::Json {
                    self.out.extend_from_slice(b"null");
                }
                return;
            }
            let hold = std::mem::take(&mut self.hold);
            self.out.extend_from_slice(&hold);
            self.hold = hold;
            self.hold.clear();
        }
        if line {
            self.out.push(b'\n');
        }
    }

    #[inline]
    pub(super) fn after_value(&mut self, _program: &FieldProgram) {
        if self.record_depth == Some(self.stack.len()) {
            self.end_record();
        }
        self.state = if self.stack.is_empty() {
            State::RootDone
        } else {
            State::After
        };
    }

    pub(super) fn summary(&mut self) -> Summary {
        let program = &self.cfg.program;
        let mut fields: Vec<super::FieldCount> = Vec::new();
        for (r, c) in self.rule_counts.iter().enumerate() {
            if c.iter().any(|&x| x > 0) {
                fields.push(super::FieldCount {
                    path: program.rules[r].path.clone(),
                    kept: c[0],
                    masked: c[1],
                    hashed: c[2],
                    redacted: c[3],
                    stripped: 0,
                });
            }
        }
        for (n, &s) in self.node_stripped.iter().enumerate() {
            if s > 0 {
                fields.push(super::FieldCount {
                    path: program.nodes[n].path.clone(),
                    stripped: s,
                    ..Default::default()
                });
            }
        }
        let digest = std::mem::replace(
            &mut self.digest,
            ring::digest::Context::new(&ring::digest::SHA256),
        )
        .finish();
        Summary {
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            records: self.records,
            records_dropped: self.records_dropped,
            fields,
            subjects: std::mem::take(&mut self.subjects),
            subject_count: self.subject_count,
            output_sha256: digest.as_ref().try_into().expect("sha256 is 32 bytes"),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swar_scan_agrees_with_the_scalar_scan() {
        let mut buf = vec![b'a'; 64];
        for special in [b'"', b'\\', 0u8, 0x1f, b'\n'] {
            for pos in 0..64 {
                buf.fill(b'a');
                buf[pos] = special;
                for start in 0..pos.min(9) {
                    assert_eq!(
                        scan_plain(&buf, start, 64),
                        pos,
                        "{special:#x} at {pos} from {start}"
                    );
                }
            }
        }
        let text = "客户 \u{7f} é ÿ".as_bytes();
        assert_eq!(scan_plain(text, 0, text.len()), text.len());
    }
}
