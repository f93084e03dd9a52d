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

/// Verifies the ledger in `dir` with the log's public key, in one pass over the segments with
/// memory that does not grow with the log (a compact Merkle range, the open `begin`s).
///
/// Checkpoints are read and their signatures checked first; then, as the entries stream, the
/// root of the log at each checkpoint's size is compared with the checkpoint's. Every checkpoint
/// being a prefix root of the same entries is what consistency between them means, so it needs
/// no separate proof here; checkpoints must not shrink in the order they were written.
pub fn verify_dir(dir: &Path, public: &[u8]) -> Result<Report, Problem> {
    let notes = super::notes::all(dir).map_err(|e| Problem(e.to_string()))?;
    let mut checkpoints: Vec<(String, checkpoint::Checkpoint)> = Vec::new();
    for (name, note) in notes {
        let cp = checkpoint::verify(&note, public)
            .map_err(|e| Problem(format!("checkpoint {name}: {e}")))?;
        if let Some((first, p)) = checkpoints.first()
            && p.origin != cp.origin
        {
            return Err(Problem(format!(
                "checkpoint {name}: signed for origin {:?}, checkpoint {first} for {:?} (one log, one origin)",
                cp.origin, p.origin
            )));
        }
        if let Some((_, p)) = checkpoints.last()
            && p.size > cp.size
        {
            return Err(Problem(format!(
                "checkpoint {name}: not consistent with the checkpoint at size {}",
                p.size
            )));
        }
        checkpoints.push((name, cp));
    }
    let mut range = merkle::CompactRange::default();
    let mut next = 0usize;
    let check_at = |size: u64, range: &merkle::CompactRange, next: &mut usize| {
        while let Some((name, cp)) = checkpoints.get(*next) {
            if cp.size != size {
                break;
            }
            if range.root() != cp.root {
                return Err(format!(
                    "checkpoint {name}: the first {} entries do not match its root (entries altered)",
                    cp.size
                ));
            }
            *next += 1;
        }
        Ok(())
    };
    check_at(0, &range, &mut next).map_err(Problem)?;
    let mut begins = std::collections::BTreeSet::new();
    let mut origin: Option<String> = checkpoints.first().map(|(_, cp)| cp.origin.clone());
    let end = segment::visit(dir, |i, bytes| {
        let rec = Record::read(bytes).map_err(|e| format!("entry {i} {e}"))?;
        if rec.seq != i {
            return Err(format!(
                "entry {i}: has sequence number {} (entries deleted, inserted or reordered)",
                rec.seq
            ));
        }
        match &rec.entry {
            Entry::InstanceStarted { origin: o, .. } => match &origin {
                Some(first) if first != o => {
                    return Err(format!(
                        "entry {i}: an instance started as origin {o:?} on the log of origin {first:?} (one log, one origin)"
                    ));
                }
                Some(_) => {}
                None => origin = Some(o.clone()),
            },
            Entry::Begin(_) => {
                begins.insert(rec.seq);
            }
            Entry::End(e) if !begins.remove(&e.begin) => {
                return Err(format!(
                    "entry {i}: ends disclosure {} which has no open begin",
                    e.begin
                ));
            }
            Entry::Incomplete { begin } if !begins.remove(begin) => {
                return Err(format!(
                    "entry {i}: marks disclosure {begin} incomplete but it has no open begin"
                ));
            }
            _ => {}
        }
        range.push(merkle::leaf_hash(bytes));
        check_at(i + 1, &range, &mut next)
    })
    .map_err(Problem)?;
    if let Some((name, cp)) = checkpoints.get(next) {
        return Err(Problem(format!(
            "checkpoint {name}: covers {} entries but the log has {} (entries removed or the file truncated)",
            cp.size, end.entries
        )));
    }
    let root: Hash = range.root();
    Ok(Report {
        entries: end.entries,
        checkpoints: checkpoints.len() as u64,
        root: sluice_policy::hex::hex(&root),
        torn_tail: end.tail == Tail::Torn,
    })
}
