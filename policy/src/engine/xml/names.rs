//! Names in an XML body: which namespace a prefix is bound to where, what the policy calls an
//! element or attribute (`prefix:local` with the policy's own prefix for the namespace), and
//! the charset an unlabelled body's declaration names.

use super::XML_NS;
use super::XmlRedactor;
use super::markup;
use crate::engine::violation::ViolationKind as V;
use crate::program::same_bytes;

/// What the start of an XML body says of its charset, when the media type does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    /// Too few bytes to tell.
    More,
    /// The declaration names this charset, or there is none (UTF-8).
    Charset(crate::engine::charset::Charset),
    /// The declaration names a charset sluice does not decode.
    Unknown,
}

/// Reads the charset from the XML declaration at the start of `head`. A malformed declaration
/// reads as UTF-8: the engine refuses it when it reads it.
pub(crate) fn sniff(head: &[u8]) -> Sniffed {
    use crate::engine::charset::Charset;
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
        Ok(markup::Declaration {
            encoding: Some(label),
            ..
        }) => Charset::from_label(&label).map_or(Sniffed::Unknown, Sniffed::Charset),
        _ => Sniffed::Charset(Charset::Utf8),
    }
}

impl XmlRedactor {
    /// The namespace URI `prefix` is bound to here (`None`: no namespace, for the empty prefix
    /// with no default declared).
    pub(super) fn namespace(&self, prefix: &[u8]) -> Result<Option<&str>, V> {
        if prefix == b"xml" {
            return Ok(Some(XML_NS));
        }
        match self.ns.iter().rev().find(|d| same_bytes(&d.prefix, prefix)) {
            Some(d) if d.uri.is_empty() => Ok(None),
            Some(d) => Ok(Some(&d.uri)),
            None if prefix.is_empty() => Ok(None),
            None => Err(V::InvalidXml),
        }
    }

    /// As [`namespace`](Self::namespace), the policy's side: `None` for no namespace,
    /// `Some(None)` for a namespace the policy does not bind, `Some(Some(i))` for the policy's
    /// `i`-th prefix.
    pub(super) fn binding(&self, prefix: &[u8]) -> Result<Option<Option<u32>>, V> {
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
        match self.ns.iter().rev().find(|d| same_bytes(&d.prefix, prefix)) {
            Some(d) if d.uri.is_empty() => Ok(None),
            Some(d) => Ok(Some(d.bound)),
            None if prefix.is_empty() => Ok(None),
            None => Err(V::InvalidXml),
        }
    }

    /// The policy's name for a qualified name written in the document (`attr`: an attribute,
    /// whose unprefixed name has no namespace): `pp:local` with the policy's prefix for the
    /// URI, `local` outside any namespace, `None` in a namespace the policy does not bind.
    pub(super) fn policy_key(
        &self,
        qname: &[u8],
        attr: bool,
        key: &mut Vec<u8>,
    ) -> Result<bool, V> {
        key.clear();
        if attr {
            key.push(b'@');
        }
        let (prefix, local) = markup::split_qname(qname);
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
}
