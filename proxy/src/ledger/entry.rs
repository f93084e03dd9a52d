//! Ledger entries and their canonical encoding.
//!
//! Version-tagged, fixed field order, big-endian integers, `u16`-length-prefixed strings and
//! lists: the same entry always has the same bytes, and the bytes are what the Merkle tree
//! commits to. At most 60 KiB per entry (C2SP tlog-tiles bundles carry `u16` lengths). A JSON
//! rendering is for people. No personal data ever goes in: partners, contracts and routes by id
//! and template, subjects only as keyed hashes.

use serde_json::{Value, json};

/// Largest encoded entry.
pub const MAX_ENTRY: usize = 60 * 1024;

/// Most subject hashes kept inline; beyond, the entry carries the count and a digest of the
/// sorted list.
pub const MAX_INLINE_SUBJECTS: usize = 256;

/// How a disclosure ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every byte went out.
    Sent,
    /// The engine stopped the body (a contract violation).
    AbortedPolicy,
    /// An integrity check failed.
    AbortedIntegrity,
    /// The upstream failed mid-body.
    UpstreamError,
    /// The partner went away.
    ClientGone,
    /// The partner stopped taking the response (no progress for `send_timeout_ms`): the stream
    /// was reset and the upstream released.
    SendTimeout,
}

impl Outcome {
    fn code(self) -> u8 {
        self as u8
    }
    fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            0 => Outcome::Sent,
            1 => Outcome::AbortedPolicy,
            2 => Outcome::AbortedIntegrity,
            3 => Outcome::UpstreamError,
            4 => Outcome::ClientGone,
            5 => Outcome::SendTimeout,
            _ => return None,
        })
    }
    /// Name as in the JSON rendering and queries.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::AbortedPolicy => "aborted_policy",
            Outcome::AbortedIntegrity => "aborted_integrity",
            Outcome::UpstreamError => "upstream_error",
            Outcome::ClientGone => "client_gone",
            Outcome::SendTimeout => "send_timeout",
        }
    }

    /// Every outcome, in code order (what `ledger query --outcome` accepts).
    pub const ALL: [Outcome; 6] = [
        Outcome::Sent,
        Outcome::AbortedPolicy,
        Outcome::AbortedIntegrity,
        Outcome::UpstreamError,
        Outcome::ClientGone,
        Outcome::SendTimeout,
    ];

    /// The outcome named `name` (as [`as_str`](Self::as_str) spells it).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

/// The start of a disclosure: durable before the first byte goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// Request id.
    pub request_id: String,
    /// Trace id (empty when none).
    pub trace_id: String,
    /// Partner id.
    pub partner: String,
    /// SHA-256 of the partner certificate's SubjectPublicKeyInfo (zero for the push flow).
    pub spki_sha256: [u8; 32],
    /// Certificate serial, hex.
    pub serial: String,
    /// Contract id.
    pub contract: String,
    /// Route template (never the raw path).
    pub route: String,
    /// `pull` or `push`.
    pub flow: String,
    /// Policy SHA-256.
    pub policy_version: [u8; 32],
    /// Keyed hash (HMAC-SHA256 under the subject key, see
    /// [`SubjectKey::target_hash`](sluice_policy::pseudonym::SubjectKey::target_hash)) of the
    /// exact path and query sent upstream: the resource disclosed, provable by whoever holds the
    /// key, without putting the identifiers a path carries in the log. `None` in entries written
    /// before it was recorded.
    pub target: Option<[u8; 32]>,
    /// Keyed hash (under the same key, see
    /// [`SubjectKey::headers_hash`](sluice_policy::pseudonym::SubjectKey::headers_hash)) of the
    /// header fields the route named that crossed with the message, exactly as sent. `None`
    /// when none did (or in entries written before it was recorded).
    pub headers: Option<[u8; 32]>,
}

impl Begin {
    /// Adds the keyed hashes it holds to its JSON view (`target_hmac`, `headers_hmac`): the one
    /// place both views of a begin — an entry, a joined disclosure — name them.
    pub(crate) fn add_hashes(&self, v: &mut Value) {
        let hex = sluice_policy::hex::hex;
        if let Some(t) = &self.target {
            v["target_hmac"] = json!(hex(t));
        }
        if let Some(h) = &self.headers {
            v["headers_hmac"] = json!(hex(h));
        }
    }
}

/// Per-path counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldCounts {
    /// Structural path (shared with the policy's program while the entry is written).
    pub path: std::sync::Arc<str>,
    /// kept, masked, hashed, redacted, stripped.
    pub counts: [u64; 5],
}

/// The end of a disclosure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    /// Sequence number of the begin entry.
    pub begin: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Bytes that went out.
    pub bytes_sent: u64,
    /// SHA-256 of exactly those bytes.
    pub sha256_sent: [u8; 32],
    /// Records.
    pub records: u64,
    /// Records dropped for withdrawn consent.
    pub records_dropped: u64,
    /// Per-path counts.
    pub fields: Vec<FieldCounts>,
    /// Number of data subjects.
    pub subject_count: u64,
    /// Keyed subject hashes (at most [`MAX_INLINE_SUBJECTS`], sorted).
    pub subjects: Vec<[u8; 32]>,
    /// SHA-256 of the sorted subject list when it was too long to inline (zero otherwise).
    pub subjects_digest: [u8; 32],
    /// Integrity check result (`none`, `ok`, ...).
    pub integrity: String,
}

impl End {
    /// The end of disclosure `begin` with `outcome`, nothing sent or counted yet, no integrity
    /// check: the fields a caller then fills in.
    pub fn new(begin: u64, outcome: Outcome) -> Self {
        Self {
            begin,
            outcome,
            bytes_sent: 0,
            sha256_sent: [0; 32],
            records: 0,
            records_dropped: 0,
            fields: Vec::new(),
            subject_count: 0,
            subjects: Vec::new(),
            subjects_digest: [0; 32],
            integrity: "none".into(),
        }
    }
}

/// A ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A sluice instance started writing this log.
    InstanceStarted {
        /// The log's origin.
        origin: String,
        /// Build.
        build: String,
    },
    /// A policy came into force.
    PolicyLoaded {
        /// Its SHA-256.
        policy_sha256: [u8; 32],
    },
    /// A disclosure started.
    Begin(Box<Begin>),
    /// A disclosure ended.
    End(Box<End>),
    /// A begin without an end, found at restart.
    Incomplete {
        /// Sequence number of the begin entry.
        begin: u64,
    },
    /// An instance started with keys other than the last ones recorded (or the first time): their
    /// check values ([`super::keycheck`]).
    KeysLoaded(super::keycheck::KeyChecks),
}

/// A decoded entry with its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Sequence number (its index in the log).
    pub seq: u64,
    /// Milliseconds since the Unix epoch, by the proxy's clock.
    pub time_ms: u64,
    /// The entry.
    pub entry: Entry,
}

struct W<'a>(&'a mut Vec<u8>);
impl W<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn str(&mut self, s: &str) {
        let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
        self.0.extend_from_slice(&(b.len() as u16).to_be_bytes());
        self.0.extend_from_slice(b);
    }
    fn h(&mut self, h: &[u8; 32]) {
        self.0.extend_from_slice(h);
    }
}

struct R<'a>(&'a [u8]);
impl R<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u16()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn h(&mut self) -> Option<[u8; 32]> {
        self.take(32).map(|b| b.try_into().expect("32 bytes"))
    }
}

const VERSION: u8 = 1;

/// The entry kinds of [`VERSION`] this build writes and reads.
const KINDS: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

/// Why bytes with an intact checksum are not an entry this build reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    /// A format version or an entry kind this build does not know: a newer sluice wrote it (a
    /// build rolled back over a log a newer one wrote). Not damage: read the log with that
    /// version, and do not edit it — every entry is covered by the signed checkpoints.
    #[error(
        "is of format {version}, kind {kind}, which this build of sluice does not read: a newer sluice wrote it; read the log with that version (or a later one) and leave it as it is"
    )]
    Newer {
        /// The entry's format version.
        version: u8,
        /// Its kind.
        kind: u8,
    },
    /// A known kind whose fields do not decode.
    #[error("is not a valid entry encoding")]
    Malformed,
}

impl Record {
    /// The canonical bytes. `Err` when the entry would exceed [`MAX_ENTRY`].
    pub fn encode(&self) -> Result<Vec<u8>, usize> {
        let mut out = Vec::with_capacity(256);
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// The canonical bytes into `out` (cleared first; the writer reuses one buffer for every
    /// record). `Err` with the size when the entry would exceed [`MAX_ENTRY`].
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), usize> {
        out.clear();
        let mut w = W(out);
        w.u8(VERSION);
        w.u8(match &self.entry {
            Entry::InstanceStarted { .. } => 1,
            Entry::PolicyLoaded { .. } => 2,
            Entry::Begin(b) if b.target.is_none() => 3,
            Entry::Begin(b) if b.headers.is_none() => 6,
            Entry::Begin(_) => 7,
            Entry::End(_) => 4,
            Entry::Incomplete { .. } => 5,
            Entry::KeysLoaded(_) => 8,
        });
        w.u64(self.seq);
        w.u64(self.time_ms);
        match &self.entry {
            Entry::InstanceStarted { origin, build } => {
                w.str(origin);
                w.str(build);
            }
            Entry::PolicyLoaded { policy_sha256 } => w.h(policy_sha256),
            Entry::Begin(b) => {
                for s in [&b.request_id, &b.trace_id, &b.partner] {
                    w.str(s);
                }
                w.h(&b.spki_sha256);
                for s in [&b.serial, &b.contract, &b.route, &b.flow] {
                    w.str(s);
                }
                w.h(&b.policy_version);
                if let Some(t) = &b.target {
                    w.h(t);
                    if let Some(h) = &b.headers {
                        w.h(h);
                    }
                }
            }
            Entry::End(e) => {
                w.u64(e.begin);
                w.u8(e.outcome.code());
                w.u64(e.bytes_sent);
                w.h(&e.sha256_sent);
                w.u64(e.records);
                w.u64(e.records_dropped);
                w.0.extend_from_slice(
                    &(e.fields.len().min(u16::MAX as usize) as u16).to_be_bytes(),
                );
                for f in e.fields.iter().take(u16::MAX as usize) {
                    w.str(&f.path);
                    for c in f.counts {
                        w.u64(c);
                    }
                }
                w.u64(e.subject_count);
                w.0.extend_from_slice(&(e.subjects.len() as u16).to_be_bytes());
                for s in &e.subjects {
                    w.h(s);
                }
                w.h(&e.subjects_digest);
                w.str(&e.integrity);
            }
            Entry::Incomplete { begin } => w.u64(*begin),
            Entry::KeysLoaded(k) => {
                w.h(&k.subject);
                w.h(&k.pseudonym);
            }
        }
        match out.len() {
            len if len > MAX_ENTRY => Err(len),
            _ => Ok(()),
        }
    }

    /// Decodes canonical bytes; `None` if they are not an entry this build reads
    /// ([`read`](Self::read) says why).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        Self::read(bytes).ok()
    }

    /// Decodes canonical bytes, or says why they are not an entry this build reads: of a format
    /// version or kind it does not know (a newer sluice wrote them), or malformed.
    pub fn read(bytes: &[u8]) -> Result<Self, Unreadable> {
        let (version, kind) = match bytes {
            [v, k, ..] => (*v, *k),
            _ => return Err(Unreadable::Malformed),
        };
        if version != VERSION || !KINDS.contains(&kind) {
            return Err(Unreadable::Newer { version, kind });
        }
        Self::decode_known(bytes).ok_or(Unreadable::Malformed)
    }

    fn decode_known(bytes: &[u8]) -> Option<Self> {
        let mut r = R(bytes);
        r.u8()?;
        let kind = r.u8()?;
        let seq = r.u64()?;
        let time_ms = r.u64()?;
        let entry = match kind {
            1 => Entry::InstanceStarted {
                origin: r.str()?,
                build: r.str()?,
            },
            2 => Entry::PolicyLoaded {
                policy_sha256: r.h()?,
            },
            3 | 6 | 7 => Entry::Begin(Box::new(Begin {
                request_id: r.str()?,
                trace_id: r.str()?,
                partner: r.str()?,
                spki_sha256: r.h()?,
                serial: r.str()?,
                contract: r.str()?,
                route: r.str()?,
                flow: r.str()?,
                policy_version: r.h()?,
                target: if kind >= 6 { Some(r.h()?) } else { None },
                headers: if kind == 7 { Some(r.h()?) } else { None },
            })),
            4 => {
                let begin = r.u64()?;
                let outcome = Outcome::from_code(r.u8()?)?;
                let bytes_sent = r.u64()?;
                let sha256_sent = r.h()?;
                let records = r.u64()?;
                let records_dropped = r.u64()?;
                let n = r.u16()?;
                let mut fields = Vec::new();
                for _ in 0..n {
                    let path = r.str()?;
                    let mut counts = [0u64; 5];
                    for c in &mut counts {
                        *c = r.u64()?;
                    }
                    fields.push(FieldCounts {
                        path: path.into(),
                        counts,
                    });
                }
                let subject_count = r.u64()?;
                let n = r.u16()?;
                let mut subjects = Vec::new();
                for _ in 0..n {
                    subjects.push(r.h()?);
                }
                Entry::End(Box::new(End {
                    begin,
                    outcome,
                    bytes_sent,
                    sha256_sent,
                    records,
                    records_dropped,
                    fields,
                    subject_count,
                    subjects,
                    subjects_digest: r.h()?,
                    integrity: r.str()?,
                }))
            }
            5 => Entry::Incomplete { begin: r.u64()? },
            8 => Entry::KeysLoaded(super::keycheck::KeyChecks {
                subject: r.h()?,
                pseudonym: r.h()?,
            }),
            _ => return None,
        };
        r.0.is_empty().then_some(Record {
            seq,
            time_ms,
            entry,
        })
    }

    /// The JSON rendering for people.
    pub fn to_json(&self) -> Value {
        let hex = sluice_policy::hex::hex;
        let mut v = match &self.entry {
            Entry::InstanceStarted { origin, build } => {
                json!({"kind": "instance.started", "origin": origin, "build": build})
            }
            Entry::PolicyLoaded { policy_sha256 } => {
                json!({"kind": "policy.loaded", "policy_sha256": hex(policy_sha256)})
            }
            Entry::Begin(b) => {
                let mut v = json!({
                    "kind": "disclosure.begin", "request_id": b.request_id, "trace_id": b.trace_id, "partner": b.partner,
                    "spki_sha256": hex(&b.spki_sha256), "serial": b.serial, "contract": b.contract, "route": b.route,
                    "flow": b.flow, "policy_version": hex(&b.policy_version),
                });
                b.add_hashes(&mut v);
                v
            }
            Entry::End(e) => json!({
                "kind": "disclosure.end", "begin": e.begin, "outcome": e.outcome.as_str(), "bytes_sent": e.bytes_sent,
                "sha256_sent": hex(&e.sha256_sent), "records": e.records, "records_dropped": e.records_dropped,
                "fields": e.fields.iter().map(|f| json!({"path": &*f.path, "kept": f.counts[0], "masked": f.counts[1], "hashed": f.counts[2], "redacted": f.counts[3], "stripped": f.counts[4]})).collect::<Vec<_>>(),
                "subject_count": e.subject_count, "subjects": e.subjects.iter().map(|s| hex(s)).collect::<Vec<_>>(),
                "subjects_digest": hex(&e.subjects_digest), "integrity": e.integrity,
            }),
            Entry::Incomplete { begin } => json!({"kind": "disclosure.incomplete", "begin": begin}),
            Entry::KeysLoaded(k) => json!({
                "kind": "keys.loaded", "subject_key_check": hex(&k.subject),
                "pseudonym_key_check": hex(&k.pseudonym),
            }),
        };
        v["seq"] = json!(self.seq);
        v["time_ms"] = json!(self.time_ms);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end() -> End {
        End {
            begin: 7,
            outcome: Outcome::AbortedPolicy,
            bytes_sent: 123,
            sha256_sent: [9; 32],
            records: 2,
            records_dropped: 1,
            fields: vec![FieldCounts {
                path: "$.a[*].name".into(),
                counts: [1, 2, 3, 4, 5],
            }],
            subject_count: 2,
            subjects: vec![[1; 32], [2; 32]],
            subjects_digest: [0; 32],
            integrity: "none".into(),
        }
    }

    #[test]
    fn round_trips_and_is_deterministic() {
        let begin = Begin {
            request_id: "r".into(),
            trace_id: String::new(),
            partner: "acme".into(),
            spki_sha256: [3; 32],
            serial: "0a".into(),
            contract: "c".into(),
            route: "/v1/x/{id}".into(),
            flow: "pull".into(),
            policy_version: [4; 32],
            target: Some([6; 32]),
            headers: None,
        };
        let without_target = Begin {
            target: None,
            ..begin.clone()
        };
        let with_headers = Begin {
            headers: Some([8; 32]),
            ..begin.clone()
        };
        for entry in [
            Entry::Begin(Box::new(without_target)),
            Entry::Begin(Box::new(with_headers)),
            Entry::InstanceStarted {
                origin: "o".into(),
                build: "b".into(),
            },
            Entry::PolicyLoaded {
                policy_sha256: [5; 32],
            },
            Entry::Begin(Box::new(begin)),
            Entry::End(Box::new(end())),
            Entry::Incomplete { begin: 3 },
            Entry::KeysLoaded(super::super::keycheck::KeyChecks {
                subject: [7; 32],
                pseudonym: [9; 32],
            }),
        ] {
            let r = Record {
                seq: 42,
                time_ms: 1_800_000_000_000,
                entry,
            };
            let bytes = r.encode().unwrap();
            assert_eq!(r.encode().unwrap(), bytes);
            assert_eq!(Record::decode(&bytes).unwrap(), r);
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(
                Record::decode(&longer).is_none(),
                "trailing bytes are refused"
            );
        }
    }

    #[test]
    fn an_entry_of_an_unknown_version_or_kind_reads_as_newer_not_malformed() {
        let bytes = Record {
            seq: 1,
            time_ms: 2,
            entry: Entry::Incomplete { begin: 0 },
        }
        .encode()
        .unwrap();
        for (version, kind) in [(2, 5), (1, 0), (1, 9), (1, 255)] {
            let mut b = bytes.clone();
            (b[0], b[1]) = (version, kind);
            assert_eq!(Record::read(&b), Err(Unreadable::Newer { version, kind }));
        }
        assert_eq!(Record::read(&bytes[..1]), Err(Unreadable::Malformed));
        assert_eq!(Record::read(&bytes[..5]), Err(Unreadable::Malformed));
        assert!(Record::read(&bytes).is_ok());
    }

    #[test]
    fn oversized_entries_are_refused() {
        let mut e = end();
        e.fields = (0..2000)
            .map(|i| FieldCounts {
                path: format!("$.a{i}").into(),
                counts: [0; 5],
            })
            .collect();
        let r = Record {
            seq: 0,
            time_ms: 0,
            entry: Entry::End(Box::new(e)),
        };
        assert!(r.encode().is_err());
    }
}
