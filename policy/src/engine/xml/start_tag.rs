//! The start tag as it goes out: the name, the namespace declarations and the attributes.
//!
//! Outside a subtree kept whole, the document's prefixes and namespace declarations never go
//! out — they are text no rule lists (a prefix can be any name, a namespace URI any string):
//! elements and attributes go out under the policy's names, and the outermost element declares
//! the policy's namespaces. A subtree kept whole goes out as written, with its own declarations;
//! a binding from outside it goes out on the first of its elements whose name or attribute uses
//! it (where the output does not already have it in scope), and a binding it never uses does not
//! go out at all. Every attribute is read and checked wherever it is (references, duplicates by
//! namespace and local name), and only those a rule lists go out, kept, masked or hashed.

use std::ops::Range;

use super::markup;
use super::{Target, XML_NS, XmlRedactor};
use crate::engine::flat::Member;
use crate::engine::text::Applied;
use crate::engine::violation::{Violation, ViolationKind as V};
use crate::program::same_bytes;

impl XmlRedactor {
    /// Writes `<name`, the namespace declarations and the attributes that go out into `open`,
    /// applying attribute rules (see the module docs).
    pub(super) fn attributes(
        &mut self,
        t: &[u8],
        target: Target,
        at: u64,
        open: &mut Vec<u8>,
    ) -> Result<(), Violation> {
        let frame = self.stack.last().expect("the element's frame");
        let (outer, ns_len) = (self.stack.len() == 1, frame.ns_len);
        if target != Target::Strip {
            open.push(b'<');
            open.extend_from_slice(&self.out_names[frame.out_name.clone()]);
        }
        match target {
            Target::Node(_) | Target::Leaf(_) if outer => {
                for (prefix, uri) in self.declared_namespaces() {
                    declare(open, prefix.as_bytes(), uri);
                }
            }
            Target::Whole => self
                .declare_used(t, ns_len, open)
                .map_err(|k| self.violation(k, at))?,
            _ => {}
        }
        let attrs = std::mem::take(&mut self.tag.attrs);
        let result = self.each_attribute(t, &attrs, target, at, open);
        self.tag.attrs = attrs;
        result
    }

    pub(super) fn each_attribute(
        &mut self,
        t: &[u8],
        attrs: &[(Range<usize>, Range<usize>, u8)],
        target: Target,
        at: u64,
        open: &mut Vec<u8>,
    ) -> Result<(), Violation> {
        if attrs.is_empty() {
            return Ok(());
        }
        let program = self.flat.cfg.program.clone();
        let mut expanded: Vec<(Option<String>, &[u8])> = Vec::new();
        for (n, v, q) in attrs {
            let name = &t[n.clone()];
            let raw = &t[v.clone()];
            let write_raw = |open: &mut Vec<u8>| {
                open.push(b' ');
                open.extend_from_slice(name);
                open.push(b'=');
                open.push(*q);
                open.extend_from_slice(raw);
                open.push(*q);
            };
            // Namespace declarations go out as written in a subtree kept whole, and nowhere
            // else; their values were read (and checked) with the element's name.
            if name == b"xmlns" || name.starts_with(b"xmlns:") {
                if target == Target::Whole {
                    write_raw(open);
                }
                continue;
            }
            markup::decode_fresh(raw, true, &mut self.text).map_err(|k| self.violation(k, at))?;
            // Two names for one attribute (prefixes bound to one namespace) are one twice.
            let (prefix, local) = markup::split_qname(name);
            let uri = if prefix.is_empty() {
                None
            } else {
                self.namespace(prefix)
                    .map_err(|k| self.violation(k, at))?
                    .map(str::to_owned)
            };
            if expanded.iter().any(|(u, l)| *u == uri && *l == local) {
                return Err(self.violation(V::DuplicateKey, at));
            }
            let in_xml_ns = uri.as_deref() == Some(XML_NS);
            expanded.push((uri, local));
            let node = match target {
                Target::Whole => {
                    write_raw(open);
                    continue;
                }
                Target::Strip => continue,
                Target::Node(n) | Target::Leaf(n) => n,
            };
            let mut key = std::mem::take(&mut self.key);
            let known = self
                .policy_key(name, true, &mut key)
                .map_err(|k| self.violation(k, at))?;
            let child = known.then(|| program.node(node).child(&key)).flatten();
            self.key = key;
            let member = match child {
                Some((_, c)) => match program.node(c) {
                    n if n.rule.is_some() => Member::Ruled(c),
                    n if n.subject => Member::SubjectOnly(c),
                    _ => Member::Stripped,
                },
                None => Member::Stripped,
            };
            if member == Member::Stripped {
                self.flat.tally.node_stripped[node as usize] += 1;
                continue;
            }
            let text = std::mem::take(&mut self.text);
            let applied = self.flat.value(member, &text);
            self.text = text;
            let applied = applied.map_err(|k| Violation {
                kind: k,
                path: match member {
                    Member::Ruled(c) | Member::SubjectOnly(c) => program.node(c).path.to_string(),
                    _ => self.path(),
                },
                offset: at,
            })?;
            if let Member::Ruled(_) = member {
                // The policy's name (its key without the `@`); an attribute of the `xml`
                // namespace keeps the prefix no document may rebind.
                open.push(b' ');
                if in_xml_ns {
                    open.extend_from_slice(b"xml:");
                    open.extend_from_slice(local);
                } else {
                    open.extend_from_slice(&self.key[1..]);
                }
                open.extend_from_slice(b"=");
                match applied {
                    // As written, between double quotes unless the value holds one (which
                    // only single quotes can hold as written): the quotes are the document's
                    // choice, a bit an attribute, not data a rule lists.
                    Applied::AsWritten => {
                        let q = if raw.contains(&b'"') { b'\'' } else { b'"' };
                        open.push(q);
                        open.extend_from_slice(raw);
                        open.push(q);
                    }
                    Applied::Replaced => {
                        open.push(b'"');
                        markup::escape(&self.flat.scratch.out, true, open);
                        open.push(b'"');
                    }
                }
            }
        }
        Ok(())
    }

    /// In a subtree kept whole: declares on this element each binding that its name and its
    /// attributes use and that the output does not already have in scope — a binding from
    /// outside the subtree goes out where it is first used, and one the subtree never uses never
    /// goes out (an ancestor's declarations are text no rule lists). The element's own
    /// declarations go out as written, and join the output's scope first.
    fn declare_used(&mut self, t: &[u8], ns_len: usize, open: &mut Vec<u8>) -> Result<(), V> {
        for i in ns_len..self.ns.len() {
            let own = (self.ns[i].prefix.clone(), self.ns[i].uri.clone());
            self.out_ns.push(own);
        }
        // The element's name (unprefixed: in the default namespace), then its attributes' (an
        // unprefixed attribute is in no namespace).
        for i in 0..=self.tag.attrs.len() {
            let name = match i {
                0 => self.tag.name.clone(),
                _ => self.tag.attrs[i - 1].0.clone(),
            };
            let (prefix, _) = markup::split_qname(&t[name]);
            if i > 0 && prefix.is_empty() || prefix == b"xml" || prefix == b"xmlns" {
                continue;
            }
            // The empty URI: no namespace (an unprefixed name outside any default).
            let uri = self.namespace(prefix)?.unwrap_or("");
            if self.out_binding(prefix) != uri {
                let uri: Box<str> = uri.into();
                declare(open, prefix, &uri);
                self.out_ns.push((prefix.into(), uri));
            }
        }
        Ok(())
    }

    /// The URI `prefix` is bound to in the output here (empty: no namespace): the innermost
    /// declaration written in a kept subtree, else the policy's namespaces that the outermost
    /// element sluice built declares.
    fn out_binding(&self, prefix: &[u8]) -> &str {
        if let Some((_, uri)) = self
            .out_ns
            .iter()
            .rev()
            .find(|(p, _)| same_bytes(p, prefix))
        {
            return uri;
        }
        let built = self
            .stack
            .first()
            .is_some_and(|f| matches!(f.target, Target::Node(_) | Target::Leaf(_)));
        if !built || prefix.is_empty() {
            return "";
        }
        self.declared_namespaces()
            .find(|(p, _)| p.as_bytes() == prefix)
            .map_or("", |(_, uri)| uri.as_str())
    }

    /// The policy's namespaces, as the outermost element sluice builds declares them: all but
    /// one bound to the XML namespace, which no declaration may name.
    fn declared_namespaces(&self) -> impl Iterator<Item = &(String, String)> {
        self.flat
            .cfg
            .program
            .namespaces
            .iter()
            .filter(|(_, uri)| uri != XML_NS)
    }
}

/// Writes ` xmlns:prefix="uri"` (` xmlns="uri"` for the empty prefix) into a start tag.
fn declare(open: &mut Vec<u8>, prefix: &[u8], uri: &str) {
    open.extend_from_slice(b" xmlns");
    if !prefix.is_empty() {
        open.push(b':');
        open.extend_from_slice(prefix);
    }
    open.extend_from_slice(b"=\"");
    markup::escape(uri, true, open);
    open.push(b'"');
}
