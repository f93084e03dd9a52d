//! Masks (`mask:KIND`): what a partner sees of a value it may know only in part.
//!
//! Each mask first checks that the value looks like its kind. A value that does not is *not*
//! passed through: the engine replaces it with the fixed [`REDACTED`] marker and counts it.
//! Conventions follow `reference/pii-china.md` §4; widths that would reveal the value's length
//! (debit vs. credit card) are fixed.

pub mod digits;
pub mod reading;
mod text;

use crate::rule::MaskKind;
use digits::{canonical_digits, is_valid_id15, is_valid_id18, strip_country_code};

/// The marker that replaces values that cannot be masked, and `redact` rules.
pub const REDACTED: &str = "[REDACTED]";

/// Masks `value` as `kind` into `out`. Returns false (and leaves `out` unspecified) when the value
/// does not look like its kind.
pub fn mask(kind: MaskKind, value: &str, out: &mut String) -> bool {
    out.clear();
    // What a mask keeps of a value (a surname, a city, the first and last characters) is what a
    // reader sees: characters that render as nothing are dropped first, so that none rides out
    // on a kept part — a tag character spells ASCII to a program.
    let visible: String;
    let printable = |b: u8| (0x20..0x7F).contains(&b);
    let value = if value.bytes().all(printable) || !value.chars().any(reading::renders_as_nothing) {
        value
    } else {
        visible = value
            .chars()
            .filter(|&c| !reading::renders_as_nothing(c))
            .collect();
        &visible
    };
    match kind {
        MaskKind::Mobile => {
            let Some(d) = canonical_digits(value) else {
                return false;
            };
            let d = strip_country_code(&d);
            if !digits::is_mobile(d.as_bytes()) {
                return false;
            }
            out.push_str(&d[..3]);
            out.push_str("****");
            out.push_str(&d[7..]);
            true
        }
        MaskKind::IdCard => {
            let Some(d) = canonical_digits(value) else {
                return false;
            };
            let b = d.as_bytes();
            let shape18 = b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit);
            if shape18 || is_valid_id18(b) {
                out.push_str(&d[..6]);
                out.push_str("********");
                out.push_str(&d[14..]);
                true
            } else if is_valid_id15(b) {
                out.push_str(&d[..6]);
                out.push_str("*****");
                out.push_str(&d[12..]);
                true
            } else {
                false
            }
        }
        MaskKind::BankCard => {
            let Some(d) = canonical_digits(value) else {
                return false;
            };
            if !(13..=19).contains(&d.len()) || d.contains('X') {
                return false;
            }
            out.push_str(&d[..6]);
            out.push_str("*********");
            out.push_str(&d[d.len() - 4..]);
            true
        }
        MaskKind::Landline => {
            let Some(d) = canonical_digits(value) else {
                return false;
            };
            let area = if d.starts_with("01") || d.starts_with("02") {
                3
            } else {
                4
            };
            let local = d.len().saturating_sub(area);
            if !d.starts_with('0') || !(7..=8).contains(&local) || d.contains('X') {
                return false;
            }
            out.push_str(&d[..area]);
            out.push_str("-****");
            out.push_str(&d[d.len() - 4..]);
            true
        }
        MaskKind::Email => text::email(value, out),
        MaskKind::Name => text::name(value, out),
        MaskKind::Address => text::address(value, out),
        MaskKind::Passport => text::passport(value, out),
        MaskKind::Plate => text::plate(value, out),
        MaskKind::Partial { first, last } => text::partial(value, first.into(), last.into(), out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: MaskKind, v: &str) -> Option<String> {
        let mut out = String::new();
        mask(kind, v, &mut out).then_some(out)
    }

    /// A mask kept the leading or trailing characters of a value as they were, invisible ones
    /// included: tag characters (ASCII to a program, nothing on screen) rode out on a kept
    /// surname or on `partial`'s first characters. They are dropped before any mask now.
    #[test]
    fn no_invisible_character_rides_out_on_a_kept_part() {
        let tags = |s: &str| -> String {
            s.chars()
                .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
                .collect()
        };
        let hidden = tags("110105194912310021");
        assert_eq!(
            m(MaskKind::Name, &format!("{}张三", tags("ab"))).as_deref(),
            Some("张*")
        );
        let partial = MaskKind::Partial { first: 3, last: 4 };
        assert_eq!(
            m(partial, &format!("{hidden}6222020000000005645")).as_deref(),
            Some("622************5645")
        );
        assert_eq!(
            m(partial, &format!("6222020000000005645\u{200B}{hidden}")).as_deref(),
            Some("622************5645")
        );
        assert_eq!(
            m(
                MaskKind::Address,
                &format!("上海市{hidden}浦东新区张江路1号")
            )
            .as_deref(),
            m(MaskKind::Address, "上海市浦东新区张江路1号").as_deref()
        );
    }

    #[test]
    fn reference_table_examples() {
        assert_eq!(
            m(MaskKind::Mobile, "13860642414").as_deref(),
            Some("138****2414")
        );
        assert_eq!(
            m(MaskKind::BankCard, "6222029365368615645").as_deref(),
            Some("622202*********5645")
        );
        assert_eq!(
            m(MaskKind::IdCard, "31011519751103008X").as_deref(),
            Some("310115********008X")
        );
        assert_eq!(m(MaskKind::Name, "欧阳明轩").as_deref(), Some("欧阳**"));
        assert_eq!(m(MaskKind::Name, "张伟").as_deref(), Some("张*"));
        assert_eq!(
            m(MaskKind::Address, "上海市浦东新区张江路123弄5号1202室").as_deref(),
            Some("上海市浦东新区****")
        );
    }

    #[test]
    fn tolerant_of_spelling() {
        assert_eq!(
            m(MaskKind::Mobile, "+86 138-6064-2414").as_deref(),
            Some("138****2414")
        );
        assert_eq!(
            m(MaskKind::Mobile, "１３８６０６４２４１４").as_deref(),
            Some("138****2414")
        );
        assert_eq!(
            m(MaskKind::BankCard, "6222 0293 6536 8615 645").as_deref(),
            Some("622202*********5645")
        );
        assert_eq!(
            m(MaskKind::BankCard, "6225881540699377").as_deref(),
            Some("622588*********9377"),
            "fixed width hides the length"
        );
        assert_eq!(
            m(MaskKind::IdCard, "110105491231002").as_deref(),
            Some("110105*****002")
        );
        assert_eq!(
            m(MaskKind::Landline, "010-12345678").as_deref(),
            Some("010-****5678")
        );
        assert_eq!(
            m(MaskKind::Landline, "0915-1234567").as_deref(),
            Some("0915-****4567")
        );
    }

    #[test]
    fn values_that_do_not_look_like_their_kind_are_refused() {
        for (kind, v) in [
            (MaskKind::Mobile, "hello"),
            (MaskKind::Mobile, "1234"),
            (MaskKind::Mobile, "23860642414"),
            (MaskKind::IdCard, "not an id"),
            (MaskKind::BankCard, "12"),
            (MaskKind::Email, "no-at-sign"),
            (MaskKind::Address, "somewhere"),
            (MaskKind::Name, ""),
            (MaskKind::Name, "13860642414"),
        ] {
            assert_eq!(m(kind, v), None, "{kind:?} {v:?}");
        }
    }
}
