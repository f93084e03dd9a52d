//! Reading one complete token strictly: names, start tags and their attributes, end tags, the
//! XML declaration, and character references in text and attribute values.
//!
//! Only the five predefined entities and numeric character references exist (no document type
//! can declare others); a reference to anything else, a character XML does not allow, `<` in an
//! attribute value, `]]>` in text, a malformed name, or the same attribute twice is refused.

use std::ops::Range;

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

fn name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80
}

fn name_char(b: u8) -> bool {
    name_start(b) || b.is_ascii_digit() || b == b'-' || b == b'.'
}

fn space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Whether `name` is a qualified name: an XML name with at most one colon, not at either end.
pub(crate) fn is_qname(name: &[u8]) -> bool {
    let colons = name.iter().filter(|&&b| b == b':').count();
    !name.is_empty()
        && name_start(name[0])
        && name.iter().all(|&b| name_char(b))
        && std::str::from_utf8(name).is_ok()
        && (colons == 0 || colons == 1 && name[0] != b':' && name[name.len() - 1] != b':')
}

fn scan_name(t: &[u8], mut i: usize) -> usize {
    while i < t.len() && name_char(t[i]) {
        i += 1;
    }
    i
}

/// Reads a start tag (`t` is the whole token, `<` to `>`) into `tag`.
pub(crate) fn start_tag(t: &[u8], tag: &mut Tag) -> Result<(), V> {
    tag.attrs.clear();
    let body_end = t.len() - 1;
    tag.empty = t[body_end - 1] == b'/' && body_end > 1;
    let end = if tag.empty { body_end - 1 } else { body_end };
    let name_end = scan_name(t, 1);
    tag.name = 1..name_end;
    if !is_qname(&t[tag.name.clone()]) {
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
        let n_end = scan_name(t, i);
        let name = i..n_end;
        if !is_qname(&t[name.clone()]) {
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

/// The name of an end tag (`</name>`, white space allowed before `>`).
pub(crate) fn end_tag(t: &[u8]) -> Result<Range<usize>, V> {
    let n_end = scan_name(t, 2);
    let rest = &t[n_end..t.len() - 1];
    if !is_qname(&t[2..n_end]) || !rest.iter().all(|&b| space(b)) {
        return Err(V::InvalidXml);
    }
    Ok(2..n_end)
}

/// Whether `c` may appear in an XML 1.0 document.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Decodes character data or an attribute value as written (`raw`) into `out`: references
/// resolved, every character checked. `attr` refuses `<` (allowed nowhere raw in a value).
pub(crate) fn decode(raw: &[u8], attr: bool, out: &mut String) -> Result<(), V> {
    out.clear();
    let text = std::str::from_utf8(raw).map_err(|_| V::InvalidUtf8)?;
    if !attr && text.contains("]]>") {
        return Err(V::InvalidXml);
    }
    let mut rest = text;
    while let Some(amp) = rest.find(['&', '<']) {
        let plain = &rest[..amp];
        if !plain.chars().all(xml_char) {
            return Err(V::ControlCharacter);
        }
        out.push_str(plain);
        if rest.as_bytes()[amp] == b'<' {
            return Err(V::InvalidXml);
        }
        let after = &rest[amp + 1..];
        let semi = after.find(';').ok_or(V::InvalidXml)?;
        let name = &after[..semi];
        let c = match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    // A named entity no document can declare here.
                    return Err(V::XmlForbidden);
                };
                let ok = |s: &str| {
                    !s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_hexdigit())
                };
                let digits = name.trim_start_matches("#x").trim_start_matches('#');
                code.filter(|_| ok(digits))
                    .and_then(char::from_u32)
                    .filter(|&c| xml_char(c))
                    .ok_or(V::InvalidXml)?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    if !rest.chars().all(xml_char) {
        return Err(V::ControlCharacter);
    }
    out.push_str(rest);
    Ok(())
}

/// Escapes `text` for character data or a double-quoted attribute value.
pub(crate) fn escape(text: &str, out: &mut Vec<u8>) {
    for b in text.bytes() {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b => out.push(b),
        }
    }
}

/// Reads `<?xml version="1.0" encoding="..." standalone="..."?>`: the encoding's label, if any.
pub(crate) fn declaration(t: &[u8]) -> Result<Option<String>, V> {
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
    let mut encoding = None;
    for (i, (n, v, _)) in tag.attrs.iter().enumerate() {
        let value = std::str::from_utf8(&fake[v.clone()]).map_err(|_| V::InvalidXml)?;
        match (&fake[n.clone()], i) {
            (b"version", 0) if value == "1.0" => {}
            (b"encoding", 1) => encoding = Some(value.to_string()),
            (b"standalone", _) if value == "yes" || value == "no" => {}
            _ => return Err(V::InvalidXml),
        }
    }
    if tag.attrs.is_empty() {
        return Err(V::InvalidXml);
    }
    Ok(encoding)
}
