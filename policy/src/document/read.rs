//! A small typed reader over a parsed TOML table that records a [`Problem`](super::Problem) for
//! every missing, mistyped or unknown key instead of stopping at the first, so that a reviewer
//! fixes a policy in one pass. (serde's `deny_unknown_fields` stops at the first error, which is
//! why the policy is not read with derived `Deserialize`.)

use super::problems::{Problems, describe, join};

/// A table being read at `path`; `finish` reports every key that was not asked for.
#[derive(Debug)]
pub(crate) struct TableReader<'a> {
    pub path: String,
    table: &'a toml::Table,
    allowed: &'static [&'static str],
}

impl<'a> TableReader<'a> {
    pub fn new(
        path: impl Into<String>,
        table: &'a toml::Table,
        allowed: &'static [&'static str],
    ) -> Self {
        Self {
            path: path.into(),
            table,
            allowed,
        }
    }

    /// Reports keys that are not in `allowed`.
    pub fn check_unknown(&self, problems: &mut Problems) {
        for key in self.table.keys() {
            if !self.allowed.contains(&key.as_str()) {
                problems.push(
                    join(&self.path, key),
                    format!("unknown key; expected one of: {}", self.allowed.join(", ")),
                );
            }
        }
    }

    pub fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// A required value; a problem when missing.
    pub fn required(
        &self,
        key: &str,
        expected: &str,
        problems: &mut Problems,
    ) -> Option<&'a toml::Value> {
        let v = self.table.get(key);
        if v.is_none() {
            problems.push(self.key_path(key), format!("missing; expected {expected}"));
        }
        v
    }

    /// A required non-empty string.
    pub fn string(&self, key: &str, problems: &mut Problems) -> Option<&'a str> {
        let v = self.required(key, "a non-empty string", problems)?;
        self.as_string(key, v, problems)
    }

    /// An optional non-empty string.
    pub fn opt_string(&self, key: &str, problems: &mut Problems) -> Option<&'a str> {
        let v = self.table.get(key)?;
        self.as_string(key, v, problems)
    }

    fn as_string(&self, key: &str, v: &'a toml::Value, problems: &mut Problems) -> Option<&'a str> {
        match v.as_str() {
            Some(s) if !s.trim().is_empty() => Some(s),
            _ => {
                problems.push(
                    self.key_path(key),
                    format!("got {}, expected a non-empty string", describe(v)),
                );
                None
            }
        }
    }

    /// An optional table.
    pub fn opt_table(&self, key: &str, problems: &mut Problems) -> Option<&'a toml::Table> {
        let v = self.table.get(key)?;
        match v.as_table() {
            Some(t) => Some(t),
            None => {
                problems.push(
                    self.key_path(key),
                    format!("got {}, expected a table", describe(v)),
                );
                None
            }
        }
    }

    /// An optional array of tables (`[[key]]`), each with its index.
    pub fn tables(&self, key: &str, problems: &mut Problems) -> Vec<(usize, &'a toml::Table)> {
        let Some(v) = self.table.get(key) else {
            return Vec::new();
        };
        let Some(items) = v.as_array() else {
            problems.push(
                self.key_path(key),
                format!(
                    "got {}, expected an array of tables ([[{key}]])",
                    describe(v)
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.as_table() {
                Some(t) => out.push((i, t)),
                None => problems.push(
                    format!("{}[{i}]", self.key_path(key)),
                    format!("got {}, expected a table", describe(item)),
                ),
            }
        }
        out
    }

    /// An optional positive integer that fits `u32`.
    pub fn opt_u32(&self, key: &str, problems: &mut Problems) -> Option<u32> {
        let v = self.table.get(key)?;
        match v
            .as_integer()
            .and_then(|i| u32::try_from(i).ok())
            .filter(|&i| i > 0)
        {
            Some(i) => Some(i),
            None => {
                problems.push(
                    self.key_path(key),
                    format!("got {}, expected a positive integer", describe(v)),
                );
                None
            }
        }
    }

    /// Whether the table has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// An optional boolean (absent: `false`).
    pub fn opt_bool(&self, key: &str, problems: &mut Problems) -> bool {
        match self.table.get(key) {
            None => false,
            Some(toml::Value::Boolean(b)) => *b,
            Some(v) => {
                problems.push(
                    self.key_path(key),
                    format!("got {}, expected true or false", describe(v)),
                );
                false
            }
        }
    }

    /// An optional array of non-empty strings, each checked by `valid` (which names what it
    /// expects when it refuses).
    pub fn opt_strings(
        &self,
        key: &str,
        valid: impl Fn(&str) -> Result<(), &'static str>,
        problems: &mut Problems,
    ) -> Vec<String> {
        let Some(v) = self.table.get(key) else {
            return Vec::new();
        };
        let Some(items) = v.as_array() else {
            problems.push(
                self.key_path(key),
                format!("got {}, expected an array of strings", describe(v)),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(s) => match valid(s) {
                    Ok(()) => out.push(s.to_string()),
                    Err(want) => problems.push(
                        format!("{}[{i}]", self.key_path(key)),
                        format!("got {}, expected {want}", describe(item)),
                    ),
                },
                None => problems.push(
                    format!("{}[{i}]", self.key_path(key)),
                    format!("got {}, expected a string", describe(item)),
                ),
            }
        }
        out
    }
}
