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

/// Appends the escaped body (without quotes) of a valid UTF-8 string.
pub fn write_json_string_body(out: &mut Vec<u8>, s: &[u8]) {
    if !s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
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

fn hex4(b: &[u8]) -> u32 {
    b.iter().fold(0, |acc, &h| {
        acc * 16
            + match h {
                b'0'..=b'9' => u32::from(h - b'0'),
                b'a'..=b'f' => u32::from(h - b'a' + 10),
                _ => u32::from(h - b'A' + 10),
            }
    })
}

/// Appends the unescaped content of a validated JSON string body (no quotes).
pub fn unescape_into(out: &mut Vec<u8>, raw: &[u8]) {
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'\\', &raw[i..]) {
        out.extend_from_slice(&raw[i..i + off]);
        i += off;
        let c = match raw[i + 1] {
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'u' => {
                let unit = hex4(&raw[i + 2..i + 6]);
                i += 6;
                let cp = if (0xD800..0xDC00).contains(&unit) {
                    let low = hex4(&raw[i + 2..i + 6]);
                    i += 6;
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    unit
                };
                let c = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            other => other as char, // `"`, `\`, `/`
        };
        out.push(c as u8);
        i += 2;
    }
    out.extend_from_slice(&raw[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_handles_every_form() {
        let mut out = Vec::new();
        unescape_into(&mut out, br#"a\"b\\c\/d\n\t\r\b\f\u005f\u5ba2\ud83d\ude00"#);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\"b\\c/d\n\t\r\u{8}\u{c}_客😀"
        );
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
