//! Keyed pseudonyms (`hash`, `hash:sm3`) and data-subject hashes.
//!
//! Never an unkeyed hash: the space of mobile and ID numbers is small enough to invert a plain
//! SHA-256 in minutes. Each contract gets its own key, derived from one master key with
//! HKDF-SHA256 (info = `sluice/pseudonym/v1/` + contract id), so the same person has the same
//! pseudonym within a contract and unrelated pseudonyms across contracts (partners cannot join
//! their datasets). Subject hashes for the ledger use a separate key that partners never see.
//!
//! Values are NFKC-normalised before hashing, so `１３８…` and `138…` give the same pseudonym.

use hmac::digest::KeyInit;
use hmac::{Mac, SimpleHmac};
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;

use crate::hex::hex_into;

/// HMAC-SHA256 with the key's inner and outer states computed once: each value then costs two
/// compressions. (RustCrypto's, with SHA-NI detected at run time: about half of ring's cost for
/// the short values hashed here, same bytes out — see the tests.)
type HmacSha256 = hmac::Hmac<Sha256>;

/// HMAC-SM3 (GB/T 15852.2 construction over GB/T 32905), its key block hashed once too.
type HmacSm3 = SimpleHmac<sm3::Sm3>;

/// A MAC state ready for messages under `key`.
fn keyed<M: KeyInit>(key: &[u8]) -> M {
    M::new_from_slice(key).expect("HMAC accepts any key length")
}

/// The 32-byte tag of `msg` under a keyed state (which is left as it was, for the next value).
fn tag<M: Mac + Clone>(key: &M, msg: &[u8]) -> [u8; 32] {
    let mut mac = key.clone();
    mac.update(msg);
    mac.finalize()
        .into_bytes()
        .as_slice()
        .try_into()
        .expect("32-byte tag")
}

/// Per-contract pseudonymisation keys.
#[derive(Clone)]
pub struct PseudonymKeys {
    sha256: HmacSha256,
    sm3: HmacSm3,
}

impl std::fmt::Debug for PseudonymKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKeys(..)")
    }
}

struct Len32;
impl ring::hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

fn hkdf(master: &[u8], info: &[u8]) -> [u8; 32] {
    let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"sluice").extract(master);
    let mut out = [0u8; 32];
    prk.expand(&[info], Len32)
        .and_then(|okm| okm.fill(&mut out))
        .expect("32 bytes is a valid HKDF-SHA256 length");
    out
}

impl PseudonymKeys {
    /// Derives the keys of `contract_id` from the master key.
    pub fn derive(master: &[u8], contract_id: &str) -> Self {
        let k = hkdf(
            master,
            format!("sluice/pseudonym/v1/{contract_id}").as_bytes(),
        );
        Self {
            sha256: keyed(&k),
            sm3: keyed(&hkdf(
                master,
                format!("sluice/pseudonym-sm3/v1/{contract_id}").as_bytes(),
            )),
        }
    }

    /// Writes the lowercase hex pseudonym of `value` into `out`.
    pub fn pseudonym(&self, alg: crate::rule::HashAlg, value: &str, out: &mut String) {
        let normalised = nfkc(value);
        match alg {
            crate::rule::HashAlg::HmacSha256 => {
                hex_into(&tag(&self.sha256, normalised.as_bytes()), out)
            }
            crate::rule::HashAlg::HmacSm3 => hex_into(&tag(&self.sm3, normalised.as_bytes()), out),
        }
    }
}

/// HMAC-SM3 (GB/T 15852.2 construction over GB/T 32905).
pub fn hmac_sm3(key: &[u8], msg: &[u8]) -> [u8; 32] {
    tag(&keyed::<HmacSm3>(key), msg)
}

/// The key that turns data-subject identifiers into ledger subject hashes.
#[derive(Clone)]
pub struct SubjectKey(HmacSha256);

impl std::fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectKey(..)")
    }
}

impl SubjectKey {
    /// Derives the subject key from a master key.
    pub fn derive(master: &[u8]) -> Self {
        Self(keyed(&hkdf(master, b"sluice/subject/v1")))
    }

    /// The keyed hash of a request target (path and query, exactly as sent upstream) that the
    /// ledger keeps instead of the target itself: a path carries identifiers. Domain-separated
    /// from subject hashes, and not normalised: the bytes sent are what it proves.
    pub fn target_hash(&self, target: &str) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(b"sluice/target/v1\0");
        mac.update(target.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The keyed hash of the header fields a route named that crossed with a message (each
    /// field's name and value exactly as sent, in the order sent), which the ledger keeps beside
    /// the target's: `sluice/headers/v1\0`, then for each field its name's length (4 bytes, big
    /// endian), the name, its value's length and the value. Domain-separated from the target's
    /// and subjects' hashes.
    pub fn headers_hash<'a>(
        &self,
        fields: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(b"sluice/headers/v1\0");
        for (name, value) in fields {
            for part in [name.as_bytes(), value] {
                let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
                mac.update(&len.to_be_bytes());
                mac.update(part);
            }
        }
        mac.finalize().into_bytes().into()
    }

    /// The subject hash of an identifier: NFKC, separators and invisible characters removed,
    /// ASCII upper case, then HMAC-SHA256.
    pub fn subject_hash(&self, value: &str) -> [u8; 32] {
        self.subject_hash_with(value, &mut String::new())
    }

    /// [`subject_hash`](Self::subject_hash), building the canonical form in `scratch` (so that
    /// a caller hashing many values allocates once).
    pub fn subject_hash_with(&self, value: &str, scratch: &mut String) -> [u8; 32] {
        scratch.clear();
        if value.bytes().all(|b| b.is_ascii_alphanumeric()) {
            // Already canonical but for case (the usual identifier): no normalisation to do.
            scratch.push_str(value);
            scratch.make_ascii_uppercase();
        } else {
            scratch.extend(
                nfkc(value)
                    .chars()
                    .filter(|&c| {
                        !(crate::mask::digits::is_separator(c)
                            || crate::mask::digits::is_invisible(c)
                            || c.is_whitespace())
                    })
                    .map(|c| c.to_ascii_uppercase()),
            );
        }
        tag(&self.0, scratch.as_bytes())
    }
}

fn nfkc(value: &str) -> std::borrow::Cow<'_, str> {
    if value.is_ascii() {
        value.into()
    } else {
        value.nfkc().collect::<String>().into()
    }
}

/// A fixed, public development key. `sluice filter` without `--key-file` uses it and says so.
pub const DEVELOPMENT_KEY: &[u8] = b"sluice-development-key-NOT-SECRET";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::HashAlg;

    #[test]
    fn reference_vectors() {
        // reference/pii-china.md §6.1, key "demo-key-NOT-FOR-PROD", message "11010519491231002X".
        let tag = tag(
            &keyed::<HmacSha256>(b"demo-key-NOT-FOR-PROD"),
            b"11010519491231002X",
        );
        let mut hex = String::new();
        hex_into(&tag, &mut hex);
        assert_eq!(
            hex,
            "7d7c4b0e382d7d0798c3c73b4670cf297ffde4103e403f863af78846802bbc4f"
        );
        hex.clear();
        hex_into(
            &hmac_sm3(b"demo-key-NOT-FOR-PROD", b"11010519491231002X"),
            &mut hex,
        );
        assert_eq!(
            hex,
            "7ac6ff93edbe9ac786a49855b69e111e11b8e5cf28f4ca59b24b65845ab8f049"
        );
    }

    #[test]
    fn hmac_sha256_agrees_with_ring_for_every_key_and_message_length_around_a_block() {
        // Keys shorter than, equal to and longer than the block (hashed first); messages on
        // each side of the one- and two-block padding boundaries.
        for key_len in [0, 1, 32, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 1) as u8).collect();
            let ours = keyed::<HmacSha256>(&key);
            let theirs = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
            for msg_len in (0..=140).chain([1000]) {
                let msg: Vec<u8> = (0..msg_len).map(|i| (i * 13 + key_len) as u8).collect();
                assert_eq!(
                    tag(&ours, &msg)[..],
                    *ring::hmac::sign(&theirs, &msg).as_ref(),
                    "key {key_len} bytes, message {msg_len} bytes"
                );
            }
        }
    }

    #[test]
    fn keyed_states_are_reused_without_carrying_one_value_into_the_next() {
        let keys = PseudonymKeys::derive(b"master", "contract-a");
        let sm3_key = hkdf(b"master", b"sluice/pseudonym-sm3/v1/contract-a");
        let sha_key = hkdf(b"master", b"sluice/pseudonym/v1/contract-a");
        for value in ["13860642414", "31011519751103008X", "", "13860642414"] {
            let (mut sm3, mut sha) = (String::new(), String::new());
            keys.pseudonym(HashAlg::HmacSm3, value, &mut sm3);
            keys.pseudonym(HashAlg::HmacSha256, value, &mut sha);
            let (mut want_sm3, mut want_sha) = (String::new(), String::new());
            hex_into(&hmac_sm3(&sm3_key, value.as_bytes()), &mut want_sm3);
            let fresh = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &sha_key);
            hex_into(
                ring::hmac::sign(&fresh, value.as_bytes()).as_ref(),
                &mut want_sha,
            );
            assert_eq!((sm3, sha), (want_sm3, want_sha), "{value}");
        }
    }

    #[test]
    fn same_within_a_contract_different_across() {
        let a = PseudonymKeys::derive(b"master", "contract-a");
        let b = PseudonymKeys::derive(b"master", "contract-b");
        let (mut x, mut y, mut z) = (String::new(), String::new(), String::new());
        a.pseudonym(HashAlg::HmacSha256, "13860642414", &mut x);
        a.pseudonym(HashAlg::HmacSha256, "１３８６０６４２４１４", &mut y);
        b.pseudonym(HashAlg::HmacSha256, "13860642414", &mut z);
        assert_eq!(x, y, "NFKC first");
        assert_ne!(x, z);
        assert_eq!(x.len(), 64);
    }

    #[test]
    fn subject_hash_ignores_spelling() {
        let k = SubjectKey::derive(b"ledger");
        assert_eq!(
            k.subject_hash("31011519751103008x"),
            k.subject_hash("310115 19751103 008X")
        );
        // The plain-ASCII shortcut and the normalising path agree.
        assert_eq!(
            k.subject_hash("31011519751103008X"),
            k.subject_hash("３１０１１５１９７５１１０３００８ｘ")
        );
        assert_ne!(
            k.subject_hash("31011519751103008X"),
            k.subject_hash("11010519491231002X")
        );
    }
}
