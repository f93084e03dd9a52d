//! Structure: keys, values and containers as the walker meets them — which trie node a member
//! is at, what its rule wants (stream, capture, strip, keep whole), and the separators and keys
//! written before kept values.

use super::machine::{Frame, JsonRedactor, Member, Scalar, Sink, State, Target};
use crate::engine::Format;
use crate::engine::violation::{Violation, ViolationKind as V};
use crate::program::{FieldProgram, NodeId};
use crate::rule::{Action, KeepKind};

impl JsonRedactor {
    #[inline]
    pub(super) fn begin_key(&mut self, abs: u64) {
        let top = self.stack.last().expect("keys are inside objects");
        self.tok.in_key = true;
        self.tok.escape = false;
        self.tok.start = abs;
        self.tok.limit = (abs + 1).saturating_add(self.cfg.limits.max_token_len);
        self.tok.sink = if top.target == Target::Strip {
            Sink::Discard
        } else {
            Sink::Capture
        };
        self.tok.key.clear();
        self.state = State::Str;
    }

    pub(super) fn end_string(
        &mut self,
        program: &FieldProgram,
        _abs_after: u64,
    ) -> Result<(), Violation> {
        if self.tok.in_key {
            self.tok.in_key = false;
            self.key_done(program, None)?;
            self.state = State::Colon;
            Ok(())
        } else {
            self.end_scalar(program, Scalar::String)
        }
    }

    /// A key ended. `direct` is the raw key when it lay whole in the current chunk without
    /// escapes; otherwise it was captured into `self.tok.key`.
    pub(super) fn key_done(
        &mut self,
        program: &FieldProgram,
        direct: Option<&[u8]>,
    ) -> Result<(), Violation> {
        let key_at = self.tok.start;
        self.tok.key_escape = self.tok.escape;
        let top_target = self.stack.last().expect("keys are inside objects").target;
        if let (Some(raw), Target::Subtree) = (direct, top_target) {
            // Subtree keys are re-emitted, so they must be kept.
            self.tok.key.clear();
            self.tok.key.extend_from_slice(raw);
        }
        let key: &[u8] = if let (Some(raw), Target::Node(_)) = (direct, top_target) {
            raw
        } else if self.tok.escape {
            self.tok.key_unescaped.clear();
            crate::escape::unescape_into(&mut self.tok.key_unescaped, &self.tok.key);
            &self.tok.key_unescaped
        } else {
            &self.tok.key
        };
        let top = *self.stack.last().expect("keys are inside objects");
        let (member, target) = match top.target {
            Target::Strip => (Member::Unlisted, Target::Strip),
            Target::Subtree => {
                if let Err(dup) = self
                    .keysets
                    .insert(key, self.cfg.limits.max_keys_per_object)
                {
                    self.stack.last_mut().expect("open object").member = Member::Unlisted;
                    return Err(
                        self.violation(if dup { V::DuplicateKey } else { V::TooManyKeys }, key_at)
                    );
                }
                (Member::Unlisted, Target::Subtree)
            }
            Target::Node(n) => match program.node(n).child(key) {
                Some((idx, child)) => return self.key_matched(idx, child),
                None => {
                    self.ev.node_stripped[n as usize] += 1;
                    (Member::Unlisted, Target::Strip)
                }
            },
        };
        let top = self.stack.last_mut().expect("open object");
        top.member = member;
        top.count += 1;
        self.tok.member_target = target;
        Ok(())
    }

    /// A key of the innermost object (a trie node's) that is its `idx`-th child, `child`:
    /// checked against the keys already seen there, then the member's value goes to `child`.
    #[inline]
    pub(super) fn key_matched(&mut self, idx: usize, child: NodeId) -> Result<(), Violation> {
        self.tok.key_escape = self.tok.escape;
        let top = self.stack.last_mut().expect("keys are inside objects");
        top.member = Member::Matched(child);
        let word = top.seen_at as usize + idx / 64;
        let bit = 1u64 << (idx % 64);
        if self.seen[word] & bit != 0 {
            return Err(self.violation(V::DuplicateKey, self.tok.start));
        }
        self.seen[word] |= bit;
        let top = self.stack.last_mut().expect("keys are inside objects");
        top.count += 1;
        self.tok.member_target = Target::Node(child);
        Ok(())
    }

    /// The target of the value about to start.
    #[inline]
    pub(super) fn value_target(&mut self, program: &FieldProgram) -> Target {
        let target = self.next_target(program);
        if let Some(top) = self.stack.last_mut()
            && !top.is_obj
        {
            top.count += 1;
        }
        target
    }

    /// The target of the value about to start, without counting it as an element.
    #[inline]
    pub(super) fn next_target(&self, program: &FieldProgram) -> Target {
        let Some(top) = self.stack.last() else {
            return Target::Node(match self.cfg.format {
                Format::Ndjson => program.record_node.unwrap_or(program.root()),
                _ => program.root(),
            });
        };
        if top.is_obj {
            return self.tok.member_target;
        }
        match top.target {
            Target::Node(n) => Target::Node(
                program
                    .node(n)
                    .any
                    .expect("array frames have an element node"),
            ),
            other => other,
        }
    }

    /// Writes `,` and the member key before a kept value.
    #[inline]
    pub(super) fn emit_prefix(&mut self, program: &FieldProgram) {
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        let comma = top.has_items;
        top.has_items = true;
        let (is_obj, target, member) = (top.is_obj, top.target, top.member);
        let out = if self.rec.holding {
            &mut self.rec.hold
        } else {
            &mut self.out
        };
        if comma {
            out.push(b',');
        }
        if is_obj {
            match (target, member) {
                (Target::Node(_), Member::Matched(n)) => {
                    out.extend_from_slice(&program.node(n).emit_key)
                }
                _ if !self.tok.key_escape => {
                    out.push(b'"');
                    out.extend_from_slice(&self.tok.key);
                    out.extend_from_slice(b"\":");
                }
                _ => {
                    out.push(b'"');
                    crate::escape::write_json_string_body(out, &self.tok.key_unescaped);
                    out.extend_from_slice(b"\":");
                }
            }
        }
    }

    #[inline]
    pub(super) fn start_token(&mut self, target: Target, sink: Sink, abs: u64, string: bool) {
        self.tok.target = target;
        self.tok.sink = sink;
        self.tok.in_key = false;
        self.tok.escape = false;
        self.tok.start = abs;
        self.tok.limit = (abs + u64::from(string)).saturating_add(self.cfg.limits.max_token_len);
        self.tok.capture.clear();
    }

    #[inline]
    pub(super) fn begin_value(
        &mut self,
        program: &FieldProgram,
        kind: Scalar,
        abs: u64,
    ) -> Result<(), Violation> {
        self.root_seen = true;
        let target = self.value_target(program);
        let string = kind == Scalar::String;
        let sink = self.value_sink(program, target, kind, abs)?;
        self.start_token(target, sink, abs, string);
        if sink == Sink::Emit && string {
            self.sink().push(b'"');
        }
        Ok(())
    }

    /// Where a scalar of `kind` at `target` goes; writes the member's prefix first when it is
    /// emitted as it streams.
    #[inline]
    pub(super) fn value_sink(
        &mut self,
        program: &FieldProgram,
        target: Target,
        kind: Scalar,
        abs: u64,
    ) -> Result<Sink, Violation> {
        Ok(match target {
            Target::Strip => Sink::Discard,
            Target::Subtree => {
                self.emit_prefix(program);
                Sink::Emit
            }
            Target::Node(n) => {
                let node = program.node(n);
                self.maybe_begin_record(node.record, abs);
                match node.rule.map(|r| &program.rules[r as usize].action) {
                    Some(Action::Keep(k)) if k.kind == KeepKind::Subtree => {
                        // Counted once, when the value ends (`end_scalar`).
                        self.emit_prefix(program);
                        Sink::Emit
                    }
                    Some(Action::Keep(k)) if !k.kind.accepts(kind) => {
                        return Err(self.violation(V::TypeMismatch, abs));
                    }
                    // Decided once per node when the program was compiled; a number is captured
                    // all the same (its digits are checked whole, `text::check_keep`).
                    Some(Action::Keep(_))
                        if node.as_written.is_some() && kind != Scalar::Number =>
                    {
                        self.emit_prefix(program);
                        Sink::Emit
                    }
                    Some(Action::Keep(_)) => Sink::Capture,
                    Some(Action::Redact) if !node.subject => Sink::Discard,
                    Some(_) => Sink::Capture,
                    None if node.expects_object() || node.expects_array() => {
                        return Err(self.violation(V::WrongContainer, abs));
                    }
                    None if node.subject => Sink::Capture,
                    None => Sink::Discard,
                }
            }
        })
    }

    pub(super) fn begin_container(
        &mut self,
        program: &FieldProgram,
        is_obj: bool,
        abs: u64,
    ) -> Result<(), Violation> {
        self.root_seen = true;
        if self.stack.len() >= self.cfg.limits.max_depth {
            return Err(self.violation(V::DepthExceeded, abs));
        }
        let target = self.value_target(program);
        let mut record = false;
        let (target, emit) = match target {
            Target::Strip => (Target::Strip, false),
            Target::Subtree => (Target::Subtree, true),
            Target::Node(n) => {
                let node = program.node(n);
                record = self.maybe_begin_record(node.record, abs);
                match node.rule.map(|r| &program.rules[r as usize].action) {
                    Some(Action::Keep(k)) if k.kind == KeepKind::Subtree => {
                        self.ev.rule_counts[node.rule.expect("rule") as usize][0] += 1;
                        (Target::Subtree, true)
                    }
                    Some(_) => return Err(self.violation(V::TypeMismatch, abs)),
                    None if (is_obj && node.expects_object())
                        || (!is_obj && node.expects_array()) =>
                    {
                        (Target::Node(n), node.emits || self.stack.is_empty())
                    }
                    None if node.expects_object() || node.expects_array() => {
                        return Err(self.violation(V::WrongContainer, abs));
                    }
                    None if node.subject => return Err(self.violation(V::TypeMismatch, abs)),
                    None => (Target::Strip, false),
                }
            }
        };
        if emit {
            self.emit_prefix(program);
            self.sink().push(if is_obj { b'{' } else { b'[' });
        }
        let seen_at = self.seen.len() as u32;
        if let (true, Target::Node(n)) = (is_obj, target) {
            let words = program.node(n).children.len().div_ceil(64);
            self.seen.resize(self.seen.len() + words, 0);
        }
        if is_obj && target == Target::Subtree {
            self.keysets.push();
        }
        self.stack.push(Frame {
            is_obj,
            target,
            emit,
            has_items: false,
            count: 0,
            member: Member::None,
            seen_at,
            record,
        });
        self.state = if is_obj {
            State::ObjFirst
        } else {
            State::ArrFirst
        };
        Ok(())
    }

    pub(super) fn close(
        &mut self,
        program: &FieldProgram,
        is_obj: bool,
        _abs: u64,
    ) -> Result<(), Violation> {
        let f = self.stack.pop().expect("close implies an open container");
        debug_assert_eq!(f.is_obj, is_obj);
        self.seen.truncate(f.seen_at as usize);
        if is_obj && f.target == Target::Subtree {
            self.keysets.pop();
        }
        if f.emit {
            self.sink().push(if is_obj { b'}' } else { b']' });
        }
        let _ = f.record;
        self.after_value(program);
        Ok(())
    }
}
