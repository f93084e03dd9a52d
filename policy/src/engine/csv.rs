//! `text/csv` bodies (RFC 4180): a header row naming the columns, then one record per row.
//!
//! Each row is matched like an object whose members are the columns (see [`flat`](super::flat)):
//! a column no rule lists is dropped from the header and from every row; a kept cell's text goes
//! out byte-exact. Every cell and header name is quoted only when its text needs it, and every
//! row ends as the header row did: which cells the source quoted and how it ended each row is its
//! choice of bits, not data a rule lists.
//!
//! ## Strict syntax
//! Readers disagree on everything RFC 4180 leaves open, so sluice refuses it (`invalid_csv`):
//! a quote inside an unquoted cell, anything but a separator or a line end after a closing
//! quote, a CR not followed by LF, control characters other than a tab (and CR/LF inside quoted
//! cells), and a body that ends inside a quoted cell (`truncated`). A row with more or fewer
//! cells than the header is `ragged_row`; an empty body has no header (`empty_body`); the same
//! column name twice is `duplicate_key`; a byte order mark is `byte_order_mark` (read as part
//! of the first name, it would drop that column). Lines end with CRLF or LF.
//! Cells must be UTF-8 (`invalid_utf8`).
//!
//! Hand-written rather than on `csv-core`: that reader never fails — it accepts bare quotes and
//! text after a closing quote, the very inputs a DLP filter has to refuse — and checking them
//! beside it would mean a second state machine.
//!
//! Memory: one cell (bounded by the token limit), the header's columns, and — with a consent
//! list — one row (bounded by the record cap).

use super::EngineConfig;
use super::flat::{Flat, FlatEngine, Member, shell_fields};
use super::keyset::KeySets;
use super::text::Applied;
use super::utf8::WholeChars;
use super::violation::{Violation, ViolationKind as V};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a cell's first byte.
    CellStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted cell: its end, or the first of a doubled quote.
    QuoteInQuoted,
    /// After a CR, which only LF may follow.
    AfterCr,
}

/// One column of the header.
struct Column {
    member: Member,
}

/// The streaming filter for one CSV body.
pub(crate) struct CsvRedactor {
    flat: Flat,
    state: State,
    /// Still reading the header row.
    header: bool,
    columns: Vec<Column>,
    names: KeySets,
    /// The current cell's content (quotes undone; not kept for a column that is dropped) and
    /// its length.
    cell: Vec<u8>,
    cell_len: u64,
    copy: bool,
    cell_start: u64,
    /// Index of the current cell in its row.
    col: usize,
    /// A kept cell already went out in this row (the next one needs a separator).
    row_has_out: bool,
    /// The header's kept names, written when the header row ends, and how many.
    header_out: Vec<u8>,
    emitted: usize,
    header_bytes: u64,
    /// How the header row ended: every row that goes out ends the same way.
    line_end: &'static [u8],
    offset: u64,
    utf8: WholeChars,
    failed: Option<Violation>,
}

impl FlatEngine for CsvRedactor {
    shell_fields!();

    fn walk_chunk(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Violation> {
        self.walk_checked(chunk, out)
    }

    fn end(&mut self, out: &mut Vec<u8>) -> Result<(), Violation> {
        self.end_body(out)
    }
}

impl CsvRedactor {
    pub(crate) fn new(cfg: EngineConfig) -> Self {
        Self {
            flat: Flat::new(cfg),
            state: State::CellStart,
            header: true,
            columns: Vec::new(),
            names: {
                let mut names = KeySets::default();
                names.push();
                names
            },
            cell: Vec::new(),
            cell_len: 0,
            copy: true,
            cell_start: 0,
            col: 0,
            row_has_out: false,
            header_out: Vec::new(),
            emitted: 0,
            header_bytes: 0,
            line_end: b"\r\n",
            offset: 0,
            utf8: WholeChars::default(),
            failed: None,
        }
    }

    /// Walks what the UTF-8 check hands over: whole, valid characters, up to an invalid one.
    fn walk_checked(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), Violation> {
        let pieces = self.utf8.split(chunk, self.offset, false);
        if let Some((bytes, n, at)) = pieces.head {
            self.walk(&bytes[..n], at, out)?;
        }
        self.walk(pieces.body, pieces.body_at, out)?;
        match pieces.invalid_at {
            Some(at) => Err(self.flat.violation(V::InvalidUtf8, self.current(), at)),
            None => Ok(()),
        }
    }

    fn end_body(&mut self, out: &mut Vec<u8>) -> Result<(), Violation> {
        if let Some(at) = self.utf8.cut_short() {
            return Err(self.flat.violation(V::InvalidUtf8, self.current(), at));
        }
        let at = self.offset;
        match self.state {
            State::Quoted => return Err(self.flat.violation(V::Truncated, None, at)),
            State::AfterCr => return Err(self.flat.violation(V::InvalidCsv, None, at)),
            // The last row ended with its line end (or the body is empty).
            State::CellStart if self.col == 0 && self.cell_start == at => {}
            _ => self.end_row(b"", out)?,
        }
        if self.header {
            return Err(self.flat.violation(V::EmptyBody, None, at));
        }
        Ok(())
    }

    /// Walks `chunk`, whose first byte is at absolute offset `base`.
    fn walk(&mut self, chunk: &[u8], base: u64, out: &mut Vec<u8>) -> Result<(), Violation> {
        let limit = self.flat.cfg.limits.max_token_len;
        let mut i = 0;
        while i < chunk.len() {
            // The fast path: a run of bytes that only add to the cell, up to a byte that may
            // end it, break the syntax, or pass a limit (all left to the byte-at-a-time path).
            let plain = match self.state {
                State::CellStart | State::Unquoted => Some(&PLAIN_UNQUOTED),
                State::Quoted => Some(&PLAIN_QUOTED),
                _ => None,
            };
            if let Some(plain) = plain {
                let at = base + i as u64;
                let room = (limit.saturating_sub(self.cell_len))
                    .min(self.flat.record_room(at))
                    .min((chunk.len() - i) as u64) as usize;
                let run = chunk[i..i + room]
                    .iter()
                    .position(|&b| !plain[usize::from(b)])
                    .unwrap_or(room);
                if run > 0 {
                    self.add(&chunk[i..i + run]);
                    if self.state == State::CellStart {
                        self.state = State::Unquoted;
                    }
                    i += run;
                    continue;
                }
            }
            let b = chunk[i];
            let at = base + i as u64;
            i += 1;
            let bad = |s: &Self, kind| Err(s.flat.violation(kind, s.current(), at));
            if b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n') || b == 0x7F {
                return bad(self, V::ControlCharacter);
            }
            match (self.state, b) {
                (State::CellStart, b'"') => self.state = State::Quoted,
                (State::CellStart | State::Unquoted | State::QuoteInQuoted, b',') => {
                    self.end_cell(at + 1, out)?;
                }
                (State::CellStart | State::Unquoted | State::QuoteInQuoted, b'\r') => {
                    self.state = State::AfterCr;
                }
                (State::CellStart | State::Unquoted | State::QuoteInQuoted, b'\n') => {
                    self.end_row(b"\n", out)?;
                    self.cell_start = at + 1;
                }
                (State::CellStart | State::Unquoted, _) => {
                    if b == b'"' {
                        return bad(self, V::InvalidCsv);
                    }
                    self.state = State::Unquoted;
                    self.add(&[b]);
                }
                (State::Quoted, b'"') => self.state = State::QuoteInQuoted,
                (State::Quoted, _) => self.add(&[b]),
                (State::QuoteInQuoted, b'"') => {
                    self.state = State::Quoted;
                    self.add(b"\"");
                }
                (State::QuoteInQuoted, _) => return bad(self, V::InvalidCsv),
                (State::AfterCr, b'\n') => {
                    self.end_row(b"\r\n", out)?;
                    self.cell_start = at + 1;
                }
                (State::AfterCr, _) => return bad(self, V::InvalidCsv),
            }
            if self.cell_len > limit {
                return bad(self, V::TokenTooLong);
            }
            self.flat
                .check_record_size(at)
                .map_err(|kind| self.flat.violation(kind, None, at))?;
        }
        Ok(())
    }

    /// Whether the next cell's bytes are kept: a dropped column's cells need none (the UTF-8
    /// check saw them already).
    fn set_copy(&mut self) {
        self.copy = self.header
            || self
                .columns
                .get(self.col)
                .is_none_or(|c| c.member != Member::Stripped);
    }

    /// Adds to the current cell (its bytes only when the column is not dropped).
    #[inline]
    fn add(&mut self, bytes: &[u8]) {
        self.cell_len += bytes.len() as u64;
        if self.copy {
            self.cell.extend_from_slice(bytes);
        }
    }

    /// The member of the cell being read, once the header is known.
    fn current(&self) -> Option<Member> {
        self.columns.get(self.col).map(|c| c.member)
    }

    /// A cell ended; the next starts at `next`.
    fn end_cell(&mut self, next: u64, out: &mut Vec<u8>) -> Result<(), Violation> {
        let at = self.cell_start;
        let result = if self.header {
            self.header_cell(at)
        } else {
            self.data_cell(at, out)
        };
        self.cell.clear();
        self.cell_len = 0;
        self.state = State::CellStart;
        self.cell_start = next;
        self.col += 1;
        self.set_copy();
        result
    }

    fn header_cell(&mut self, at: u64) -> Result<(), Violation> {
        let Ok(name) = std::str::from_utf8(&self.cell) else {
            return Err(self.flat.violation(V::InvalidUtf8, None, at));
        };
        // A byte order mark (spreadsheets write one) would be read as part of the first
        // column's name, and that column dropped as one no rule lists: refused, as in JSON.
        if self.columns.is_empty() && name.starts_with('\u{FEFF}') {
            return Err(self.flat.violation(V::ByteOrderMark, None, 0));
        }
        let member = self.flat.member(name.as_bytes());
        let fail = |s: &Self, kind| Err(s.flat.violation(kind, Some(member), at));
        if name.is_empty() {
            return fail(self, V::InvalidCsv);
        }
        // The header is held until it ends: its names together are bounded like one token.
        self.header_bytes += self.cell.len() as u64;
        let limits = &self.flat.cfg.limits;
        if self.columns.len() >= limits.max_keys_per_object
            || self.header_bytes > limits.max_token_len
        {
            return fail(self, V::TooManyKeys);
        }
        if self.names.insert(&self.cell, usize::MAX).is_err() {
            return fail(self, V::DuplicateKey);
        }
        if let Member::Container(_) = member {
            return fail(self, V::WrongContainer);
        }
        if emitted(member) {
            self.emitted += 1;
            if !self.header_out.is_empty() {
                self.header_out.push(b',');
            }
            write_cell(&mut self.header_out, &self.cell, needs_quotes(&self.cell));
        }
        self.columns.push(Column { member });
        Ok(())
    }

    fn data_cell(&mut self, at: u64, out: &mut Vec<u8>) -> Result<(), Violation> {
        if self.col == 0 {
            self.flat.begin_record(at);
            self.row_has_out = false;
        }
        let Some(column) = self.columns.get(self.col) else {
            return Err(self.flat.violation(V::RaggedRow, None, at));
        };
        let member = column.member;
        // Whole characters only (checked per chunk), so this never fails.
        let Ok(text) = std::str::from_utf8(&self.cell) else {
            return Err(self.flat.violation(V::InvalidUtf8, Some(member), at));
        };
        let applied = self
            .flat
            .value(member, text)
            .map_err(|kind| self.flat.violation(kind, Some(member), at))?;
        if !emitted(member) {
            return Ok(());
        }
        let replacement = std::mem::take(&mut self.flat.scratch.out);
        let sink = self.flat.sink(out);
        if self.row_has_out {
            sink.push(b',');
        }
        let text = match applied {
            Applied::AsWritten => &self.cell[..],
            Applied::Replaced => replacement.as_bytes(),
        };
        // Quoted when the text needs it, whether the source quoted it or not (that choice, a bit
        // a cell, is the source's, not data a rule lists) — and a row whose only cell goes out
        // empty, which would otherwise be a blank line that readers skip.
        let lone_empty = self.emitted == 1 && text.is_empty();
        write_cell(sink, text, lone_empty || needs_quotes(text));
        self.flat.scratch.out = replacement;
        self.row_has_out = true;
        Ok(())
    }

    /// A row ended with `line_end` (empty at the end of the body). Rows go out ending as the
    /// header did: which rows end with CRLF and which with LF is the source's choice, a bit a
    /// row, not data a rule lists.
    fn end_row(&mut self, line_end: &'static [u8], out: &mut Vec<u8>) -> Result<(), Violation> {
        let at = self.cell_start;
        self.end_cell(at, out)?;
        if self.header {
            self.header = false;
            out.extend_from_slice(&self.header_out);
            out.extend_from_slice(line_end);
            if !line_end.is_empty() {
                self.line_end = line_end;
            }
            self.header_out = Vec::new();
        } else {
            if self.col != self.columns.len() {
                return Err(self.flat.violation(V::RaggedRow, None, at));
            }
            let line_end = if line_end.is_empty() {
                b""
            } else {
                self.line_end
            };
            self.flat.sink(out).extend_from_slice(line_end);
            self.flat.end_record(out);
        }
        self.col = 0;
        self.set_copy();
        Ok(())
    }
}

/// Bytes that only add to an unquoted cell: not a separator, quote, line end or control.
/// (A table lookup per byte beats a memchr search on cells this short.)
static PLAIN_UNQUOTED: [bool; 256] = plain_table(b",\"\r\n\t");

/// Bytes that only add to a quoted cell: not a quote or a control (CR, LF and tab are content
/// here, but rare enough for the slow path).
static PLAIN_QUOTED: [bool; 256] = plain_table(b"\"\r\n\t");

const fn plain_table(special: &[u8]) -> [bool; 256] {
    let mut t = [true; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = false;
        b += 1;
    }
    t[0x7F] = false;
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = false;
        i += 1;
    }
    t
}

/// Whether a column's cells go out.
fn emitted(member: Member) -> bool {
    matches!(member, Member::Ruled(_) | Member::Whole)
}

/// A cell as RFC 4180 writes it: quoted (quotes doubled) or as is. A cell read quoted and kept
/// comes out as it was written.
/// Whether a cell's text must be quoted (RFC 4180: a separator, a quote or a line break in it).
fn needs_quotes(text: &[u8]) -> bool {
    text.iter()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

fn write_cell(out: &mut Vec<u8>, content: &[u8], quoted: bool) {
    if !quoted {
        out.extend_from_slice(content);
        return;
    }
    out.push(b'"');
    for &b in content {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}
