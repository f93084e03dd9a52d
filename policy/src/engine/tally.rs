//! The evidence a body leaves, whatever its format: per-rule and per-node counts, records,
//! subject hashes, bytes in and out, and the digest of every byte released. Each format's
//! engine moves these counters; [`Tally::summary`] turns them into the [`Summary`] the ledger
//! records.

use super::summary::{FieldCount, Summary};
use crate::program::FieldProgram;

/// Index of each count in a rule's [`RuleCounts`].
pub(crate) const KEPT: usize = 0;
pub(crate) const MASKED: usize = 1;
pub(crate) const HASHED: usize = 2;
pub(crate) const REDACTED: usize = 3;

/// Kept, masked, hashed, redacted: one rule's counts.
pub(crate) type RuleCounts = [u64; 4];

/// Counters of one body.
pub(crate) struct Tally {
    pub(crate) rule_counts: Vec<RuleCounts>,
    pub(crate) node_stripped: Vec<u64>,
    pub(crate) records: u64,
    pub(crate) records_dropped: u64,
    pub(crate) subjects: Vec<[u8; 32]>,
    pub(crate) subject_count: u64,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) digest: ring::digest::Context,
}

impl Tally {
    /// Zero counts for a route's program.
    pub(crate) fn new(program: &FieldProgram) -> Self {
        Self {
            rule_counts: vec![[0; 4]; program.rules.len()],
            node_stripped: vec![0; program.nodes.len()],
            records: 0,
            records_dropped: 0,
            subjects: Vec::new(),
            subject_count: 0,
            bytes_in: 0,
            bytes_out: 0,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
        }
    }

    /// Counts bytes released to the other side (and digests them).
    pub(crate) fn released(&mut self, bytes: &[u8]) {
        self.digest.update(bytes);
        self.bytes_out += bytes.len() as u64;
    }

    /// The summary of the body; the digest restarts (a summary is taken once).
    pub(crate) fn summary(&mut self, program: &FieldProgram) -> Summary {
        let counted = self
            .rule_counts
            .iter()
            .filter(|c| c.iter().any(|&x| x > 0))
            .count()
            + self.node_stripped.iter().filter(|&&s| s > 0).count();
        let mut fields: Vec<FieldCount> = Vec::with_capacity(counted);
        for (r, c) in self.rule_counts.iter().enumerate() {
            if c.iter().any(|&x| x > 0) {
                fields.push(FieldCount {
                    path: program.rules[r].path.clone(),
                    kept: c[KEPT],
                    masked: c[MASKED],
                    hashed: c[HASHED],
                    redacted: c[REDACTED],
                    stripped: 0,
                });
            }
        }
        for (n, &s) in self.node_stripped.iter().enumerate() {
            if s > 0 {
                fields.push(FieldCount {
                    path: program.nodes[n].path.clone(),
                    stripped: s,
                    ..Default::default()
                });
            }
        }
        let digest = std::mem::replace(
            &mut self.digest,
            ring::digest::Context::new(&ring::digest::SHA256),
        )
        .finish();
        Summary {
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            records: self.records,
            records_dropped: self.records_dropped,
            fields,
            subjects: std::mem::take(&mut self.subjects),
            subject_count: self.subject_count,
            output_sha256: digest.as_ref().try_into().expect("sha256 is 32 bytes"),
        }
    }
}
