//! A counter family: one counter per combination of label values, found without allocating.
//!
//! The hot path looks a series up by borrowed label values (`[&str; N]`) in a map keyed by owned
//! ones (`[Box<str>; N]`): `hashbrown`'s `Equivalent` lets the two meet, because an array of
//! `&str` hashes exactly as an array of `Box<str>` does. A series is created (and its labels
//! allocated) once, on its first use; after that an update is a shared read of the map and an
//! atomic add. The label *names* are fixed per family, so nothing but the values declared by the
//! typed recording methods in [`super`] can ever become a label.

use std::hash::{Hash, Hasher};
use std::sync::RwLock;

use hashbrown::{Equivalent, HashMap};
use prometheus_client::metrics::counter::Counter;

/// Label values borrowed for a lookup.
#[derive(Debug)]
struct Lookup<'a, const N: usize>([&'a str; N]);

impl<const N: usize> Hash for Lookup<'_, N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The same bytes `[Box<str>; N]` feeds the hasher: the length, then each string.
        self.0.hash(state)
    }
}

impl<const N: usize> Equivalent<[Box<str>; N]> for Lookup<'_, N> {
    fn equivalent(&self, key: &[Box<str>; N]) -> bool {
        self.0.iter().zip(key).all(|(a, b)| *a == &**b)
    }
}

/// Counters by label values.
#[derive(Debug)]
pub struct CounterFamily<const N: usize> {
    /// Label names, in order.
    pub keys: [&'static str; N],
    series: RwLock<HashMap<[Box<str>; N], Counter>>,
}

impl<const N: usize> CounterFamily<N> {
    /// A family with these label names.
    pub fn new(keys: [&'static str; N]) -> Self {
        CounterFamily {
            keys,
            series: RwLock::default(),
        }
    }

    /// Adds `by` to the series of `values`.
    pub fn add(&self, values: [&str; N], by: u64) {
        if by == 0 {
            return;
        }
        let lookup = Lookup(values);
        if let Some(c) = self
            .series
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&lookup)
        {
            c.inc_by(by);
            return;
        }
        let owned = values.map(Box::<str>::from);
        self.series
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(owned)
            .or_default()
            .inc_by(by);
    }

    /// Every series: label values and count, sorted by label values (a stable exposition).
    fn collect(&self) -> Vec<([Box<str>; N], u64)> {
        let mut all: Vec<_> = self
            .series
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, c)| (k.clone(), c.get()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

/// The series of a counter family as label pairs, whatever its number of labels.
pub trait Rows {
    /// Every series: its labels and count.
    fn rows(&self) -> Vec<(super::Labels, u64)>;
}

impl<const N: usize> Rows for CounterFamily<N> {
    fn rows(&self) -> Vec<(super::Labels, u64)> {
        self.collect()
            .into_iter()
            .map(|(values, n)| {
                let labels = self
                    .keys
                    .iter()
                    .copied()
                    .zip(values.iter().map(|v| v.to_string()))
                    .collect();
                (labels, n)
            })
            .collect()
    }
}

/// The process's dropped log lines ([`crate::logging`]): one series without labels, read at
/// scrape time.
#[derive(Debug)]
pub struct LogLinesDropped;

impl Rows for LogLinesDropped {
    fn rows(&self) -> Vec<(super::Labels, u64)> {
        vec![(Vec::new(), crate::logging::dropped_lines())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_lookups_find_the_series_their_first_use_created() {
        let f = CounterFamily::new(["partner", "contract"]);
        f.add(["acme", "c1"], 2);
        f.add(["acme", "c1"], 3);
        f.add(["acme", "c2"], 1);
        f.add(["acme", "c3"], 0);
        let all = f.collect();
        assert_eq!(all.len(), 2, "a zero add creates no series");
        assert_eq!(&*all[0].0[1], "c1");
        assert_eq!(all[0].1, 5);
        assert_eq!(all[1].1, 1);
    }
}
