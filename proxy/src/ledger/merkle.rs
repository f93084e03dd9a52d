//! The RFC 6962 / RFC 9162 Merkle tree, exactly: leaf `H(0x00 ‖ d)`, node `H(0x01 ‖ l ‖ r)`,
//! split at the largest power of two below `n`; inclusion and consistency proofs as RFC 6962
//! §2.1.1–2.1.2 define them (the sub-proof recursion), verification as RFC 9162 §2.1.3.2 and
//! §2.1.4.2. SHA-256 throughout (what C2SP tlog tooling and witnesses speak).

use ring::digest::{Context, SHA256};

/// A 32-byte hash.
pub type Hash = [u8; 32];

fn h(parts: &[&[u8]]) -> Hash {
    let mut c = Context::new(&SHA256);
    for p in parts {
        c.update(p);
    }
    c.finish().as_ref().try_into().expect("32 bytes")
}

/// The hash of a leaf (an entry's canonical bytes).
pub fn leaf_hash(data: &[u8]) -> Hash {
    h(&[&[0], data])
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    h(&[&[1], left, right])
}

/// Largest power of two strictly below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH over leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => h(&[]),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The right edge of a growing tree: the roots of its maximal perfect subtrees, left to right.
/// Appending is amortised O(1) and the root is O(log n), so a checkpoint never rehashes the log.
#[derive(Debug, Clone, Default)]
pub struct CompactRange {
    peaks: Vec<(u64, Hash)>,
}

impl CompactRange {
    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        self.peaks.push((1, leaf));
        while self.peaks.len() >= 2 {
            let n = self.peaks.len();
            if self.peaks[n - 1].0 != self.peaks[n - 2].0 {
                break;
            }
            let (size, right) = self.peaks.pop().expect("two peaks");
            let (_, left) = self.peaks.pop().expect("two peaks");
            self.peaks.push((size * 2, node_hash(&left, &right)));
        }
    }

    /// The tree's root (RFC 6962 MTH).
    pub fn root(&self) -> Hash {
        let mut it = self.peaks.iter().rev();
        let Some((_, last)) = it.next() else {
            return h(&[]);
        };
        it.fold(*last, |acc, (_, left)| node_hash(left, &acc))
    }
}

/// PATH(m, D\[n\]): the inclusion proof of leaf `m`.
pub fn inclusion_proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut p = inclusion_proof(m, &leaves[..k]);
        p.push(root(&leaves[k..]));
        p
    } else {
        let mut p = inclusion_proof(m - k, &leaves[k..]);
        p.push(root(&leaves[..k]));
        p
    }
}

/// PROOF(m, D\[n\]): the consistency proof between the trees of size `m` and `leaves.len()`.
pub fn consistency_proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    fn subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if b { Vec::new() } else { vec![root(leaves)] };
        }
        let k = split(n);
        if m <= k {
            let mut p = subproof(m, &leaves[..k], b);
            p.push(root(&leaves[k..]));
            p
        } else {
            let mut p = subproof(m - k, &leaves[k..], false);
            p.push(root(&leaves[..k]));
            p
        }
    }
    if m == 0 || m > leaves.len() {
        return Vec::new();
    }
    subproof(m, leaves, true)
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> bool {
    if size1 > size2 {
        return false;
    }
    if size1 == size2 {
        return proof.is_empty() && root1 == root2;
    }
    if size1 == 0 {
        return proof.is_empty();
    }
    let mut proof: Vec<Hash> = proof.to_vec();
    if size1.is_power_of_two() {
        proof.insert(0, *root1);
    }
    let Some((first, rest)) = proof.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (size1 - 1, size2 - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    fr == *root1 && sr == *root2 && s_n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn empty_and_single_trees() {
        // SHA-256 of the empty string.
        let empty = sluice_policy::hex::hex(&root(&[]));
        assert_eq!(
            empty,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let l = leaves(1);
        assert_eq!(root(&l), l[0]);
    }

    #[test]
    fn compact_range_root_equals_the_recursive_root() {
        let mut c = CompactRange::default();
        assert_eq!(c.root(), root(&[]));
        let l = leaves(100);
        for (i, leaf) in l.iter().enumerate() {
            c.push(*leaf);
            assert_eq!(c.root(), root(&l[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn every_inclusion_proof_verifies_and_tampering_fails() {
        for n in 1..=33 {
            let l = leaves(n);
            let r = root(&l);
            for m in 0..n {
                let p = inclusion_proof(m, &l);
                assert!(
                    verify_inclusion(m as u64, n as u64, &l[m], &p, &r),
                    "n={n} m={m}"
                );
                let other = leaf_hash(b"forged");
                assert!(!verify_inclusion(m as u64, n as u64, &other, &p, &r));
                if !p.is_empty() {
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_inclusion(m as u64, n as u64, &l[m], &bad, &r));
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_rewritten_history_fails() {
        for n in 1..=33 {
            let l = leaves(n);
            for m in 1..=n {
                let p = consistency_proof(m, &l);
                assert!(
                    verify_consistency(m as u64, n as u64, &p, &root(&l[..m]), &root(&l)),
                    "m={m} n={n}"
                );
                if m < n {
                    let mut forged = l.clone();
                    forged[m - 1] = leaf_hash(b"rewritten");
                    assert!(
                        !verify_consistency(m as u64, n as u64, &p, &root(&forged[..m]), &root(&l)),
                        "m={m} n={n}"
                    );
                }
            }
        }
    }
}
