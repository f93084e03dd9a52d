//! The structural index of a JSON text: the offsets of every `{ } [ ] : ,`, every opening quote
//! and the first byte of every other scalar — what the first stage of a simdjson-style parser
//! hands its second stage, which then walks tokens instead of bytes.
//!
//! The work is split as such parsers split it: a classifier turns each 64-byte block into bit
//! masks (quotes, backslashes, operators, whitespace) — that is where SSE2, AVX2 and AVX-512
//! differ — and one shared, branch-light step turns masks into index bits (escapes, the inside
//! of strings by a prefix XOR, scalar starts) and appends their offsets.

/// The bytes of one 64-byte block that are each kind (bit i is byte i).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Masks {
    pub quote: u64,
    pub backslash: u64,
    /// `{ } [ ] : ,`
    pub op: u64,
    /// space, tab, CR, LF
    pub ws: u64,
}

/// What one block passes to the next.
#[derive(Debug, Clone, Copy)]
pub struct Carry {
    /// 1 when the next block's first byte is escaped by a backslash at the end of this one.
    escaped: u64,
    /// All ones when this block ended inside a string.
    in_string: u64,
    /// 1 when this block's last byte separates tokens (operator, whitespace or quote).
    separator: u64,
}

impl Default for Carry {
    fn default() -> Self {
        // The start of the text separates: a scalar at byte 0 starts a token.
        Self {
            escaped: 0,
            in_string: 0,
            separator: 1,
        }
    }
}

/// The bytes escaped by a backslash: one pass over the backslashes, which are rare.
fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    let mut escaped = *carry;
    *carry = 0;
    let mut bits = backslash & !escaped;
    while bits != 0 {
        let i = bits.trailing_zeros();
        if i == 63 {
            *carry = 1;
            break;
        }
        // This backslash escapes the next byte, which escapes nothing itself.
        escaped |= 1 << (i + 1);
        bits &= !(3u64 << i);
    }
    escaped
}

/// Bit i is the XOR of bits 0..=i (portable; the SIMD builds use a carry-less multiply).
#[inline(always)]
pub fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// The index bits of one block from its masks.
#[inline(always)]
pub fn structurals(m: Masks, carry: &mut Carry, prefix_xor: impl Fn(u64) -> u64) -> u64 {
    let escaped = if m.backslash == 0 && carry.escaped == 0 {
        0
    } else {
        escaped(m.backslash, &mut carry.escaped)
    };
    let quote = m.quote & !escaped;
    // Inside a string: from an opening quote (included) to its closing quote (excluded).
    let in_string = prefix_xor(quote) ^ carry.in_string;
    carry.in_string = 0u64.wrapping_sub(in_string >> 63);
    let separator = m.op | m.ws | quote;
    let after_separator = separator << 1 | carry.separator;
    carry.separator = separator >> 63;
    let scalar_start = !(separator | in_string) & after_separator;
    (m.op & !in_string) | (quote & in_string) | scalar_start
}

/// Writes the offsets of `bits` (block at `base`) from `slots[*n]` on, eight at a time, and
/// advances `n`: the loop's exit depends on the count only in steps of eight, which a branch
/// predictor follows; the extra slots written are overwritten by the next block.
#[inline(always)]
pub fn flatten(slots: &mut [u32], n: &mut usize, base: u32, mut bits: u64) {
    let count = bits.count_ones() as usize;
    let mut k = *n;
    while bits != 0 {
        for _ in 0..8 {
            slots[k] = base + bits.trailing_zeros();
            bits &= bits.wrapping_sub(1);
            k += 1;
        }
    }
    *n += count;
}

/// The same index, byte by byte: the reference the classifiers are checked against.
pub fn reference(text: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    let (mut in_string, mut escape, mut separator) = (false, false, true);
    for (i, &b) in text.iter().enumerate() {
        if in_string {
            // Inside a string only its end matters (the byte after it may start a scalar).
            if escape {
                escape = false;
            } else if b == b'\\' {
                escape = true;
            } else if b == b'"' {
                in_string = false;
                separator = true;
            }
            continue;
        }
        match b {
            b'"' => {
                out.push(i as u32);
                in_string = true;
            }
            b'{' | b'}' | b'[' | b']' | b':' | b',' => out.push(i as u32),
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ if separator => out.push(i as u32),
            _ => {}
        }
        separator = matches!(
            b,
            b'"' | b'{' | b'}' | b'[' | b']' | b':' | b',' | b' ' | b'\t' | b'\r' | b'\n'
        );
    }
    out
}

/// The masks of a block byte by byte (the tail shorter than 64 bytes, and a portable classifier).
pub fn classify_scalar(block: &[u8]) -> Masks {
    let mut m = Masks::default();
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        match b {
            b'"' => m.quote |= bit,
            b'\\' => m.backslash |= bit,
            b'{' | b'}' | b'[' | b']' | b':' | b',' => m.op |= bit,
            b' ' | b'\t' | b'\r' | b'\n' => m.ws |= bit,
            _ => {}
        }
    }
    m
}

/// The index of `text` with `classify` for whole blocks, into `slots` (grown once to fit any
/// text of this length): the number of entries.
#[inline(always)]
pub fn build(
    text: &[u8],
    slots: &mut Vec<u32>,
    classify: impl Fn(&[u8; 64]) -> Masks,
    prefix_xor: impl Fn(u64) -> u64 + Copy,
) -> usize {
    if slots.len() < text.len() + 72 {
        slots.resize(text.len() + 72, 0);
    }
    let mut n = 0;
    let mut carry = Carry::default();
    let mut blocks = text.chunks_exact(64);
    let mut base = 0u32;
    for block in &mut blocks {
        let m = classify(block.try_into().expect("64 bytes"));
        flatten(slots, &mut n, base, structurals(m, &mut carry, prefix_xor));
        base += 64;
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let bits = structurals(classify_scalar(tail), &mut carry, prefix_xor)
            & (u64::MAX >> (64 - tail.len()));
        flatten(slots, &mut n, base, bits);
    }
    n
}
