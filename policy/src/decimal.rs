//! Exact comparison of decimal numbers written as JSON number lexemes.
//!
//! Contract bounds (`min`, `max`) are compared with the number exactly as it appears in the body,
//! never through floating point: `10000000.000000000000000001` is above `10000000`, and a
//! 400-digit integer compares correctly. A lexeme is normalised to sign, significant digits and a
//! decimal exponent; comparison is then lexicographic.
//!
//! A number that goes out as written must also say no more than its readers read
//! ([`readable_as_written`]): the digits an IEEE 754 binary64 or a 64-bit integer holds, and no
//! more. Digits past those are invisible to the partner's usual parser, but they are in the bytes
//! it receives — `1000.110101199003074578` is a loan amount to a parser of doubles and an
//! identity number to anyone who reads the text — and the count of zeros in a spelling such as
//! `1000.000…0` is text of its own.

use std::cmp::Ordering;

/// A decimal number, normalised so that equal values have equal representations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    /// Significant digits without leading or trailing zeros; empty for zero.
    digits: Vec<u8>,
    /// The value is `0.d1d2d3... × 10^exponent`.
    exponent: i64,
}

/// A number lexeme cut into its parts by the RFC 8259 grammar: what [`Decimal::parse_reusing`]
/// reads the value from and [`readable_as_written`] reads the spelling from.
struct Lexeme<'a> {
    negative: bool,
    /// The integer digits (no leading zero but for `0` itself).
    int: &'a [u8],
    /// The fraction's digits; empty without a point.
    frac: &'a [u8],
    /// The exponent's sign (`true`: negative) and digits, if there is one.
    exp: Option<(bool, &'a [u8])>,
}

impl<'a> Lexeme<'a> {
    /// `None` if `lexeme` is not an RFC 8259 number.
    fn split(lexeme: &'a [u8]) -> Option<Self> {
        let digits_from = |i: usize| {
            lexeme[i..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .map_or(lexeme.len(), |n| i + n)
        };
        let negative = lexeme.first() == Some(&b'-');
        let int_start = usize::from(negative);
        let mut i = digits_from(int_start);
        let int = &lexeme[int_start..i];
        if int.is_empty() || (int.len() > 1 && int[0] == b'0') {
            return None;
        }
        let mut frac: &[u8] = &[];
        if lexeme.get(i) == Some(&b'.') {
            let end = digits_from(i + 1);
            frac = &lexeme[i + 1..end];
            if frac.is_empty() {
                return None;
            }
            i = end;
        }
        let mut exp = None;
        if matches!(lexeme.get(i), Some(b'e' | b'E')) {
            i += 1;
            let exp_negative = lexeme.get(i) == Some(&b'-');
            i += usize::from(matches!(lexeme.get(i), Some(b'+' | b'-')));
            let end = digits_from(i);
            if end == i {
                return None;
            }
            exp = Some((exp_negative, &lexeme[i..end]));
            i = end;
        }
        (i == lexeme.len()).then_some(Self {
            negative,
            int,
            frac,
            exp,
        })
    }
}

impl Decimal {
    /// Parses a JSON number lexeme (RFC 8259 grammar). `None` if it is not one.
    pub fn parse(lexeme: &[u8]) -> Option<Self> {
        Self::parse_reusing(lexeme, Vec::new())
    }

    /// [`parse`](Self::parse), keeping the digits in `buf`'s allocation (get it back with
    /// [`into_buffer`](Self::into_buffer)): a caller comparing many numbers allocates once.
    pub fn parse_reusing(lexeme: &[u8], mut buf: Vec<u8>) -> Option<Self> {
        let Lexeme {
            negative,
            int,
            frac,
            exp,
        } = Lexeme::split(lexeme)?;
        let exp = exp.map_or(0, |(exp_negative, digits)| {
            // Saturate: an exponent beyond ±10^15 is as good as infinite for comparison.
            let e = digits.iter().fold(0i64, |e, &d| {
                (e * 10 + i64::from(d - b'0')).min(1_000_000_000_000_000)
            });
            if exp_negative { -e } else { e }
        });
        buf.clear();
        buf.extend(int.iter().chain(frac).map(|d| d - b'0'));
        let mut all = buf;
        let leading = all.iter().take_while(|&&d| d == 0).count();
        let exponent = exp + int.len() as i64 - leading as i64;
        all.drain(..leading);
        while all.last() == Some(&0) {
            all.pop();
        }
        if all.is_empty() {
            return Some(Self {
                negative: false,
                digits: all,
                exponent: 0,
            });
        }
        Some(Self {
            negative,
            digits: all,
            exponent,
        })
    }

    /// The digit buffer, for the next [`parse_reusing`](Self::parse_reusing).
    pub fn into_buffer(self) -> Vec<u8> {
        self.digits
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    fn cmp_magnitude(&self, other: &Self) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        self.exponent
            .cmp(&other.exponent)
            .then_with(|| self.digits.cmp(&other.digits))
    }
}

/// Most significant digits a number with a fraction or an exponent may be written with: 17
/// identify any binary64 value, so a digit past them is one no binary64 reader sees.
pub const MAX_SIGNIFICANT_DIGITS: usize = 17;

/// Most digits in an exponent: binary64's decimal exponents have three.
const MAX_EXPONENT_DIGITS: usize = 3;

/// Whether an RFC 8259 number lexeme says no more than a binary64 or 64-bit integer reader reads
/// of it: an integer written without fraction or exponent fits `i64` or `u64`; any other number
/// is written with at most [`MAX_SIGNIFICANT_DIGITS`] significant digits (counted from the first
/// non-zero digit to the last digit written, trailing zeros included — zero counts the digits
/// after its point), at most three exponent digits, and a decimal exponent within binary64's
/// (`-307..=308`). `lexeme` is a number its caller has read as one (what this says of anything
/// else is not specified; the grammar is [`Lexeme::split`]'s). No allocation, and one test for
/// the usual short number: it runs on every kept number.
pub fn readable_as_written(lexeme: &[u8]) -> bool {
    debug_assert!(Decimal::parse(lexeme).is_some(), "not a number");
    // At most 17 bytes and no exponent: at most 17 digits, and an integer that short fits i64.
    if lexeme.len() <= MAX_SIGNIFICANT_DIGITS && !lexeme.iter().any(|&b| b | 0x20 == b'e') {
        return true;
    }
    let Some(Lexeme {
        negative,
        int,
        frac,
        exp: exponent,
    }) = Lexeme::split(lexeme)
    else {
        return false;
    };
    if exponent.is_none() && frac.is_empty() {
        // An integer: at most 20 digits fit u64, so the value fits u128.
        if int.len() > 20 {
            return false;
        }
        let v = int
            .iter()
            .fold(0u128, |v, &d| v * 10 + u128::from(d - b'0'));
        return v
            <= if negative {
                1 << 63
            } else {
                u128::from(u64::MAX)
            };
    }
    let (exp_negative, exp_digits) = exponent.unwrap_or((false, &[]));
    if exp_digits.len() > MAX_EXPONENT_DIGITS {
        return false;
    }
    let exp = exp_digits
        .iter()
        .fold(0i64, |e, &d| e * 10 + i64::from(d - b'0'));
    let exp = if exp_negative { -exp } else { exp };
    // The significant digits, and the decimal exponent of the first of them.
    let (significant, leading_exponent) = if int != b"0" {
        (int.len() + frac.len(), int.len() as i64 - 1 + exp)
    } else {
        match frac.iter().position(|&d| d != b'0') {
            Some(zeros) => (frac.len() - zeros, -(zeros as i64) - 1 + exp),
            // Zero: its written digits are the ones after the point.
            None => return frac.len() <= MAX_SIGNIFICANT_DIGITS,
        }
    };
    significant <= MAX_SIGNIFICANT_DIGITS && (-307..=308).contains(&leading_exponent)
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_readable_as_written_up_to_what_binary64_or_a_64_bit_integer_holds() {
        let readable = |s: &str| readable_as_written(s.as_bytes());
        for ok in [
            "0",
            "-0",
            "0.0",
            "1000.11",
            "18446744073709551615",
            "-9223372036854775808",
            "12345678901234567",
            "1234567890.1234567",
            "0.12345678901234567",
            "0.000000000000000000012345678901234567",
            "0.0000000000000000",
            "1.7976931348623157e308",
            "1E+308",
            "1e-307",
            "100000e-2",
        ] {
            assert!(readable(ok), "{ok}");
        }
        for refused in [
            // More than binary64 holds: digits a parser of doubles never shows.
            "1000.110101199003074578",
            "0.110101199003074578",
            "1234567890.12345678",
            "1000.000000000000000000",
            "0.000000000000000000",
            "1.000000000000000000e3",
            // Integers past 64 bits; exponents past binary64's, or written with more digits.
            "18446744073709551616",
            "-9223372036854775809",
            "110101199003074578110101",
            "1e309",
            "1e-400",
            "4.9e-324",
            "1e0005",
            "1e+0005",
        ] {
            assert!(!readable(refused), "{refused}");
        }
    }

    fn d(s: &str) -> Decimal {
        Decimal::parse(s.as_bytes()).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn equal_values_compare_equal() {
        for (a, b) in [
            ("0", "-0"),
            ("0.0", "0e5"),
            ("1", "1.000"),
            ("100", "1e2"),
            ("0.5", "5E-1"),
            ("12.5", "125e-1"),
        ] {
            assert_eq!(d(a).cmp(&d(b)), Ordering::Equal, "{a} vs {b}");
        }
    }

    #[test]
    fn ordering_is_exact_beyond_f64() {
        assert!(d("10000000.000000000000000001") > d("10000000"));
        assert!(d("9999999.9999999999999999999") < d("10000000"));
        assert!(d("-0.000000000000000000001") < d("0"));
        assert!(d("-2") < d("-1"));
        assert!(d("1e400") > d("99999999999999999999999"));
        assert!(d("1e-400") > d("0"));
        assert!(d("123456789012345678901234567890") > d("123456789012345678901234567889"));
        assert!(d("1e999999999999999999999") > d("1e400"));
    }

    #[test]
    fn rejects_what_json_rejects() {
        for s in [
            "", "-", "01", "1.", ".5", "+1", "1e", "1e+", "0x10", "NaN", "1 ", "--1",
        ] {
            assert!(Decimal::parse(s.as_bytes()).is_none(), "{s:?}");
        }
    }
}
