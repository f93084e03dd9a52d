//! The stripped-value skipper: full validation, no bookkeeping.
//!
//! Most of a typical body is stripped, and a stripped member needs no frames, no keys, no
//! output — only proof that it is valid JSON within the limits. When a member's key matches no
//! rule, the walker hands its value to this tight loop, which tracks nesting with a bit stack
//! (1 = object) and reuses the walker's string, escape, number and literal states, so it resumes
//! at any byte like the rest of the engine. It hands back when the value is complete.

use super::machine::{JsonRedactor, Lit, State};
use super::number::NumStep;
use crate::engine::Format;
use crate::engine::violation::{Violation, ViolationKind as V};
use crate::escape::scan_plain;

impl JsonRedactor {
    /// Enters the skipper for the value that starts at the next non-whitespace byte.
    pub(super) fn begin_skip(&mut self) {
        self.skip.active = true;
        self.skip.depth = 0;
        self.skip.bits = 0;
        self.skip.in_key = false;
        self.state = State::Value;
    }

    /// Runs the skipper over `buf[i..end]`; returns where it stopped (the value ended, or the
    /// chunk did).
    pub(super) fn skip(
        &mut self,
        buf: &[u8],
        mut i: usize,
        end: usize,
    ) -> Result<usize, Violation> {
        let base = self.offset;
        while i < end {
            let b = buf[i];
            let abs = base + i as u64;
            match self.state {
                State::Str => {
                    let tok_stop = self.tok.limit.saturating_sub(base).min(end as u64) as usize;
                    i = scan_plain(buf, i, tok_stop.max(i));
                    if i >= end {
                        break;
                    }
                    match buf[i] {
                        b'"' => {
                            i += 1;
                            if self.skip.in_key {
                                self.skip.in_key = false;
                                self.state = State::Colon;
                            } else if self.skip_scalar_done() {
                                return Ok(i);
                            }
                        }
                        _ if i >= tok_stop => {
                            return Err(self.violation(V::TokenTooLong, base + i as u64));
                        }
                        b'\\' => {
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
                            if self.skip_scalar_done() {
                                return Ok(i);
                            }
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
                        if self.skip_scalar_done() {
                            return Ok(i);
                        }
                    } else {
                        self.state = State::Lit { lit, pos: pos + 1 };
                    }
                }
                _ => {
                    if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
                        if b == b'\n' && self.cfg.format == Format::Ndjson {
                            return Err(self.violation(V::InvalidJson, abs));
                        }
                        i += 1;
                        continue;
                    }
                    i += 1;
                    match (self.state, b) {
                        (State::Value | State::ArrFirst, b'"') => {
                            self.skip_token(abs, State::Str, 1)
                        }
                        (State::Value | State::ArrFirst, b'{' | b'[') => {
                            if self.stack.len() + self.skip.depth as usize
                                >= self.cfg.limits.max_depth.min(127)
                            {
                                return Err(self.violation(V::DepthExceeded, abs));
                            }
                            let is_obj = b == b'{';
                            self.skip.bits = self.skip.bits << 1 | u128::from(is_obj);
                            self.skip.depth += 1;
                            self.state = if is_obj {
                                State::ObjFirst
                            } else {
                                State::ArrFirst
                            };
                        }
                        (State::Value | State::ArrFirst, b'-' | b'0'..=b'9') => {
                            let state = self.begin_number(b);
                            self.skip_token(abs, state, 0);
                        }
                        (State::Value | State::ArrFirst, b't') => {
                            self.state = State::Lit {
                                lit: Lit::True,
                                pos: 1,
                            }
                        }
                        (State::Value | State::ArrFirst, b'f') => {
                            self.state = State::Lit {
                                lit: Lit::False,
                                pos: 1,
                            }
                        }
                        (State::Value | State::ArrFirst, b'n') => {
                            self.state = State::Lit {
                                lit: Lit::Null,
                                pos: 1,
                            }
                        }
                        (State::ArrFirst, b']') | (State::ObjFirst, b'}') => {
                            if self.skip_close() {
                                return Ok(i);
                            }
                        }
                        (State::ObjFirst | State::ObjNext, b'"') => {
                            self.skip.in_key = true;
                            self.skip_token(abs, State::Str, 1);
                        }
                        (State::Colon, b':') => self.state = State::Value,
                        (State::After, b',') => {
                            self.state = if self.skip.bits & 1 == 1 {
                                State::ObjNext
                            } else {
                                State::Value
                            };
                        }
                        (State::After, b'}') if self.skip.bits & 1 == 1 => {
                            if self.skip_close() {
                                return Ok(i);
                            }
                        }
                        (State::After, b']') if self.skip.bits & 1 == 0 => {
                            if self.skip_close() {
                                return Ok(i);
                            }
                        }
                        _ => return Err(self.violation(V::InvalidJson, abs)),
                    }
                }
            }
        }
        Ok(i)
    }

    #[inline]
    fn skip_token(&mut self, abs: u64, state: State, quote: u64) {
        self.tok.start = abs;
        self.tok.limit = (abs + quote).saturating_add(self.cfg.limits.max_token_len);
        self.state = state;
    }

    /// A scalar inside the skipped value ended; true when it was the whole value.
    #[inline]
    fn skip_scalar_done(&mut self) -> bool {
        if self.skip.depth == 0 {
            self.skip.active = false;
            self.state = State::After;
            true
        } else {
            self.state = State::After;
            false
        }
    }

    /// A container inside the skipped value closed; true when it was the whole value.
    #[inline]
    fn skip_close(&mut self) -> bool {
        self.skip.depth -= 1;
        self.skip.bits >>= 1;
        self.skip_scalar_done()
    }
}
