//! Value detectors (`scan = [...]`): identifiers hidden inside kept free text.
//!
//! A remark such as `客户补充：身份证 310115 19751103 008X，备用卡 6222 0293 6536 8615 645` is
//! kept, but the identifiers in it are masked in place. The scanner works on the decoded string
//! (so `\u0031\u0033…` escapes are already gone) and reads through the spellings people and
//! systems use: every script's digits, gaps of separators between digit groups (`110105 -
//! 19491231`), characters that render as nothing (zero-width and control characters), `×` for
//! the check character. A run of digit groups is split into candidates at
//! group boundaries, so two numbers separated by a space are two findings, not one 22-digit miss.
//!
//! Confidence rules: an 18-character ID needs its GB 11643 check character and a real birth date;
//! a 15-digit legacy ID a real date; a bank card 13–19 digits with Luhn, or a `62` (UnionPay)
//! number of 16–19 digits without it; a mobile `1[3-9]` + 9 digits, optionally after `+86`.

use crate::mask::digits::{
    digit_value, is_bank_card, is_check_x, is_invisible, is_mobile, is_separator, is_valid_id15,
    is_valid_id18,
};
use crate::mask::mask;
use crate::mask::reading::as_ascii;
use crate::rule::{Detector, MaskKind};

/// Most gaps tolerated inside one candidate (keeps `1 2 3 4 …` prose from merging).
const MAX_SEPARATORS: usize = 6;

/// Most separator characters in one gap between digit groups (` - ` is three).
const MAX_GAP: usize = 3;

#[derive(Debug, Clone, Copy)]
struct Group {
    /// Char index range in the text (end exclusive).
    start: usize,
    end: usize,
    /// Range in the digit buffer.
    d_start: usize,
    d_end: usize,
}

/// Whether `b` may be (the first byte of) a digit character: an ASCII digit, or the lead byte of
/// any other character — digits are in every script ([`digit_value`]), Chinese numerals among
/// them, so no smaller set of lead bytes is safe.
fn may_be_digit(b: u8) -> bool {
    b.is_ascii_digit() | (b >= 0xC2)
}

/// How many bytes of `bytes` [`may_be_digit`]: a bound on the digit characters, sixteen bytes
/// at a time with SSE2 (part of every x86-64); a tail shorter than sixteen is covered by one
/// more block ending at the last byte, of which only the new bytes count.
fn digit_bound(bytes: &[u8]) -> usize {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if bytes.len() >= 16 {
        use safe_arch::{
            bitand_m128i, bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, max_u8_m128i,
            min_u8_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
        };
        let splat = |b: u8| set_splat_i8_m128i(b as i8);
        let (zero, nine, lead) = (splat(b'0'), splat(b'9'), splat(0xC2));
        // One bit per candidate byte of the 16 at `at`.
        let candidates = |at: usize| {
            let v = load_unaligned_m128i(bytes[at..at + 16].try_into().expect("16 bytes"));
            // '0' <= v <= '9' as unsigned bytes: max(v, '0') == v and min(v, '9') == v.
            let digit = bitand_m128i(
                cmp_eq_mask_i8_m128i(max_u8_m128i(v, zero), v),
                cmp_eq_mask_i8_m128i(min_u8_m128i(v, nine), v),
            );
            // v >= 0xC2 as an unsigned byte: a lead byte of a character beyond ASCII.
            let lead = cmp_eq_mask_i8_m128i(max_u8_m128i(v, lead), v);
            move_mask_i8_m128i(bitor_m128i(digit, lead)) as u32
        };
        let whole = bytes.len() / 16 * 16;
        let mut n: u32 = (0..whole)
            .step_by(16)
            .map(|at| candidates(at).count_ones())
            .sum();
        let rest = bytes.len() - whole;
        if rest > 0 {
            // The last sixteen bytes; their first `16 - rest` were counted already.
            n += (candidates(bytes.len() - 16) >> (16 - rest)).count_ones();
        }
        return n as usize;
    }
    bytes.iter().filter(|&&b| may_be_digit(b)).count()
}

/// Scans `text`; when something is found, writes the rewritten text to `out` and returns the
/// number of findings. With no finding `out` is left empty and 0 is returned.
pub fn scan(detectors: &[Detector], text: &str, out: &mut String) -> usize {
    out.clear();
    // Every finding needs at least 11 digits or an `@`: most free text is done here. First a
    // bound from the bytes alone (vectorised): ASCII digits, plus every character beyond ASCII
    // (any may be a digit, and `＠` is one of them).
    let bytes = text.as_bytes();
    let maybe_digits = digit_bound(bytes);
    // `@`, or the lead byte of `＠` (EF) or of a tag `@` (F3).
    let maybe_at = || memchr::memchr3(b'@', 0xEF, 0xF3, bytes).is_some();
    if maybe_digits < 11 && !(detectors.contains(&Detector::Email) && maybe_at()) {
        return 0;
    }
    let mut digit_chars = 0;
    let mut at_sign = false;
    for c in text.chars() {
        if digit_value(c).is_some() {
            digit_chars += 1;
        } else if as_ascii(c) == '@' {
            at_sign = true;
        }
    }
    if digit_chars < 11 && !(at_sign && detectors.contains(&Detector::Email)) {
        return 0;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut replacements: Vec<(usize, usize, String)> = Vec::new();
    let want = |d: Detector| detectors.contains(&d);

    // Digit runs: groups of digits with short gaps of separators (and invisible chars) between.
    let mut i = 0;
    let mut digits = String::new();
    while i < chars.len() {
        if digit_value(chars[i]).is_none() {
            i += 1;
            continue;
        }
        // A run must not continue a word (`A123…`) or a decimal (`.5`).
        let mut groups: Vec<Group> = Vec::new();
        digits.clear();
        let mut j = i;
        let mut seps = 0;
        loop {
            let g_start = j;
            let d_start = digits.len();
            while j < chars.len() {
                if let Some(d) = digit_value(chars[j]) {
                    digits.push((b'0' + d) as char);
                } else if is_invisible(chars[j]) {
                } else {
                    break;
                }
                j += 1;
            }
            // An ID check character closes its group.
            if j < chars.len() && is_check_x(chars[j]) && digits.len() - d_start >= 3 {
                digits.push('X');
                j += 1;
            }
            groups.push(Group {
                start: g_start,
                end: j,
                d_start,
                d_end: digits.len(),
            });
            if digits.ends_with('X') {
                break;
            }
            // A gap between groups — a few separators (` - `), with anything that renders as
            // nothing among them — then another digit.
            let mut k = j;
            let mut gap = 0;
            while k < chars.len() && gap <= MAX_GAP {
                if is_separator(chars[k]) {
                    gap += 1;
                } else if !is_invisible(chars[k]) {
                    break;
                }
                k += 1;
            }
            if (1..=MAX_GAP).contains(&gap)
                && k < chars.len()
                && digit_value(chars[k]).is_some()
                && seps < MAX_SEPARATORS
            {
                seps += 1;
                j = k;
                continue;
            }
            break;
        }
        // Greedy, longest candidate first, at group boundaries.
        let mut g = 0;
        while g < groups.len() {
            let mut matched = None;
            for h in (g..groups.len()).rev() {
                let cand = &digits[groups[g].d_start..groups[h].d_end];
                if let Some(kind) = classify(cand, &want) {
                    matched = Some((h, kind));
                    break;
                }
            }
            match matched {
                Some((h, kind)) => {
                    let cand = &digits[groups[g].d_start..groups[h].d_end];
                    let mut masked = String::new();
                    if mask(kind, cand, &mut masked) {
                        // A country code's `+` belongs to the number.
                        let mut start = groups[g].start;
                        if kind == MaskKind::Mobile
                            && cand.len() > 11
                            && start > 0
                            && matches!(chars[start - 1], '+' | '\u{FF0B}')
                        {
                            start -= 1;
                        }
                        replacements.push((start, groups[h].end, masked));
                    }
                    g = h + 1;
                }
                None => g += 1,
            }
        }
        i = j.max(i + 1);
    }

    if want(Detector::Email) {
        // Read as a program reads an address: tag characters and full-width forms as ASCII
        // (one character for one, so positions stay those of `chars`).
        let chars: Vec<char> = chars.iter().map(|&c| as_ascii(c)).collect();
        for (at, &c) in chars.iter().enumerate() {
            if c != '@' {
                continue;
            }
            // Characters that render as nothing do not end an address (`zh\u{200B}ang@…`
            // reads `zhang@…`): they are inside it, and dropped from what is masked.
            let local_ok =
                |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c) || is_invisible(c);
            let domain_ok =
                |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-' || is_invisible(c);
            let mut s = at;
            while s > 0 && local_ok(chars[s - 1]) {
                s -= 1;
            }
            let mut e = at + 1;
            while e < chars.len() && domain_ok(chars[e]) {
                e += 1;
            }
            while e > at + 1 && (chars[e - 1] == '.' || is_invisible(chars[e - 1])) {
                e -= 1;
            }
            while s < at && is_invisible(chars[s]) {
                s += 1;
            }
            if s == at || e == at + 1 || replacements.iter().any(|r| r.0 < e && s < r.1) {
                continue;
            }
            let candidate: String = chars[s..e].iter().filter(|&&c| !is_invisible(c)).collect();
            let mut masked = String::new();
            if mask(MaskKind::Email, &candidate, &mut masked) {
                replacements.push((s, e, masked));
            }
        }
    }

    if replacements.is_empty() {
        return 0;
    }
    replacements.sort_by_key(|r| r.0);
    let mut at = 0;
    for (s, e, m) in &replacements {
        out.extend(&chars[at..*s]);
        out.push_str(m);
        at = *e;
    }
    out.extend(&chars[at..]);
    replacements.len()
}

fn classify(cand: &str, want: &impl Fn(Detector) -> bool) -> Option<MaskKind> {
    let b = cand.as_bytes();
    if want(Detector::IdCard) && (is_valid_id18(b) || is_valid_id15(b)) {
        return Some(MaskKind::IdCard);
    }
    if cand.contains('X') {
        return None;
    }
    // A mobile number with its country code (`86138…`) before cards: 13 digits can pass Luhn.
    if want(Detector::Mobile) {
        let m = crate::mask::digits::strip_country_code(cand);
        if is_mobile(m.as_bytes()) {
            return Some(MaskKind::Mobile);
        }
    }
    if want(Detector::BankCard) && is_bank_card(b) {
        return Some(MaskKind::BankCard);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[Detector] = &[
        Detector::IdCard,
        Detector::Mobile,
        Detector::BankCard,
        Detector::Email,
    ];

    /// `11010519491231002X` spelled as `spelled`, in a remark, is found and masked.
    fn assert_the_id_is_masked(spelled: &str) {
        let text = format!("备注{spelled}。");
        assert_eq!(
            s(&text),
            "备注110105********002X。",
            "{}",
            text.escape_unicode()
        );
    }

    fn s(text: &str) -> String {
        let mut out = String::new();
        if scan(ALL, text, &mut out) == 0 {
            text.to_string()
        } else {
            out
        }
    }

    #[test]
    fn finds_identifiers_in_free_text() {
        assert_eq!(
            s("客户补充：身份证 310115 19751103 008X，备用卡 6222 0293 6536 8615 645"),
            "客户补充：身份证 310115********008X，备用卡 622202*********5645"
        );
        assert_eq!(
            s("call 13860642414 or 13926951426"),
            "call 138****2414 or 139****1426"
        );
        assert_eq!(s("手机１３８６０６４２４１４"), "手机138****2414");
        assert_eq!(s("138\u{200B}6064\u{200B}2414"), "138****2414");
        assert_eq!(s("tel +86 138-6064-2414"), "tel 138****2414");
        assert_eq!(s("mail ouyang.mx@163.com now"), "mail o***@163.com now");
        assert_eq!(s("id 31011519751103008×."), "id 310115********008X.");
    }

    #[test]
    fn the_digit_bound_counts_every_candidate_byte_at_any_length() {
        let mut bytes = Vec::new();
        for n in 0..100usize {
            bytes.push(
                [
                    b'7', b'a', 0xC2, b'/', 0xE2, b':', 0xEF, 0xF0, 0xE4, b'0', b'9',
                ][n % 11],
            );
            let want = bytes.iter().filter(|&&b| may_be_digit(b)).count();
            assert_eq!(digit_bound(&bytes), want, "{n}");
        }
    }

    #[test]
    fn every_digit_form_gets_past_the_byte_prefilter() {
        // One mobile number spelled in each digit form `digit_value` reads (lead bytes C2, E2,
        // EF, F0), and a full-width `＠` address.
        let forms: [fn(u32) -> u32; 4] = [
            |d| 0xFF10 + d,
            |d| if d == 0 { 0x24EA } else { 0x2460 + d - 1 },
            |d| match d {
                0 => 0x2070,
                1 => 0xB9,
                2 => 0xB2,
                3 => 0xB3,
                _ => 0x2070 + d,
            },
            |d| 0x1D7CE + d,
        ];
        for form in forms {
            let text: String = "号码13860642414"
                .chars()
                .map(|c| match c.to_digit(10) {
                    Some(d) => char::from_u32(form(d)).expect("a character"),
                    None => c,
                })
                .collect();
            assert_eq!(s(&text), "号码138****2414", "{text}");
        }
        assert_eq!(s("邮箱 ab＠qq.com"), "邮箱 a***@qq.com");
    }

    /// An identity number that a partner's reader reads went out unmasked because the detector
    /// read fewer spellings: spelled in Unicode tag characters (invisible on screen, ASCII to a
    /// program), split by U+180E or a variation selector, in Arabic-Indic, Devanagari or Thai
    /// digits, or in Chinese numerals. Digits and invisible characters are now Unicode's
    /// classes (`mask::reading`); each spelling is found and masked.
    /// Regression: a control character (NUL, BEL, ESC, DEL, a C1 control) splitting the digits
    /// renders as nothing and a program stripping non-printables reads the number, yet it ended
    /// the run; a thin or narrow no-break space (the standard digit-group separators), a tab, a
    /// line break, an en dash, ` - `, or an invisible character next to a separator ended it too.
    #[test]
    fn identifiers_split_by_controls_or_any_spelling_of_a_gap_are_found() {
        let cases = [
            "1101051949\u{0}1231002X",
            "1101051949\u{7}1231002X",
            "110105\u{1B}19491231\u{7F}002X",
            "1101051949\u{9F}1231002X",
            "110105\u{2009}19491231\u{2009}002X",
            "110105\u{202F}19491231\u{202F}002X",
            "110105\t19491231\n002X",
            "110105\u{2013}19491231\u{2013}002X",
            "110105 - 19491231 - 002X",
            "110105 \u{200B}19491231\u{200B} 002X",
            "110105\u{3000}\u{3000}19491231 002X",
        ];
        for spelled in cases {
            assert_the_id_is_masked(spelled);
        }
        let mobile = "call 138\u{0}1234\u{1}5678 now";
        assert_eq!(s(mobile), "call 138****5678 now");
        // Four separators in a row are not a gap inside one number; prose still is not merged.
        let far = "1101051949 -  - 1231002X";
        assert_eq!(s(far), far);
        assert_eq!(s("1 2 3 4 5 6 7 8 9 0 1"), "1 2 3 4 5 6 7 8 9 0 1");
    }

    #[test]
    fn identifiers_in_any_script_or_invisible_spelling_are_found() {
        let id = "11010519491231002X";
        let spell = |f: &dyn Fn(char) -> String| -> String { id.chars().map(f).collect() };
        let join = |between: &str| {
            id.chars()
                .map(String::from)
                .collect::<Vec<_>>()
                .join(between)
        };
        let in_run = |zero: u32| {
            spell(&|c| match c.to_digit(10) {
                Some(d) => char::from_u32(zero + d).unwrap().to_string(),
                None => c.to_string(),
            })
        };
        let chinese = |c: char| {
            "〇一二三四五六七八九"
                .chars()
                .nth(c.to_digit(10).unwrap() as usize)
                .unwrap()
                .to_string()
        };
        let spellings = [
            spell(&|c| char::from_u32(0xE0000 + c as u32).unwrap().to_string()),
            join("\u{180E}"),
            join("\u{FE0F}"),
            join("\u{E0001}"),
            in_run(0x660),
            in_run(0x966),
            in_run(0xE50),
            id[..17].chars().map(chinese).collect::<String>() + "X",
        ];
        for spelled in spellings {
            assert_the_id_is_masked(&spelled);
        }
        // An address spelled in tag characters or full-width forms (regression: only the
        // full-width `＠` was read).
        let tags: String = "ouyang.mx@163.com"
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
            .collect();
        assert_eq!(s(&format!("邮箱{tags}。")), "邮箱o***@163.com。");
        assert_eq!(s("邮箱ｏｕｙａｎｇ＠１６３．ｃｏｍ"), "邮箱o***@163.com");
        // Regression: a character that renders as nothing ended the address, and what stood
        // before it went out (`zh` + `a***@163.com` reads `zha***@163.com`).
        for hidden in ["\u{200B}", "\u{0}", "\u{AD}", "\u{2060}\u{200D}"] {
            let text = format!("邮箱zh{hidden}ang.mx@16{hidden}3.com。");
            assert_eq!(s(&text), "邮箱z***@163.com。", "{}", text.escape_unicode());
        }
        // A mobile number in financial numerals, and ordinary Chinese prose with numerals.
        assert_eq!(s("电话壹叁捌陆零陆肆贰肆壹肆"), "电话138****2414");
        for text in ["二〇二四年一月十日收到一笔", "第一二三四五六七八九〇号"]
        {
            assert_eq!(s(text), text);
        }
    }

    /// The byte prefilter may skip a value only when it holds no digit: every character
    /// `digit_value` reads must pass it.
    #[test]
    fn every_digit_character_gets_past_the_byte_prefilter() {
        let mut buf = [0u8; 4];
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            if digit_value(c).is_some() || is_check_x(c) {
                let lead = c.encode_utf8(&mut buf).as_bytes()[0];
                assert!(may_be_digit(lead) || c.is_ascii(), "U+{:04X}", c as u32);
            }
        }
    }

    #[test]
    fn leaves_ordinary_numbers_alone() {
        for text in [
            "reviewed by agent #42",
            "amount 181134.18 on 2024-01-10",
            "order 20250601123045",
            "C:\\uploads\\2024\\id_front.jpg",
            "310115197511030082 has a bad check",
        ] {
            assert_eq!(s(text), text);
        }
    }

    #[test]
    fn only_requested_detectors_run() {
        let mut out = String::new();
        assert_eq!(scan(&[Detector::Email], "13860642414", &mut out), 0);
        assert_eq!(scan(&[Detector::Mobile], "13860642414", &mut out), 1);
        assert_eq!(out, "138****2414");
    }
}
