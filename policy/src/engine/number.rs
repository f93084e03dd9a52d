//! The number grammar (RFC 8259 §6), shared by the walker and the skipper, with an
//! interoperability check: a number must be one that IEEE 754 binary64 or a 64-bit integer can
//! hold (RFC 8259 §6 "good interoperability"), so that sluice and the partner's parser agree on
//! what was disclosed. Integers written without fraction or exponent must fit `i64`/`u64`;
//! other numbers must be zero or have a decimal exponent in `-307..=308`. Precision is not
//! checked: kept numbers are copied byte-exact, never re-encoded.

use super::machine::{Num, Redactor, State};
use super::violation::{Violation, ViolationKind as V};

const CAP: u128 = 1 << 100;

/// What the digits seen so far say about the number's magnitude.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NumScan {
    negative: bool,
    int: u128,
    int_digits: u32,
    frac_leading_zeros: u32,
    frac_nonzero: bool,
    fraction_or_exponent: bool,
    exp: i64,
    exp_negative: bool,
}

impl NumScan {
    fn interoperable(&self) -> bool {
        if !self.fraction_or_exponent {
            return if self.negative {
                self.int <= 1 << 63
            } else {
                self.int <= u128::from(u64::MAX)
            };
        }
        let exp = if self.exp_negative {
            -self.exp
        } else {
            self.exp
        };
        let e = if self.int != 0 {
            i64::from(self.int_digits) - 1 + exp
        } else if self.frac_nonzero {
            -i64::from(self.frac_leading_zeros) - 1 + exp
        } else {
            return true;
        };
        (-307..=308).contains(&e)
    }
}

/// What one step of the number grammar did.
pub(super) enum NumStep {
    /// Consumed input up to (not including) this index.
    To(usize),
    /// The number ended before the byte at the current index (which is not consumed).
    Ended,
}

impl Redactor {
    /// Starts a number at its first byte (`-` or a digit).
    #[inline]
    pub(super) fn begin_number(&mut self, first: u8) -> State {
        self.skip.num = NumScan {
            negative: first == b'-',
            ..NumScan::default()
        };
        match first {
            b'-' => State::Num(Num::Minus),
            b'0' => {
                self.skip.num.int_digits = 1;
                State::Num(Num::Zero)
            }
            d => {
                self.skip.num.int = u128::from(d - b'0');
                self.skip.num.int_digits = 1;
                State::Num(Num::Int)
            }
        }
    }

    /// One step of the number grammar at `buf[i]`; digit runs are taken whole up to `lim`.
    #[inline]
    pub(super) fn number_step(
        &mut self,
        n: Num,
        buf: &[u8],
        i: usize,
        lim: usize,
        abs: u64,
    ) -> Result<NumStep, Violation> {
        let b = buf[i];
        let continues = matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-');
        if continues && abs >= self.tok.limit {
            return Err(self.violation(V::TokenTooLong, abs));
        }
        let next = match (n, b) {
            (Num::Minus, b'0') => {
                self.skip.num.int_digits = 1;
                Num::Zero
            }
            (Num::Minus, b'1'..=b'9') => {
                self.skip.num.int = u128::from(b - b'0');
                self.skip.num.int_digits = 1;
                Num::Int
            }
            (Num::Zero, b'0'..=b'9') => return Err(self.violation(V::InvalidJson, abs)),
            (Num::Zero | Num::Int, b'.') => {
                self.skip.num.fraction_or_exponent = true;
                Num::Dot
            }
            (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => {
                self.skip.num.fraction_or_exponent = true;
                Num::E
            }
            (Num::Int | Num::Frac | Num::Exp | Num::Dot | Num::E | Num::ESign, b'0'..=b'9') => {
                let mut j = i;
                match n {
                    Num::Int => {
                        let (mut int, mut digits) = (self.skip.num.int, self.skip.num.int_digits);
                        while j < lim && buf[j].is_ascii_digit() {
                            int = (int * 10 + u128::from(buf[j] - b'0')).min(CAP);
                            digits += 1;
                            j += 1;
                        }
                        self.skip.num.int = int;
                        self.skip.num.int_digits = digits;
                    }
                    Num::Frac | Num::Dot => {
                        while j < lim && buf[j].is_ascii_digit() {
                            if !self.skip.num.frac_nonzero {
                                if buf[j] == b'0' {
                                    self.skip.num.frac_leading_zeros += 1;
                                } else {
                                    self.skip.num.frac_nonzero = true;
                                }
                            }
                            j += 1;
                        }
                    }
                    _ => {
                        let mut exp = self.skip.num.exp;
                        while j < lim && buf[j].is_ascii_digit() {
                            exp = (exp * 10 + i64::from(buf[j] - b'0')).min(1_000_000_000);
                            j += 1;
                        }
                        self.skip.num.exp = exp;
                    }
                }
                self.state = State::Num(match n {
                    Num::Dot => Num::Frac,
                    Num::E | Num::ESign => Num::Exp,
                    other => other,
                });
                return Ok(NumStep::To(j));
            }
            (Num::E, b'+' | b'-') => {
                self.skip.num.exp_negative = b == b'-';
                Num::ESign
            }
            (Num::Zero | Num::Int | Num::Frac | Num::Exp, _) => {
                return if self.skip.num.interoperable() {
                    Ok(NumStep::Ended)
                } else {
                    Err(self.violation(V::NumberRange, self.tok.start))
                };
            }
            _ => return Err(self.violation(V::InvalidJson, abs)),
        };
        self.state = State::Num(next);
        Ok(NumStep::To(i + 1))
    }

    /// The number ends with the body (a bare number as the whole document).
    pub(super) fn number_at_end(&self) -> Result<(), Violation> {
        if self.skip.num.interoperable() {
            Ok(())
        } else {
            Err(self.violation(V::NumberRange, self.tok.start))
        }
    }
}

/// The end of the run of ASCII digits that starts at `b[j]`.
#[inline(always)]
fn digit_run(b: &[u8], mut j: usize) -> usize {
    while b.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    j
}

/// A whole number at `buf[i..]` that ends before the end of `buf`, checked like
/// [`Redactor::number_step`] checks one: the index just past it, or `None` when it is invalid,
/// out of range, or not known to have ended inside `buf` (the caller then leaves it to the
/// automaton).
#[inline(always)]
pub(super) fn whole_number(b: &[u8], i: usize) -> Option<usize> {
    // The common shape needs no arithmetic: with no exponent, at most 18 integer digits and
    // fewer than 300 fraction digits a number is always in range (its decimal exponent lies
    // in -300..=17; 18 digits fit i64 and u64).
    let int_start = i + usize::from(b.get(i) == Some(&b'-'));
    let mut j = match b.get(int_start)? {
        b'0' => int_start + 1,
        b'1'..=b'9' => digit_run(b, int_start + 1),
        _ => return None,
    };
    let int_digits = j - int_start;
    let mut frac_digits = 0;
    if b.get(j) == Some(&b'.') {
        let start = j + 1;
        j = digit_run(b, start);
        frac_digits = j - start;
        if frac_digits == 0 {
            return None;
        }
    }
    match b.get(j) {
        Some(b'e' | b'E') => checked_number(b, i),
        Some(b'0'..=b'9' | b'.' | b'+' | b'-') | None => None,
        Some(_) if int_digits <= 18 && frac_digits < 300 => Some(j),
        Some(_) => checked_number(b, i),
    }
}

/// [`whole_number`] for any shape, with the range computed.
fn checked_number(buf: &[u8], mut i: usize) -> Option<usize> {
    let mut num = NumScan::default();
    if buf.get(i) == Some(&b'-') {
        num.negative = true;
        i += 1;
    }
    let int_start = i;
    match buf.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            i = digit_run(buf, i);
            let int = &buf[int_start..i];
            if int.len() <= 19 {
                // Fits u64 (the common case, without 128-bit arithmetic).
                let v = int.iter().fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
                num.int = u128::from(v);
            } else {
                for &d in int {
                    num.int = (num.int * 10 + u128::from(d - b'0')).min(CAP);
                }
            }
        }
        _ => return None,
    }
    num.int_digits = (i - int_start) as u32;
    if buf.get(i) == Some(&b'.') {
        num.fraction_or_exponent = true;
        let start = i + 1;
        i = digit_run(buf, start);
        if i == start {
            return None;
        }
        match buf[start..i].iter().position(|&d| d != b'0') {
            Some(zeros) => {
                num.frac_nonzero = true;
                num.frac_leading_zeros = zeros as u32;
            }
            None => num.frac_leading_zeros = (i - start) as u32,
        }
    }
    if matches!(buf.get(i), Some(b'e' | b'E')) {
        num.fraction_or_exponent = true;
        i += 1;
        if let Some(&s @ (b'+' | b'-')) = buf.get(i) {
            num.exp_negative = s == b'-';
            i += 1;
        }
        let start = i;
        i = digit_run(buf, start);
        if i == start {
            return None;
        }
        for &d in &buf[start..i] {
            num.exp = (num.exp * 10 + i64::from(d - b'0')).min(1_000_000_000);
        }
    }
    // The byte after the number must be known, and must not continue it.
    match buf.get(i) {
        Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') | None => None,
        Some(_) => num.interoperable().then_some(i),
    }
}
