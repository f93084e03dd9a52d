//! The compiled form of a route's field rules: the trie the engine walks (built by
//! [`crate::compile`]).
//!
//! Each node is a position in the document: the root, a member of an object (by exact unescaped
//! key) or "every element" of an array. A node either carries a rule, or has children (members
//! *or* an element node, never both), or only marks the route's record boundary or subject. The
//! engine looks up a member key among a node's children by comparing raw key bytes, so walking a
//! body allocates nothing.
//!
//! Rules on nested paths never combine: a path may have a rule or rules below it, not both, and a
//! position cannot be an object in one rule and an array in another. Both are load-time errors, so
//! there is no precedence for a reader to get wrong.

use crate::path::{FieldPath, Segment};
use crate::rule::Action;

/// Byte equality without a library call for the short keys and names documents have.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Two overlapping words cover every length from one word to two.
    let w8 = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let w4 = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().expect("4 bytes"));
    match n {
        8..=16 => w8(a, 0) == w8(b, 0) && w8(a, n - 8) == w8(b, n - 8),
        4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        // The empty and one-byte names (XML prefixes) most documents have.
        0 => true,
        1 => a[0] == b[0],
        _ => a == b,
    }
}

/// How a node finds a child by key.
#[derive(Debug, Clone, Default)]
pub enum KeyTable {
    /// Compare every key (nodes with more than 128 children).
    #[default]
    Linear,
    /// A 256-slot table with no collisions among this node's keys; a miss costs one hash.
    Hashed {
        /// The multiplier that made the keys collision-free.
        seed: u32,
        /// Child index + 1 per slot.
        slots: Box<[u8; 256]>,
    },
}

/// A cheap hash of length, first, second and last bytes, mixed by `seed`.
#[inline]
fn key_hash(seed: u32, key: &[u8]) -> usize {
    let (a, b, c) = match key {
        [] => (0, 0, 0),
        [only] => (*only, 0, *only),
        [first, last] => (*first, *last, *last),
        [first, second, .., last] => (*first, *second, *last),
    };
    let x = (key.len() as u32) ^ u32::from(a) << 8 ^ u32::from(b) << 16 ^ u32::from(c) << 24;
    (x.wrapping_mul(seed) >> 24) as usize
}

impl KeyTable {
    /// A collision-free table for `keys`, or `Linear` when none is found.
    pub(crate) fn build(keys: &[Box<[u8]>]) -> Self {
        if keys.len() > 128 {
            return KeyTable::Linear;
        }
        let mut seed: u32 = 0x9E37_79B1;
        for _ in 0..10_000 {
            let mut slots = Box::new([0u8; 256]);
            let ok = keys.iter().enumerate().all(|(i, k)| {
                let h = key_hash(seed, k);
                let free = slots[h] == 0;
                slots[h] = i as u8 + 1;
                free
            });
            if ok {
                return KeyTable::Hashed { seed, slots };
            }
            seed = seed.wrapping_mul(0x0101_0101).wrapping_add(0x2545_F491) | 1;
        }
        KeyTable::Linear
    }
}

/// Index of a node in a [`FieldProgram`].
pub type NodeId = u32;

/// One position of the trie.
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// The structural path, for messages and counters (shared: every summary of a body that
    /// counts at this node names it, without a copy).
    pub path: std::sync::Arc<str>,
    /// The last step of the path as displayed (`.name`, `["a b"]`, `[*]`).
    pub label: String,
    /// Canonical `"key":` bytes emitted before this member's value (empty for root and elements).
    pub emit_key: Box<[u8]>,
    /// Unescaped keys of member children, parallel to `children`.
    pub keys: Vec<Box<[u8]>>,
    /// Key lookup table: `hash(key) & 255` → child index + 1 (0: no child), collision-free for
    /// this node's keys (see [`KeyTable`]).
    pub table: KeyTable,
    /// Member children.
    pub children: Vec<NodeId>,
    /// The node for every array element.
    pub any: Option<NodeId>,
    /// The rule applied to this node's value.
    pub rule: Option<u32>,
    /// Values here are records (counted; subjects and consent apply per record).
    pub record: bool,
    /// Values here identify the record's data subject.
    pub subject: bool,
    /// Set when a value here goes out exactly as written once its type is checked: a `keep` of
    /// a scalar type with no constraint that needs the whole value (range, pattern, length,
    /// scan), at a node that is not the subject. A number still is checked whole: it may not say
    /// more than binary64 holds ([`crate::decimal::readable_as_written`]).
    pub as_written: Option<crate::rule::KeepKind>,
    /// A rule lies at or below this node, so its containers appear in the output. A node that is
    /// only on the way to the subject is walked but not emitted.
    pub emits: bool,
}

impl Node {
    /// Looks a raw (already unescaped) key up among the member children.
    #[inline(always)]
    pub fn child(&self, key: &[u8]) -> Option<(usize, NodeId)> {
        let i = match &self.table {
            KeyTable::Hashed { seed, slots } => {
                let slot = slots[key_hash(*seed, key)];
                if slot == 0 {
                    return None;
                }
                slot as usize - 1
            }
            KeyTable::Linear => self.keys.iter().position(|k| &**k == key)?,
        };
        same_bytes(&self.keys[i], key).then(|| (i, self.children[i]))
    }

    /// True when the value at this node must be an object.
    pub fn expects_object(&self) -> bool {
        !self.children.is_empty()
    }

    /// True when the value at this node must be an array.
    pub fn expects_array(&self) -> bool {
        self.any.is_some()
    }
}

/// A rule in a program.
#[derive(Debug, Clone)]
pub struct ProgramRule {
    /// The rule's path, as displayed (shared with the summaries that count it).
    pub path: std::sync::Arc<str>,
    /// What to do.
    pub action: Action,
}

/// The compiled field rules of one route.
#[derive(Debug, Clone, Default)]
pub struct FieldProgram {
    /// Nodes; index 0 is the root `$`.
    pub nodes: Vec<Node>,
    /// Rules, referenced by [`Node::rule`].
    pub rules: Vec<ProgramRule>,
    /// The node of the route's `records` path, if any.
    pub record_node: Option<NodeId>,
    /// The policy's XML namespace prefixes: prefix → URI (`[namespaces]`).
    pub namespaces: Vec<(String, String)>,
}

impl FieldProgram {
    /// The root node.
    pub fn root(&self) -> NodeId {
        0
    }

    /// The policy's prefix for an XML namespace URI, if it binds one.
    pub fn namespace_prefix(&self, uri: &str) -> Option<&str> {
        self.namespaces
            .iter()
            .find(|(_, u)| u == uri)
            .map(|(p, _)| p.as_str())
    }

    /// Node `id`.
    #[inline]
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    pub(crate) fn walk(&mut self, path: &FieldPath) -> Result<NodeId, String> {
        if self.nodes.is_empty() {
            self.nodes.push(Node {
                path: "$".into(),
                ..Node::default()
            });
        }
        let mut at: NodeId = 0;
        let mut so_far = path.root_like();
        for seg in path.segments() {
            let here = so_far.to_string();
            so_far = so_far.child(seg.clone());
            let node = &self.nodes[at as usize];
            // In XML, an element's text and its attributes are different values: an attribute
            // may have a rule beside its element's.
            let attribute = path.is_xml() && matches!(seg, Segment::Key(k) if k.starts_with('@'));
            if let Some(r) = node.rule
                && !attribute
            {
                return Err(format!(
                    "lies below the rule at {}; a path may have a rule or rules below it, not both",
                    self.rules[r as usize].path
                ));
            }
            at = match seg {
                Segment::Key(k) => {
                    if node.expects_array() {
                        return Err(format!(
                            "{here} is an array in another rule but an object here"
                        ));
                    }
                    match node.child(k.as_bytes()) {
                        Some((_, id)) => id,
                        None => {
                            let id = self.nodes.len() as NodeId;
                            let mut emit = Vec::new();
                            crate::escape::write_json_string(&mut emit, k);
                            emit.push(b':');
                            self.nodes.push(Node {
                                path: so_far.to_string().into(),
                                label: FieldPath::root().child(seg.clone()).to_string()[1..]
                                    .to_string(),
                                emit_key: emit.into(),
                                ..Node::default()
                            });
                            let parent = &mut self.nodes[at as usize];
                            parent.keys.push(k.as_bytes().into());
                            parent.children.push(id);
                            id
                        }
                    }
                }
                Segment::Any => {
                    if node.expects_object() {
                        return Err(format!(
                            "{here} is an object in another rule but an array here"
                        ));
                    }
                    match node.any {
                        Some(id) => id,
                        None => {
                            let id = self.nodes.len() as NodeId;
                            self.nodes.push(Node {
                                path: so_far.to_string().into(),
                                label: "[*]".into(),
                                ..Node::default()
                            });
                            self.nodes[at as usize].any = Some(id);
                            id
                        }
                    }
                }
            };
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::same_bytes;

    #[test]
    fn same_bytes_finds_a_difference_at_any_position_of_any_length() {
        for n in 0..40usize {
            let a: Vec<u8> = (0..n as u8).map(|i| b'a' + i % 26).collect();
            assert!(same_bytes(&a, &a.clone()), "length {n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "length {n}, difference at {at}");
            }
            assert!(!same_bytes(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }
}
