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
//! Default deny: an element or attribute no rule lists is removed with everything inside it,
//! leaving no trace. An element on the way to a rule goes out as a container: its start tag with
//! its listed attributes only, its kept children, and no text at all (white space included:
//! indentation around a removed child would show where it was). A rule's element is a leaf: its
//! text (with CDATA sections) is the value — kept byte-exact, or replaced by the escaped mask,
//! hash or marker; an element inside it is `wrong_container` unless the rule keeps the subtree,
//! which then goes out as written (an outside binding declared where the subtree uses it).
//! Comments are removed everywhere, and white space outside the root element. The XML
//! declaration goes out as sluice writes it (version, the charset's canonical label, standalone),
//! not as the document spelled it.
//!
//! Names go out as the policy writes them (`doc:Nm`), and the outermost element declares the
//! policy's namespaces and no other: the document's prefixes and namespace declarations are text
//! no rule lists — a prefix can be any name (`张三`), a namespace URI any string — so they do not
//! cross, whatever the document wrote.
//!
//! ## Refused
//! A document type declaration (so no external entity and no entity expansion), processing
//! instructions other than the declaration, named entities other than the five predefined,
//! malformed or mismatched tags, duplicate attributes (by name, or by namespace and local name),
//! undeclared prefixes, characters XML does not allow, more than one root, an encoding
//! declaration that disagrees with the body's charset.

mod element;
mod lexer;
mod markup;
mod names;
mod start_tag;

use std::ops::Range;

use lexer::{Kind, Lexer};
use markup::Tag;
pub(crate) use names::{Sniffed, sniff};

use super::EngineConfig;
use super::flat::{Flat, FlatEngine, shell_fields};
use super::violation::{Violation, ViolationKind as V};
use crate::program::NodeId;

/// Whether `name` is an XML qualified name (at most one colon, not at either end): what a
/// policy's XML path steps and namespace prefixes must be.
pub fn is_xml_name(name: &str) -> bool {
    markup::is_qname(name.as_bytes())
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
    /// The name it goes out under, in `out_names` (empty for a removed element).
    out_name: Range<usize>,
    target: Target,
    emitted: bool,
    /// Namespace declarations (the document's, and the output's in a kept subtree) and seen
    /// children before this element's.
    ns_len: usize,
    out_ns_len: usize,
    seen_len: usize,
    record: bool,
}

/// The streaming filter for one XML body.
pub(crate) struct XmlRedactor {
    flat: Flat,
    lexer: Lexer,
    stack: Vec<Frame>,
    names: Vec<u8>,
    out_names: Vec<u8>,
    /// Prefix (empty: the default namespace) → URI and the index of the policy's prefix for
    /// it (looked up once, when declared), innermost last.
    ns: Vec<NsDecl>,
    /// Inside a subtree kept whole, the bindings its output declares (prefix → URI, empty for
    /// no namespace), innermost last.
    out_ns: Vec<(Box<[u8]>, Box<str>)>,
    /// Single (not `[*]`) children seen, per open element (by depth).
    seen: Vec<(usize, NodeId)>,
    tag: Tag,
    key: Vec<u8>,
    text: String,
    /// The open leaf: its start tag as it will go out, its text as written, its text decoded.
    leaf_open: Vec<u8>,
    leaf_raw: Vec<u8>,
    leaf_text: String,
    /// The token before this one was a comment, which does not go out: the text pieces on
    /// either side of it then meet in the output (see [`markup::push_after`]).
    after_comment: bool,
    root_done: bool,
    offset: u64,
    failed: Option<Violation>,
}

impl FlatEngine for XmlRedactor {
    shell_fields!();

    fn walk_chunk(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Violation> {
        let limit = self.flat.cfg.limits.max_token_len;
        let mut lexer = std::mem::replace(&mut self.lexer, Lexer::new());
        let result = lexer.feed(
            chunk,
            self.offset,
            limit,
            |kind, token, at| self.token(kind, token, at, out),
            placeholder,
        );
        self.lexer = lexer;
        result.map_err(|v| self.located(v))
    }

    fn end(&mut self, out: &mut Vec<u8>) -> Result<(), Violation> {
        let mut lexer = std::mem::replace(&mut self.lexer, Lexer::new());
        let mut result = lexer.finish(
            |kind, token, at| self.token(kind, token, at, out),
            placeholder,
        );
        if result.is_ok() && !self.stack.is_empty() {
            result = Err(self.violation(V::Truncated, self.offset));
        } else if result.is_ok() && !self.root_done {
            result = Err(self.violation(V::EmptyBody, self.offset));
        }
        result.map_err(|v| self.located(v))
    }
}

/// A violation found by the tokenizer, whose path [`XmlRedactor::located`] fills in.
fn placeholder(kind: V, offset: u64) -> Violation {
    Violation {
        kind,
        path: "$".into(),
        offset,
    }
}

impl XmlRedactor {
    pub(crate) fn new(cfg: EngineConfig) -> Self {
        Self {
            flat: Flat::new(cfg),
            lexer: Lexer::new(),
            stack: Vec::new(),
            names: Vec::new(),
            out_names: Vec::new(),
            ns: Vec::new(),
            out_ns: Vec::new(),
            seen: Vec::new(),
            tag: Tag::default(),
            key: Vec::new(),
            text: String::new(),
            leaf_open: Vec::new(),
            leaf_raw: Vec::new(),
            leaf_text: String::new(),
            after_comment: false,
            root_done: false,
            offset: 0,
            failed: None,
        }
    }

    /// The charset the body turned out to be in (read from its declaration), before any byte.
    pub(crate) fn set_charset(&mut self, charset: super::charset::Charset) {
        self.flat.cfg.charset = charset;
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
                Target::Node(n) | Target::Leaf(n) => {
                    path.clear();
                    path.push_str(&program.node(n).path);
                }
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
        // A record held for a consent check may not grow past its cap: checked at each token's
        // last byte (a token is itself bounded by the token limit).
        let last = at + t.len().saturating_sub(1) as u64;
        if let Err(kind) = self.flat.check_record_size(last) {
            return Err(self.violation(kind, last));
        }
        let after_comment = std::mem::take(&mut self.after_comment);
        match kind {
            Kind::Text => self.text_token(t, at, after_comment, out),
            Kind::CData => {
                let content = &t[9..t.len() - 3];
                let Some(top) = self.stack.last() else {
                    return fail(self, V::InvalidXml);
                };
                let target = top.target;
                let text = markup::chars(content).map_err(|k| self.violation(k, at))?;
                match target {
                    Target::Leaf(_) => {
                        self.leaf_raw.extend_from_slice(t);
                        markup::push_normalized(&mut self.leaf_text, text, false);
                        self.check_leaf(at)
                    }
                    Target::Whole => {
                        self.flat.sink(out).extend_from_slice(t);
                        Ok(())
                    }
                    Target::Node(n) => {
                        if !text.trim().is_empty() {
                            self.flat.tally.node_stripped[n as usize] += 1;
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
                markup::chars(content).map_err(|k| self.violation(k, at))?;
                self.after_comment = true;
                Ok(())
            }
            Kind::Pi => {
                if at != 0 {
                    return fail(self, V::XmlForbidden);
                }
                let read = markup::declaration(t).map_err(|k| self.violation(k, at))?;
                let charset = match &read.encoding {
                    Some(label) => {
                        let declared = super::charset::Charset::from_label(label);
                        if declared != Some(self.flat.cfg.charset) {
                            return fail(self, V::InvalidEncoding);
                        }
                        declared
                    }
                    None => None,
                };
                read.write(charset, out);
                Ok(())
            }
            Kind::Start => self.start(t, at, out),
            Kind::End => self.end(t, at, out),
        }
    }

    fn text_token(
        &mut self,
        t: &[u8],
        at: u64,
        after_comment: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), Violation> {
        let fail = |s: &Self, k| s.violation(k, at);
        // Outside the root only white space, as written, and none of it goes out: its length
        // and its four characters would carry any text.
        let Some(top) = self.stack.last() else {
            // Literally: a character reference is markup only inside an element.
            if !markup::only_space(t) {
                let kind = if self.root_done {
                    V::TrailingData
                } else {
                    V::InvalidXml
                };
                return Err(self.violation(kind, at));
            }
            return Ok(());
        };
        match top.target {
            // A leaf's text is its value: decoded where it is gathered.
            Target::Leaf(_) => {
                markup::decode(t, false, &mut self.leaf_text).map_err(|k| fail(self, k))?;
                markup::push_after(&mut self.leaf_raw, t, after_comment);
                self.check_leaf(at)
            }
            Target::Whole => {
                markup::check(t, false).map_err(|k| fail(self, k))?;
                markup::push_after(self.flat.sink(out), t, after_comment);
                Ok(())
            }
            // Text in a container goes nowhere, white space included: indentation around a
            // removed child would show where it was.
            Target::Node(n) => {
                markup::decode_fresh(t, false, &mut self.text).map_err(|k| fail(self, k))?;
                if !markup::only_space(self.text.as_bytes()) {
                    self.flat.tally.node_stripped[n as usize] += 1;
                }
                Ok(())
            }
            Target::Strip => markup::check(t, false).map_err(|k| fail(self, k)),
        }
    }

    fn check_leaf(&self, at: u64) -> Result<(), Violation> {
        if self.leaf_raw.len() as u64 > self.flat.cfg.limits.max_token_len {
            return Err(self.violation(V::TokenTooLong, at));
        }
        Ok(())
    }
}
