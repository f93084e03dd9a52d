//! What a candidate policy would have done differently with one body, from the two engine
//! results alone: per rule path, and only paths and counts (never a value).
//!
//! - `would_refuse`: the live contract passed the body, the candidate refuses it (at the path of
//!   its violation, array indexes folded to `[*]`).
//! - `would_pass`: the live contract refused it, the candidate passes it.
//! - `would_add`: the candidate discloses values at a path (kept, masked or hashed) where the
//!   live contract disclosed none.
//! - `would_drop`: the reverse.
//! - `would_change`: both disclose at the path, treated differently (kept vs masked vs hashed vs
//!   redacted counts differ).
//! - `would_change_output`: every path counts the same, yet the output differs (another mask of
//!   the same kind, another pseudonym key, other ranges…), reported at `$`.

use std::collections::BTreeMap;

use sluice_policy::engine::FieldCount;

/// An engine result, as much of it as the comparison needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Result {
    /// Passed: per-path counts and the SHA-256 of the output.
    Passed(Vec<FieldCount>, [u8; 32]),
    /// Refused: the violation's reason code and path.
    Refused(&'static str, String),
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Difference {
    /// A rule path (or a violation path with indexes folded).
    pub path: String,
    /// `would_refuse`, `would_pass`, `would_add`, `would_drop`, `would_change`,
    /// `would_change_output`.
    pub kind: &'static str,
}

/// `$.a[3].b[12]` → `$.a[*].b[*]`: a bounded label, whatever the body.
pub fn fold_indexes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[*]");
            }
            ']' if in_index => in_index = false,
            _ if in_index => {}
            c => out.push(c),
        }
    }
    out
}

/// (disclosed: kept + masked + hashed, and the four counts) per path.
fn by_path(fields: &[FieldCount]) -> BTreeMap<&str, [u64; 4]> {
    fields
        .iter()
        .map(|f| (&*f.path, [f.kept, f.masked, f.hashed, f.redacted]))
        .filter(|(_, c)| c.iter().any(|&n| n > 0))
        .collect()
}

/// The differences between the live and the candidate result, sorted.
pub fn compare(live: &Result, candidate: &Result) -> Vec<Difference> {
    let d = |path: &str, kind| Difference {
        path: path.to_owned(),
        kind,
    };
    let mut out = match (live, candidate) {
        (Result::Passed(..), Result::Refused(_, path)) => {
            vec![d(&fold_indexes(path), "would_refuse")]
        }
        (Result::Refused(_, path), Result::Passed(..)) => {
            vec![d(&fold_indexes(path), "would_pass")]
        }
        (Result::Refused(..), Result::Refused(..)) => Vec::new(),
        (Result::Passed(l, l_sha), Result::Passed(c, c_sha)) => {
            let (l, c) = (by_path(l), by_path(c));
            let disclosed = |n: &[u64; 4]| n[0] + n[1] + n[2] > 0;
            let mut out = Vec::new();
            for (path, ln) in &l {
                match c.get(path) {
                    None if disclosed(ln) => out.push(d(path, "would_drop")),
                    Some(cn) if disclosed(ln) && !disclosed(cn) => out.push(d(path, "would_drop")),
                    Some(cn) if cn != ln => out.push(d(path, "would_change")),
                    _ => {}
                }
            }
            for (path, cn) in &c {
                let live_discloses = l.get(path).is_some_and(disclosed);
                if disclosed(cn) && !live_discloses {
                    out.push(d(path, "would_add"));
                }
            }
            if out.is_empty() && l_sha != c_sha {
                out.push(d("$", "would_change_output"));
            }
            out
        }
    };
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(path: &str, kept: u64, masked: u64, hashed: u64) -> FieldCount {
        FieldCount {
            path: path.into(),
            kept,
            masked,
            hashed,
            redacted: 0,
            stripped: 0,
        }
    }

    #[test]
    fn each_kind_is_told_apart() {
        let live = Result::Passed(
            vec![
                field("$.a", 1, 0, 0),
                field("$.b", 1, 0, 0),
                field("$.c", 0, 1, 0),
            ],
            [1; 32],
        );
        let cand = Result::Passed(
            vec![
                field("$.a", 1, 0, 0),
                field("$.c", 0, 0, 1),
                field("$.d", 1, 0, 0),
            ],
            [2; 32],
        );
        let kinds: Vec<_> = compare(&live, &cand)
            .into_iter()
            .map(|d| (d.path, d.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("$.b".to_string(), "would_drop"),
                ("$.c".to_string(), "would_change"),
                ("$.d".to_string(), "would_add")
            ]
        );
        let same = Result::Passed(vec![field("$.a", 1, 0, 0)], [1; 32]);
        let other = Result::Passed(vec![field("$.a", 1, 0, 0)], [9; 32]);
        assert!(compare(&same, &same).is_empty());
        assert_eq!(compare(&same, &other)[0].kind, "would_change_output");
        let refused = Result::Refused("out_of_range", "$.r[12].score".into());
        assert_eq!(
            compare(&same, &refused),
            [Difference {
                path: "$.r[*].score".into(),
                kind: "would_refuse"
            }]
        );
        assert_eq!(compare(&refused, &same)[0].kind, "would_pass");
    }
}
