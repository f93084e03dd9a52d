//! What the engine did to a body: the evidence the ledger records for a disclosure.

/// Counts for one path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldCount {
    /// The rule's path; for `stripped` counts, the object whose unlisted members were removed.
    pub path: std::sync::Arc<str>,
    /// Values kept (byte-exact or after in-place scanning).
    pub kept: u64,
    /// Values masked (including identifiers found by `scan`).
    pub masked: u64,
    /// Values replaced by a keyed pseudonym.
    pub hashed: u64,
    /// Values replaced by the redaction marker (a `redact` rule, or a value that did not look
    /// like its mask's kind).
    pub redacted: u64,
    /// Members removed because no rule lists them.
    pub stripped: u64,
}

/// The outcome of a body that passed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Bytes read.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Records seen (values at the route's records path, or NDJSON lines).
    pub records: u64,
    /// Records dropped because their subject withdrew consent.
    pub records_dropped: u64,
    /// Per-path counts, only paths with a non-zero count.
    pub fields: Vec<FieldCount>,
    /// Subject hashes not yet taken with [`Redactor::take_subjects`](super::Redactor::take_subjects).
    pub subjects: Vec<[u8; 32]>,
    /// Total number of subject values seen (including those already taken).
    pub subject_count: u64,
    /// SHA-256 of every output byte.
    pub output_sha256: [u8; 32],
}

impl Summary {
    /// The counts for `path`, if any.
    pub fn field(&self, path: &str) -> Option<&FieldCount> {
        self.fields.iter().find(|f| *f.path == *path)
    }

    /// Summed counts over all paths.
    pub fn totals(&self) -> FieldCount {
        let mut t = FieldCount::default();
        for f in &self.fields {
            t.kept += f.kept;
            t.masked += f.masked;
            t.hashed += f.hashed;
            t.redacted += f.redacted;
            t.stripped += f.stripped;
        }
        t
    }
}
