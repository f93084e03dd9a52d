//! `sluice ledger verify`: everything a compliance team needs to trust a log copy — record
//! checksums, entry encoding and numbering, `end`s that match their `begin`s, the Merkle tree,
//! every checkpoint's signature and root, and consistency between successive checkpoints.

use std::path::Path;

use super::checkpoint;
use super::entry::{Entry, Record};
use super::merkle::{self, Hash};
use super::segment::{self, Tail};

/// A verified log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Entries.
    pub entries: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Current root, hex.
    pub root: String,
    /// An incomplete last record after the last checkpoint (a crash; cut at the next start).
    pub torn_tail: bool,
}

/// The first problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Problem(pub String);

/// Verifies the ledger in `dir` with the log's public key.
pub fn verify_dir(dir: &Path, public: &[u8]) -> Result<Report, Problem> {
    let loaded = segment::load(dir).map_err(Problem)?;
    let mut leaves: Vec<Hash> = Vec::new();
    let mut begins = std::collections::BTreeSet::new();
    for (i, bytes) in loaded.entries.iter().enumerate() {
        let rec = Record::decode(bytes)
            .ok_or_else(|| Problem(format!("entry {i}: not a valid entry encoding")))?;
        if rec.seq != i as u64 {
            return Err(Problem(format!(
                "entry {i}: has sequence number {} (entries deleted, inserted or reordered)",
                rec.seq
            )));
        }
        match &rec.entry {
            Entry::Begin(_) => {
                begins.insert(rec.seq);
            }
            Entry::End(e) if !begins.remove(&e.begin) => {
                return Err(Problem(format!(
                    "entry {i}: ends disclosure {} which has no open begin",
                    e.begin
                )));
            }
            Entry::Incomplete { begin } if !begins.remove(begin) => {
                return Err(Problem(format!(
                    "entry {i}: marks disclosure {begin} incomplete but it has no open begin"
                )));
            }
            _ => {}
        }
        leaves.push(merkle::leaf_hash(bytes));
    }
    let mut notes: Vec<(String, String)> = std::fs::read_dir(dir.join("checkpoints"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".note"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .map(|n| {
            let text =
                std::fs::read_to_string(dir.join("checkpoints").join(&n)).unwrap_or_default();
            (n, text)
        })
        .collect();
    notes.sort();
    let mut previous: Option<checkpoint::Checkpoint> = None;
    for (name, note) in &notes {
        let cp = checkpoint::verify(note, public)
            .map_err(|e| Problem(format!("checkpoint {name}: {e}")))?;
        if cp.size > leaves.len() as u64 {
            return Err(Problem(format!(
                "checkpoint {name}: covers {} entries but the log has {} (entries removed or the file truncated)",
                cp.size,
                leaves.len()
            )));
        }
        if merkle::root(&leaves[..cp.size as usize]) != cp.root {
            return Err(Problem(format!(
                "checkpoint {name}: the first {} entries do not match its root (entries altered)",
                cp.size
            )));
        }
        if let Some(p) = &previous {
            let proof = merkle::consistency_proof(p.size as usize, &leaves[..cp.size as usize]);
            if p.size > cp.size
                || !merkle::verify_consistency(p.size, cp.size, &proof, &p.root, &cp.root)
            {
                return Err(Problem(format!(
                    "checkpoint {name}: not consistent with the checkpoint at size {}",
                    p.size
                )));
            }
        }
        previous = Some(cp);
    }
    let root = merkle::root(&leaves)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Report {
        entries: leaves.len() as u64,
        checkpoints: notes.len() as u64,
        root,
        torn_tail: loaded.tail == Tail::Torn,
    })
}
