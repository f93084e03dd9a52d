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

/// Reads and aggregates the ledger in `dir`; `public` is the log's key for verification; `year`
/// defaults to the year of the newest disclosure.
pub fn summarize(dir: &Path, public: &[u8], year: Option<i32>) -> Result<Summary, String> {
    if !dir.is_dir() {
        return Err(format!("{}: not a ledger directory", dir.display()));
    }
    // First pass: counts, origin, field treatment, and the newest disclosure's time. A log that
    // cannot be read still gets a summary: empty, and saying why it does not verify.
    let mut origin = None;
    let mut fields = Fields::default();
    let mut newest = None;
    let walked = read::for_each_entry(dir, |r, _| {
        match &r.entry {
            Entry::InstanceStarted { origin: o, .. } if origin.is_none() => {
                origin = Some(o.clone())
            }
            Entry::Begin(_) => newest = Some(r.time_ms),
            _ => {}
        }
        fields.add(r);
        Ok(())
    });
    let (count, unreadable) = match walked {
        Ok(n) => (n, None),
        Err(e) => (0, Some(e)),
    };
    let mut s = Summary {
        entries: count,
        verified: super::verify::verify_dir(dir, public)
            .map(|r| {
                format!(
                    "{} entries, {} signed checkpoints, root {}",
                    r.entries, r.checkpoints, r.root
                )
            })
            .map_err(|p| p.0)
            .and_then(|ok| unreadable.clone().map_or(Ok(ok), Err)),
        checkpoint: super::store::latest_checkpoint(dir).ok().flatten(),
        origin: origin.unwrap_or_default(),
        per_day: BTreeMap::new(),
        fields: if unreadable.is_none() {
            fields.by_contract
        } else {
            BTreeMap::new()
        },
        outcomes: BTreeMap::new(),
        year: 0,
        subjects: BTreeMap::new(),
        subjects_uncounted: BTreeMap::new(),
        subjects_total: 0,
    };
    s.year = year.unwrap_or_else(|| {
        newest.map_or(time::OffsetDateTime::now_utc().year(), |t| day_of(t).year())
    });
    if unreadable.is_some() {
        s.entries = 0;
        return Ok(s);
    }
    // Second pass: the disclosures.
    let mut all = HashSet::new();
    read::for_each_disclosure(dir, |(v, subjects, time_ms)| {
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
            all.insert(h);
        }
    })?;
    s.subjects_total = all.len() as u64;
    Ok(s)
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
                    let t = paths.entry(f.path.clone()).or_default();
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
