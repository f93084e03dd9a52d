//! The fixed work of a contract: what any filter has to do for it, however it parses.
//!
//! Whatever walks the JSON, the contract and the engine's guarantees require of every body:
//!
//! - **UTF-8 validation** of every input byte (strict RFC 8259, stripped members included);
//! - **SHA-256 of every output byte** (the summary's `output_sha256`, which the proxy sends as
//!   the body's digest and the ledger records);
//! - **one HMAC-SHA256 per hashed value and one per subject** (the keyed pseudonym, and the
//!   subject hash the ledger and the consent list use — under different keys, so two).
//!
//! [`measure`] times each of these on the workload's own bytes — the input, the engine's
//! output, the values the contract hashes — with the same calls the engine makes, so that a
//! report can put the engine's time next to the part of it no parser can remove: the ceiling
//! the contract leaves for parsing, validation, filtering and output at a given throughput.

use sluice_policy::engine::{EngineConfig, Redactor, Summary};
use sluice_policy::rule::HashAlg;

/// Seconds each part of the fixed work took (best of the rounds), for one pass over a body.
#[derive(Debug, Clone, Copy)]
pub struct Floor {
    /// UTF-8 validation of the input (simdutf8, as the engine validates).
    pub utf8: f64,
    /// SHA-256 of the engine's output (ring, as the engine digests).
    pub output_sha256: f64,
    /// The summary's hashed values and subjects, each one HMAC-SHA256 of a value.
    pub hmacs: u64,
    /// Those HMACs, timed on the values the contract hashes.
    pub hmac: f64,
}

impl Floor {
    /// The three together.
    pub fn total(&self) -> f64 {
        self.utf8 + self.output_sha256 + self.hmac
    }
}

/// How many distinct values the HMACs are timed on.
pub const HOT_VALUES: usize = 512;

/// The best of `rounds` (at least one) runs of `f`, in seconds.
fn best(rounds: usize, f: impl FnMut() -> usize) -> f64 {
    crate::best(rounds.max(1), f).0
}

/// The string values of every member named `key` in `feed` (minified JSON, no escapes in these
/// values): the values a `hash` rule and the subject at `…key` read.
pub fn values_of<'a>(feed: &'a [u8], key: &str) -> Vec<&'a str> {
    let needle = format!("\"{key}\":\"");
    let needle = needle.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = find(&feed[i..], needle) {
        let start = i + at + needle.len();
        let Some(len) = feed[start..].iter().position(|&b| b == b'"') else {
            break;
        };
        if let Ok(v) = std::str::from_utf8(&feed[start..start + len]) {
            out.push(v);
        }
        i = start + len;
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Filters `feed` once (in `chunk`-byte pieces) for the engine's output and summary.
pub fn filter(cfg: &EngineConfig, feed: &[u8], chunk: usize) -> (Vec<u8>, Summary) {
    let mut r = Redactor::new(cfg.clone());
    let mut out = Vec::new();
    for c in feed.chunks(chunk) {
        r.feed(c, &mut out)
            .expect("the workload passes its contract");
        drop(r.take_subjects());
    }
    let summary = r
        .finish(&mut out)
        .expect("the workload passes its contract");
    (out, summary)
}

/// Times the fixed work of filtering `feed` with `cfg`: the summary says how many values were
/// hashed and how many subjects seen; `hashed` are the values (the contract's hashed path, which
/// is also its subject in the reference contract), cycled through for the count. The engine
/// hashes a value right after reading it, from the cache; so are these: the first
/// [`HOT_VALUES`] of them, copied together, not a walk over the whole feed's memory.
pub fn measure(
    cfg: &EngineConfig,
    feed: &[u8],
    chunk: usize,
    hashed: &[&str],
    rounds: usize,
) -> Floor {
    measure_bodies(cfg, &[feed], chunk, hashed, rounds)
}

/// [`measure`] for many bodies, each filtered, validated and digested on its own (small bodies
/// pay each digest's last block and each validation's start once per body, as the proxy does).
pub fn measure_bodies(
    cfg: &EngineConfig,
    bodies: &[&[u8]],
    chunk: usize,
    hashed: &[&str],
    rounds: usize,
) -> Floor {
    let filtered: Vec<(Vec<u8>, Summary)> = bodies.iter().map(|b| filter(cfg, b, chunk)).collect();
    let pseudonyms: u64 = filtered.iter().map(|(_, s)| s.totals().hashed).sum();
    let subjects: u64 = filtered.iter().map(|(_, s)| s.subject_count).sum();
    let utf8 = best(rounds, || {
        bodies
            .iter()
            .flat_map(|b| b.chunks(chunk))
            .map(|c| usize::from(simdutf8::basic::from_utf8(c).is_ok()))
            .sum()
    });
    let output_sha256 = best(rounds, || {
        filtered
            .iter()
            .map(|(output, _)| {
                let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
                for c in output.chunks(chunk) {
                    ctx.update(c);
                }
                ctx.finish().as_ref().len()
            })
            .sum()
    });
    let hashed: Vec<String> = hashed
        .iter()
        .take(HOT_VALUES)
        .map(|v| v.to_string())
        .collect();
    let keys = &cfg.keys;
    let hmac = if hashed.is_empty() {
        0.0
    } else {
        best(rounds, || {
            let (mut hex, mut scratch) = (String::new(), String::new());
            let mut n = 0;
            for v in hashed.iter().cycle().take(pseudonyms as usize) {
                hex.clear();
                keys.pseudonym.pseudonym(HashAlg::HmacSha256, v, &mut hex);
                n += hex.len();
            }
            for v in hashed.iter().cycle().take(subjects as usize) {
                n += usize::from(keys.subject.subject_hash_with(v, &mut scratch)[0]);
            }
            n
        })
    };
    Floor {
        utf8,
        output_sha256,
        hmacs: pseudonyms + subjects,
        hmac,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload;
    use sluice_policy::engine::Format;

    #[test]
    fn values_of_reads_the_string_value_of_every_member_with_that_key() {
        let feed = br#"{"records":[{"id":1,"id_number":"11010519491231002X"},{"id_number":"44030519800803208X","x":{"id_number":"1","number":"2"}}]}"#;
        assert_eq!(
            values_of(feed, "id_number"),
            ["11010519491231002X", "44030519800803208X", "1"]
        );
        assert!(values_of(feed, "name").is_empty());
    }

    #[test]
    fn the_fixed_work_of_the_reference_contract_is_two_hmacs_per_record() {
        // Every record's id_number is hashed (a pseudonym) and is the record's subject.
        let path = std::env::temp_dir().join("sluice-floor-test-64KiB.json");
        let feed = workload::feed(&path, "64KiB", "json");
        let records = feed.windows(6).filter(|w| w == b"{\"id\":").count() as u64;
        let cfg = workload::config(&workload::policy("reference-policy.toml"), Format::Json);
        let ids = values_of(&feed, "id_number");
        assert_eq!(ids.len() as u64, records);
        let floor = measure(&cfg, &feed, 4096, &ids, 1);
        assert!(records > 10);
        assert_eq!(floor.hmacs, 2 * records);
        for t in [floor.utf8, floor.output_sha256, floor.hmac] {
            assert!(t > 0.0, "{floor:?}");
        }
        assert_eq!(floor.total(), floor.utf8 + floor.output_sha256 + floor.hmac);
    }
}
