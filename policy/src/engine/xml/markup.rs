//! Reading one complete token strictly: names, start tags and their attributes, end tags, the
//! XML declaration, and character references in text and attribute values.
//!
//! Only the five predefined entities and numeric character references exist (no document type
//! can declare others); a reference to anything else, a character XML does not allow, `<` in an
//! attribute value, `]]>` in text, a malformed name, or the same attribute twice is refused.

use std::ops::Range;

use crate::engine::charset::Charset;
use crate::engine::violation::ViolationKind as V;

/// A start tag read from its token: ranges into the token.
#[derive(Debug, Default)]
pub(crate) struct Tag {
    pub(crate) name: Range<usize>,
    /// Name, raw value (between the quotes), and the quote.
    pub(crate) attrs: Vec<(Range<usize>, Range<usize>, u8)>,
    /// `<a/>`.
    pub(crate) empty: bool,
}

/// Bytes that may start a name, and bytes that may continue one (non-ASCII bytes are taken as
/// name characters; the name must still be UTF-8).
static NAME: [[bool; 256]; 2] = {
    let mut t = [[false; 256]; 2];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let start = c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80;
        t[0][b] = start;
        t[1][b] = start || c.is_ascii_digit() || c == b'-' || c == b'.';
        b += 1;
    }
    t
};

pub(crate) fn name_start(b: u8) -> bool {
    NAME[0][usize::from(b)]
}

fn name_char(b: u8) -> bool {
    NAME[1][usize::from(b)]
}

fn space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Whether `name` is a qualified name: an XML name with at most one colon, not at either end.
pub(crate) fn is_qname(name: &[u8]) -> bool {
    let (end, qname) = scan_qname(name, 0);
    end == name.len() && qname
}

/// A qualified name's prefix (empty when it has none) and local part.
pub(crate) fn split_qname(name: &[u8]) -> (&[u8], &[u8]) {
    match name.iter().position(|&b| b == b':') {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => (&[], name),
    }
}

/// Reads the name that starts at `t[i]` (name characters, as far as they go): where it ends, and
/// whether it is a qualified name — not empty, a name's first character, at most one colon and
/// not at either end, UTF-8. One pass over the bytes.
fn scan_qname(t: &[u8], i: usize) -> (usize, bool) {
    let mut j = i;
    let mut colons = 0;
    // Where the local part starts: after the (last) colon.
    let mut local = i;
    let mut ascii = true;
    while j < t.len() && name_char(t[j]) {
        let colon = t[j] == b':';
        colons += usize::from(colon);
        local = if colon { j + 1 } else { local };
        ascii &= t[j] < 0x80;
        j += 1;
    }
    let name = &t[i..j];
    let qname = match (name.first(), name.last()) {
        (Some(&first), Some(&last)) => {
            name_start(first)
                && (colons == 0 || colons == 1 && first != b':' && last != b':')
                && t.get(local).is_some_and(|&b| name_start(b))
                && (ascii || std::str::from_utf8(name).is_ok_and(is_unicode_qname))
        }
        _ => false,
    };
    (j, qname)
}

/// Whether a name with non-ASCII characters is a qualified name by the characters XML 1.0
/// (fifth edition) allows in names: its prefix and local part each a name start character, then
/// name characters. (The byte tables take every non-ASCII byte as a name byte, so that a name is
/// read to its end before it is judged.)
fn is_unicode_qname(name: &str) -> bool {
    let start = |c: char| {
        matches!(c,
            'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
            | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
            | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
            | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
            | '\u{10000}'..='\u{EFFFF}')
    };
    let more = |c: char| {
        start(c)
            || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
    };
    name.split(':').all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(start) && chars.all(more)
    })
}

/// Reads a start tag (`t` is the whole token, `<` to `>`) into `tag`.
pub(crate) fn start_tag(t: &[u8], tag: &mut Tag) -> Result<(), V> {
    tag.attrs.clear();
    let body_end = t.len() - 1;
    tag.empty = t[body_end - 1] == b'/' && body_end > 1;
    let end = if tag.empty { body_end - 1 } else { body_end };
    let (name_end, qname) = scan_qname(t, 1);
    tag.name = 1..name_end;
    if !qname {
        return Err(V::InvalidXml);
    }
    let mut i = name_end;
    loop {
        let before = i;
        while i < end && space(t[i]) {
            i += 1;
        }
        if i == end {
            return Ok(());
        }
        if i == before {
            // Attributes are separated by white space.
            return Err(V::InvalidXml);
        }
        let (n_end, qname) = scan_qname(t, i);
        let name = i..n_end;
        if !qname {
            return Err(V::InvalidXml);
        }
        i = n_end;
        while i < end && space(t[i]) {
            i += 1;
        }
        if i == end || t[i] != b'=' {
            return Err(V::InvalidXml);
        }
        i += 1;
        while i < end && space(t[i]) {
            i += 1;
        }
        let q = *t.get(i).filter(|_| i < end).ok_or(V::InvalidXml)?;
        if q != b'"' && q != b'\'' {
            return Err(V::InvalidXml);
        }
        let v_start = i + 1;
        let v_end = memchr::memchr(q, &t[v_start..end])
            .map(|n| v_start + n)
            .ok_or(V::InvalidXml)?;
        if tag
            .attrs
            .iter()
            .any(|(n, _, _)| t[n.clone()] == t[name.clone()])
        {
            return Err(V::DuplicateKey);
        }
        tag.attrs.push((name, v_start..v_end, q));
        i = v_end + 1;
    }
}

/// Whether `c` may appear in an XML 1.0 document.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether UTF-8 text holds only characters XML allows, checked on its bytes: no control
/// character but tab, LF and CR, and neither U+FFFE nor U+FFFF (`EF BF BE`, `EF BF BF`);
/// surrogates cannot be UTF-8.
fn xml_chars(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| b >= 0x20 || b == b'\t' || b == b'\n' || b == b'\r')
        && memchr::memchr_iter(0xEF, bytes).all(|i| {
            !(bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)))
        })
}

/// The text of a CDATA section or a comment as read: UTF-8 holding only characters XML allows
/// (no reference is markup there, so nothing is decoded).
pub(crate) fn chars(raw: &[u8]) -> Result<&str, V> {
    let text = std::str::from_utf8(raw).map_err(|_| V::InvalidUtf8)?;
    if !xml_chars(raw) {
        return Err(V::ControlCharacter);
    }
    Ok(text)
}

/// Bytes after which text is not plain ASCII to copy as it is: a reference (`&`), `<`, a `]`
/// (which may start `]]>`), a CR (a line end XML reads as LF), a control character other than
/// tab, LF and CR, and any non-ASCII byte (UTF-8 to check, and U+FFFE or U+FFFF to refuse); in
/// an attribute value, also tab and LF (read as spaces).
static NOT_PLAIN: [[bool; 256]; 2] = {
    let mut t = [[false; 256]; 2];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[0][b] = c == b'&'
            || c == b'<'
            || c == b']'
            || c == b'\r'
            || c >= 0x80
            || (c < 0x20 && c != b'\t' && c != b'\n');
        t[1][b] = t[0][b] || c == b'\t' || c == b'\n';
        b += 1;
    }
    t
};

/// Appends text as an XML processor hands it over (XML 1.0 §2.11, §3.3.3): each line end — CR
/// LF, or a CR alone — as one LF, and in an attribute value each tab and line end as a space.
/// What a rule, a mask or a hash reads is then the value the partner's parser reads.
pub(crate) fn push_normalized(out: &mut String, text: &str, attr: bool) {
    let table = &NOT_PLAIN[usize::from(attr)];
    if !text
        .bytes()
        .any(|b| matches!(b, b'\r' | b'\t' | b'\n') && table[usize::from(b)])
    {
        out.push_str(text);
        return;
    }
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let c = match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                '\n'
            }
            c => c,
        };
        out.push(if attr && matches!(c, '\t' | '\n') {
            ' '
        } else {
            c
        });
    }
}

/// Decodes character data or an attribute value as written (`raw`), appending it to `out`:
/// references resolved, every character checked. `attr` refuses `<` (allowed nowhere raw in a
/// value).
pub(crate) fn decode(raw: &[u8], attr: bool, out: &mut String) -> Result<(), V> {
    read::<true>(raw, attr, out)
}

/// [`decode`] into `out` emptied first (the scratch text of a value read on its own).
pub(crate) fn decode_fresh(raw: &[u8], attr: bool, out: &mut String) -> Result<(), V> {
    out.clear();
    decode(raw, attr, out)
}

/// Checks character data or an attribute value as [`decode`] does, keeping nothing: for text
/// that does not go out (a removed element's).
pub(crate) fn check(raw: &[u8], attr: bool) -> Result<(), V> {
    read::<false>(raw, attr, &mut String::new())
}

/// [`decode`], appending to `out` only when `KEEP`.
fn read<const KEEP: bool>(raw: &[u8], attr: bool, out: &mut String) -> Result<(), V> {
    // Most values are plain ASCII: one pass over the bytes decides it, and they are the text.
    if !raw
        .iter()
        .any(|&b| NOT_PLAIN[usize::from(attr)][usize::from(b)])
    {
        if KEEP {
            out.extend(raw.iter().map(|&b| char::from(b)));
        }
        return Ok(());
    }
    let text = std::str::from_utf8(raw).map_err(|_| V::InvalidUtf8)?;
    if !attr && memchr::memchr_iter(b']', raw).any(|i| raw[i..].starts_with(b"]]>")) {
        return Err(V::InvalidXml);
    }
    if !xml_chars(raw) {
        return Err(V::ControlCharacter);
    }
    let mut rest = text;
    while let Some(amp) = memchr::memchr2(b'&', b'<', rest.as_bytes()) {
        if KEEP {
            push_normalized(out, &rest[..amp], attr);
        }
        if rest.as_bytes()[amp] == b'<' {
            return Err(V::InvalidXml);
        }
        let after = &rest[amp + 1..];
        let semi = memchr::memchr(b';', after.as_bytes()).ok_or(V::InvalidXml)?;
        let name = &after[..semi];
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let (digits, radix) = if let Some(hex) = name.strip_prefix("#x") {
                    (hex, 16)
                } else if let Some(dec) = name.strip_prefix('#') {
                    (dec, 10)
                } else {
                    // A named entity no document can declare here.
                    return Err(V::XmlForbidden);
                };
                let ok = !digits.is_empty()
                    && digits.len() <= 8
                    && digits.bytes().all(|b| b.is_ascii_hexdigit());
                u32::from_str_radix(digits, radix)
                    .ok()
                    .filter(|_| ok)
                    .and_then(char::from_u32)
                    .filter(|&c| xml_char(c))
                    .ok_or(V::InvalidXml)?
            }
        };
        if KEEP {
            out.push(c);
        }
        rest = &after[semi + 1..];
    }
    if KEEP {
        push_normalized(out, rest, attr);
    }
    Ok(())
}

/// Appends character data `t` as written — but when a removed comment stood just before it
/// (`after_comment`), with its first character as a reference if that character could join
/// the text before the comment into something else: an LF after a CR (a CR LF, read as one
/// line end), a `]` or `>` after `]` (`]]>`, which text may not hold).
pub(crate) fn push_after(out: &mut Vec<u8>, t: &[u8], after_comment: bool) {
    match t.split_first() {
        Some((&first, rest)) if after_comment && matches!(first, b'\n' | b']' | b'>') => {
            out.extend_from_slice(match first {
                b'\n' => b"&#10;",
                b']' => b"&#93;",
                _ => b"&gt;",
            });
            out.extend_from_slice(rest);
        }
        _ => out.extend_from_slice(t),
    }
}

/// Escapes `text` for character data (`attr` false) or a double-quoted attribute value, so that
/// a parser hands back exactly `text`: markup characters as entities, a CR as `&#13;` (written
/// raw it would be read as LF), and in an attribute value a tab or LF as a reference too (raw,
/// they would be read as spaces).
pub(crate) fn escape(text: &str, attr: bool, out: &mut Vec<u8>) {
    let table = &ESCAPED[usize::from(attr)];
    let mut rest = text.as_bytes();
    // Masks and pseudonyms rarely hold one: a test of every byte, one copy.
    if !rest.iter().any(|&b| table[usize::from(b)]) {
        out.extend_from_slice(rest);
        return;
    }
    while let Some(i) = rest.iter().position(|&b| table[usize::from(b)]) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(match rest[i] {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\r' => b"&#13;",
            b'\n' => b"&#10;",
            b'\t' => b"&#9;",
            _ => b"&quot;",
        });
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
}

/// The bytes [`escape`] replaces in character data, and in an attribute value.
static ESCAPED: [[bool; 256]; 2] = {
    let mut t = [[false; 256]; 2];
    let mut attr = 0;
    while attr < 2 {
        t[attr][b'&' as usize] = true;
        t[attr][b'<' as usize] = true;
        t[attr][b'>' as usize] = true;
        t[attr][b'"' as usize] = true;
        t[attr][b'\r' as usize] = true;
        attr += 1;
    }
    t[1][b'\t' as usize] = true;
    t[1][b'\n' as usize] = true;
    t
};

/// What an XML declaration says: all sluice writes of it again (see [`Declaration::write`]).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Declaration {
    /// The `encoding` label, as written.
    pub encoding: Option<String>,
    /// `standalone="yes"` or `"no"`.
    pub standalone: Option<bool>,
}

impl Declaration {
    /// The declaration as it goes out, the root element right after it: version 1.0, the charset's
    /// canonical label when the document named one, `standalone` when it said. Never the
    /// document's spelling — its quotes, the case of its label, the white space between its
    /// pseudo-attributes (of any length, in four characters: room for any text).
    pub fn write(&self, charset: Option<Charset>, out: &mut Vec<u8>) {
        out.extend_from_slice(b"<?xml version=\"1.0\"");
        if let Some(charset) = charset {
            out.extend_from_slice(b" encoding=\"");
            out.extend_from_slice(charset.xml_label().as_bytes());
            out.push(b'"');
        }
        match self.standalone {
            Some(true) => out.extend_from_slice(b" standalone=\"yes\""),
            Some(false) => out.extend_from_slice(b" standalone=\"no\""),
            None => {}
        }
        out.extend_from_slice(b"?>");
    }
}

/// Reads `<?xml version="1.0" encoding="..." standalone="..."?>`.
pub(crate) fn declaration(t: &[u8]) -> Result<Declaration, V> {
    let inner = t
        .strip_prefix(b"<?xml")
        .and_then(|r| r.strip_suffix(b"?>"))
        .filter(|r| r.first().is_some_and(|&b| space(b)))
        .ok_or(V::XmlForbidden)?;
    // Read as a start tag's attributes.
    let mut fake = Vec::with_capacity(inner.len() + 3);
    fake.extend_from_slice(b"<x");
    fake.extend_from_slice(inner);
    fake.push(b'>');
    let mut tag = Tag::default();
    start_tag(&fake, &mut tag)?;
    // `<?xml version="1.0"/?>` would read as an empty-element tag's attributes.
    if tag.empty {
        return Err(V::InvalidXml);
    }
    let mut read = Declaration::default();
    for (i, (n, v, _)) in tag.attrs.iter().enumerate() {
        let value = std::str::from_utf8(&fake[v.clone()]).map_err(|_| V::InvalidXml)?;
        match (&fake[n.clone()], i) {
            (b"version", 0) if value == "1.0" => {}
            (b"encoding", 1) => read.encoding = Some(value.to_string()),
            (b"standalone", _) if value == "yes" || value == "no" => {
                read.standalone = Some(value == "yes");
            }
            _ => return Err(V::InvalidXml),
        }
    }
    // The version comes first, and is not optional.
    if tag
        .attrs
        .first()
        .is_none_or(|(n, _, _)| &fake[n.clone()] != b"version")
    {
        return Err(V::InvalidXml);
    }
    Ok(read)
}

/// Whether `t` is only XML white space (`S`: space, tab, CR, LF) — text as written outside the
/// root or in an end tag, or text decoded in a container.
pub(crate) fn only_space(t: &[u8]) -> bool {
    t.iter().all(|&b| space(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(raw: &str, attr: bool) -> Result<String, V> {
        let mut out = String::from("kept: ");
        let decoded = decode(raw.as_bytes(), attr, &mut out).map(|()| out[6..].to_string());
        assert_eq!(
            check(raw.as_bytes(), attr),
            decoded.as_ref().map(|_| ()).map_err(|&e| e),
            "{raw:?}: checked as decoded"
        );
        decoded
    }

    /// Regression: the local part of `p:1` was not checked to start a name, and every
    /// non-ASCII character was taken as a name character (`a×b`, a zero-width space), so a
    /// subtree kept whole carried names no namespace-aware parser reads.
    #[test]
    fn names_are_qualified_names_by_the_characters_xml_allows() {
        for good in [
            "a",
            "p:a",
            "_a-b.c",
            "张三",
            "p:张",
            "é",
            "a·b",
            "a\u{300}",
            "a\u{200D}b",
        ] {
            assert!(is_qname(good.as_bytes()), "{good:?}");
        }
        for bad in [
            "p:1",
            "p:-a",
            "p:.a",
            "1a",
            ":a",
            "a:",
            "a:b:c",
            "a×b",
            "a÷b",
            "a\u{200B}b",
            "\u{300}a",
            "p:\u{300}",
            "a\u{2028}",
            "",
        ] {
            assert!(!is_qname(bad.as_bytes()), "{bad:?}");
        }
    }

    #[test]
    fn plain_text_and_text_with_references_or_checks_decode_alike() {
        // Plain ASCII (the quick path), and each byte that leaves it.
        assert_eq!(
            decoded("LA2026 0001\t\n", false).unwrap(),
            "LA2026 0001\t\n"
        );
        assert_eq!(decoded("", false).unwrap(), "");
        // Line ends and attribute white space as an XML processor hands them over; a character
        // reference is the character it names, after normalization.
        assert_eq!(decoded("a\r\nb\rc\r\r\nd", false).unwrap(), "a\nb\nc\n\nd");
        assert_eq!(decoded("a\tb\r\nc\nd\re", true).unwrap(), "a b c d e");
        assert_eq!(decoded("&#13;\r\n&#9;\t", true).unwrap(), "\r \t ");
        assert_eq!(decoded("&#13;\r\n&#9;\t张", false).unwrap(), "\r\n\t\t张");
        assert_eq!(decoded("a &amp; b &#x4E2D;", false).unwrap(), "a & b 中");
        assert_eq!(decoded("欧阳", false).unwrap(), "欧阳");
        assert_eq!(decoded("a]b]]", false).unwrap(), "a]b]]");
        assert_eq!(decoded("a]]>b", false), Err(V::InvalidXml));
        assert_eq!(decoded("a]]>b", true).unwrap(), "a]]>b");
        assert_eq!(decoded("a<b", true), Err(V::InvalidXml));
        assert_eq!(decoded("a\u{1}b", false), Err(V::ControlCharacter));
        assert_eq!(decoded("a\u{FFFE}", false), Err(V::ControlCharacter));
        assert_eq!(decoded("&bogus;", false), Err(V::XmlForbidden));
        let mut out = String::new();
        assert_eq!(
            decode(b"a\xffb", false, &mut out),
            Err(V::InvalidUtf8),
            "not UTF-8"
        );
    }
}
