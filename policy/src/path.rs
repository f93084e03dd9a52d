//! Structural field paths: `$`, `.key`, `["any key"]` and `[*]`; for XML bodies also written
//! `/prefix:element/item[*]/@attribute`.
//!
//! A path names a position in a JSON document by structure, never by text: `$.a.b` is the member
//! `b` of the object that is member `a` of the root object; `$.items[*]` is every element of the
//! array `items`. Keys are compared after JSON unescaping, exactly (case-sensitive, no Unicode
//! normalisation). Everything JSONPath has beyond these four forms (filters, `..`, slices, indexes,
//! unions) is refused: a contract must list what it discloses, not describe a search.

use std::fmt;

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    /// A member of an object, by its (unescaped) key.
    Key(String),
    /// Every element of an array.
    Any,
}

/// A parsed structural path. The empty path is the document root, `$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FieldPath {
    segments: Vec<Segment>,
    /// Written (and displayed) in the XML form.
    xml: bool,
}

/// Why a path string was refused. The message names the offending text and lists what is
/// supported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{problem} at character {at}; supported forms are `$`, `.key`, `[\"any key\"]` and `[*]` (XML: `/a/b[*]/@c`)"
)]
pub struct PathError {
    /// What was wrong.
    pub problem: String,
    /// 0-based character offset into the path text.
    pub at: usize,
}

impl FieldPath {
    /// The root path `$`.
    pub fn root() -> Self {
        Self::default()
    }

    /// The steps of this path, root first.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// This path with one more step.
    pub fn child(&self, segment: Segment) -> Self {
        let mut segments = self.segments.clone();
        segments.push(segment);
        Self {
            segments,
            xml: self.xml,
        }
    }

    /// True for a path written in the XML form (`/a/b[*]/@c`).
    pub fn is_xml(&self) -> bool {
        self.xml
    }

    /// The root path, displayed in the same form as `self`.
    pub fn root_like(&self) -> Self {
        Self {
            segments: Vec::new(),
            xml: self.xml,
        }
    }

    /// Parses the XML form: `/` then steps separated by `/`, each a qualified name, optionally
    /// followed by `[*]` (the element may repeat); the last step may be `@name` (an attribute).
    fn parse_xml(text: &str) -> Result<Self, PathError> {
        let err = |problem: String, at: usize| PathError { problem, at };
        let mut segments = Vec::new();
        let mut at = 1;
        let steps: Vec<&str> = text[1..].split('/').collect();
        for (i, step) in steps.iter().enumerate() {
            let last = i + 1 == steps.len();
            let (name, any) = match step.strip_suffix("[*]") {
                Some(n) => (n, true),
                None => (*step, false),
            };
            let attr = name.strip_prefix('@');
            let bare = attr.unwrap_or(name);
            if !crate::engine::is_xml_name(bare) {
                return Err(err(
                    format!("{step:?} is not an element name, `name[*]` or a last `@attribute`"),
                    at,
                ));
            }
            if attr.is_some() && (!last || any) {
                return Err(err("an attribute `@name` must be the last step".into(), at));
            }
            segments.push(Segment::Key(name.to_string()));
            if any {
                segments.push(Segment::Any);
            }
            at += step.chars().count() + 1;
        }
        Ok(Self {
            segments,
            xml: true,
        })
    }

    /// True when `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &FieldPath) -> bool {
        self.segments.starts_with(&other.segments)
    }

    /// True when `self` lies strictly below `other`.
    pub fn is_below(&self, other: &FieldPath) -> bool {
        self.segments.len() > other.segments.len() && self.starts_with(other)
    }

    /// Parses a path string such as `$.applicants[*]["id no"]`.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let chars: Vec<char> = text.chars().collect();
        let err = |problem: &str, at: usize| PathError {
            problem: problem.to_string(),
            at,
        };
        if chars.first() == Some(&'/') && chars.len() > 1 {
            return Self::parse_xml(text);
        }
        if chars.first() != Some(&'$') {
            return Err(err(
                "a path must start with `$` (or `/` for an XML path)",
                0,
            ));
        }
        let mut segments = Vec::new();
        let mut i = 1;
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    if chars.get(i + 1) == Some(&'.') {
                        return Err(err("recursive descent `..` is not supported", i));
                    }
                    let start = i + 1;
                    let mut end = start;
                    while end < chars.len() && is_plain_key_char(chars[end]) {
                        end += 1;
                    }
                    if end == start {
                        let problem = match chars.get(start) {
                            None => "a `.` must be followed by a key".to_string(),
                            Some('*') => {
                                "`.*` is not supported (use `[*]` for array elements)".to_string()
                            }
                            Some(c) => {
                                format!("unexpected {c:?} after `.` (quote such keys: `[\"...\"]`)")
                            }
                        };
                        return Err(err(&problem, start));
                    }
                    segments.push(Segment::Key(chars[start..end].iter().collect()));
                    i = end;
                }
                '[' => match chars.get(i + 1) {
                    Some('*') if chars.get(i + 2) == Some(&']') => {
                        segments.push(Segment::Any);
                        i += 3;
                    }
                    Some('"') => {
                        let (key, next) =
                            parse_quoted(&chars, i + 2).map_err(|(p, at)| err(&p, at))?;
                        if chars.get(next) != Some(&']') {
                            return Err(err("expected `]` after a quoted key", next));
                        }
                        segments.push(Segment::Key(key));
                        i = next + 1;
                    }
                    Some('?') => {
                        return Err(err("filter expressions `[?(...)]` are not supported", i));
                    }
                    Some('\'') => {
                        return Err(err(
                            "single-quoted keys are not supported (use `[\"...\"]`)",
                            i,
                        ));
                    }
                    Some(c) if c.is_ascii_digit() || *c == '-' || *c == ':' => {
                        return Err(err(
                            "array indexes and slices are not supported (use `[*]`)",
                            i,
                        ));
                    }
                    _ => return Err(err("expected `[*]` or `[\"key\"]`", i)),
                },
                c => return Err(err(&format!("unexpected {c:?}"), i)),
            }
        }
        Ok(Self {
            segments,
            xml: false,
        })
    }
}

/// Characters allowed in the unquoted `.key` form: anything but structure, quotes, whitespace and
/// JSONPath operators.
fn is_plain_key_char(c: char) -> bool {
    !(c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '.' | '[' | ']' | '"' | '\'' | '\\' | '*' | '?' | '@' | '(' | ')' | '$' | ','
        ))
}

/// Parses the body of `["..."]` starting after the opening quote; JSON string escapes apply.
/// Returns the key and the index just past the closing quote.
fn parse_quoted(chars: &[char], mut i: usize) -> Result<(String, usize), (String, usize)> {
    let mut key = String::new();
    loop {
        match chars.get(i) {
            None => return Err(("unterminated quoted key".into(), i)),
            Some('"') => return Ok((key, i + 1)),
            Some('\\') => {
                let c = match chars.get(i + 1) {
                    Some('"') => '"',
                    Some('\\') => '\\',
                    Some('/') => '/',
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('r') => '\r',
                    Some('b') => '\u{8}',
                    Some('f') => '\u{c}',
                    Some('u') => {
                        let hex: String = chars.iter().skip(i + 2).take(4).collect();
                        let unit = u32::from_str_radix(&hex, 16)
                            .ok()
                            .filter(|_| hex.len() == 4)
                            .ok_or(("`\\u` needs four hex digits".to_string(), i))?;
                        let c = char::from_u32(unit).ok_or((
                            "surrogate escapes are not supported in keys".to_string(),
                            i,
                        ))?;
                        key.push(c);
                        i += 6;
                        continue;
                    }
                    _ => return Err(("invalid escape in quoted key".into(), i)),
                };
                key.push(c);
                i += 2;
            }
            Some(&c) => {
                key.push(c);
                i += 1;
            }
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let xml_form = self.xml
            && !self.segments.is_empty()
            && self.segments.iter().enumerate().all(|(i, s)| match s {
                Segment::Key(_) => true,
                Segment::Any => i > 0 && matches!(self.segments[i - 1], Segment::Key(_)),
            });
        if xml_form {
            for segment in &self.segments {
                match segment {
                    Segment::Key(k) => write!(f, "/{k}")?,
                    Segment::Any => f.write_str("[*]")?,
                }
            }
            return Ok(());
        }
        f.write_str("$")?;
        for segment in &self.segments {
            match segment {
                Segment::Any => f.write_str("[*]")?,
                Segment::Key(k) if !k.is_empty() && k.chars().all(is_plain_key_char) => {
                    write!(f, ".{k}")?
                }
                Segment::Key(k) => {
                    f.write_str("[\"")?;
                    for c in k.chars() {
                        match c {
                            '"' => f.write_str("\\\"")?,
                            '\\' => f.write_str("\\\\")?,
                            c if c.is_control() => write!(f, "\\u{:04x}", c as u32)?,
                            c => write!(f, "{c}")?,
                        }
                    }
                    f.write_str("\"]")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Segment {
        Segment::Key(k.into())
    }

    #[test]
    fn parses_every_supported_form() {
        let p = FieldPath::parse(r#"$.applicants[*]["id no"].姓名"#).unwrap();
        assert_eq!(
            p.segments(),
            &[key("applicants"), Segment::Any, key("id no"), key("姓名")]
        );
        assert_eq!(FieldPath::parse("$").unwrap(), FieldPath::root());
        assert_eq!(
            FieldPath::parse(r#"$["a\"b\u005f"]"#).unwrap().segments(),
            &[key("a\"b_")]
        );
        assert_eq!(
            FieldPath::parse("$[*][*]").unwrap().segments(),
            &[Segment::Any, Segment::Any]
        );
    }

    #[test]
    fn quoted_and_dotted_forms_are_the_same_path() {
        assert_eq!(FieldPath::parse(r#"$["a"].b"#), FieldPath::parse("$.a.b"));
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "$",
            "$.a[*].b",
            r#"$["has space"].x"#,
            r#"$["q\"uote"]"#,
            r#"$["a.b"]"#,
            "$.手机",
        ] {
            let p = FieldPath::parse(text).unwrap();
            assert_eq!(p.to_string(), text);
            assert_eq!(FieldPath::parse(&p.to_string()).unwrap(), p);
        }
    }

    #[test]
    fn refuses_unsupported_forms_with_a_message() {
        let cases = [
            (
                "a.b",
                "a path must start with `$` (or `/` for an XML path) at character 0",
            ),
            (
                "$..name",
                "recursive descent `..` is not supported at character 1",
            ),
            (
                "$.a[0]",
                "array indexes and slices are not supported (use `[*]`) at character 3",
            ),
            (
                "$.a[-1]",
                "array indexes and slices are not supported (use `[*]`) at character 3",
            ),
            (
                "$.a[1:3]",
                "array indexes and slices are not supported (use `[*]`) at character 3",
            ),
            (
                "$.a[?(@.x>1)]",
                "filter expressions `[?(...)]` are not supported at character 3",
            ),
            (
                "$.a['b']",
                "single-quoted keys are not supported (use `[\"...\"]`) at character 3",
            ),
            (
                "$.*",
                "`.*` is not supported (use `[*]` for array elements) at character 2",
            ),
            ("$.", "a `.` must be followed by a key at character 2"),
            ("$.a b", "unexpected ' ' at character 3"),
            ("$[\"open", "unterminated quoted key at character 7"),
            ("$[x]", "expected `[*]` or `[\"key\"]` at character 1"),
        ];
        for (text, want) in cases {
            let got = FieldPath::parse(text).unwrap_err().to_string();
            assert_eq!(
                got,
                format!(
                    "{want}; supported forms are `$`, `.key`, `[\"any key\"]` and `[*]` (XML: `/a/b[*]/@c`)"
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn prefix_relations() {
        let a = FieldPath::parse("$.a").unwrap();
        let ab = FieldPath::parse("$.a.b").unwrap();
        assert!(ab.starts_with(&a) && ab.is_below(&a));
        assert!(a.starts_with(&a) && !a.is_below(&a));
        assert!(!a.starts_with(&ab));
    }
}
