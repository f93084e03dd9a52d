//! Elements: a start tag read and matched against the trie (what it becomes, the name it goes
//! out under; its attributes in [`start_tag`](super::start_tag)), and an end tag closing it (a
//! leaf's value through its rule, a record's consent check).

use super::markup;
use super::{Frame, NsDecl, Target, XML_NS, XmlRedactor};
use crate::engine::flat::Member;
use crate::engine::tally::KEPT;
use crate::engine::text::Applied;
use crate::engine::violation::{Violation, ViolationKind as V};
use crate::program::same_bytes;

impl XmlRedactor {
    pub(super) fn start(&mut self, t: &[u8], at: u64, out: &mut Vec<u8>) -> Result<(), Violation> {
        let fail = |s: &Self, kind| Err(s.violation(kind, at));
        // Read in place: taking the tag out and putting it back moved 48 bytes twice per
        // element, the second read stalling on the bytes just written.
        markup::start_tag(t, &mut self.tag).map_err(|k| self.violation(k, at))?;
        if self.root_done {
            return fail(self, V::TrailingData);
        }
        if self.stack.len() >= self.flat.cfg.limits.max_depth {
            return fail(self, V::DepthExceeded);
        }
        // Namespace declarations first: they apply to the element's own name.
        let ns_len = self.ns.len();
        for (n, v, _) in &self.tag.attrs {
            let name = &t[n.clone()];
            let prefix: &[u8] = match name {
                b"xmlns" => b"",
                _ => match name.strip_prefix(b"xmlns:") {
                    Some(p) => p,
                    None => continue,
                },
            };
            markup::decode_fresh(&t[v.clone()], true, &mut self.text)
                .map_err(|k| self.violation(k, at))?;
            let bad = prefix == b"xmlns"
                || (prefix == b"xml") != (self.text == XML_NS)
                || !prefix.is_empty() && self.text.is_empty();
            if bad {
                return fail(self, V::InvalidXml);
            }
            let bound = self
                .flat
                .cfg
                .program
                .namespaces
                .iter()
                .position(|(_, u)| *u == self.text)
                .map(|i| i as u32);
            self.ns.push(NsDecl {
                prefix: prefix.into(),
                uri: self.text.as_str().into(),
                bound,
            });
        }
        let name = self.tag.name.clone();
        let mut key = std::mem::take(&mut self.key);
        // Inside a removed or wholly kept element no policy name is looked up: the prefix only
        // has to be bound.
        let inside_whole_or_removed = self
            .stack
            .last()
            .is_some_and(|f| matches!(f.target, Target::Strip | Target::Whole));
        let known = if inside_whole_or_removed {
            let (prefix, _) = markup::split_qname(&t[name.clone()]);
            self.binding(prefix).map(|_| false)
        } else {
            self.policy_key(&t[name.clone()], false, &mut key)
        };
        let known = known.map_err(|k| self.violation(k, at))?;
        // Borrowed, not cloned: an `Arc` clone and drop per element were two atomic operations,
        // a sixth of the engine's time on a feed of small elements.
        let (target, record, emitted) = {
            let program = &*self.flat.cfg.program;
            let (parent, depth) = match self.stack.last() {
                Some(f) => (f.target, self.stack.len()),
                None => (Target::Node(program.root()), 0),
            };
            let target = match parent {
                Target::Strip => Target::Strip,
                Target::Whole => Target::Whole,
                Target::Leaf(_) => {
                    self.key = key;
                    return fail(self, V::WrongContainer);
                }
                Target::Node(p) => match known.then(|| program.node(p).child(&key)).flatten() {
                    None => {
                        self.flat.tally.node_stripped[p as usize] += 1;
                        Target::Strip
                    }
                    Some((_, c)) => {
                        let node = match program.node(c).any {
                            Some(any) => any,
                            None => {
                                if self.seen.iter().any(|&(d, n)| d == depth && n == c) {
                                    self.key = key;
                                    return fail(self, V::DuplicateKey);
                                }
                                self.seen.push((depth, c));
                                c
                            }
                        };
                        let n = program.node(node);
                        match n.rule {
                            Some(r) if program.rules[r as usize].action.is_subtree() => {
                                self.flat.tally.rule_counts[r as usize][KEPT] += 1;
                                Target::Whole
                            }
                            Some(_) => Target::Leaf(node),
                            None if n.expects_array() => {
                                self.key = key;
                                return fail(self, V::WrongContainer);
                            }
                            None if n.expects_object() => Target::Node(node),
                            None => Target::Leaf(node),
                        }
                    }
                },
            };
            self.key = key;
            let node_of = |t: Target| match t {
                Target::Node(n) | Target::Leaf(n) => Some(n),
                _ => None,
            };
            let record = node_of(target).is_some() && node_of(target) == program.record_node;
            let emitted = match target {
                Target::Whole => true,
                Target::Leaf(n) => program.node(n).rule.is_some(),
                Target::Node(n) => program.node(n).emits,
                Target::Strip => false,
            };
            (target, record, emitted)
        };
        if record {
            self.flat.begin_record(at);
        }
        // The names of the open elements and the namespaces in scope are held while the
        // elements are open: together they are bounded like one token.
        let held = self.names.len()
            + name.len()
            + self.out_names.len()
            + self.key.len()
            + self
                .ns
                .iter()
                .map(|d| d.prefix.len() + d.uri.len())
                .sum::<usize>()
            + self
                .out_ns
                .iter()
                .map(|(p, u)| p.len() + u.len())
                .sum::<usize>();
        if held as u64 > self.flat.cfg.limits.max_token_len {
            return fail(self, V::TokenTooLong);
        }
        let name_start = self.names.len();
        self.names.extend_from_slice(&t[name.clone()]);
        // The name it goes out under: the policy's (`pp:local`, just looked up) for an element
        // sluice builds — but `xml:local` in the XML namespace, which no other prefix may be
        // bound to (and the `xml` prefix is the only way a document reaches it) — the
        // document's inside a subtree kept whole.
        let out_start = self.out_names.len();
        match target {
            Target::Node(_) | Target::Leaf(_) => match markup::split_qname(&t[name.clone()]) {
                (b"xml", local) => {
                    self.out_names.extend_from_slice(b"xml:");
                    self.out_names.extend_from_slice(local);
                }
                _ => self.out_names.extend_from_slice(&self.key),
            },
            Target::Whole => self.out_names.extend_from_slice(&t[name.clone()]),
            Target::Strip => {}
        }
        self.stack.push(Frame {
            name: name_start..self.names.len(),
            out_name: out_start..self.out_names.len(),
            target,
            emitted,
            ns_len,
            out_ns_len: self.out_ns.len(),
            seen_len: self.seen.len(),
            record,
        });
        // The start tag as it goes out: the name, namespace declarations, listed attributes.
        let mut open = std::mem::take(&mut self.leaf_open);
        open.clear();
        let result = self.attributes(t, target, at, &mut open);
        if let Err(v) = result {
            self.leaf_open = open;
            return Err(v);
        }
        match target {
            Target::Leaf(_) => {
                self.leaf_open = open;
                self.leaf_raw.clear();
                self.leaf_text.clear();
            }
            _ => {
                if emitted {
                    // A container sluice builds always has an end tag (whether anything goes
                    // out inside is not known yet); only a subtree kept whole keeps `<a/>` as
                    // the document wrote it.
                    let closed = self.self_closed(target);
                    let sink = self.flat.sink(out);
                    sink.extend_from_slice(&open);
                    sink.extend_from_slice(if closed { b"/>" } else { b">" });
                }
                self.leaf_open = open;
            }
        }
        if self.tag.empty {
            self.close(at, out)?;
        }
        Ok(())
    }

    /// An end tag closes the innermost element when it is `</`, that element's name, white
    /// space and `>` — the name was read and checked when the element opened; anything else
    /// (no element open, another name, a malformed tag) is refused alike.
    pub(super) fn end(&mut self, t: &[u8], at: u64, out: &mut Vec<u8>) -> Result<(), Violation> {
        let closes = self.stack.last().is_some_and(|top| {
            let open = &self.names[top.name.clone()];
            let after = 2 + open.len();
            t.len() > after
                && same_bytes(&t[2..after], open)
                && markup::only_space(&t[after..t.len() - 1])
        });
        if !closes {
            return Err(self.violation(V::InvalidXml, at));
        }
        self.close(at, out)
    }

    /// Whether the element just read goes out as `<a/>`: only an empty-element tag in a subtree
    /// kept whole (a leaf is `<a/>` by its value, a container always has an end tag).
    fn self_closed(&self, target: Target) -> bool {
        self.tag.empty && target == Target::Whole
    }

    /// Closes the innermost element.
    pub(super) fn close(&mut self, at: u64, out: &mut Vec<u8>) -> Result<(), Violation> {
        let top = self.stack.last().expect("an open element");
        let (target, emitted, record) = (top.target, top.emitted, top.record);
        let name = top.out_name.clone();
        if let Target::Leaf(n) = target {
            let member = if emitted {
                Member::Ruled(n)
            } else {
                Member::SubjectOnly(n)
            };
            let text = std::mem::take(&mut self.leaf_text);
            let applied = self.flat.value(member, &text);
            self.leaf_text = text;
            let applied = applied.map_err(|k| self.violation(k, at))?;
            if emitted {
                let (open, raw) = (&self.leaf_open, &self.leaf_raw);
                let replacement = std::mem::take(&mut self.flat.scratch.out);
                let value_empty = match applied {
                    Applied::AsWritten => raw.is_empty(),
                    Applied::Replaced => replacement.is_empty(),
                };
                let sink = self.flat.sink(out);
                sink.extend_from_slice(open);
                // `<a/>` for an empty value, whichever form the document used: the form is
                // its choice, a bit an element, not data a rule lists.
                if value_empty {
                    sink.extend_from_slice(b"/>");
                } else {
                    sink.push(b'>');
                    match applied {
                        Applied::AsWritten => sink.extend_from_slice(raw),
                        Applied::Replaced => markup::escape(&replacement, false, sink),
                    }
                    end_tag(sink, &self.out_names[name]);
                }
                self.flat.scratch.out = replacement;
            }
        } else if emitted && !self.self_closed(target) {
            end_tag(self.flat.sink(out), &self.out_names[name]);
        }
        self.tag.empty = false;
        let top = self.stack.pop().expect("an open element");
        self.ns.truncate(top.ns_len);
        self.out_ns.truncate(top.out_ns_len);
        self.seen.truncate(top.seen_len);
        self.names.truncate(top.name.start);
        self.out_names.truncate(top.out_name.start);
        if record {
            self.flat.end_record(out);
        }
        if self.stack.is_empty() {
            self.root_done = true;
        }
        Ok(())
    }
}

/// Writes `</name>`.
fn end_tag(sink: &mut Vec<u8>, name: &[u8]) {
    sink.extend_from_slice(b"</");
    sink.extend_from_slice(name);
    sink.push(b'>');
}
