//! What a ledger says, aggregated for people: disclosures and records per partner and contract per
//! day, how each contract's fields were treated, outcomes, distinct data subjects per partner in a
//! calendar year against the cross-border thresholds, and whether the log verifies.
//!
//! Days and years are China Standard Time (UTC+08:00), the regulators' calendar. Only ids, counts
//! and hashes are read from the log; it holds no personal-data values.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use super::entry::{Entry, Record};
use super::read;

/// UTC+08:00 in seconds.
const CST: i64 = 8 * 3600;

/// (partner, contract).
pub type Pair = (String, String);

/// Per-path counts: kept, masked, hashed, redacted, stripped.
pub type Treatment = [u64; 5];

/// The aggregated ledger.
#[derive(Debug)]
pub struct Summary {
    /// The log's origin (from its first `instance.started`).
    pub origin: String,
    /// Entries in the log.
    pub entries: u64,
    /// `YYYY-MM-DD` → (partner, contract) → (disclosures, records).
    pub per_day: BTreeMap<String, BTreeMap<Pair, (u64, u64)>>,
    /// contract → field path → treatment counts.
    pub fields: BTreeMap<String, BTreeMap<String, Treatment>>,
    /// (partner, contract) → outcome → disclosures.
    pub outcomes: BTreeMap<Pair, BTreeMap<String, u64>>,
    /// The calendar year `subjects` covers.
    pub year: i32,
    /// partner → distinct subject hashes disclosed this year (only those recorded individually).
    pub subjects: BTreeMap<String, HashSet<[u8; 32]>>,
    /// partner → subjects counted but not recorded individually (side file missing).
    pub subjects_uncounted: BTreeMap<String, u64>,
    /// Distinct subjects across all partners this year.
    pub subjects_total: u64,
    /// `ledger verify`'s verdict: Ok(summary line) or Err(the first problem).
    pub verified: Result<String, String>,
    /// The latest signed checkpoint note, as stored.
    pub checkpoint: Option<String>,
}

/// The calendar date (CST) of a ledger time.
pub fn day_of(time_ms: u64) -> time::Date {
    let secs = (time_ms / 1000) as i64 + CST;
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN)
}

/// The cross-border regime (CAC, March 2024) for a count of distinct persons in a year.
pub fn cross_border_regime(persons: u64) -> &'static str {
    if persons >= 1_000_000 {
        "security assessment required (≥ 1,000,000 persons)"
    } else if persons >= 100_000 {
        "standard contract or certification (≥ 100,000 persons)"
    } else {
        "below the 100,000-person threshold"
    }
}

/// The first pass over a log (or, on the evidence store, over every replica's): the entry count,
/// the origin, each contract's field treatment, and the newest disclosure's time.
#[derive(Default)]
pub struct EntryPass {
    origin: Option<String>,
    fields: Fields,
    newest: Option<u64>,
    entries: u64,
}

impl std::fmt::Debug for EntryPass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryPass")
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl EntryPass {
    /// Adds one entry (in log order).
    pub fn add(&mut self, r: &Record) {
        match &r.entry {
            Entry::InstanceStarted { origin: o, .. } if self.origin.is_none() => {
                self.origin = Some(o.clone())
            }
            Entry::Begin(_) => self.newest = Some(r.time_ms.max(self.newest.unwrap_or(0))),
            _ => {}
        }
        self.fields.add(r);
        self.entries += 1;
    }

    /// The next entries are another log's (the evidence store streams one origin after another):
    /// its sequence numbers start again.
    pub fn next_log(&mut self) {
        self.fields.open.clear();
    }

    /// Ends the first pass (`origin`, when given, names the logs instead of the first
    /// `instance.started`); the summary's disclosures come next, with [`DisclosurePass::add`].
    pub fn finish(
        self,
        origin: Option<String>,
        year: Option<i32>,
        verified: Result<String, String>,
        checkpoint: Option<String>,
    ) -> DisclosurePass {
        let year = year.unwrap_or_else(|| {
            self.newest
                .map_or(time::OffsetDateTime::now_utc().year(), |t| day_of(t).year())
        });
        DisclosurePass {
            summary: Summary {
                origin: origin.or(self.origin).unwrap_or_default(),
                entries: self.entries,
                per_day: BTreeMap::new(),
                fields: self.fields.by_contract,
                outcomes: BTreeMap::new(),
                year,
                subjects: BTreeMap::new(),
                subjects_uncounted: BTreeMap::new(),
                subjects_total: 0,
                verified,
                checkpoint,
            },
            all: HashSet::new(),
        }
    }
}

/// The second pass: disclosures per day, outcomes, distinct subjects.
#[derive(Debug)]
pub struct DisclosurePass {
    summary: Summary,
    all: HashSet<[u8; 32]>,
}

impl DisclosurePass {
    /// Adds one disclosure (begin joined with end).
    pub fn add(&mut self, (v, subjects, time_ms): read::Disclosure) {
        let s = &mut self.summary;
        let text = |k: &str| v[k].as_str().unwrap_or("").to_string();
        let pair = (text("partner"), text("contract"));
        let records = v["records"].as_u64().unwrap_or(0);
        let day = s.per_day.entry(day_of(time_ms).to_string()).or_default();
        let cell = day.entry(pair.clone()).or_default();
        cell.0 += 1;
        cell.1 += records;
        *s.outcomes
            .entry(pair.clone())
            .or_default()
            .entry(text("outcome"))
            .or_default() += 1;
        if day_of(time_ms).year() != s.year {
            return;
        }
        let count = v["subject_count"].as_u64().unwrap_or(0);
        let missing = count.saturating_sub(subjects.len() as u64);
        if missing > 0 {
            *s.subjects_uncounted.entry(pair.0.clone()).or_default() += missing;
        }
        let set = s.subjects.entry(pair.0).or_default();
        for h in subjects {
            set.insert(h);
            self.all.insert(h);
        }
    }

    /// The summary.
    pub fn finish(mut self) -> Summary {
        self.summary.subjects_total = self.all.len() as u64;
        self.summary
    }
}

/// Reads and aggregates the ledger in `dir`; `public` is the log's key for verification; `year`
/// defaults to the year of the newest disclosure.
pub fn summarize(dir: &Path, public: &[u8], year: Option<i32>) -> Result<Summary, String> {
    if !dir.is_dir() {
        return Err(format!("{}: not a ledger directory", dir.display()));
    }
    // First pass: counts, origin, field treatment, and the newest disclosure's time. A log that
    // cannot be read still gets a summary: empty, and saying why it does not verify.
    let mut first = EntryPass::default();
    let walked = read::for_each_entry(dir, |r, _| {
        first.add(r);
        Ok(())
    });
    let verified = super::verify::verify_dir(dir, public)
        .map(|r| {
            format!(
                "{} entries, {} signed checkpoints, root {}",
                r.entries, r.checkpoints, r.root
            )
        })
        .map_err(|p| p.0);
    let checkpoint = super::store::latest_checkpoint(dir).ok().flatten();
    if let Err(unreadable) = walked {
        // Empty, and saying why it does not verify (verify's own finding first).
        let empty = EntryPass {
            origin: first.origin,
            newest: first.newest,
            ..EntryPass::default()
        };
        let verified = verified.and(Err(unreadable));
        return Ok(empty.finish(None, year, verified, checkpoint).finish());
    }
    // Second pass: the disclosures.
    let mut second = first.finish(None, year, verified, checkpoint);
    read::for_each_disclosure(dir, |d| second.add(d))?;
    Ok(second.finish())
}

/// Field treatment per contract, from each `end` joined with its `begin`, as entries stream by.
#[derive(Default)]
struct Fields {
    /// The contract of each begin not yet ended.
    open: std::collections::HashMap<u64, String>,
    by_contract: BTreeMap<String, BTreeMap<String, Treatment>>,
}

impl Fields {
    fn add(&mut self, r: &Record) {
        match &r.entry {
            Entry::Begin(b) => {
                self.open.insert(r.seq, b.contract.clone());
            }
            Entry::End(e) => {
                let Some(contract) = self.open.remove(&e.begin) else {
                    return;
                };
                let paths = self.by_contract.entry(contract).or_default();
                for f in &e.fields {
                    let t = paths.entry(f.path.to_string()).or_default();
                    for (sum, n) in t.iter_mut().zip(f.counts) {
                        *sum += n;
                    }
                }
            }
            Entry::Incomplete { begin } => {
                self.open.remove(begin);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_china_standard_time() {
        // 2026-03-01T15:59:59Z is 23:59:59 in Beijing; one second later it is 2 March there.
        let t = time::Date::from_calendar_date(2026, time::Month::March, 1)
            .unwrap()
            .with_hms(15, 59, 59)
            .unwrap()
            .assume_utc()
            .unix_timestamp() as u64
            * 1000;
        assert_eq!(day_of(t).to_string(), "2026-03-01");
        assert_eq!(day_of(t + 1000).to_string(), "2026-03-02");
    }

    #[test]
    fn regimes_change_at_the_thresholds() {
        assert_eq!(
            cross_border_regime(99_999),
            "below the 100,000-person threshold"
        );
        assert!(cross_border_regime(100_000).starts_with("standard contract"));
        assert!(cross_border_regime(1_000_000).starts_with("security assessment"));
    }
}
