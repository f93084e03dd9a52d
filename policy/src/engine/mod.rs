//! The streaming redaction engine: one [`Redactor`] per body.
//!
//! Bytes go in chunk by chunk ([`Redactor::feed`]), filtered bytes come out as soon as they are
//! known, and [`Redactor::finish`] returns a [`Summary`] or the [`Violation`] that stopped the
//! body. Chunks may be split at any byte; output and verdict do not depend on the split.
//!
//! ## Shape
//! A UTF-8 pre-pass validates each chunk with SIMD ([`utf8`]); a pushdown automaton then walks the
//! JSON grammar byte by byte, with a block-at-a-time fast path through string interiors. Its stack
//! holds one small frame per open container, each pointing at a node of the route's compiled
//! trie, or marking a stripped or whole-kept subtree. Stripped members produce no output but are
//! validated like everything else. Kept scalars are copied byte-exact as they stream; only values
//! a rule must see whole (masks, hashes, constraints, scans, subjects) are captured, up to the
//! token limit — and a value that lies whole in a chunk is not even copied: its rule reads it in
//! place, as the text the UTF-8 pre-pass already produced.
//!
//! The automaton can stop and resume at any byte, which is what chunked input needs but costs a
//! dispatch per byte. What lies whole inside the current chunk — the members of an object at a
//! trie node, a stripped value, a container kept whole — takes the fast paths of [`fast`]
//! instead, parsed with local state. They never decide a verdict: on anything unusual they hand
//! the same byte back to the automaton, so both agree by construction (and tests and the fuzz
//! targets compare them: whole bodies against the same bodies fed a byte at a time).
//!
//! ## Memory
//! Per body: the stack (bounded by `max_depth`), one captured token (`max_token_len`), the keys
//! of the open kept-whole objects (`max_keys_per_object`), and — only when a consent list is in
//! force — the output of one record (`record_cap`). Nothing grows with the body.

mod fast;
mod keyset;
mod machine;
mod number;
mod records;
mod skip;
mod structure;
mod summary;
mod utf8;
mod values;
mod violation;

use std::sync::Arc;

pub use machine::Redactor;
pub use summary::{FieldCount, Summary};
pub use violation::{Violation, ViolationKind};

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
    /// JSON or NDJSON.
    pub format: Format,
    /// Limits.
    pub limits: Limits,
    /// Keys.
    pub keys: Arc<EngineKeys>,
    /// Withdrawn subjects; when set, records are held until their subject is known.
    pub consent: Option<Arc<ConsentList>>,
}
