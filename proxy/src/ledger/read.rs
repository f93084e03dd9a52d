//! Reading a ledger directory for the compliance tools: entries, disclosures (a begin joined with
//! its end), and inclusion proofs against the latest checkpoint.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sluice_policy::hex::hex;

use super::entry::{Entry, Record};
use super::merkle;
use super::segment;

/// Every intact entry with its canonical bytes, all in memory: for small logs (tests, the demo).
/// The compliance commands use [`for_each_entry`] and [`for_each_disclosure`].
pub fn entries(dir: &Path) -> Result<Vec<(Record, Vec<u8>)>, String> {
    let mut out = Vec::new();
    for_each_entry(dir, |r, b| {
        out.push((r.clone(), b.to_vec()));
        Ok(())
    })?;
    Ok(out)
}

/// Calls `f` with every intact entry and its canonical bytes, in order, holding one segment in
/// memory at a time. Returns how many there were.
pub fn for_each_entry(
    dir: &Path,
    mut f: impl FnMut(&Record, &[u8]) -> Result<(), String>,
) -> Result<u64, String> {
    let end = segment::visit(dir, |i, b| {
        let r = Record::read(b).map_err(|e| match e {
            super::Unreadable::Newer { .. } => format!("entry {i} {e}"),
            super::Unreadable::Malformed => {
                format!("entry {i} {e}; run `sluice ledger verify`")
            }
        })?;
        f(&r, b)
    })?;
    Ok(end.entries)
}

/// The subject key check values the log recorded (`keys.loaded`), with their entries, in order.
pub fn subject_key_checks(dir: &Path) -> Result<Vec<(u64, [u8; 32])>, String> {
    let mut recorded = Vec::new();
    for_each_entry(dir, |r, _| {
        if let Entry::KeysLoaded(k) = &r.entry {
            recorded.push((r.seq, k.subject));
        }
        Ok(())
    })?;
    Ok(recorded)
}

/// The origin the log's first `instance.started` entry names (empty if there is none).
pub fn origin(dir: &Path) -> Result<String, String> {
    // Stops at the first one: it opens the log.
    const FOUND: &str = "\0found";
    let mut origin = String::new();
    match for_each_entry(dir, |r, _| match &r.entry {
        Entry::InstanceStarted { origin: o, .. } => {
            origin = o.clone();
            Err(FOUND.into())
        }
        _ => Ok(()),
    }) {
        Ok(_) => Ok(origin),
        Err(e) if e == FOUND => Ok(origin),
        Err(e) => Err(e),
    }
}

/// A disclosure: its begin joined with its end (or marked open / incomplete) as JSON, the subject
/// hashes it carried, and when it began (ms).
pub type Disclosure = (Value, Vec<[u8; 32]>, u64);

/// Joins each begin with its end as entries stream by. Disclosures come out in the order they
/// began, each as soon as it and every earlier one are closed, so memory holds only the ones in
/// flight at a point of the log (a begin never closed waits for the end of the log).
#[derive(Debug, Default)]
pub struct Joiner {
    pending: std::collections::BTreeMap<u64, (Disclosure, bool)>,
}

impl Joiner {
    /// Adds `r`; calls `out` with the disclosures it completes (side-file subjects read from
    /// `dir`).
    pub fn add(&mut self, dir: &Path, r: &Record, out: &mut impl FnMut(Disclosure)) {
        match &r.entry {
            Entry::Begin(b) => {
                let v = json!({"seq": r.seq, "time_ms": r.time_ms, "request_id": b.request_id, "trace_id": b.trace_id, "partner": b.partner, "contract": b.contract,
                    "route": b.route, "flow": b.flow, "spki_sha256": hex(&b.spki_sha256), "serial": b.serial,
                    "policy_version": hex(&b.policy_version), "outcome": "open"});
                let mut v = v;
                b.add_hashes(&mut v);
                self.pending
                    .insert(r.seq, ((v, Vec::new(), r.time_ms), false));
            }
            Entry::End(e) => {
                if let Some(((v, subjects, _), closed)) = self.pending.get_mut(&e.begin) {
                    v["outcome"] = json!(e.outcome.as_str());
                    v["end_seq"] = json!(r.seq);
                    v["bytes_sent"] = json!(e.bytes_sent);
                    v["sha256_sent"] = json!(hex(&e.sha256_sent));
                    v["records"] = json!(e.records);
                    v["records_dropped"] = json!(e.records_dropped);
                    v["subject_count"] = json!(e.subject_count);
                    *subjects = subjects_of(dir, e);
                    *closed = true;
                }
            }
            Entry::Incomplete { begin } => {
                if let Some(((v, _, _), closed)) = self.pending.get_mut(begin) {
                    v["outcome"] = json!("incomplete");
                    *closed = true;
                }
            }
            _ => return,
        }
        while let Some(entry) = self.pending.first_entry() {
            if !entry.get().1 {
                break;
            }
            out(entry.remove().0);
        }
    }

    /// The disclosures still open at the end of the log.
    pub fn finish(self, out: &mut impl FnMut(Disclosure)) {
        self.pending.into_values().for_each(|(d, _)| out(d));
    }
}

/// Calls `f` with every disclosure in the log, in the order they began, reading the log one
/// segment at a time.
pub fn for_each_disclosure(dir: &Path, mut f: impl FnMut(Disclosure)) -> Result<(), String> {
    let mut joiner = Joiner::default();
    for_each_entry(dir, |r, _| {
        joiner.add(dir, r, &mut f);
        Ok(())
    })?;
    joiner.finish(&mut f);
    Ok(())
}

/// The subject hashes of an end entry: inline, or from its side file (checked against the digest).
pub fn subjects_of(dir: &Path, e: &super::entry::End) -> Vec<[u8; 32]> {
    if e.subjects_digest == [0; 32] {
        return e.subjects.clone();
    }
    let path = dir
        .join("subjects")
        .join(format!("{}.bin", hex(&e.subjects_digest)));
    match std::fs::read(&path) {
        Ok(bytes)
            if ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref()
                == e.subjects_digest =>
        {
            bytes
                .chunks_exact(32)
                .map(|c| c.try_into().expect("32 bytes"))
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Disclosures of entries already read (see [`entries`]), in the order they began.
pub fn disclosures(dir: &Path, records: &[(Record, Vec<u8>)]) -> Vec<Disclosure> {
    let mut out = Vec::new();
    let mut joiner = Joiner::default();
    let mut push = |d| out.push(d);
    for (r, _) in records {
        joiner.add(dir, r, &mut push);
    }
    joiner.finish(&mut push);
    out
}

/// An inclusion proof of entry `seq` against the latest checkpoint, as JSON.
pub fn prove(dir: &Path, seq: u64) -> Result<Value, String> {
    let note = super::store::latest_checkpoint(dir)
        .map_err(|e| e.to_string())?
        .ok_or("no checkpoint yet")?;
    let body = note
        .split_once("\n\n")
        .map(|(b, _)| format!("{b}\n"))
        .ok_or("malformed checkpoint")?;
    let cp = super::checkpoint::Checkpoint::parse_body(&body).ok_or("malformed checkpoint")?;
    if seq >= cp.size {
        return Err(format!(
            "entry {seq} is not covered by the latest checkpoint (size {}) yet",
            cp.size
        ));
    }
    // Leaf hashes only (32 bytes per entry), and the one entry proved.
    let mut leaves: Vec<merkle::Hash> = Vec::new();
    let mut proved = None;
    for_each_entry(dir, |r, b| {
        if (leaves.len() as u64) < cp.size {
            leaves.push(merkle::leaf_hash(b));
        }
        if r.seq == seq && proved.is_none() {
            proved = Some((r.clone(), b.to_vec()));
        }
        Ok(())
    })?;
    if (leaves.len() as u64) < cp.size {
        return Err(format!(
            "the log holds {} entries but the latest checkpoint covers {}",
            leaves.len(),
            cp.size
        ));
    }
    let proof = merkle::inclusion_proof(seq as usize, &leaves);
    let (record, bytes) = proved.ok_or_else(|| format!("entry {seq} is not in the log"))?;
    Ok(json!({
        "index": seq,
        "tree_size": cp.size,
        "entry": B64.encode(&bytes),
        "entry_json": record.to_json(),
        "proof": proof.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
        "checkpoint": note,
    }))
}

/// Checks a proof from [`prove`] with only the proof and the log's public key.
pub fn verify_proof(proof: &Value, public: &[u8]) -> Result<Value, String> {
    let note = proof["checkpoint"].as_str().ok_or("no checkpoint")?;
    let cp = super::checkpoint::verify(note, public).map_err(|e| format!("checkpoint: {e}"))?;
    let index = proof["index"].as_u64().ok_or("no index")?;
    let entry = B64
        .decode(proof["entry"].as_str().ok_or("no entry")?)
        .map_err(|_| "entry is not base64")?;
    let path: Vec<merkle::Hash> = proof["proof"]
        .as_array()
        .ok_or("no proof")?
        .iter()
        .map(|h| {
            B64.decode(h.as_str().unwrap_or(""))
                .ok()
                .and_then(|b| b.try_into().ok())
        })
        .collect::<Option<_>>()
        .ok_or("malformed proof hashes")?;
    if !merkle::verify_inclusion(index, cp.size, &merkle::leaf_hash(&entry), &path, &cp.root) {
        return Err(format!(
            "entry {index} is not included in the tree of size {} that the checkpoint signs",
            cp.size
        ));
    }
    let record = Record::read(&entry).map_err(|e| format!("the entry {e}"))?;
    if record.seq != index {
        return Err("the entry's sequence number is not its index".into());
    }
    Ok(record.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::entry::{Begin, End, Outcome};

    fn begin(seq: u64, partner: &str) -> Record {
        Record {
            seq,
            time_ms: 1_000 + seq,
            entry: Entry::Begin(Box::new(Begin {
                request_id: format!("r{seq}"),
                trace_id: String::new(),
                partner: partner.into(),
                spki_sha256: [0; 32],
                serial: String::new(),
                contract: "c".into(),
                route: "/x".into(),
                flow: "pull".into(),
                policy_version: [0; 32],
                target: None,
                headers: None,
            })),
        }
    }

    fn end(seq: u64, of: u64) -> Record {
        Record {
            seq,
            time_ms: 2_000 + seq,
            entry: Entry::End(Box::new(End {
                bytes_sent: of,
                records: 1,
                ..End::new(of, Outcome::Sent)
            })),
        }
    }

    #[test]
    fn disclosures_stream_out_in_begin_order_as_soon_as_every_earlier_one_is_closed() {
        // 0 and 1 begin; 1 ends before 0; 2 begins and ends; 3 never ends; 4 is cut short.
        let log = [
            begin(0, "a"),
            begin(1, "b"),
            end(2, 1),
            begin(3, "c"),
            end(4, 3),
            end(5, 0),
            begin(6, "d"),
            begin(7, "e"),
            Record {
                seq: 8,
                time_ms: 9,
                entry: Entry::Incomplete { begin: 7 },
            },
        ];
        let dir = Path::new("/nonexistent");
        let sent = Outcome::Sent.as_str();
        let mut joiner = Joiner::default();
        let mut out: Vec<(usize, Disclosure)> = Vec::new();
        for (i, r) in log.iter().enumerate() {
            joiner.add(dir, r, &mut |d| out.push((i, d)));
            // Memory holds only what is in flight, and what waits behind the oldest of it.
            assert!(joiner.pending.len() <= 3, "after entry {i}");
        }
        joiner.finish(&mut |d| out.push((log.len(), d)));
        let seen: Vec<(usize, u64, &str)> = out
            .iter()
            .map(|(i, (v, _, _))| {
                (
                    *i,
                    v["seq"].as_u64().unwrap(),
                    v["outcome"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (5, 0, sent),
                (5, 1, sent),
                (5, 3, sent),
                (9, 6, "open"),
                (9, 7, "incomplete"),
            ]
        );
        // The whole-log helper gives the same disclosures.
        let records: Vec<(Record, Vec<u8>)> = log.iter().map(|r| (r.clone(), Vec::new())).collect();
        let all: Vec<Value> = disclosures(dir, &records)
            .into_iter()
            .map(|d| d.0)
            .collect();
        assert_eq!(all, out.into_iter().map(|(_, d)| d.0).collect::<Vec<_>>());
    }
}
