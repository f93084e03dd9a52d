//! Identifier canonicalisation and checksums: GB 11643 resident IDs (MOD 11-2) and Luhn.
//!
//! Values arrive in many spellings: full-width digits (`１３８…`), separators (`138-6064 2414`),
//! zero-width characters, a `+86` prefix, `×` typed for the ID check character. [`canonical_digits`]
//! folds these to ASCII digits (and a trailing `X`) so that the checks and masks see one form.

pub use super::reading::{digit_value, is_check_x, is_invisible, is_separator};

/// Folds a whole value to ASCII digits (and `X`), dropping separators, invisible characters and
/// a leading `+86` / `0086`. `None` if anything else is in it.
pub fn canonical_digits(value: &str) -> Option<std::borrow::Cow<'_, str>> {
    // Plain ASCII digits (the common spelling) are already canonical.
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(value.into());
    }
    let mut out = String::with_capacity(value.len());
    for c in value.trim().chars() {
        if let Some(d) = digit_value(c) {
            out.push((b'0' + d) as char);
        } else if is_check_x(c) {
            out.push('X');
        } else if c == '+' || c == '\u{FF0B}' {
            if !out.is_empty() {
                return None;
            }
            out.push('+');
        } else if !(is_separator(c) || is_invisible(c)) {
            return None;
        }
    }
    let out = out.strip_prefix('+').map(str::to_string).unwrap_or(out);
    Some(out.into())
}

/// Drops a country prefix from a canonical mobile candidate.
pub fn strip_country_code(digits: &str) -> &str {
    for p in ["0086", "86"] {
        if let Some(rest) = digits.strip_prefix(p)
            && rest.len() == 11
        {
            return rest;
        }
    }
    digits
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// The GB 11643 check character of the first 17 digits.
pub fn id_check_char(first17: &[u8]) -> u8 {
    let s: u32 = first17
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    ID_CHECK[(s % 11) as usize]
}

fn valid_date(y: u32, m: u32, d: u32) -> bool {
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

fn num(s: &[u8]) -> u32 {
    s.iter().fold(0, |a, d| a * 10 + u32::from(d - b'0'))
}

/// An 18-character resident ID (or 2023 permanent-resident ID): digits, real birth date (years
/// 1800–2099), valid MOD 11-2 check.
pub fn is_valid_id18(id: &[u8]) -> bool {
    id.len() == 18
        && id[..17].iter().all(u8::is_ascii_digit)
        && (id[17].is_ascii_digit() || id[17] == b'X')
        && id[0] != b'0'
        && (18..=20).contains(&num(&id[6..8]))
        && valid_date(num(&id[6..10]), num(&id[10..12]), num(&id[12..14]))
        && id_check_char(&id[..17]) == id[17]
}

/// A 15-digit legacy ID: digits, real birth date in 19YY.
pub fn is_valid_id15(id: &[u8]) -> bool {
    id.len() == 15
        && id.iter().all(u8::is_ascii_digit)
        && id[0] != b'0'
        && valid_date(1900 + num(&id[6..8]), num(&id[8..10]), num(&id[10..12]))
}

/// Luhn checksum over ASCII digits.
pub fn luhn_ok(digits: &[u8]) -> bool {
    let mut sum = 0;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// A mainland mobile number: 11 digits, `1[3-9]…`.
pub fn is_mobile(d: &[u8]) -> bool {
    d.len() == 11
        && d[0] == b'1'
        && (b'3'..=b'9').contains(&d[1])
        && d.iter().all(u8::is_ascii_digit)
}

/// A bank card number: 13–19 digits passing Luhn, or a 16–19 digit UnionPay (`62…`) number
/// that fails it (sandbox and legacy cards do).
pub fn is_bank_card(d: &[u8]) -> bool {
    d.iter().all(u8::is_ascii_digit)
        && ((13..=19).contains(&d.len()) && luhn_ok(d)
            || (16..=19).contains(&d.len()) && d.starts_with(b"62"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb11643_specimens() {
        for id in [
            "11010519491231002X",
            "31011519751103008X",
            "440524188001010014",
            "110105198802141200",
        ] {
            assert!(is_valid_id18(id.as_bytes()), "{id}");
        }
        assert!(!is_valid_id18(b"110105199001011236"), "check should be 2");
        assert!(!is_valid_id18(b"110105198802301200"), "Feb 30");
        assert!(is_valid_id15(b"110105491231002"));
    }

    #[test]
    fn luhn_and_cards() {
        assert!(luhn_ok(b"6228480012345671"));
        assert!(is_bank_card(b"6222029365368615645"));
        assert!(
            is_bank_card(b"6221558812340000"),
            "UnionPay sandbox card fails Luhn but is a card"
        );
        assert!(!is_bank_card(b"1234567890123"));
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(
            canonical_digits("１３８ 6064-2414").as_deref(),
            Some("13860642414")
        );
        assert_eq!(
            canonical_digits("+86 138\u{200B}6064\u{200B}2414").as_deref(),
            Some("8613860642414")
        );
        assert_eq!(
            canonical_digits("31011519751103008×").as_deref(),
            Some("31011519751103008X")
        );
        assert_eq!(canonical_digits("138abc"), None);
        assert_eq!(strip_country_code("8613860642414"), "13860642414");
    }
}
