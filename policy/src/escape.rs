//! JSON string escaping and unescaping.
//!
//! Unescaping is only ever applied to bytes the engine has already validated (UTF-8, escape
//! grammar, surrogate pairing), so it cannot fail. Escaping is canonical and minimal: `"` and `\`
//! are escaped, control characters use the short forms or `\u00XX`, and everything else is
//! written as UTF-8.

/// Appends `s` as a JSON string literal (with quotes).
pub fn write_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_json_string_body(out, s.as_bytes());
    out.push(b'"');
}

/// Bytes that may appear as-is inside a string (anything but `"`, `\` and controls).
static PLAIN: [bool; 256] = {
    let mut t = [true; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = false;
        i += 1;
    }
    t[b'"' as usize] = false;
    t[b'\\' as usize] = false;
    t
};

/// Index of the first byte in `buf[i..stop]` that is `"`, `\\` or a control character, or `stop`.
/// Sixteen bytes at a time with SSE2 (part of every x86-64; `safe_arch` wraps it without
/// `unsafe`), then eight at a time (SWAR: the lowest flagged byte of each test is exact, so the
/// lowest over all tests is too).
#[inline(always)]
pub(crate) fn scan_plain(buf: &[u8], mut i: usize, stop: usize) -> usize {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        use safe_arch::{
            bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, max_u8_m128i,
            move_mask_i8_m128i, set_splat_i8_m128i,
        };
        let quote = set_splat_i8_m128i(b'"' as i8);
        let backslash = set_splat_i8_m128i(b'\\' as i8);
        let control = set_splat_i8_m128i(0x1f);
        while i + 16 <= stop {
            let v = load_unaligned_m128i(buf[i..i + 16].try_into().expect("16 bytes"));
            // A byte is below 0x20 exactly when max(byte, 0x1f) is 0x1f.
            let flagged = bitor_m128i(
                bitor_m128i(
                    cmp_eq_mask_i8_m128i(v, quote),
                    cmp_eq_mask_i8_m128i(v, backslash),
                ),
                cmp_eq_mask_i8_m128i(max_u8_m128i(v, control), control),
            );
            let mask = move_mask_i8_m128i(flagged);
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while i + 8 <= stop {
        let w = u64::from_le_bytes(buf[i..i + 8].try_into().expect("8 bytes"));
        let q = w ^ (LO * b'"' as u64);
        let s = w ^ (LO * b'\\' as u64);
        let t =
            (q.wrapping_sub(LO) & !q | s.wrapping_sub(LO) & !s | w.wrapping_sub(LO * 0x20) & !w)
                & HI;
        if t != 0 {
            return i + (t.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < stop && PLAIN[buf[i] as usize] {
        i += 1;
    }
    i
}

/// Appends the escaped body (without quotes) of a valid UTF-8 string.
pub fn write_json_string_body(out: &mut Vec<u8>, s: &[u8]) {
    if scan_plain(s, 0, s.len()) == s.len() {
        out.extend_from_slice(s);
        return;
    }
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
}

/// The value of four hex digits (checked by the reader that found the escape).
fn hex4(b: &[u8]) -> u32 {
    b.iter().fold(0, |acc, &h| {
        acc * 16 + u32::from(crate::hex::digit(h).unwrap_or(0))
    })
}

/// A piece of an unescaped string body: a run without escapes (a range of the body) or the
/// character of one escape.
enum Piece {
    Plain(usize, usize),
    Char(char),
}

/// The pieces of a validated JSON string body (no quotes), in order.
struct Pieces<'a> {
    raw: &'a [u8],
    i: usize,
}

impl Iterator for Pieces<'_> {
    type Item = Piece;

    #[inline(always)]
    fn next(&mut self) -> Option<Piece> {
        let (raw, i) = (self.raw, self.i);
        if i >= raw.len() {
            return None;
        }
        if raw[i] != b'\\' {
            let run = memchr::memchr(b'\\', &raw[i..]).unwrap_or(raw.len() - i);
            self.i += run;
            return Some(Piece::Plain(i, i + run));
        }
        let c = match raw[i + 1] {
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'u' => {
                let unit = hex4(&raw[i + 2..i + 6]);
                self.i += 6;
                let cp = if (0xD800..0xDC00).contains(&unit) {
                    let low = hex4(&raw[i + 8..i + 12]);
                    self.i += 6;
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    unit
                };
                return Some(Piece::Char(
                    char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER),
                ));
            }
            other => other as char, // `"`, `\`, `/`
        };
        self.i += 2;
        Some(Piece::Char(c))
    }
}

/// Appends the unescaped content of a validated JSON string body (no quotes).
pub fn unescape_into(out: &mut Vec<u8>, raw: &[u8]) {
    for piece in (Pieces { raw, i: 0 }) {
        match piece {
            Piece::Plain(a, b) => out.extend_from_slice(&raw[a..b]),
            Piece::Char(c) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

/// [`unescape_into`] for a body that is already text: the result is text too, with no second
/// UTF-8 validation.
pub fn unescape_str_into(out: &mut String, raw: &str) {
    for piece in (Pieces {
        raw: raw.as_bytes(),
        i: 0,
    }) {
        match piece {
            // Runs start and end at a `\\` or an end of the body: character boundaries.
            Piece::Plain(a, b) => out.push_str(&raw[a..b]),
            Piece::Char(c) => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swar_scan_agrees_with_the_scalar_scan() {
        let mut buf = vec![b'a'; 64];
        for special in [b'"', b'\\', 0u8, 0x1f, b'\n'] {
            for pos in 0..64 {
                buf.fill(b'a');
                buf[pos] = special;
                for start in 0..pos.min(9) {
                    assert_eq!(
                        scan_plain(&buf, start, 64),
                        pos,
                        "{special:#x} at {pos} from {start}"
                    );
                }
            }
        }
        let text = "客户 \u{7f} é ÿ".as_bytes();
        assert_eq!(scan_plain(text, 0, text.len()), text.len());
    }

    #[test]
    fn unescape_handles_every_form() {
        let raw = r#"客a\"b\\c\/d\n\t\r\b\f\u005f\u5ba2\ud83d\ude00é"#;
        let want = "客a\"b\\c/d\n\t\r\u{8}\u{c}_客😀é";
        let mut out = Vec::new();
        unescape_into(&mut out, raw.as_bytes());
        assert_eq!(String::from_utf8(out).unwrap(), want);
        let mut text = String::from("kept ");
        unescape_str_into(&mut text, raw);
        assert_eq!(text, format!("kept {want}"));
    }

    #[test]
    fn escape_is_minimal_and_round_trips() {
        let s = "a\"b\\c/d\n\u{1}客";
        let mut out = Vec::new();
        write_json_string(&mut out, s);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            r#""a\"b\\c/d\n\u0001客""#
        );
        let parsed: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed, s);
    }
}
