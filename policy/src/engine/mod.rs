//! The streaming redaction engine: one [`Redactor`] per body, whatever its format.
//!
//! Bytes go in chunk by chunk ([`Redactor::feed`]), filtered bytes come out as soon as they are
//! known, and [`Redactor::finish`] returns a [`Summary`] or the [`Violation`] that stopped the
//! body. Chunks may be split at any byte; output and verdict do not depend on the split.
//!
//! Every format applies the same contract: the route's compiled trie
//! ([`FieldProgram`](crate::program::FieldProgram)) says which positions are disclosed and how;
//! anything it does not list is removed (default deny); kept values go out byte-exact; a value
//! that breaks the format's grammar or a rule's constraint stops the body.
//! - JSON and NDJSON ([`json`]): a pushdown automaton over RFC 8259.
//! - CSV ([`csv`]): RFC 4180 with a header row; each row is a record, each column a member of
//!   it — matched at the route's `records` path (or at `$`), so one policy serves a JSON export
//!   and its CSV twin.
//! - Forms ([`form`]): `application/x-www-form-urlencoded`; the body is one object whose members
//!   are the form's keys, matched like a CSV row.
//! - XML ([`xml`]): elements and attributes are members, named by namespace and local name.
//!
//! A body in GB18030 or GBK is decoded strictly before its format's engine and encoded back
//! after it ([`charset`]).
//!
//! [`tally`] holds the counters every format moves; [`text`] applies a rule to a value every
//! format but JSON sees as text.

mod charset;
mod csv;
mod flat;
pub(crate) mod form;
mod json;
mod keyset;
mod redactor;
mod summary;
mod tally;
pub(crate) mod text;
mod utf8;
mod violation;
mod xml;

use std::sync::Arc;

pub use charset::Charset;
pub use redactor::Redactor;
pub use summary::{FieldCount, Summary};
pub use violation::{Violation, ViolationKind};
pub use xml::is_xml_name;

use crate::consent::ConsentList;
use crate::pseudonym::{PseudonymKeys, SubjectKey};

/// Body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON document.
    Json,
    /// Newline-delimited JSON: one record per line; CRLF tolerated; blank lines skipped. Each line
    /// is matched at the route's `records` path (or at `$` when the route declares none), so one
    /// policy serves a document and its NDJSON export.
    Ndjson,
    /// CSV (RFC 4180) with a header row: each row is a record, matched like NDJSON's lines.
    Csv,
    /// `application/x-www-form-urlencoded`: one record whose members are the keys.
    Form,
    /// XML: elements and attributes are members, matched by namespace and local name.
    Xml,
}

impl Format {
    /// Every format, by the name the policy and the CLI use.
    pub const ALL: [(&'static str, Format); 5] = [
        ("json", Format::Json),
        ("ndjson", Format::Ndjson),
        ("csv", Format::Csv),
        ("form", Format::Form),
        ("xml", Format::Xml),
    ];

    /// The format named `name` (`json`, `ndjson`, `csv`, `form`, `xml`).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    /// The format's name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }
}

/// Bounds on what one body may make the engine hold or walk.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest container nesting (default 64).
    pub max_depth: usize,
    /// Longest string (between its quotes), key or number, in raw bytes (default 1 MiB).
    pub max_token_len: u64,
    /// Largest record, in input bytes, when records are held for a consent check (default 1 MiB).
    pub record_cap: u64,
    /// Most keys in one object whose members are all kept (default 10 000).
    pub max_keys_per_object: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_token_len: 1 << 20,
            record_cap: 1 << 20,
            max_keys_per_object: 10_000,
        }
    }
}

/// The keys a contract's engine uses.
#[derive(Debug, Clone)]
pub struct EngineKeys {
    /// For `hash` rules (per contract).
    pub pseudonym: PseudonymKeys,
    /// For data-subject hashes (the ledger's key).
    pub subject: SubjectKey,
}

impl EngineKeys {
    /// Derives both from master keys.
    pub fn derive(pseudonym_master: &[u8], subject_master: &[u8], contract_id: &str) -> Self {
        Self {
            pseudonym: PseudonymKeys::derive(pseudonym_master, contract_id),
            subject: SubjectKey::derive(subject_master),
        }
    }
}

/// Everything a [`Redactor`] needs besides the body.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The route's compiled rules.
    pub program: Arc<crate::program::FieldProgram>,
    /// The body's format.
    pub format: Format,
    /// Limits.
    pub limits: Limits,
    /// Keys.
    pub keys: Arc<EngineKeys>,
    /// Withdrawn subjects; when set, records are held until their subject is known.
    pub consent: Option<Arc<ConsentList>>,
    /// The body's character set (UTF-8 unless its `charset` says GB18030 or GBK).
    pub charset: Charset,
}
