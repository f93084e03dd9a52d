//! XML bodies (`application/xml`, `text/xml`, `application/soap+xml`, `+xml` types): SOAP
//! envelopes, ISO 20022 messages, legacy core-system interfaces.
//!
//! ## Paths
//! An element is a member of its parent named by its qualified name, an attribute a member
//! named `@name`; an element the policy marks `[*]` may repeat, one the policy names plainly
//! may appear once (twice is `duplicate_key`, as for JSON members). Policies write XML paths as
//! `/doc:Document/doc:CstmrCdtTrfInitn/doc:PmtInf[*]/doc:Dbtr/doc:Nm` and `/a/b/@attr`, with
//! the prefixes bound to namespace URIs in the policy's `[namespaces]` table: names match by
//! namespace URI and local name, whatever prefix (or default namespace) the document uses. An
//! element in a namespace the policy does not bind matches nothing.
//!
//! ## What goes out
//! Default deny: an element or attribute no rule lists is removed with everything inside it. An
//! element on the way to a rule goes out as a container (its start tag with its namespace
//! declarations and listed attributes only, white space between kept children as written, other
//! text removed). A rule's element is a leaf: its text (with CDATA sections) is the value — kept
//! byte-exact, or replaced by the escaped mask, hash or marker; an element inside it is
//! `wrong_container` unless the rule keeps the subtree, which then goes out as written. Comments
//! are removed everywhere. The XML declaration goes out as written.
//!
//! ## Refused
//! A document type declaration (so no external entity and no entity expansion), processing
//! instructions other than the declaration, named entities other than the five predefined,
//! malformed or mismatched tags, duplicate attributes (by name, or by namespace and local name),
//! undeclared prefixes, characters XML does not allow, more than one root, an encoding
//! declaration that disagrees with the body's charset.

mod lexer;
mod markup;

use std::ops::Range;

use lexer::{Kind, Lexer};
use markup::Tag;

use super::flat::{Flat, Member};
use super::tally::KEPT;
use super::text::Applied;
use super::violation::{Violation, ViolationKind as V};
use super::{EngineConfig, Summary};
use crate::program::NodeId;

/// Whether `name` is an XML qualified name (at most one colon, not at either end): what a
/// policy's XML path steps and namespace prefixes must be.
pub fn is_xml_name(name: &str) -> bool {
    markup::is_qname(name.as_bytes())
}

/// Equality of two short byte strings (prefixes, names) without a library call for the empty
/// and one-byte cases that most documents have.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && (a.len() < 2 && a.first() == b.first() || a == b)
}

/// What the start of an XML body says of its charset, when the media type does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    /// Too few bytes to tell.
    More,
    /// The declaration names this charset, or there is none (UTF-8).
    Charset(super::charset::Charset),
    /// The declaration names a charset sluice does not decode.
    Unknown,
}

/// Reads the charset from the XML declaration at the start of `head`. A malformed declaration
/// reads as UTF-8: the engine refuses it when it reads it.
pub(crate) fn sniff(head: &[u8]) -> Sniffed {
    use super::charset::Charset;
    const DECL: &[u8] = b"<?xml";
    if head.len() < DECL.len() {
        return if DECL.starts_with(head) {
            Sniffed::More
        } else {
            Sniffed::Charset(Charset::Utf8)
        };
    }
    if !head.starts_with(DECL) {
        return Sniffed::Charset(Charset::Utf8);
    }
    let Some(end) = head.windows(2).position(|w| w == b"?>") else {
        // A declaration longer than this is not one sluice reads.
        return if head.len() < 512 {
            Sniffed::More
        } else {
            Sniffed::Charset(Charset::Utf8)
        };
    };
    match markup::declaration(&head[..end + 2]) {
        Ok(Some(label)) => Charset::from_label(&label).map_or(Sniffed::Unknown, Sniffed::Charset),
        _ => Sniffed::Charset(Charset::Utf8),
    }
}

/// The namespace the `xml` prefix is bound to by definition.
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// On the way to rules: a container.
    Node(NodeId),
    /// A rule's element (or the subject's): its text is the value.
    Leaf(NodeId),
    /// Not listed: removed with its inside.
    Strip,
    /// Kept whole, as written.
    Whole,
}

/// A namespace declaration in scope.
struct NsDecl {
    /// Empty for the default namespace.
    prefix: Box<[u8]>,
    /// Empty when the declaration undeclares the default namespace.
    uri: Box<str>,
    /// The index of the policy's prefix for the URI, if it binds one.
    bound: Option<u32>,
}

struct Frame {
    /// The qualified name as written, in `names`.
    name: Range<usize>,
    target: Target,
    emitted: bool,
    /// Namespace declarations and seen children before this element's.
    ns_len: usize,
    seen_len: usize,
    record: bool,
}

/// The streaming filter for one XML body.
pub(crate) struct XmlRedactor {
    flat: Flat,
    lexer: Lexer,
    stack: Vec<Frame>,
    names: Vec<u8>,
    /// Prefix (empty: the default namespace) → URI and the index of the policy's prefix for
    /// it (looked up once, when declared), innermost last.
    ns: Vec<NsDecl>,
    /// Single (not `[*]`) children seen, per open element (by depth).
    seen: Vec<(usize, NodeId)>,
    tag: Tag,
    key: Vec<u8>,
    text: String,
    /// The open leaf: its start tag as it will go out, its text as written, its text decoded.
    leaf_open: Vec<u8>,
    leaf_raw: Vec<u8>,
    leaf_text: String,
    root_done: bool,
    offset: u64,
    failed: Option<Violation>,
}

impl XmlRedactor {
    pub(crate) fn new(cfg: EngineConfig) -> Self {
        Self {
            flat: Flat::new(cfg),
            lexer: Lexer::new(),
            stack: Vec::new(),
            names: Vec::new(),
            ns: Vec::new(),
            seen: Vec::new(),
            tag: Tag::default(),
            key: Vec::new(),
            text: String::new(),
            leaf_open: Vec::new(),
            leaf_raw: Vec::new(),
            leaf_text: String::new(),
            root_done: false,
            offset: 0,
            failed: None,
        }
    }

    pub(crate) fn flat(&mut self) -> &mut Flat {
        &mut self.flat
    }

    pub(crate) fn flat_ref(&self) -> &Flat {
        &self.flat
    }

    /// The charset the body turned out to be in (read from its declaration), before any byte.
    pub(crate) fn set_charset(&mut self, charset: super::charset::Charset) {
        self.flat.cfg.charset = charset;
    }

    pub(crate) fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Violation> {
        if let Some(v) = &self.failed {
            return Err(v.clone());
        }
        let start = out.len();
        let limit = self.flat.cfg.limits.max_token_len;
        let mut lexer = std::mem::replace(&mut self.lexer, Lexer::new());
        let result = lexer.feed(
            chunk,
            self.offset,
            limit,
            |lx, kind| self.token(kind, &lx.token, lx.start, out),
            |kind, at| Violation {
                kind,
                path: "$".into(),
                offset: at,
            },
        );
        self.lexer = lexer;
        let result = result.map_err(|v| self.located(v));
        self.flat.tally.released(&out[start..]);
        self.flat.tally.bytes_in += chunk.len() as u64;
        self.offset += chunk.len() as u64;
        result.inspect_err(|v| self.failed = Some(v.clone()))
    }

    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> Result<Summary, Violation> {
        if let Some(v) = &self.failed {
            return Err(v.clone());
        }
        let start = out.len();
        let mut lexer = std::mem::replace(&mut self.lexer, Lexer::new());
        let mut result = lexer.finish(
            |lx, kind| self.token(kind, &lx.token, lx.start, out),
            |kind, at| Violation {
                kind,
                path: "$".into(),
                offset: at,
            },
        );
        if result.is_ok() && !self.stack.is_empty() {
            result = Err(self.violation(V::Truncated, self.offset));
        } else if result.is_ok() && !self.root_done {
            result = Err(self.violation(V::EmptyBody, self.offset));
        }
        let result = result.map_err(|v| self.located(v));
        self.flat.tally.released(&out[start..]);
        match result {
            Ok(()) => Ok(self.flat.tally.summary(&self.flat.cfg.program)),
            Err(v) => {
                self.failed = Some(v.clone());
                Err(v)
            }
        }
    }

    /// A violation raised with a placeholder path gets the path of where the body stopped.
    fn located(&self, mut v: Violation) -> Violation {
        if v.path == "$" {
            v.path = self.path();
        }
        v
    }

    fn violation(&self, kind: V, offset: u64) -> Violation {
        Violation {
            kind,
            path: self.path(),
            offset,
        }
    }

    /// The structural path of the innermost open element (`/?` for an unlisted one).
    fn path(&self) -> String {
        let program = &self.flat.cfg.program;
        let mut path = String::from("$");
        for f in &self.stack {
            match f.target {
                Target::Node(n) | Target::Leaf(n) => path.clone_from(&program.node(n).path),
                Target::Strip => {
                    path.push_str("/?");
                    break;
                }
                Target::Whole => {}
            }
        }
        path
    }

    fn token(&mut self, kind: Kind, t: &[u8], at: u64, out: &mut Vec<u8>) -> Result<(), Violation> {
        let fail = |s: &Self, kind| Err(s.violation(kind, at));
        match kind {
            Kind::Text => self.text_token(t, at, out),
            Kind::CData => {
                let content = &t[9..t.len() - 3];
                let Some(top) = self.stack.last() else {
                    return fail(self, V::InvalidXml);
                };
                let (target, emitted) = (top.target, top.emitted);
                let text =
                    std::str::from_utf8(content).map_err(|_| self.violation(V::InvalidUtf8, at))?;
                match target {
                    Target::Leaf(_) => {
                        self.leaf_raw.extend_from_slice(t);
                        self.leaf_text.push_str(text);
                        self.check_leaf(at)
                    }
                    Target::Whole => {
                        self.flat.sink(out).extend_from_slice(t);
                        Ok(())
                    }
                    Target::Node(n) => {
                        if !text.trim().is_empty() {
                            self.flat.tally.node_stripped[n as usize] += 1;
                        } else if emitted {
                            self.flat.sink(out).extend_from_slice(t);
                        }
                        Ok(())
                    }
                    Target::Strip => Ok(()),
                }
            }
            Kind::Comment => {
                let content = &t[4..t.len() - 3];
                if content.windows(2).any(|w| w == b"--") || content.ends_with(b"-") {
                    return fail(self, V::InvalidXml);
                }
                std::str::from_utf8(content).map_err(|_| self.violation(V::InvalidUtf8, at))?;
                Ok(())
            }
            Kind::Pi => {
                if at != 0 {
                    return fail(self, V::XmlForbidden);
                }
                let label = markup::declaration(t).map_err(|k| self.violation(k, at))?;
                if let Some(label) = label {
                    let declared = super::charset::Charset::from_label(&label);
                    if declared != Some(self.flat.cfg.charset) {
                        return fail(self, V::InvalidEncoding);
                    }
                }
                out.extend_from_slice(t);
                Ok(())
            }
            Kind::Start => self.start(t, at, out),
            Kind::End => self.end(t, at, out),
        }
    }

    fn text_token(&mut self, t: &[u8], at: u64, out: &mut Vec<u8>) -> Result<(), Violation> {
        markup::decode(t, false, &mut self.text).map_err(|k| self.violation(k, at))?;
        let blank = self.text.trim_matches([' ', '\t', '\r', '\n']).is_empty();
        let Some(top) = self.stack.last() else {
            if !blank {
                let kind = if self.root_done {
                    V::TrailingData
                } else {
                    V::InvalidXml
                };
                return Err(self.violation(kind, at));
            }
            out.extend_from_slice(t);
            return Ok(());
        };
        match (top.target, top.emitted) {
            (Target::Leaf(_), _) => {
                self.leaf_raw.extend_from_slice(t);
                let text = std::mem::take(&mut self.text);
                self.leaf_text.push_str(&text);
                self.text = text;
                self.check_leaf(at)
            }
            (Target::Whole, _) => {
                self.flat.sink(out).extend_from_slice(t);
                Ok(())
            }
            (Target::Node(n), emitted) => {
                if !blank {
                    self.flat.tally.node_stripped[n as usize] += 1;
                } else if emitted {
                    self.flat.sink(out).extend_from_slice(t);
                }
                Ok(())
            }
            (Target::Strip, _) => Ok(()),
        }
    }

    fn check_leaf(&self, at: u64) -> Result<(), Violation> {
        if self.leaf_raw.len() as u64 > self.flat.cfg.limits.max_token_len {
            return Err(self.violation(V::TokenTooLong, at));
        }
        Ok(())
    }

    /// The namespace URI `prefix` is bound to here (`None`: no namespace, for the empty prefix
    /// with no default declared).
    fn namespace(&self, prefix: &[u8]) -> Result<Option<&str>, V> {
        if prefix == b"xml" {
            return Ok(Some(XML_NS));
        }
        match self.ns.iter().rev().find(|d| same(&d.prefix, prefix)) {
            Some(d) if d.uri.is_empty() => Ok(None),
            Some(d) => Ok(Some(&d.uri)),
            None if prefix.is_empty() => Ok(None),
            None => Err(V::InvalidXml),
        }
    }

    /// As [`namespace`](Self::namespace), the policy's side: `None` for no namespace,
    /// `Some(None)` for a namespace the policy does not bind, `Some(Some(i))` for the policy's
    /// `i`-th prefix.
    fn binding(&self, prefix: &[u8]) -> Result<Option<Option<u32>>, V> {
        if prefix == b"xml" {
            let program = &self.flat.cfg.program;
            return Ok(Some(
                program
                    .namespaces
                    .iter()
                    .position(|(_, u)| u == XML_NS)
                    .map(|i| i as u32),
            ));
        }
        match self.ns.iter().rev().find(|d| same(&d.prefix, prefix)) {
            Some(d) if d.uri.is_empty() => Ok(None),
            Some(d) => Ok(Some(d.bound)),
            None if prefix.is_empty() => Ok(None),
            None => Err(V::InvalidXml),
        }
    }

    /// The policy's name for a qualified name written in the document (`attr`: an attribute,
    /// whose unprefixed name has no namespace): `pp:local` with the policy's prefix for the
    /// URI, `local` outside any namespace, `None` in a namespace the policy does not bind.
    fn policy_key(&self, qname: &[u8], attr: bool, key: &mut Vec<u8>) -> Result<bool, V> {
        key.clear();
        if attr {
            key.push(b'@');
        }
        let (prefix, local) = match memchr::memchr(b':', qname) {
            Some(i) => (&qname[..i], &qname[i + 1..]),
            None => (&b""[..], qname),
        };
        let bound = if attr && prefix.is_empty() {
            None
        } else {
            self.binding(prefix)?
        };
        if let Some(bound) = bound {
            let Some(i) = bound else {
                return Ok(false);
            };
            let p = &self.flat.cfg.program.namespaces[i as usize].0;
            key.extend_from_slice(p.as_bytes());
            key.push(b':');
        }
        key.extend_from_slice(local);
        Ok(true)
    }

    fn start(&mut self, t: &[u8], at: u64, out: &mut Vec<u8>) -> Result<(), Violation> {
        let fail = |s: &Self, kind| Err(s.violation(kind, at));
        let mut tag = std::mem::take(&mut self.tag);
        let parsed = markup::start_tag(t, &mut tag);
        self.tag = tag;
        parsed.map_err(|k| self.violation(k, at))?;
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
            markup::decode(&t[v.clone()], true, &mut self.text)
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
        let known = self.policy_key(&t[name.clone()], false, &mut key);
        let known = known.map_err(|k| self.violation(k, at))?;
        let program = self.flat.cfg.program.clone();
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
        if record {
            self.flat.begin_record(at);
        }
        let emitted = match target {
            Target::Whole => true,
            Target::Leaf(n) => program.node(n).rule.is_some(),
            Target::Node(n) => program.node(n).emits,
            Target::Strip => false,
        };
        let name_start = self.names.len();
        self.names.extend_from_slice(&t[name.clone()]);
        self.stack.push(Frame {
            name: name_start..self.names.len(),
            target,
            emitted,
            ns_len,
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
                    let sink = self.flat.sink(out);
                    sink.extend_from_slice(&open);
                    sink.extend_from_slice(if self.tag.empty { b"/>" } else { b">" });
                }
                self.leaf_open = open;
            }
        }
        if self.tag.empty {
            self.close(at, out)?;
        }
        Ok(())
    }

    /// Writes `<name` and the attributes that go out into `open`, applying attribute rules.
    fn attributes(
        &mut self,
        t: &[u8],
        target: Target,
        at: u64,
        open: &mut Vec<u8>,
    ) -> Result<(), Violation> {
        open.push(b'<');
        open.extend_from_slice(&t[self.tag.name.clone()]);
        let attrs = std::mem::take(&mut self.tag.attrs);
        let result = self.each_attribute(t, &attrs, target, at, open);
        self.tag.attrs = attrs;
        result
    }

    fn each_attribute(
        &mut self,
        t: &[u8],
        attrs: &[(Range<usize>, Range<usize>, u8)],
        target: Target,
        at: u64,
        open: &mut Vec<u8>,
    ) -> Result<(), Violation> {
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
            markup::decode(raw, true, &mut self.text).map_err(|k| self.violation(k, at))?;
            if name == b"xmlns" || name.starts_with(b"xmlns:") {
                write_raw(open);
                continue;
            }
            // Two names for one attribute (prefixes bound to one namespace) are one twice.
            let (prefix, local) = match memchr::memchr(b':', name) {
                Some(i) => (&name[..i], &name[i + 1..]),
                None => (&b""[..], name),
            };
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
                    Member::Ruled(c) | Member::SubjectOnly(c) => program.node(c).path.clone(),
                    _ => self.path(),
                },
                offset: at,
            })?;
            if let Member::Ruled(_) = member {
                match applied {
                    Applied::AsWritten => write_raw(open),
                    Applied::Replaced => {
                        open.push(b' ');
                        open.extend_from_slice(name);
                        open.extend_from_slice(b"=\"");
                        markup::escape(&self.flat.scratch.out, open);
                        open.push(b'"');
                    }
                }
            }
        }
        Ok(())
    }

    fn end(&mut self, t: &[u8], at: u64, out: &mut Vec<u8>) -> Result<(), Violation> {
        let name = markup::end_tag(t).map_err(|k| self.violation(k, at))?;
        let Some(top) = self.stack.last() else {
            return Err(self.violation(V::InvalidXml, at));
        };
        if !same(&self.names[top.name.clone()], &t[name]) {
            return Err(self.violation(V::InvalidXml, at));
        }
        self.close(at, out)
    }

    /// Closes the innermost element.
    fn close(&mut self, at: u64, out: &mut Vec<u8>) -> Result<(), Violation> {
        let top = self.stack.last().expect("an open element");
        let (target, emitted, record) = (top.target, top.emitted, top.record);
        let name = top.name.clone();
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
                if value_empty && self.tag.empty {
                    sink.extend_from_slice(b"/>");
                } else {
                    sink.push(b'>');
                    match applied {
                        Applied::AsWritten => sink.extend_from_slice(raw),
                        Applied::Replaced => markup::escape(&replacement, sink),
                    }
                    sink.extend_from_slice(b"</");
                    sink.extend_from_slice(&self.names[name.clone()]);
                    sink.push(b'>');
                }
                self.flat.scratch.out = replacement;
            }
        } else if emitted && !self.tag.empty {
            let sink = self.flat.sink(out);
            sink.extend_from_slice(b"</");
            sink.extend_from_slice(&self.names[name.clone()]);
            sink.push(b'>');
        }
        self.tag.empty = false;
        let top = self.stack.pop().expect("an open element");
        self.ns.truncate(top.ns_len);
        self.seen.truncate(top.seen_len);
        self.names.truncate(top.name.start);
        if record {
            self.flat.end_record(out);
        }
        if self.stack.is_empty() {
            self.root_done = true;
        }
        Ok(())
    }
}
