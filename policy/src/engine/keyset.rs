//! Duplicate-key detection: for JSON objects whose members are all kept (`keep = "subtree"`),
//! whose every key reaches the partner, and for the one level of a form's keys and a CSV
//! header's names — a duplicate is refused whatever its name. Keys are remembered per open object (a stack of levels), with the key bytes in an arena
//! for an exact comparison. Small objects (up to 32 keys, the common case) are scanned linearly
//! with a cheap unkeyed prefilter — length and eight bytes — so no hash is computed at all;
//! a collision there costs one extra comparison, and there are at most 32. Before the scan, a
//! 256-bit filter of the prefilters says whether the key can have been seen: for the usual object
//! with no duplicate most keys are answered by one bit, not by a scan (a filter made to collide
//! only brings the scan back). Larger objects add a hash set of 64-bit SipHash fingerprints
//! seeded per process, so that collisions cannot be planned to make lookups slow.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher, RandomState};

#[derive(Debug, Default)]
struct Level {
    arena: Vec<u8>,
    /// (prefilter, arena start, length) per key.
    entries: Vec<(u64, u32, u32)>,
    /// One bit per prefilter value seen (of 256): clear means the key is new.
    seen: [u64; 4],
    /// Seeded fingerprints of every key, once the object has more than [`LINEAR`] keys.
    index: HashSet<u64>,
}

/// Length and (up to) eight bytes — the first eight, or for shorter keys bytes from both ends
/// that cover them all — read as fixed-size words: tells most distinct short keys apart without
/// hashing or a library call.
fn prefilter(key: &[u8]) -> u64 {
    let n = key.len();
    let w4 = |i: usize| {
        u64::from(u32::from_le_bytes(
            key[i..i + 4].try_into().expect("4 bytes"),
        ))
    };
    let head = match n {
        8.. => u64::from_le_bytes(key[..8].try_into().expect("8 bytes")),
        4..=7 => w4(0) | w4(n - 4) << 32,
        1..=3 => u64::from(key[0]) | u64::from(key[n / 2]) << 8 | u64::from(key[n - 1]) << 16,
        0 => 0,
    };
    head ^ (n as u64).rotate_left(56)
}

/// A stack of key sets, one per open kept-whole object.
#[derive(Debug)]
pub(crate) struct KeySets {
    levels: Vec<Level>,
    depth: usize,
    seed: RandomState,
}

impl Default for KeySets {
    fn default() -> Self {
        Self {
            levels: Vec::new(),
            depth: 0,
            seed: RandomState::new(),
        }
    }
}

const LINEAR: usize = 32;

impl KeySets {
    pub fn push(&mut self) {
        if self.levels.len() == self.depth {
            // Room for the usual object (a form, a CSV header) up front: growing from empty
            // would reallocate both vectors several times in every new body.
            self.levels.push(Level {
                arena: Vec::with_capacity(16 * LINEAR),
                entries: Vec::with_capacity(LINEAR),
                ..Level::default()
            });
        }
        let l = &mut self.levels[self.depth];
        l.arena.clear();
        l.entries.clear();
        l.index.clear();
        l.seen = [0; 4];
        self.depth += 1;
    }

    pub fn pop(&mut self) {
        self.depth -= 1;
    }

    /// Keys in the innermost set.
    pub fn len(&self) -> usize {
        self.levels[..self.depth]
            .last()
            .map_or(0, |l| l.entries.len())
    }

    /// Open levels.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Closes levels down to `depth`.
    pub fn truncate(&mut self, depth: usize) {
        self.depth = self.depth.min(depth);
    }

    /// Adds `key` to the innermost set. `Err(true)` on a duplicate, `Err(false)` when the set
    /// would exceed `max` keys.
    pub fn insert(&mut self, key: &[u8], max: usize) -> Result<(), bool> {
        let pre = prefilter(key);
        let seed = &self.seed;
        let fingerprint = |k: &[u8]| {
            let mut h = seed.build_hasher();
            h.write(k);
            h.finish()
        };
        let l = &mut self.levels[self.depth - 1];
        let same = |&(p, s, n): &(u64, u32, u32)| {
            p == pre && &l.arena[s as usize..(s + n) as usize] == key
        };
        let bit = (pre.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize;
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        let maybe_seen = l.seen[word] & mask != 0;
        l.seen[word] |= mask;
        let duplicate = if l.entries.len() < LINEAR {
            maybe_seen && l.entries.iter().any(same)
        } else {
            if l.index.is_empty() {
                for &(_, s, n) in &l.entries {
                    l.index
                        .insert(fingerprint(&l.arena[s as usize..(s + n) as usize]));
                }
            }
            let fp = fingerprint(key);
            // The fingerprint only says where to look; the bytes decide.
            !l.index.insert(fp) && l.entries.iter().any(same)
        };
        if duplicate {
            return Err(true);
        }
        if l.entries.len() >= max {
            return Err(false);
        }
        l.entries
            .push((pre, l.arena.len() as u32, key.len() as u32));
        l.arena.extend_from_slice(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_duplicates_small_and_large() {
        let mut k = KeySets::default();
        k.push();
        for i in 0..1000 {
            k.insert(format!("key{i}").as_bytes(), 10_000).unwrap();
        }
        assert_eq!(k.insert(b"key999", 10_000), Err(true));
        assert_eq!(k.insert(b"key3", 10_000), Err(true));
        k.push();
        k.insert(b"key3", 10).unwrap();
        assert_eq!(k.insert(b"key3", 10), Err(true));
        k.pop();
        assert_eq!(k.insert(b"key3", 10_000), Err(true));
        assert_eq!(k.insert(b"new", 1000), Err(false));
    }

    #[test]
    fn keys_that_share_length_and_first_bytes_are_told_apart() {
        let mut k = KeySets::default();
        k.push();
        // Same length, same first eight bytes: the prefilter matches, the bytes decide.
        for i in 0..20 {
            k.insert(format!("applicant_{i:02}").as_bytes(), 100)
                .unwrap();
        }
        assert_eq!(k.insert(b"applicant_07", 100), Err(true));
        // Past the linear limit, with the same shape of keys.
        for i in 20..200 {
            k.insert(format!("applicant_{i:03}").as_bytes(), 1000)
                .unwrap();
        }
        assert_eq!(k.insert(b"applicant_150", 1000), Err(true));
        assert_eq!(k.insert(b"applicant_07", 1000), Err(true));
        k.insert(b"applicant_200", 1000).unwrap();
    }

    #[test]
    fn every_key_of_a_small_object_is_found_again() {
        let keys: Vec<String> = (0..LINEAR).map(|i| format!("k{}", i * 7919)).collect();
        for dup in &keys {
            let mut k = KeySets::default();
            k.push();
            for key in &keys {
                k.insert(key.as_bytes(), 100).unwrap();
            }
            assert_eq!(k.insert(dup.as_bytes(), 100), Err(true), "{dup}");
            // A new level starts empty: the same key is new there.
            k.push();
            k.insert(dup.as_bytes(), 100).unwrap();
        }
    }

    #[test]
    fn keys_of_every_short_length_are_told_apart() {
        // Keys of 0-12 bytes that differ in one byte anywhere, all in one object.
        let mut k = KeySets::default();
        k.push();
        let mut all = vec![Vec::new()];
        for n in 1..=12usize {
            for at in 0..n {
                let mut key = vec![b'a'; n];
                key[at] = b'b';
                all.push(key);
            }
            all.push(vec![b'a'; n]);
        }
        for key in &all {
            k.insert(key, 1000).unwrap();
        }
        for key in &all {
            assert_eq!(k.insert(key, 1000), Err(true), "{key:?}");
        }
    }
}
