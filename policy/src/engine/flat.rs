//! What CSV rows and forms share: a flat record of named text values, matched against one
//! object node of the route's trie.
//!
//! The object is the route's `records` node (or `$` when the route declares none), so the
//! policy of a JSON export serves its CSV twin: the column `name` of a row is
//! `$.applicants[*].name` when the route's records are `$.applicants[*]`. A member the node does
//! not list is removed (default deny) and counted as stripped at the object; a member whose path
//! continues below it (an object or array in the policy) cannot be written as text and stops
//! the body; an object kept whole (`keep = "subtree"`) keeps every member as written.
//!
//! A record's output is held only while a consent list is in force (bounded by the record cap),
//! so that a record whose subject withdrew consent can be dropped whole; otherwise values are
//! released as soon as they are known.

use super::tally::{KEPT, Tally};
use super::text::{self, Applied, Scratch};
use super::violation::{Violation, ViolationKind as V};
use super::{EngineConfig, Summary};
use crate::program::NodeId;

/// How one member name is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Member {
    /// Disclosed under the rule at this node (or as written when the object is kept whole).
    Ruled(NodeId),
    /// Not disclosed, but read: it names the record's data subject.
    SubjectOnly(NodeId),
    /// Not listed: removed.
    Stripped,
    /// The policy expects an object or array here.
    Container(NodeId),
    /// Kept as written: the object is kept whole.
    Whole,
}

/// The record machinery of a flat format.
pub(crate) struct Flat {
    pub(crate) cfg: EngineConfig,
    pub(crate) tally: Tally,
    pub(crate) scratch: Scratch,
    object: NodeId,
    /// The object node's own rule: `Some(true)` keeps it whole, `Some(false)` is a rule that
    /// wants a scalar where the body has members.
    object_rule: Option<bool>,
    subjects: Vec<[u8; 32]>,
    hold: Vec<u8>,
    holding: bool,
    record_limit: u64,
}

impl Flat {
    pub(crate) fn new(cfg: EngineConfig) -> Self {
        let program = &cfg.program;
        let object = program.record_node.unwrap_or(program.root());
        let object_rule = program
            .node(object)
            .rule
            .map(|r| program.rules[r as usize].action.is_subtree());
        Self {
            tally: Tally::new(program),
            scratch: Scratch::default(),
            object,
            object_rule,
            subjects: Vec::new(),
            hold: Vec::new(),
            holding: false,
            record_limit: u64::MAX,
            cfg,
        }
    }

    /// How the member `name` (decoded) is treated.
    pub(crate) fn member(&self, name: &[u8]) -> Member {
        match self.object_rule {
            Some(true) => return Member::Whole,
            Some(false) => return Member::Container(self.object),
            None => {}
        }
        let program = &self.cfg.program;
        let Some((_, n)) = program.node(self.object).child(name) else {
            return Member::Stripped;
        };
        let node = program.node(n);
        if node.expects_object() || node.expects_array() {
            Member::Container(n)
        } else if node.rule.is_some() {
            Member::Ruled(n)
        } else if node.subject {
            Member::SubjectOnly(n)
        } else {
            Member::Stripped
        }
    }

    /// A record starts at absolute offset `at`.
    pub(crate) fn begin_record(&mut self, at: u64) {
        self.tally.records += 1;
        self.subjects.clear();
        if self.cfg.consent.is_some() {
            self.holding = true;
            self.hold.clear();
            self.record_limit = at.saturating_add(self.cfg.limits.record_cap);
        }
    }

    /// Where the record's output goes: held while a consent check is pending, else released.
    pub(crate) fn sink<'a>(&'a mut self, out: &'a mut Vec<u8>) -> &'a mut Vec<u8> {
        if self.holding { &mut self.hold } else { out }
    }

    /// Refuses a held record once the body reaches `at` past its cap.
    pub(crate) fn check_record_size(&self, at: u64) -> Result<(), V> {
        if self.holding && at > self.record_limit {
            Err(V::RecordTooLarge)
        } else {
            Ok(())
        }
    }

    /// How many bytes from absolute offset `at` on the held record may still take before its cap
    /// (unbounded when nothing is held): a fast path runs at most this far, and leaves the byte
    /// that breaks the cap to the byte-at-a-time path, which reports it.
    pub(crate) fn record_room(&self, at: u64) -> u64 {
        if self.holding {
            (self.record_limit + 1).saturating_sub(at)
        } else {
            u64::MAX
        }
    }

    /// Puts a member's decoded value through its rule; `Replaced` leaves the new text in
    /// `self.scratch.out`.
    pub(crate) fn value(&mut self, member: Member, text: &str) -> Result<Applied, V> {
        match member {
            Member::Ruled(n) | Member::SubjectOnly(n) => text::apply(
                &self.cfg.program,
                n,
                text,
                &self.cfg.keys,
                &mut self.tally,
                &mut self.subjects,
                &mut self.scratch,
            ),
            Member::Whole => {
                if let Some(r) = self.cfg.program.node(self.object).rule {
                    self.tally.rule_counts[r as usize][KEPT] += 1;
                }
                Ok(Applied::AsWritten)
            }
            Member::Stripped => {
                self.tally.node_stripped[self.object as usize] += 1;
                Ok(Applied::AsWritten)
            }
            Member::Container(_) => Err(V::WrongContainer),
        }
    }

    /// The record ended: released, or dropped when its subject withdrew consent. Returns false
    /// when it was dropped.
    pub(crate) fn end_record(&mut self, out: &mut Vec<u8>) -> bool {
        self.tally.subject_count += self.subjects.len() as u64;
        let withdrawn = match &self.cfg.consent {
            Some(list) => self.subjects.iter().any(|s| list.is_withdrawn(s)),
            None => false,
        };
        self.tally.subjects.extend_from_slice(&self.subjects);
        if !self.holding {
            return true;
        }
        self.holding = false;
        self.record_limit = u64::MAX;
        if withdrawn {
            self.tally.records_dropped += 1;
        } else {
            out.extend_from_slice(&self.hold);
        }
        self.hold.clear();
        !withdrawn
    }

    /// A violation at a member (`None`: the record itself), by structural path.
    pub(crate) fn violation(&self, kind: V, member: Option<Member>, offset: u64) -> Violation {
        let program = &self.cfg.program;
        let path = match member {
            Some(Member::Ruled(n) | Member::SubjectOnly(n) | Member::Container(n)) => {
                program.node(n).path.to_string()
            }
            Some(Member::Stripped | Member::Whole) => {
                let object = &program.node(self.object).path;
                format!("{object}.?")
            }
            None => program.node(self.object).path.to_string(),
        };
        Violation { kind, path, offset }
    }

    /// Subject hashes gathered and not yet taken.
    pub(crate) fn pending_subjects(&self) -> usize {
        self.tally.subjects.len()
    }

    /// Takes the subject hashes gathered so far.
    pub(crate) fn take_subjects(&mut self) -> Vec<[u8; 32]> {
        std::mem::take(&mut self.tally.subjects)
    }
}

/// The accessors of [`FlatEngine`] for an engine whose fields are `flat`, `failed` and `offset`.
macro_rules! shell_fields {
    () => {
        fn flat(&mut self) -> &mut Flat {
            &mut self.flat
        }

        fn flat_ref(&self) -> &Flat {
            &self.flat
        }

        fn failed(&mut self) -> &mut Option<Violation> {
            &mut self.failed
        }

        fn offset(&mut self) -> &mut u64 {
            &mut self.offset
        }
    };
}
pub(crate) use shell_fields;

/// The shell every text format's engine shares (CSV, forms, XML): after a violation every call
/// returns it again; the bytes released are counted and digested; the summary comes from the
/// record machinery's counters. An engine supplies its walk and its end.
pub(crate) trait FlatEngine {
    fn flat(&mut self) -> &mut Flat;
    fn flat_ref(&self) -> &Flat;
    /// The violation that stopped the body, once one did.
    fn failed(&mut self) -> &mut Option<Violation>;
    /// Absolute offset of the next byte.
    fn offset(&mut self) -> &mut u64;
    /// Reads `chunk`, appending what can be released to `out`.
    fn walk_chunk(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Violation>;
    /// The body ended: what is still held goes out, or the body was incomplete.
    fn end(&mut self, out: &mut Vec<u8>) -> Result<(), Violation>;

    fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Violation> {
        if let Some(v) = self.failed() {
            return Err(v.clone());
        }
        let start = out.len();
        let result = self.walk_chunk(chunk, out);
        let tally = &mut self.flat().tally;
        tally.released(&out[start..]);
        tally.bytes_in += chunk.len() as u64;
        *self.offset() += chunk.len() as u64;
        result.inspect_err(|v| *self.failed() = Some(v.clone()))
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<Summary, Violation> {
        if let Some(v) = self.failed() {
            return Err(v.clone());
        }
        let start = out.len();
        let result = self.end(out);
        let flat = self.flat();
        flat.tally.released(&out[start..]);
        match result {
            Ok(()) => Ok(flat.tally.summary(&flat.cfg.program)),
            Err(v) => {
                *self.failed() = Some(v.clone());
                Err(v)
            }
        }
    }
}
