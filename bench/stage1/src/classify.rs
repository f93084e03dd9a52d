//! 64-byte block classifiers: SSE2 (part of every x86-64, so the engine's release build could use
//! it through `safe_arch` without `unsafe`; written here with `std::arch` like the others), AVX2
//! and AVX-512BW (detected at run time: calling them is `unsafe`, and so are their loads).
//! Each `index_*` function compiles the whole index step for its instruction set, so that the
//! classifier, the carry-less multiply and the bit arithmetic inline into one loop.

use std::arch::x86_64::*;
use std::convert::identity;
use std::hint::black_box;

use crate::index::{self, Masks};

/// The masks of one SIMD lane `v` (in the low bits), with that width's intrinsics: `set1`,
/// `cmpeq`, `or`, `movemask` (whose result is `$bits` wide and goes through `$finish`).
macro_rules! lane_masks {
    ($v:expr, $set1:ident, $cmpeq:ident, $or:ident, $movemask:ident, $bits:ty, $finish:ident) => {{
        let v = $v;
        let eq = |b: u8| $cmpeq(v, $set1(b as i8));
        let folded = $or(v, $set1(0x20));
        let eq_folded = |b: u8| $cmpeq(folded, $set1(b as i8));
        let bits = |x| u64::from($finish($movemask(x)) as $bits);
        Masks {
            quote: bits(eq(b'"')),
            backslash: bits(eq(b'\\')),
            op: bits($or(
                $or(eq_folded(b'{'), eq_folded(b'}')),
                $or(eq(b':'), eq(b',')),
            )),
            ws: bits($or($or(eq(b' '), eq(b'\t')), $or(eq(b'\r'), eq(b'\n')))),
        }
    }};
}

/// SSE2: four 16-byte lanes, each compared with the quote, the backslash, the operators and the
/// whitespace bytes; `{}` and `[]` differ from each other by 0x20 only, so one OR folds them.
#[target_feature(enable = "sse2")]
#[inline]
pub fn sse2(block: &[u8; 64]) -> Masks {
    let mut m = Masks::default();
    for (k, lane) in block.chunks_exact(16).enumerate() {
        let l = sse2_lane(lane.try_into().expect("16 bytes"));
        let shift = 16 * k;
        m.quote |= l.quote << shift;
        m.backslash |= l.backslash << shift;
        m.op |= l.op << shift;
        m.ws |= l.ws << shift;
    }
    m
}

/// One 16-byte lane's masks, in the low 16 bits.
#[target_feature(enable = "sse2")]
#[inline]
fn sse2_lane(lane: &[u8; 16]) -> Masks {
    // SAFETY: 16 bytes, the whole of `lane`; an unaligned load.
    let v = unsafe { _mm_loadu_si128(lane.as_ptr().cast()) };
    lane_masks!(
        v,
        _mm_set1_epi8,
        _mm_cmpeq_epi8,
        _mm_or_si128,
        _mm_movemask_epi8,
        u16,
        identity
    )
}

/// AVX2: two 32-byte lanes, the same comparisons.
#[target_feature(enable = "avx2")]
#[inline]
pub fn avx2(block: &[u8; 64]) -> Masks {
    let (lo, hi) = block.split_at(32);
    let a = avx2_lane(lo.try_into().expect("32 bytes"));
    let b = avx2_lane(hi.try_into().expect("32 bytes"));
    Masks {
        quote: a.quote | b.quote << 32,
        backslash: a.backslash | b.backslash << 32,
        op: a.op | b.op << 32,
        ws: a.ws | b.ws << 32,
    }
}

/// One 32-byte lane's masks, in the low 32 bits.
#[target_feature(enable = "avx2")]
#[inline]
fn avx2_lane(lane: &[u8; 32]) -> Masks {
    // SAFETY: 32 bytes, the whole of `lane`; an unaligned load.
    let v = unsafe { _mm256_loadu_si256(lane.as_ptr().cast()) };
    // The movemask results are made opaque to the optimiser: otherwise LLVM sees through them
    // and rebuilds the index's bit arithmetic as byte vectors, byte by byte (3x slower); with
    // SSE2 and AVX-512 it does not.
    lane_masks!(
        v,
        _mm256_set1_epi8,
        _mm256_cmpeq_epi8,
        _mm256_or_si256,
        _mm256_movemask_epi8,
        u32,
        black_box
    )
}

/// AVX-512BW: one 64-byte load; comparisons give the masks directly.
#[target_feature(enable = "avx512bw")]
#[inline]
pub fn avx512(block: &[u8; 64]) -> Masks {
    // SAFETY: 64 bytes, the whole of `block`; an unaligned load.
    let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let eq = |b: u8| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b as i8));
    let folded = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
    let eq_folded = |b: u8| _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b as i8));
    Masks {
        quote: eq(b'"'),
        backslash: eq(b'\\'),
        op: eq_folded(b'{') | eq_folded(b'}') | eq(b':') | eq(b','),
        ws: eq(b' ') | eq(b'\t') | eq(b'\r') | eq(b'\n'),
    }
}

/// A prefix XOR as one carry-less multiply by all ones.
#[target_feature(enable = "pclmulqdq")]
#[inline]
fn prefix_xor_clmul(x: u64) -> u64 {
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
    _mm_cvtsi128_si64(product) as u64
}

/// The whole index with the portable classifier (and prefix XOR).
pub fn index_scalar(text: &[u8], slots: &mut Vec<u32>) -> usize {
    index::build(
        text,
        slots,
        |b| index::classify_scalar(b),
        index::prefix_xor,
    )
}

/// The whole index with SSE2 (and the portable prefix XOR: no carry-less multiply in the
/// x86-64 baseline).
#[target_feature(enable = "sse2")]
pub fn index_sse2(text: &[u8], slots: &mut Vec<u32>) -> usize {
    index::build(text, slots, |b| sse2(b), index::prefix_xor)
}

/// The whole index with AVX2, BMI and a carry-less multiply.
#[target_feature(enable = "avx2,bmi1,bmi2,pclmulqdq,popcnt")]
pub fn index_avx2(text: &[u8], slots: &mut Vec<u32>) -> usize {
    index::build(text, slots, |b| avx2(b), |x| prefix_xor_clmul(x))
}

/// The whole index with AVX-512BW, BMI and a carry-less multiply.
#[target_feature(enable = "avx512bw,bmi1,bmi2,pclmulqdq,popcnt")]
pub fn index_avx512(text: &[u8], slots: &mut Vec<u32>) -> usize {
    index::build(text, slots, |b| avx512(b), |x| prefix_xor_clmul(x))
}
