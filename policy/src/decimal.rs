//! Exact comparison of decimal numbers written as JSON number lexemes.
//!
//! Contract bounds (`min`, `max`) are compared with the number exactly as it appears in the body,
//! never through floating point: `10000000.000000000000000001` is above `10000000`, and a
//! 400-digit integer compares correctly. A lexeme is normalised to sign, significant digits and a
//! decimal exponent; comparison is then lexicographic.

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

impl Decimal {
    /// Parses a JSON number lexeme (RFC 8259 grammar). `None` if it is not one.
    pub fn parse(lexeme: &[u8]) -> Option<Self> {
        Self::parse_reusing(lexeme, Vec::new())
    }

    /// [`parse`](Self::parse), keeping the digits in `buf`'s allocation (get it back with
    /// [`into_buffer`](Self::into_buffer)): a caller comparing many numbers allocates once.
    pub fn parse_reusing(lexeme: &[u8], mut buf: Vec<u8>) -> Option<Self> {
        let mut i = 0;
        let negative = lexeme.first() == Some(&b'-');
        if negative {
            i += 1;
        }
        let int_start = i;
        while i < lexeme.len() && lexeme[i].is_ascii_digit() {
            i += 1;
        }
        let int = &lexeme[int_start..i];
        if int.is_empty() || (int.len() > 1 && int[0] == b'0') {
            return None;
        }
        let mut frac: &[u8] = &[];
        if lexeme.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while i < lexeme.len() && lexeme[i].is_ascii_digit() {
                i += 1;
            }
            frac = &lexeme[start..i];
            if frac.is_empty() {
                return None;
            }
        }
        let mut exp: i64 = 0;
        if matches!(lexeme.get(i), Some(b'e' | b'E')) {
            i += 1;
            let exp_negative = match lexeme.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let start = i;
            while i < lexeme.len() && lexeme[i].is_ascii_digit() {
                // Saturate: an exponent beyond ±10^15 is as good as infinite for comparison.
                exp = (exp * 10 + i64::from(lexeme[i] - b'0')).min(1_000_000_000_000_000);
                i += 1;
            }
            if i == start {
                return None;
            }
            if exp_negative {
                exp = -exp;
            }
        }
        if i != lexeme.len() {
            return None;
        }
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
