//! Consent withdrawal (PIPL Art. 15): records of subjects who withdrew consent are dropped whole.
//!
//! The list holds subject hashes (see [`SubjectKey`](crate::pseudonym::SubjectKey)), never
//! identifiers. Its text form is one lowercase or uppercase hex hash per line; blank lines and
//! lines starting with `#` are ignored.

use std::collections::HashSet;

/// A set of withdrawn subject hashes.
#[derive(Debug, Clone, Default)]
pub struct ConsentList {
    withdrawn: HashSet<[u8; 32]>,
}

/// A line of a consent list that is not a 64-digit hex hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: expected a 64-digit hex subject hash")]
pub struct ConsentListError {
    /// 1-based line number.
    pub line: usize,
}

impl ConsentList {
    /// Parses the text form.
    pub fn parse(text: &str) -> Result<Self, ConsentListError> {
        let mut withdrawn = HashSet::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let h = crate::hex::decode_sha256(line).ok_or(ConsentListError { line: i + 1 })?;
            withdrawn.insert(h);
        }
        Ok(Self { withdrawn })
    }

    /// A list from hashes.
    pub fn from_hashes(hashes: impl IntoIterator<Item = [u8; 32]>) -> Self {
        Self {
            withdrawn: hashes.into_iter().collect(),
        }
    }

    /// True when this subject withdrew consent.
    pub fn is_withdrawn(&self, subject: &[u8; 32]) -> bool {
        self.withdrawn.contains(subject)
    }

    /// Number of subjects on the list.
    pub fn len(&self) -> usize {
        self.withdrawn.len()
    }

    /// True when the list is empty.
    pub fn is_empty(&self) -> bool {
        self.withdrawn.is_empty()
    }
}
