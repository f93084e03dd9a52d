//! Why a body was refused: a reason code, where (structural path) and at which byte. Never the
//! value: a violation is logged, counted and returned to callers, so it must not carry data.

use std::fmt;

/// What went wrong. Codes are stable and machine-readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ViolationKind {
    /// Bytes that are not UTF-8 (including overlong forms and encoded surrogates).
    InvalidUtf8,
    /// Anything the RFC 8259 grammar does not allow (comments, trailing commas, NaN, leading
    /// zeros, single quotes, bare words, non-JSON whitespace, ...).
    InvalidJson,
    /// A number no IEEE 754 double or 64-bit integer can hold (RFC 8259 §6): parsers would
    /// disagree on its value.
    NumberRange,
    /// A backslash escape JSON does not define, or a malformed `\u` escape.
    InvalidEscape,
    /// A `\u` escape of a lone or inverted UTF-16 surrogate.
    LoneSurrogate,
    /// A raw control character (U+0000–U+001F) inside a string.
    ControlCharacter,
    /// A UTF-8 byte-order mark at the start of the body.
    ByteOrderMark,
    /// More after the document (concatenated documents, or two values on one NDJSON line).
    TrailingData,
    /// The body ended inside a value.
    Truncated,
    /// An empty body where a JSON document is required.
    EmptyBody,
    /// The same key twice (after unescaping) in an object whose members are disclosed.
    DuplicateKey,
    /// Containers nested deeper than the limit.
    DepthExceeded,
    /// A string, key or number longer than the token limit.
    TokenTooLong,
    /// A record larger than the per-record cap (when records are held for consent checks).
    RecordTooLarge,
    /// More keys in one kept object than the limit allows.
    TooManyKeys,
    /// An object or array where the path continues differently, or a scalar where it continues.
    WrongContainer,
    /// A value of the wrong type for its rule (a container where a scalar is expected, a string
    /// where the rule keeps numbers, ...).
    TypeMismatch,
    /// A number outside the rule's `min`/`max`.
    OutOfRange,
    /// A string that does not match the rule's `pattern`.
    PatternMismatch,
    /// A string longer than the rule's `max_len`.
    TooLong,
    /// CSV that RFC 4180 does not allow, or leaves to each reader: a quote inside an unquoted
    /// cell, text after a closing quote, a bare CR, an empty column name.
    InvalidCsv,
    /// A CSV row with more or fewer cells than the header has columns.
    RaggedRow,
    /// A form body a conforming encoder does not write: a raw byte outside the unreserved set
    /// (`;`, a space, a raw `=` in a value, non-ASCII), a pair without `=`, an empty pair or
    /// key, a malformed `%` escape.
    InvalidForm,
    /// Bytes that are not the body's declared charset (GB18030, GBK), or that would not come
    /// back the same after decoding and encoding again.
    InvalidEncoding,
    /// XML that is not well-formed: a malformed or mismatched tag, a bad name or reference, `<`
    /// in an attribute value, an undeclared prefix, a second root, a bad declaration.
    InvalidXml,
    /// XML sluice never reads: a document type declaration (and with it every entity
    /// declaration: no external entity, no expansion), a processing instruction, a named
    /// entity other than the five predefined.
    XmlForbidden,
}

impl ViolationKind {
    /// The stable reason code.
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidUtf8 => "invalid_utf8",
            Self::InvalidJson => "invalid_json",
            Self::NumberRange => "number_range",
            Self::InvalidEscape => "invalid_escape",
            Self::LoneSurrogate => "lone_surrogate",
            Self::ControlCharacter => "control_character",
            Self::ByteOrderMark => "byte_order_mark",
            Self::TrailingData => "trailing_data",
            Self::Truncated => "truncated",
            Self::EmptyBody => "empty_body",
            Self::DuplicateKey => "duplicate_key",
            Self::DepthExceeded => "depth_exceeded",
            Self::TokenTooLong => "token_too_long",
            Self::RecordTooLarge => "record_too_large",
            Self::TooManyKeys => "too_many_keys",
            Self::WrongContainer => "wrong_container",
            Self::TypeMismatch => "type_mismatch",
            Self::OutOfRange => "out_of_range",
            Self::PatternMismatch => "pattern_mismatch",
            Self::TooLong => "too_long",
            Self::InvalidCsv => "invalid_csv",
            Self::RaggedRow => "ragged_row",
            Self::InvalidForm => "invalid_form",
            Self::InvalidEncoding => "invalid_encoding",
            Self::InvalidXml => "invalid_xml",
            Self::XmlForbidden => "xml_forbidden",
        }
    }
}

/// A refused body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Violation {
    /// What.
    pub kind: ViolationKind,
    /// Where, as a structural path with array indexes (`$.records[3].name`); keys the policy does
    /// not list are shown as `?`, since a key can itself be personal data. Inside a stripped
    /// member the path stops at the member (`$.records[3].?`): its inside is validated, not
    /// tracked.
    pub path: String,
    /// Byte offset in the body where it was found.
    pub offset: u64,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {} (byte {})",
            self.kind.code(),
            self.path,
            self.offset
        )
    }
}
