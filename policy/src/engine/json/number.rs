//! The number grammar (RFC 8259 §6), shared by the walker and the skipper, with an
//! interoperability check: a number must be one that IEEE 754 binary64 or a 64-bit integer can
//! hold (RFC 8259 §6 "good interoperability"), so that sluice and the partner's parser agree on
//! what was disclosed. Integers written without fraction or exponent must fit `i64`/`u64`;
//! other numbers must be zero or have a decimal exponent in `-307..=308`. Precision is checked
//! here for no number: kept numbers are copied byte-exact, never re-encoded, and their written
//! digits are checked whole where their rule applies (`decimal::readable_as_written`), so a
//! stripped number with more digits than binary64 holds does not refuse a body.

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

/// Where in the number grammar a number being read is.
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

/// Why a number is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NumFault {
    /// Not the RFC 8259 grammar.
    Grammar,
    /// Outside what binary64 or a 64-bit integer holds.
    Range,
}

impl NumScan {
    /// Starts a number at its first byte (`-` or a digit): the scan and the grammar position.
    #[inline]
    pub(super) fn begin(first: u8) -> (Self, Num) {
        let mut scan = NumScan {
            negative: first == b'-',
            ..NumScan::default()
        };
        let at = match first {
            b'-' => Num::Minus,
            b'0' => {
                scan.int_digits = 1;
                Num::Zero
            }
            d => {
                scan.int = u128::from(d - b'0');
                scan.int_digits = 1;
                Num::Int
            }
        };
        (scan, at)
    }

    /// One step of the number grammar at `buf[i]` from position `n`; digit runs are taken whole
    /// up to `lim`. Returns what was consumed and the grammar position after it.
    #[inline]
    pub(super) fn step(
        &mut self,
        n: Num,
        buf: &[u8],
        i: usize,
        lim: usize,
    ) -> Result<(NumStep, Num), NumFault> {
        let b = buf[i];
        let next = match (n, b) {
            (Num::Minus, b'0') => {
                self.int_digits = 1;
                Num::Zero
            }
            (Num::Minus, b'1'..=b'9') => {
                self.int = u128::from(b - b'0');
                self.int_digits = 1;
                Num::Int
            }
            (Num::Zero, b'0'..=b'9') => return Err(NumFault::Grammar),
            (Num::Zero | Num::Int, b'.') => {
                self.fraction_or_exponent = true;
                Num::Dot
            }
            (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => {
                self.fraction_or_exponent = true;
                Num::E
            }
            (Num::Int | Num::Frac | Num::Exp | Num::Dot | Num::E | Num::ESign, b'0'..=b'9') => {
                let mut j = i;
                match n {
                    Num::Int => {
                        let (mut int, mut digits) = (self.int, self.int_digits);
                        while j < lim && buf[j].is_ascii_digit() {
                            int = (int * 10 + u128::from(buf[j] - b'0')).min(CAP);
                            digits += 1;
                            j += 1;
                        }
                        self.int = int;
                        self.int_digits = digits;
                    }
                    Num::Frac | Num::Dot => {
                        while j < lim && buf[j].is_ascii_digit() {
                            if !self.frac_nonzero {
                                if buf[j] == b'0' {
                                    self.frac_leading_zeros += 1;
                                } else {
                                    self.frac_nonzero = true;
                                }
                            }
                            j += 1;
                        }
                    }
                    _ => {
                        let mut exp = self.exp;
                        while j < lim && buf[j].is_ascii_digit() {
                            exp = (exp * 10 + i64::from(buf[j] - b'0')).min(1_000_000_000);
                            j += 1;
                        }
                        self.exp = exp;
                    }
                }
                let at = match n {
                    Num::Dot => Num::Frac,
                    Num::E | Num::ESign => Num::Exp,
                    other => other,
                };
                return Ok((NumStep::To(j), at));
            }
            (Num::E, b'+' | b'-') => {
                self.exp_negative = b == b'-';
                Num::ESign
            }
            (Num::Zero | Num::Int | Num::Frac | Num::Exp, _) => {
                return if self.interoperable() {
                    Ok((NumStep::Ended, n))
                } else {
                    Err(NumFault::Range)
                };
            }
            _ => return Err(NumFault::Grammar),
        };
        Ok((NumStep::To(i + 1), next))
    }

    /// Whether a number that ends here (with the body) is one every parser reads the same.
    pub(super) fn ends_well(&self) -> bool {
        self.interoperable()
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
/// [`JsonRedactor::number_step`] checks one: the index just past it, or `None` when it is invalid,
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
