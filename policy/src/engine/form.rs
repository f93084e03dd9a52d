//! `application/x-www-form-urlencoded` bodies: one record whose members are the form's keys.
//!
//! ## Strict syntax
//! A body is `key=value` pairs joined by `&`. Sluice reads what a conforming encoder writes and
//! refuses the rest, because every leniency is a place where two parsers disagree on what a
//! partner received (`invalid_form`):
//! - raw bytes other than letters, digits, `*-._~`, `+` and `%XX` escapes — so a `;` (which some
//!   frameworks split pairs on), a raw `=` inside a value, spaces and non-ASCII are refused;
//! - a pair without `=`, an empty key, an empty pair (`a=1&&b=2`, a leading or trailing `&`);
//! - a `%` not followed by two hex digits; escapes whose bytes are not UTF-8 (`invalid_utf8`);
//! - the same key twice after decoding (`duplicate_key`, as for JSON members), whether its pairs
//!   are kept or not.
//!
//! Keys match policy paths after decoding (`+` is a space): `applicant.name` is the member
//! `$["applicant.name"]`, never the path `$.applicant.name` — a framework that binds dotted
//! names onto nested objects sees only what the contract lists either way, since nothing else
//! goes out. A kept value goes out byte-exact as written; a masked or hashed value is encoded as
//! the WHATWG serializer would (`+` for a space, `%XX` for anything but `*-._` and
//! alphanumerics), and so is every key that goes out: how the source spelled a key (`n` or
//! `%6E`, `%6e` or `%6E`, each character its choice) is text no rule lists, a bit or two a
//! character for whatever the source wants to carry.

use super::EngineConfig;
use super::flat::{Flat, FlatEngine, Member, shell_fields};
use super::keyset::KeySets;
use super::text::Applied;
use super::violation::{Violation, ViolationKind as V};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a pair's first byte.
    PairStart,
    Key,
    Value,
}

/// The streaming filter for one form body.
///
/// A key and a value are decoded as they are read, in one pass over their bytes (most of a
/// form's bytes are escapes of values no rule lists: the whole work for those is that pass and
/// the UTF-8 check of what it decoded). The key is known at its `=`, so its duplicate check and
/// its member are settled before its value is read, and the value as written is gathered only
/// when it may go out as written.
pub(crate) struct FormRedactor {
    flat: Flat,
    state: State,
    /// Hex digits still owed by a `%` escape (0, 1 or 2), and the escape's value so far.
    escape: u8,
    escaped: u8,
    /// Bytes of the key or value being read, as written (each bounded by the token limit).
    raw_len: u64,
    pair_start: u64,
    /// Decoded keys seen so far (one level), and their total length.
    keys: KeySets,
    key_bytes: u64,
    /// The pair's key decoded (its member name), and its value decoded.
    decoded_key: Vec<u8>,
    decoded: Vec<u8>,
    /// The pair's member, known from its `=` on.
    member: Member,
    /// The value as written, gathered only for a member that goes out.
    value: Vec<u8>,
    any_out: bool,
    offset: u64,
    failed: Option<Violation>,
}

impl FlatEngine for FormRedactor {
    shell_fields!();

    fn walk_chunk(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Violation> {
        self.walk(chunk, out)
    }

    fn end(&mut self, out: &mut Vec<u8>) -> Result<(), Violation> {
        self.end_body(out)
    }
}

impl FormRedactor {
    pub(crate) fn new(cfg: EngineConfig) -> Self {
        Self {
            flat: Flat::new(cfg),
            state: State::PairStart,
            escape: 0,
            escaped: 0,
            raw_len: 0,
            pair_start: 0,
            keys: {
                let mut keys = KeySets::default();
                keys.push();
                keys
            },
            key_bytes: 0,
            // Sized for the usual pair, so a new body does not grow them byte by byte.
            decoded_key: Vec::with_capacity(64),
            decoded: Vec::with_capacity(256),
            member: Member::Stripped,
            value: Vec::new(),
            any_out: false,
            offset: 0,
            failed: None,
        }
    }

    fn end_body(&mut self, out: &mut Vec<u8>) -> Result<(), Violation> {
        if self.escape > 0 {
            return Err(self.flat.violation(V::Truncated, None, self.offset));
        }
        match self.state {
            State::PairStart if self.offset == 0 => {}
            State::PairStart | State::Key => {
                return Err(self.flat.violation(V::InvalidForm, None, self.offset));
            }
            State::Value => self.end_pair(out)?,
        }
        if self.offset > 0 {
            self.flat.end_record(out);
        }
        Ok(())
    }

    fn walk(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Violation> {
        let limit = self.flat.cfg.limits.max_token_len;
        if self.offset == 0 && !chunk.is_empty() {
            self.flat.begin_record(0);
        }
        let mut i = 0;
        while i < chunk.len() {
            // The fast path: a run of unreserved bytes and whole `%XX` escapes inside a key or a
            // value, decoded as it is read, up to a byte that ends it, breaks the syntax or passes
            // a limit (all left to the byte-at-a-time path).
            if self.state != State::PairStart && self.escape == 0 {
                let at = self.offset + i as u64;
                let room = (limit.saturating_sub(self.raw_len))
                    .min(self.flat.record_room(at))
                    .min((chunk.len() - i) as u64) as usize;
                let run = match self.state {
                    State::Key => decode_run(&chunk[i..i + room], &mut self.decoded_key),
                    _ => decode_run(&chunk[i..i + room], &mut self.decoded),
                };
                if run > 0 {
                    if self.state == State::Value && self.gathers() {
                        self.value.extend_from_slice(&chunk[i..i + run]);
                    }
                    self.raw_len += run as u64;
                    i += run;
                    continue;
                }
            }
            let b = chunk[i];
            let at = self.offset + i as u64;
            i += 1;
            let bad = |s: &Self, kind| Err(s.flat.violation(kind, None, at));
            match (self.state, b) {
                _ if self.escape > 0 => {
                    let Some(d) = crate::hex::digit(b) else {
                        return bad(self, V::InvalidForm);
                    };
                    self.escaped = self.escaped << 4 | d;
                    self.escape -= 1;
                    self.written(b);
                    if self.escape == 0 {
                        self.decoded_byte(self.escaped);
                    }
                }
                (State::PairStart | State::Key, b'&') | (State::PairStart | State::Value, b'=') => {
                    return bad(self, V::InvalidForm);
                }
                (State::Key, b'=') => {
                    self.end_key()?;
                    self.state = State::Value;
                    self.decoded.clear();
                    self.value.clear();
                    self.raw_len = 0;
                }
                (State::Value, b'&') => {
                    self.end_pair(out)?;
                    self.state = State::PairStart;
                }
                _ => {
                    if self.state == State::PairStart {
                        self.state = State::Key;
                        self.pair_start = at;
                        self.decoded_key.clear();
                        self.raw_len = 0;
                    }
                    if b == b'%' {
                        self.escape = 2;
                        self.escaped = 0;
                    } else if let Some(d) = DECODED[usize::from(b)] {
                        self.decoded_byte(d);
                    } else {
                        return bad(self, V::InvalidForm);
                    }
                    self.written(b);
                }
            }
            if self.raw_len > limit {
                return bad(self, V::TokenTooLong);
            }
            self.flat
                .check_record_size(at)
                .map_err(|kind| self.flat.violation(kind, None, at))?;
        }
        Ok(())
    }

    /// Whether the value being read is gathered as written: its member may go out as written.
    fn gathers(&self) -> bool {
        matches!(self.member, Member::Ruled(_) | Member::Whole)
    }

    /// A byte of the key or value as written.
    fn written(&mut self, b: u8) {
        self.raw_len += 1;
        if self.state == State::Value && self.gathers() {
            self.value.push(b);
        }
    }

    /// A byte of the key or value decoded.
    fn decoded_byte(&mut self, d: u8) {
        match self.state {
            State::Key => self.decoded_key.push(d),
            _ => self.decoded.push(d),
        }
    }

    /// A key ended at its `=`: it must be UTF-8 and new; its member is looked up.
    fn end_key(&mut self) -> Result<(), Violation> {
        let at = self.pair_start;
        if std::str::from_utf8(&self.decoded_key).is_err() {
            return Err(self.flat.violation(V::InvalidUtf8, None, at));
        }
        let member = self.flat.member(&self.decoded_key);
        self.member = member;
        let fail = |s: &Self, kind| s.flat.violation(kind, Some(member), at);
        let limits = &self.flat.cfg.limits;
        self.key_bytes += self.decoded_key.len() as u64;
        if self.keys.len() >= limits.max_keys_per_object || self.key_bytes > limits.max_token_len {
            return Err(fail(self, V::TooManyKeys));
        }
        if self.keys.insert(&self.decoded_key, usize::MAX).is_err() {
            return Err(fail(self, V::DuplicateKey));
        }
        Ok(())
    }

    /// A pair ended: its value through the member's rule, out if kept.
    fn end_pair(&mut self, out: &mut Vec<u8>) -> Result<(), Violation> {
        let (at, member) = (self.pair_start, self.member);
        let fail = |s: &Self, kind| s.flat.violation(kind, Some(member), at);
        let Ok(text) = std::str::from_utf8(&self.decoded) else {
            return Err(fail(self, V::InvalidUtf8));
        };
        let applied = match self.flat.value(member, text) {
            Ok(applied) => applied,
            Err(kind) => return Err(fail(self, kind)),
        };
        if !self.gathers() {
            return Ok(());
        }
        let first = !self.any_out;
        self.any_out = true;
        let replacement = std::mem::take(&mut self.flat.scratch.out);
        let sink = self.flat.sink(out);
        if !first {
            sink.push(b'&');
        }
        encode(&self.decoded_key, sink);
        sink.push(b'=');
        match applied {
            Applied::Replaced => encode(replacement.as_bytes(), sink),
            Applied::AsWritten => sink.extend_from_slice(&self.value),
        }
        self.flat.scratch.out = replacement;
        Ok(())
    }
}

/// Bytes a form carries raw: letters, digits, `*-._~` and `+` (a space).
static UNRESERVED: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'*' | b'-' | b'.' | b'_' | b'~' | b'+');
        b += 1;
    }
    t
};

/// What each byte a form carries raw stands for: itself, or a space for `+`; `None` for a byte
/// it may not carry raw.
static DECODED: [Option<u8>; 256] = {
    let mut t = [None; 256];
    let mut b = 0;
    while b < 256 {
        if UNRESERVED[b] {
            t[b] = Some(if b == b'+' as usize { b' ' } else { b as u8 });
        }
        b += 1;
    }
    t
};

/// Decodes the prefix of `bytes` made of unreserved bytes and whole `%XX` escapes onto `out`;
/// returns its length.
fn decode_run(bytes: &[u8], out: &mut Vec<u8>) -> usize {
    // Never longer decoded than written: room made once (no memory touched), then pushed into.
    out.reserve(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(d) = DECODED[usize::from(b)] {
            out.push(d);
            i += 1;
        } else if b == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (
                crate::hex::digit(bytes[i + 1]),
                crate::hex::digit(bytes[i + 2]),
            )
        {
            out.push(high << 4 | low);
            i += 3;
        } else {
            break;
        }
    }
    i
}

/// Decodes `+` and `%XX` escapes of a token into `out` (a query's name or value: other bytes
/// are taken as they are). A `%` without two hex digits is `invalid_form`; the result must be
/// UTF-8.
pub(crate) fn decode(raw: &[u8], out: &mut Vec<u8>) -> Result<(), V> {
    // Never longer than the token: written by index into a buffer of its length, then cut to
    // what was written (no capacity check per byte).
    out.clear();
    out.resize(raw.len(), 0);
    let (mut i, mut n, mut high) = (0, 0, 0u8);
    while i < raw.len() {
        let (byte, step) = match raw[i] {
            b'%' => {
                let digit = |at: usize| raw.get(at).copied().and_then(crate::hex::digit);
                let (Some(h), Some(l)) = (digit(i + 1), digit(i + 2)) else {
                    return Err(V::InvalidForm);
                };
                (h << 4 | l, 3)
            }
            b'+' => (b' ', 1),
            b => (b, 1),
        };
        out[n] = byte;
        high |= byte;
        n += 1;
        i += step;
    }
    out.truncate(n);
    // ASCII (no byte with its high bit set) is UTF-8.
    if high < 0x80 || std::str::from_utf8(out).is_ok() {
        Ok(())
    } else {
        Err(V::InvalidUtf8)
    }
}

/// Encodes text as the WHATWG urlencoded serializer does.
pub(crate) fn encode(text: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    /// The bytes that go out as themselves (a space as `+`); `None`: as `%XX`.
    static AS_IS: [Option<u8>; 256] = {
        let mut t = [None; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            if c.is_ascii_alphanumeric() || matches!(c, b'*' | b'-' | b'.' | b'_') {
                t[b] = Some(c);
            } else if c == b' ' {
                t[b] = Some(b'+');
            }
            b += 1;
        }
        t
    };
    out.reserve(text.len());
    for &b in text {
        match AS_IS[usize::from(b)] {
            Some(c) => out.push(c),
            None => {
                out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_reads_escapes_in_either_case_and_refuses_what_is_not_utf8() {
        let mut out = Vec::new();
        for (raw, want) in [
            (&b"a+b%2B%2bc"[..], "a b++c"),
            (b"%e5%BC%a0", "张"),
            (b"", ""),
            (b"%41%7e~", "A~~"),
        ] {
            decode(raw, &mut out).unwrap();
            assert_eq!(out, want.as_bytes(), "{raw:?}");
        }
        // A lone continuation byte, a surrogate, an overlong slash, a truncated sequence.
        for raw in [&b"%80"[..], b"%ED%A0%80", b"%C0%AF", b"x%E5%BC"] {
            assert_eq!(decode(raw, &mut out), Err(V::InvalidUtf8), "{raw:?}");
        }
        // An escape cut short or not hex.
        for raw in [&b"%"[..], b"a%4", b"%4g", b"%%41"] {
            assert_eq!(decode(raw, &mut out), Err(V::InvalidForm), "{raw:?}");
        }
    }
}
