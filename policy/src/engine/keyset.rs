//! Duplicate-key detection for objects whose members are all kept (`keep = "subtree"`).
//!
//! Every key of such an object reaches the partner, so a duplicate must be refused whatever its
//! name. Keys are remembered per open object (a stack of levels): a 64-bit fingerprint, seeded
//! per process so that collisions cannot be planned, plus the key bytes in an arena for an exact
//! comparison when fingerprints meet. Small objects use a linear scan of fingerprints; large ones
//! add a hash set.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher, RandomState};

#[derive(Debug, Default)]
struct Level {
    arena: Vec<u8>,
    entries: Vec<(u64, u32, u32)>,
    index: HashSet<u64>,
}

/// A stack of key sets, one per open kept-whole object.
#[derive(Debug)]
pub(super) struct KeySets {
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
            self.levels.push(Level::default());
        }
        let l = &mut self.levels[self.depth];
        l.arena.clear();
        l.entries.clear();
        l.index.clear();
        self.depth += 1;
    }

    pub fn pop(&mut self) {
        self.depth -= 1;
    }

    /// Adds `key` to the innermost set. `Err(true)` on a duplicate, `Err(false)` when the set
    /// would exceed `max` keys.
    pub fn insert(&mut self, key: &[u8], max: usize) -> Result<(), bool> {
        let mut h = self.seed.build_hasher();
        h.write(key);
        let fp = h.finish();
        let l = &mut self.levels[self.depth - 1];
        let candidates = if l.entries.len() < LINEAR {
            l.entries.iter().any(|e| e.0 == fp)
        } else {
            if l.index.is_empty() {
                l.index.extend(l.entries.iter().map(|e| e.0));
            }
            l.index.contains(&fp)
        };
        if candidates
            && l.entries
                .iter()
                .any(|&(f, s, n)| f == fp && &l.arena[s as usize..(s + n) as usize] == key)
        {
            return Err(true);
        }
        if l.entries.len() >= max {
            return Err(false);
        }
        l.entries.push((fp, l.arena.len() as u32, key.len() as u32));
        l.arena.extend_from_slice(key);
        if !l.index.is_empty() || l.entries.len() > LINEAR {
            l.index.insert(fp);
        }
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
}
