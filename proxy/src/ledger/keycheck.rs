//! Key check values: which subject key and pseudonym key a ledger's entries were made with.
//!
//! A ledger's subject hashes (and the keyed hashes of targets and header fields) are only
//! useful with the key they were made with: `sluice ledger query --subject ID --key-file F` with
//! another key finds nothing, and "no disclosure about this person" is then a wrong answer, not
//! an empty one. So the log records, in a `keys.loaded` entry, a check value of each key — an
//! HMAC of a fixed label under the key, which names the key without revealing it (the payment
//! industry's key check value) — whenever an instance starts with keys other than the last ones
//! recorded. An instance whose subject key is not the ledger's refuses to start (one ledger, one
//! subject key: a rotation starts a new ledger directory); a changed pseudonym key is recorded
//! and warned about (partners' pseudonyms change, the evidence does not). A query checks its key
//! file against the log before it answers.

use ring::hmac;

/// The label each check value is the HMAC of: no identifier, so no subject hash equals it.
const LABEL: &[u8] = b"\0sluice/key-check/v1";

/// The check values of the two keys whose hashes a ledger holds or whose output partners see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyChecks {
    /// Of the subject key (subject hashes, `target_hmac`, `headers_hmac`).
    pub subject: [u8; 32],
    /// Of the pseudonym master key (`hash` rules).
    pub pseudonym: [u8; 32],
}

impl KeyChecks {
    /// The check values of the key files' contents.
    pub fn of(subject_master: &[u8], pseudonym_master: &[u8]) -> Self {
        Self {
            subject: check_value(subject_master),
            pseudonym: check_value(pseudonym_master),
        }
    }
}

/// The check value of one key.
pub fn check_value(key: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), LABEL);
    tag.as_ref().try_into().expect("32 bytes")
}

/// The first bytes of a check value, enough to tell keys apart in a message.
pub fn short(check: &[u8; 32]) -> String {
    sluice_policy::hex::hex(&check[..6])
}

/// Whether a key file whose check value is `check` is the subject key of a log that recorded
/// `recorded` (entry, check value) — `Ok` too for a log that recorded none (written before
/// `keys.loaded` existed: nothing to check against). `origin` names the log in the message.
pub fn subject_key_of(
    check: &[u8; 32],
    recorded: &[(u64, [u8; 32])],
    origin: &str,
) -> Result<(), String> {
    if recorded.is_empty() || recorded.iter().any(|(_, r)| r == check) {
        return Ok(());
    }
    let theirs: Vec<String> = recorded
        .iter()
        .map(|(at, r)| format!("{}… (entry {at})", short(r)))
        .collect();
    Err(format!(
        "{origin}: the key file is not this log's subject key (its check value is {}…, the log's {}): its subject, target and header hashes would match nothing, and \"no disclosure\" would be a wrong answer",
        short(check),
        theirs.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values_tell_keys_apart_and_are_not_the_key() {
        let a = KeyChecks::of(&[1; 32], &[2; 32]);
        assert_eq!(a, KeyChecks::of(&[1; 32], &[2; 32]));
        assert_ne!(a.subject, a.pseudonym);
        assert_ne!(a.subject, KeyChecks::of(&[3; 32], &[2; 32]).subject);
        assert_ne!(a.subject, [1; 32]);
        assert_eq!(short(&a.subject).len(), 12);
    }

    #[test]
    fn a_key_file_is_checked_against_the_recorded_subject_keys() {
        let (a, b) = (check_value(&[1; 32]), check_value(&[2; 32]));
        assert_eq!(subject_key_of(&a, &[], "log"), Ok(()));
        assert_eq!(subject_key_of(&a, &[(3, a)], "log"), Ok(()));
        let e = subject_key_of(&b, &[(3, a)], "log").unwrap_err();
        assert!(
            e.starts_with("log: the key file is not this log's subject key"),
            "{e}"
        );
        assert!(e.contains(&format!("{}… (entry 3)", short(&a))), "{e}");
    }
}
