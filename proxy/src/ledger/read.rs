//! Reading a ledger directory for the compliance tools: entries, disclosures (a begin joined with
//! its end), and inclusion proofs against the latest checkpoint.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::entry::{Entry, Record};
use super::merkle;
use super::segment;

/// Every intact entry with its canonical bytes.
pub fn entries(dir: &Path) -> Result<Vec<(Record, Vec<u8>)>, String> {
    segment::load(dir)?
        .entries
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            Record::decode(&b)
                .map(|r| (r, b))
                .ok_or_else(|| format!("entry {i} does not decode; run `sluice ledger verify`"))
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The subject hashes of an end entry: inline, or from its side file (checked against the digest).
fn subjects_of(dir: &Path, e: &super::entry::End) -> Vec<[u8; 32]> {
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

/// Disclosures: each begin with its end (or incomplete), as JSON objects, with their subjects.
pub fn disclosures(dir: &Path, records: &[(Record, Vec<u8>)]) -> Vec<(Value, Vec<[u8; 32]>, u64)> {
    let mut out: Vec<(Value, Vec<[u8; 32]>, u64)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for (r, _) in records {
        match &r.entry {
            Entry::Begin(b) => {
                index.insert(r.seq, out.len());
                out.push((
                    json!({"seq": r.seq, "time_ms": r.time_ms, "request_id": b.request_id, "trace_id": b.trace_id, "partner": b.partner, "contract": b.contract,
                        "route": b.route, "flow": b.flow, "spki_sha256": hex(&b.spki_sha256), "serial": b.serial,
                        "policy_version": hex(&b.policy_version), "outcome": "open"}),
                    Vec::new(),
                    r.time_ms,
                ));
            }
            Entry::End(e) => {
                if let Some(&i) = index.get(&e.begin) {
                    let v = &mut out[i].0;
                    v["outcome"] = json!(e.outcome.as_str());
                    v["end_seq"] = json!(r.seq);
                    v["bytes_sent"] = json!(e.bytes_sent);
                    v["sha256_sent"] = json!(hex(&e.sha256_sent));
                    v["records"] = json!(e.records);
                    v["records_dropped"] = json!(e.records_dropped);
                    v["subject_count"] = json!(e.subject_count);
                    out[i].1 = subjects_of(dir, e);
                }
            }
            Entry::Incomplete { begin } => {
                if let Some(&i) = index.get(begin) {
                    out[i].0["outcome"] = json!("incomplete");
                }
            }
            _ => {}
        }
    }
    out
}

/// An inclusion proof of entry `seq` against the latest checkpoint, as JSON.
pub fn prove(dir: &Path, seq: u64) -> Result<Value, String> {
    let records = entries(dir)?;
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
    let leaves: Vec<merkle::Hash> = records
        .iter()
        .take(cp.size as usize)
        .map(|(_, b)| merkle::leaf_hash(b))
        .collect();
    let proof = merkle::inclusion_proof(seq as usize, &leaves);
    let (record, bytes) = &records[seq as usize];
    Ok(json!({
        "index": seq,
        "tree_size": cp.size,
        "entry": B64.encode(bytes),
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
    let record = Record::decode(&entry).ok_or("the entry does not decode")?;
    if record.seq != index {
        return Err("the entry's sequence number is not its index".into());
    }
    Ok(record.to_json())
}
