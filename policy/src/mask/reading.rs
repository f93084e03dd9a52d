//! How a reader reads a character inside a number: as a digit, as nothing, as a separator, or as
//! the ID check character `X`.
//!
//! A detector that reads fewer spellings than the partner's reader is a way around it. An
//! identity number written in Arabic-Indic or any other script's digits (`int("١١٠…")` reads
//! them, as does a regular expression's `\d`), in Chinese numerals (`一一〇一〇一…`, or the
//! financial `壹贰叁`), split by a character that renders as nothing (U+180E, a variation
//! selector), or spelled wholly in Unicode tag characters — invisible on screen, ASCII to any
//! program that subtracts U+E0000 ("ASCII smuggling") — is an identity number to whoever
//! receives it. So the classes are defined by Unicode's properties, not by a list of the
//! spellings seen so far:
//!
//! - a **digit** is any character of general category `Nd` (every script's decimal digits; its
//!   value is its place in its run of ten), the compatibility digits NFKC folds to one (①,
//!   superscripts), a tag digit (U+E0030–E0039), or a Chinese numeral (〇零一壹二贰貳三叁參四肆
//!   五伍六陆陸七柒八捌九玖, and the Suzhou numerals 〡–〩);
//! - **invisible** is any control character other than white space (NUL, BEL, ESC, DEL, the C1
//!   controls: a screen shows nothing, a program stripping non-printables reads through them),
//!   any format character (`Cf`: zero-width spaces and joiners, bidirectional controls, the soft
//!   hyphen, tags other than tag digits and `X`) and the other default ignorable code points
//!   (variation selectors, Hangul fillers, U+034F, U+17B4–17B5, U+180B–180F);
//! - a **separator** is what people put between digit groups: white space of any width (thin
//!   and narrow no-break spaces are the standard digit-group separators), dashes (`Pd`), dots,
//!   slashes and underscores.
//!
//! General categories come from `unicode-properties` (unicode-rs, the tables of the current
//! Unicode version).

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// True for characters that may stand between digit groups: white space of any width (the thin
/// and narrow no-break spaces are the standard digit-group separators; a tab or a line break is
/// still a gap a reader reads a number across), dashes (`Pd`, and the minus sign), and dots,
/// slashes and underscores, ASCII or full-width.
pub fn is_separator(c: char) -> bool {
    match c {
        '-' | '.' | '_' | '/' => true,
        _ if c.is_ascii() => c.is_ascii_whitespace() || c == '\u{0B}',
        '\u{FF0E}' | '\u{FF0F}' | '\u{FF3F}' | '\u{2212}' => true,
        _ => c.is_whitespace() || c.general_category() == GeneralCategory::DashPunctuation,
    }
}

/// True for characters that render as nothing and so must not split a number
/// ([`renders_as_nothing`]) — but not the tag digits and tag `X`/`x`, which are read as what
/// they mirror ([`digit_value`], [`is_check_x`]).
pub fn is_invisible(c: char) -> bool {
    renders_as_nothing(c) && digit_value(c).is_none() && !is_check_x(c)
}

/// True for characters a screen shows nothing for: control characters other than white space
/// (NUL, BEL, ESC, DEL, the C1 controls), format characters (`Cf`, tags among them) and the
/// other default ignorable code points (Unicode's `Default_Ignorable_Code_Point`).
pub fn renders_as_nothing(c: char) -> bool {
    if c.is_control() {
        return !c.is_whitespace();
    }
    if c.is_ascii() {
        return false;
    }
    matches!(
        c,
        '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{E0000}'..='\u{E0FFF}'
    ) || c.general_category() == GeneralCategory::Format
}

/// The digit a character is read as (see the module docs), or `None`.
pub fn digit_value(c: char) -> Option<u8> {
    let u = c as u32;
    if c.is_ascii() {
        return c.is_ascii_digit().then(|| u as u8 - b'0');
    }
    match c {
        // The common non-ASCII text (CJK) answers without a table lookup.
        '\u{2E80}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3FFFF}' => {
            chinese_numeral(c)
        }
        '\u{FF10}'..='\u{FF19}' => Some((u - 0xFF10) as u8),
        '\u{E0030}'..='\u{E0039}' => Some((u - 0xE0030) as u8),
        '\u{2460}'..='\u{2468}' => Some((u - 0x2460 + 1) as u8), // ①..⑨
        '\u{24EA}' => Some(0),                                   // ⓪
        '\u{2070}' => Some(0),
        '\u{00B9}' => Some(1),
        '\u{00B2}' => Some(2),
        '\u{00B3}' => Some(3),
        '\u{2074}'..='\u{2079}' => Some((u - 0x2070) as u8),
        _ if c.general_category() == GeneralCategory::DecimalNumber => {
            // `Nd` characters come in runs of ten, 0 to 9, some runs adjacent (the
            // mathematical digits): the value is the place in the run that the first `Nd`
            // character before it starts.
            let mut start = u;
            while let Some(prev) = start.checked_sub(1).and_then(char::from_u32) {
                if prev.general_category() != GeneralCategory::DecimalNumber {
                    break;
                }
                start -= 1;
            }
            Some(((u - start) % 10) as u8)
        }
        _ => None,
    }
}

/// Whether `c` is one of the Chinese numerals [`digit_value`] reads (also ordinary characters of
/// names and prose, where it is not a digit).
pub fn is_chinese_numeral(c: char) -> bool {
    chinese_numeral(c).is_some()
}

/// A Chinese numeral's digit: the everyday forms and the financial (大写) ones banks write on
/// forms, simplified and traditional.
fn chinese_numeral(c: char) -> Option<u8> {
    Some(match c {
        '〇' | '零' => 0,
        '一' | '壹' => 1,
        '二' | '贰' | '貳' => 2,
        '三' | '叁' | '參' => 3,
        '四' | '肆' => 4,
        '五' | '伍' => 5,
        '六' | '陆' | '陸' => 6,
        '七' | '柒' => 7,
        '八' | '捌' => 8,
        '九' | '玖' => 9,
        // Suzhou (Hangzhou) numerals, 〡 to 〩, still written in market ledgers.
        '\u{3021}'..='\u{3029}' => (c as u32 - 0x3020) as u8,
        _ => return None,
    })
}

/// The ASCII character a program reads `c` as: a tag character (U+E0020–E007E) as the ASCII it
/// mirrors, a full-width form (U+FF01–FF5E) as its ASCII twin; anything else as itself. What
/// the e-mail detector reads an address through.
pub fn as_ascii(c: char) -> char {
    match c as u32 {
        u @ 0xE0020..=0xE007E => char::from_u32(u - 0xE0000).unwrap_or(c),
        u @ 0xFF01..=0xFF5E => char::from_u32(u - 0xFF01 + 0x21).unwrap_or(c),
        _ => c,
    }
}

/// True for characters read as the ID check character `X` (tag `X` and `x` included).
pub fn is_check_x(c: char) -> bool {
    matches!(
        c,
        'X' | 'x' | '\u{FF38}' | '\u{FF58}' | '\u{00D7}' | '\u{2169}' | '\u{E0058}' | '\u{E0078}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scripts_digits_read_as_their_value() {
        for zero in [
            0x30, 0x660, 0x6F0, 0x966, 0x9E6, 0xE50, 0xF20, 0x1040, 0x17E0, 0x1810, 0xFF10,
            0x104A0, 0x1D7CE, 0x1D7D8, 0x1D7F6, 0x1FBF0, 0xE0030,
        ] {
            for d in 0..10u8 {
                let c = char::from_u32(zero + u32::from(d)).unwrap();
                assert_eq!(digit_value(c), Some(d), "U+{:04X}", c as u32);
            }
        }
        for (text, want) in [
            ("〇一二三四五六七八九", "0123456789"),
            ("零壹贰叁肆伍陆柒捌玖", "0123456789"),
            ("〇〡〢〣〤〥〦〧〨〩", "0123456789"),
        ] {
            let got: String = text
                .chars()
                .map(|c| (b'0' + digit_value(c).unwrap()) as char)
                .collect();
            assert_eq!(got, want);
        }
        for c in ['a', '十', '百', '张', 'Ⅻ', '½', ' ', '\u{E0041}'] {
            assert_eq!(digit_value(c), None, "{c:?}");
        }
    }

    #[test]
    fn what_renders_as_nothing_is_invisible_and_nothing_visible_is() {
        for c in [
            '\u{200B}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{180E}',
            '\u{FE0F}',
            '\u{034F}',
            '\u{3164}',
            '\u{E0001}',
            '\u{E0041}',
            '\u{E007F}',
            '\u{E0100}',
            '\u{061C}',
            '\u{0}',
            '\u{7}',
            '\u{1B}',
            '\u{7F}',
            '\u{9F}',
        ] {
            assert!(is_invisible(c), "U+{:04X}", c as u32);
        }
        for c in [
            'a',
            '1',
            ' ',
            '\t',
            '\n',
            '\u{85}',
            '张',
            '-',
            '\u{3000}',
            '\u{1F600}',
        ] {
            assert!(!is_invisible(c), "{c:?}");
        }
        for c in [
            ' ', '\t', '\n', '\u{2009}', '\u{202F}', '\u{2013}', '\u{2212}', '\u{FF0D}',
        ] {
            assert!(is_separator(c), "U+{:04X}", c as u32);
        }
        for c in ['a', ',', '\u{FF0C}', '\u{B7}', '张', '\u{0}'] {
            assert!(!is_separator(c), "{c:?}");
        }
        assert!(is_check_x('\u{E0058}'));
    }
}
