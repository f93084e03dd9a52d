//! Streaming UTF-8 validation, ahead of the grammar walker.
//!
//! In JSON, bytes ≥ 0x80 are legal only inside strings, so the whole body must be UTF-8. Each
//! chunk is validated at once with a SIMD validator (runtime-dispatched); a sequence cut by the
//! chunk boundary is carried (at most 3 bytes) and completed with the next chunk. The walker is
//! told where the first invalid sequence starts and stops there, so the verdict does not depend
//! on where the chunks were split.

/// Validator state carried between chunks.
#[derive(Debug, Default)]
pub(crate) struct Utf8Stream {
    carry: [u8; 4],
    carry_len: usize,
    carry_offset: u64,
}

/// The part of a chunk the validator has passed, as text: a value read from inside it needs no
/// second validation to become a `&str`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Checked<'a> {
    /// Index in the chunk where `text` starts.
    at: usize,
    text: &'a str,
}

impl<'a> Checked<'a> {
    /// `chunk[start..end]` as text, when it lies inside the checked part and on character
    /// boundaries.
    #[inline(always)]
    pub fn get(&self, start: usize, end: usize) -> Option<&'a str> {
        self.text
            .get(start.checked_sub(self.at)?..end.checked_sub(self.at)?)
    }
}

/// Where the first invalid sequence of a chunk is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Utf8Error {
    /// Starts at this index of the current chunk.
    InChunk(usize),
    /// Started in an earlier chunk, at this absolute offset.
    Carried(u64),
}

fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 1,
    }
}

/// Where a multi-byte sequence that the end of `chunk` cuts short starts, or `chunk.len()`.
fn incomplete_tail(chunk: &[u8]) -> usize {
    let n = chunk.len();
    for back in 1..=n.min(3) {
        let b = chunk[n - back];
        if b & 0xC0 != 0x80 {
            return if sequence_len(b) > back { n - back } else { n };
        }
    }
    n
}

impl Utf8Stream {
    /// Validates `chunk`, which starts at absolute offset `offset`. A valid chunk comes back as
    /// text, but for a sequence carried in from the previous chunk or out to the next one.
    pub fn check<'a>(&mut self, chunk: &'a [u8], offset: u64) -> Result<Checked<'a>, Utf8Error> {
        let mut start = 0;
        if self.carry_len > 0 {
            let need = sequence_len(self.carry[0]) - self.carry_len;
            let take = need.min(chunk.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&chunk[..take]);
            self.carry_len += take;
            // Continuation bytes must be 10xxxxxx; anything else ends the sequence early.
            if chunk[..take].iter().any(|b| b & 0xC0 != 0x80) {
                return Err(Utf8Error::Carried(self.carry_offset));
            }
            if take < need {
                return Ok(Checked::default());
            }
            if std::str::from_utf8(&self.carry[..self.carry_len]).is_err() {
                return Err(Utf8Error::Carried(self.carry_offset));
            }
            self.carry_len = 0;
            start = take;
        }
        // The common case first: everything up to a sequence cut by the chunk's end is valid.
        // The faster validator says only yes or no; the tail (at most 3 bytes), or the whole
        // chunk when the answer is no, goes to the one that says where.
        let cut = incomplete_tail(chunk).max(start);
        let mut checked = Checked::default();
        if let Ok(text) = simdutf8::basic::from_utf8(&chunk[start..cut]) {
            checked = Checked { at: start, text };
            start = cut;
        }
        match simdutf8::compat::from_utf8(&chunk[start..]) {
            Ok(_) => Ok(checked),
            Err(e) => {
                let at = start + e.valid_up_to();
                match e.error_len() {
                    Some(_) => Err(Utf8Error::InChunk(at)),
                    None => {
                        // Incomplete at the end: possibly completed by the next chunk.
                        let rest = &chunk[at..];
                        self.carry[..rest.len()].copy_from_slice(rest);
                        self.carry_len = rest.len();
                        self.carry_offset = offset + at as u64;
                        Ok(checked)
                    }
                }
            }
        }
    }

    /// At the end of the body: an unfinished sequence is an error at its start.
    pub fn finish(&self) -> Result<(), u64> {
        if self.carry_len > 0 {
            Err(self.carry_offset)
        } else {
            Ok(())
        }
    }
}

/// UTF-8 checked ahead of a walker that must only ever see whole, valid characters (the CSV
/// engine, which then needs no check per cell): each chunk is validated at once with SIMD; a
/// character cut by the chunk's end is held back and handed over whole with the next chunk, so
/// the walker sees the same bytes in the same order however the body was split, and stops at
/// the same invalid sequence.
#[derive(Debug, Default)]
pub(crate) struct WholeChars {
    carry: [u8; 4],
    len: usize,
    at: u64,
}

/// What a chunk gives the walker: a held-back character completed (its bytes, their count and
/// offset), then the part of the chunk that ends on a whole character (and its offset), and
/// where the first invalid sequence starts, if one does (nothing after it is handed over).
pub(crate) struct Pieces<'a> {
    pub(crate) head: Option<([u8; 4], usize, u64)>,
    pub(crate) body: &'a [u8],
    pub(crate) body_at: u64,
    pub(crate) invalid_at: Option<u64>,
}

impl WholeChars {
    /// Splits `chunk`, whose first byte is at absolute `offset`; `last` ends the body (a
    /// character still cut short is then invalid).
    pub(crate) fn split<'a>(&mut self, chunk: &'a [u8], offset: u64, last: bool) -> Pieces<'a> {
        let mut head = None;
        let mut i = 0;
        let none = |at| Pieces {
            head: None,
            body: &[],
            body_at: offset,
            invalid_at: at,
        };
        if self.len > 0 {
            let need = sequence_len(self.carry[0]) - self.len;
            let take = need.min(chunk.len());
            if chunk[..take].iter().any(|b| b & 0xC0 != 0x80) {
                return none(Some(self.at));
            }
            self.carry[self.len..self.len + take].copy_from_slice(&chunk[..take]);
            self.len += take;
            if take < need {
                return none(last.then_some(self.at));
            }
            if std::str::from_utf8(&self.carry[..self.len]).is_err() {
                return none(Some(self.at));
            }
            head = Some((self.carry, self.len, self.at));
            self.len = 0;
            i = take;
        }
        let rest = &chunk[i..];
        let body_at = offset + i as u64;
        let (valid, invalid_at) = match simdutf8::compat::from_utf8(rest) {
            Ok(_) => (rest.len(), None),
            Err(e) => {
                let valid = e.valid_up_to();
                match e.error_len() {
                    None if !last => {
                        // Cut by the chunk's end: held back until the next chunk completes it.
                        let tail = &rest[valid..];
                        self.carry[..tail.len()].copy_from_slice(tail);
                        self.len = tail.len();
                        self.at = body_at + valid as u64;
                        (valid, None)
                    }
                    _ => (valid, Some(body_at + valid as u64)),
                }
            }
        };
        Pieces {
            head,
            body: &rest[..valid],
            body_at,
            invalid_at,
        }
    }

    /// At the end of the body: where a character still cut short starts, if one is.
    pub(crate) fn cut_short(&self) -> Option<u64> {
        (self.len > 0).then_some(self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> Result<(), u64> {
        let mut s = Utf8Stream::default();
        let mut off = 0u64;
        for c in chunks {
            match s.check(c, off) {
                Ok(_) => {}
                Err(Utf8Error::InChunk(i)) => return Err(off + i as u64),
                Err(Utf8Error::Carried(o)) => return Err(o),
            }
            off += c.len() as u64;
        }
        s.finish()
    }

    #[test]
    fn split_sequences_are_carried() {
        let text = "a客😀b".as_bytes();
        for cut in 0..=text.len() {
            assert_eq!(run(&[&text[..cut], &text[cut..]]), Ok(()), "cut {cut}");
        }
        for a in 0..text.len() {
            for b in a..text.len() {
                assert_eq!(run(&[&text[..a], &text[a..b], &text[b..]]), Ok(()));
            }
        }
    }

    #[test]
    fn invalid_sequences_are_found_at_their_start_wherever_the_split() {
        for bad in [
            &b"ab\xE5\x22cd"[..],
            b"ab\xC0\xA2cd",
            b"ab\xED\xA0\x80cd",
            b"ab\xFFcd",
            b"ab\xE5\xAE",
        ] {
            let want = run(&[bad]);
            assert_eq!(want, Err(2), "{bad:?}");
            for cut in 0..=bad.len() {
                assert_eq!(run(&[&bad[..cut], &bad[cut..]]), want, "{bad:?} cut {cut}");
            }
        }
    }

    #[test]
    fn checked_text_covers_the_chunk_but_for_sequences_cut_at_either_end() {
        let whole_text = "a客😀b客";
        let text = whole_text.as_bytes();
        for cut in 0..=text.len() {
            let mut s = Utf8Stream::default();
            let first = s.check(&text[..cut], 0).expect("valid");
            let second = s.check(&text[cut..], cut as u64).expect("valid");
            for (checked, chunk, from) in [(first, &text[..cut], 0), (second, &text[cut..], cut)] {
                for a in 0..=chunk.len() {
                    for b in a..=chunk.len() {
                        // Text exactly where the bytes are whole characters of this chunk.
                        let whole = std::str::from_utf8(&chunk[a..b]).ok();
                        let got = checked.get(a, b);
                        if got.is_some() {
                            assert_eq!(got, whole, "cut {cut} chunk at {from}: {a}..{b}");
                        } else if let Some(w) = whole {
                            // Only a carried sequence's bytes are left out.
                            let carried_in =
                                from > 0 && !whole_text.is_char_boundary(from) && a < 4;
                            let carried_out = !whole_text.is_char_boundary(from + chunk.len())
                                && b + 4 > chunk.len();
                            assert!(
                                carried_in || carried_out || w.is_empty(),
                                "cut {cut}: {a}..{b}"
                            );
                        }
                    }
                }
            }
        }
    }
}
