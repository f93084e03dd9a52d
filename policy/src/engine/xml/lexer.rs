//! The XML tokenizer: bytes in, whole tokens out — character data up to the next `<`, and one
//! markup construct at a time (a start or end tag, a comment, a CDATA section, a processing
//! instruction). A token is handed over only once it is complete, so everything that reads a
//! token reads it whole and the result cannot depend on where the body was split.
//!
//! What XML allows but sluice refuses is refused here as soon as it is seen: a document type
//! declaration (`<!DOCTYPE`: no entity can be declared, so no external entity and no expansion
//! bomb), any other `<!` construct. Each token is bounded by the token limit.

use crate::engine::violation::ViolationKind as V;

/// A complete token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Character data, as written (references not yet decoded).
    Text,
    /// `<name ...>` or `<name .../>`.
    Start,
    /// `</name>`.
    End,
    /// `<!-- ... -->`.
    Comment,
    /// `<![CDATA[ ... ]]>`.
    CData,
    /// `<? ... ?>`.
    Pi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    /// After `<`, deciding what follows.
    Open,
    /// Inside a tag; `Some(q)` inside a quoted attribute value.
    Tag(Option<u8>),
    Comment,
    CData,
    Pi,
}

/// The tokenizer's state between chunks.
pub(crate) struct Lexer {
    state: State,
    /// The token being read.
    pub(crate) token: Vec<u8>,
    /// Absolute offset of its first byte.
    pub(crate) start: u64,
}

impl Lexer {
    pub(crate) fn new() -> Self {
        Self {
            state: State::Text,
            token: Vec::new(),
            start: 0,
        }
    }

    /// Reads `chunk` (starting at absolute offset `offset`), calling `on` with each complete
    /// token, its bytes and its absolute offset. Stops at the first error, with its offset.
    ///
    /// A token that lies wholly in the chunk — most of them — is handed over as a slice of it,
    /// a start or end tag read in one scan; a token cut by the chunk's end is gathered in
    /// `self.token` byte run by byte run. Both hand over the same bytes at the same offset, so
    /// the tokens do not depend on where the body was split.
    pub(crate) fn feed<E>(
        &mut self,
        chunk: &[u8],
        offset: u64,
        limit: u64,
        mut on: impl FnMut(Kind, &[u8], u64) -> Result<(), E>,
        fail: impl Fn(V, u64) -> E,
    ) -> Result<(), E> {
        let within = |n: usize| n as u64 <= limit;
        let mut i = 0;
        while i < chunk.len() {
            let at = offset + i as u64;
            if self.state == State::Text {
                let room = (limit + 1).saturating_sub(self.token.len() as u64);
                let end = find_short(&chunk[i..], b"<").map_or(chunk.len(), |n| i + n);
                if self.token.is_empty() {
                    self.start = at;
                    if end < chunk.len() && within(end - i) {
                        // Text (if any) and the tag after it, each wholly in the chunk.
                        if end > i {
                            on(Kind::Text, &chunk[i..end], at)?;
                        }
                        if let Some(n) = whole_tag(&chunk[end..]).filter(|&n| within(n)) {
                            let kind = if chunk[end + 1] == b'/' {
                                Kind::End
                            } else {
                                Kind::Start
                            };
                            on(kind, &chunk[end..end + n], offset + end as u64)?;
                            i = end + n;
                            continue;
                        }
                        self.token.push(b'<');
                        self.start = offset + end as u64;
                        self.state = State::Open;
                        i = end + 1;
                        continue;
                    }
                }
                let take = (end - i).min(usize::try_from(room).unwrap_or(usize::MAX));
                self.token.extend_from_slice(&chunk[i..i + take]);
                if self.token.len() as u64 > limit {
                    return Err(fail(V::TokenTooLong, offset + (i + take) as u64 - 1));
                }
                i += take;
                if i < chunk.len() {
                    // At a `<`: the text so far is a token.
                    if !self.token.is_empty() {
                        on(Kind::Text, &self.token, self.start)?;
                    }
                    self.token.clear();
                    self.token.push(b'<');
                    self.start = offset + i as u64;
                    self.state = State::Open;
                    i += 1;
                }
                continue;
            }
            // Inside a tag, a quoted value, a comment, a CDATA section or a processing
            // instruction, only a few bytes matter: the run up to the next is copied at once.
            // (A `<` inside a tag is refused when the tag is read: no name or value holds one.)
            let stops: &[u8] = match self.state {
                State::Tag(None) => b"\"'>",
                State::Tag(Some(b'"')) => b"\"",
                State::Tag(Some(_)) => b"'",
                State::Comment | State::CData | State::Pi => b">",
                _ => b"",
            };
            if !stops.is_empty() {
                let room = usize::try_from(limit.saturating_sub(self.token.len() as u64))
                    .unwrap_or(usize::MAX)
                    .min(chunk.len() - i);
                let rest = &chunk[i..i + room];
                let run = find_short(rest, stops).unwrap_or(rest.len());
                if run > 0 {
                    self.token.extend_from_slice(&rest[..run]);
                    i += run;
                    continue;
                }
            }
            let b = chunk[i];
            i += 1;
            self.token.push(b);
            if self.token.len() as u64 > limit {
                return Err(fail(V::TokenTooLong, at));
            }
            let t = &self.token;
            let done = match self.state {
                State::Text => unreachable!("handled above"),
                State::Open => {
                    match t.as_slice() {
                        [b'<', b'!'] | [b'<', b'!', b'-'] | [b'<', b'!', b'['] => {}
                        [b'<', b'!', b'-', b'-'] => self.state = State::Comment,
                        b"<![CDATA[" => self.state = State::CData,
                        [b'<', b'!', b'[', rest @ ..] if b"CDATA[".starts_with(rest) => {}
                        [b'<', b'!', ..] => return Err(fail(V::XmlForbidden, self.start)),
                        [b'<', b'?'] => self.state = State::Pi,
                        [b'<', b'>'] => return Err(fail(V::InvalidXml, self.start)),
                        _ => {
                            self.state = State::Tag(None);
                            // The byte after `<` may already end a short tag (`<a>`).
                        }
                    }
                    matches!(self.state, State::Tag(_)) && b == b'>' && t.len() > 2
                }
                State::Tag(None) => match b {
                    b'"' | b'\'' => {
                        self.state = State::Tag(Some(b));
                        false
                    }
                    b'>' => true,
                    _ => false,
                },
                State::Tag(Some(q)) => {
                    if b == q {
                        self.state = State::Tag(None);
                    }
                    false
                }
                State::Comment => t.len() >= 7 && t.ends_with(b"-->"),
                State::CData => t.len() >= 12 && t.ends_with(b"]]>"),
                State::Pi => t.len() >= 4 && t.ends_with(b"?>"),
            };
            if done {
                let kind = match self.state {
                    State::Comment => Kind::Comment,
                    State::CData => Kind::CData,
                    State::Pi => Kind::Pi,
                    _ if t.starts_with(b"</") => Kind::End,
                    _ => Kind::Start,
                };
                on(kind, &self.token, self.start)?;
                self.token.clear();
                self.state = State::Text;
                self.start = offset + i as u64;
            }
        }
        Ok(())
    }

    /// At the end of the body: text still read is a last token; anything else is cut short.
    pub(crate) fn finish<E>(
        &mut self,
        on: impl FnOnce(Kind, &[u8], u64) -> Result<(), E>,
        fail: impl Fn(V, u64) -> E,
    ) -> Result<(), E> {
        match self.state {
            State::Text if !self.token.is_empty() => on(Kind::Text, &self.token, self.start),
            State::Text => Ok(()),
            _ => Err(fail(V::Truncated, self.start)),
        }
    }
}

/// The length of the start or end tag at the start of `s` (`<` then a name's first byte or `/`),
/// to its `>` outside quoted values, if it ends within `s`. Anything else (`<!`, `<?`, a
/// malformed `<`, a tag cut short) is left to the byte-run reader, which reads it the same way.
#[inline]
fn whole_tag(s: &[u8]) -> Option<usize> {
    let second = *s.get(1)?;
    if second != b'/' && !super::markup::name_start(second) {
        return None;
    }
    let mut j = 2;
    loop {
        let k = j + find_short(s.get(j..)?, b"\"'>")?;
        let q = s[k];
        if q == b'>' {
            return Some(k + 1);
        }
        j = k + 1 + find_short(&s[k + 1..], &[q])? + 1;
    }
}

/// The first of `bytes` that is one of `stops` (one or three bytes). Tokens are mostly short (a
/// tag, a value): a plain loop first, memchr's vector search only for what runs longer.
#[inline]
fn find_short(bytes: &[u8], stops: &[u8]) -> Option<usize> {
    const SHORT: usize = 32;
    let (head, rest) = bytes.split_at(bytes.len().min(SHORT));
    match *stops {
        [a] => head
            .iter()
            .position(|&x| x == a)
            .or_else(|| memchr::memchr(a, rest).map(|i| i + SHORT)),
        [a, b, c] => head
            .iter()
            .position(|&x| x == a || x == b || x == c)
            .or_else(|| memchr::memchr3(a, b, c, rest).map(|i| i + SHORT)),
        _ => unreachable!("one or three stops"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Tokens = Vec<(Kind, Vec<u8>, u64)>;

    /// The tokens of `doc` fed in pieces cut at `cuts`, and the error (kind, offset) if any.
    fn tokens(doc: &[u8], cuts: &[usize], limit: u64) -> (Tokens, Option<(V, u64)>) {
        let mut lexer = Lexer::new();
        let mut got = Vec::new();
        let mut at = 0;
        let mut bounds = cuts.to_vec();
        bounds.push(doc.len());
        let mut on = |k: Kind, t: &[u8], o: u64| -> Result<(), (V, u64)> {
            got.push((k, t.to_vec(), o));
            Ok(())
        };
        for end in bounds {
            if let Err(e) = lexer.feed(&doc[at..end], at as u64, limit, &mut on, |k, o| (k, o)) {
                return (got, Some(e));
            }
            at = end;
        }
        let error = lexer.finish(&mut on, |k, o| (k, o)).err();
        (got, error)
    }

    /// Whole in one chunk, tags are read by the one-scan path; cut at every byte, by the byte-run
    /// path. Both must hand over the same tokens at the same offsets and fail alike.
    #[test]
    fn tags_read_in_one_scan_are_the_tokens_the_byte_run_reader_finds() {
        let docs: &[&[u8]] = &[
            br#"<?xml version="1.0"?><a x='>' y="'<"><b/>t&amp;<c q=">>"/></a>"#,
            b"<a>text<!-- c > d --><![CDATA[<x>]]></a >\n",
            b"</><a\n>1</a\t>< a><1/><>",
            b"<a b=\"unterminated>",
            b"<!DOCTYPE x><x/>",
            b"<a>\xe6\xac\xa7\xe9\x98\xb3</a>",
            b"<long-name-past-the-limit attribute=\"value\">short</long-name-past-the-limit>",
        ];
        for doc in docs {
            for limit in [8, 16, 1024] {
                let whole = tokens(doc, &[], limit);
                let bytewise: Vec<usize> = (1..doc.len()).collect();
                assert_eq!(
                    tokens(doc, &bytewise, limit),
                    whole,
                    "{} at limit {limit}",
                    String::from_utf8_lossy(doc)
                );
                for cut in 0..=doc.len() {
                    assert_eq!(tokens(doc, &[cut], limit), whole, "cut {cut}");
                }
            }
        }
        // And the one-scan path did read tags: a start tag with `>` inside its quotes.
        let (got, error) = tokens(br#"<a x='>'>"#, &[], 1024);
        assert_eq!(error, None);
        assert_eq!(got, vec![(Kind::Start, br#"<a x='>'>"#.to_vec(), 0)]);
    }
}
