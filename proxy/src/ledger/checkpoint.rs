//! Signed checkpoints: a C2SP tlog-checkpoint body (`origin`, tree size, base64 root) in a C2SP
//! signed note with an Ed25519 signature (`— <name> base64(keyID ‖ signature)`, keyID =
//! SHA-256(name ‖ `\n` ‖ 0x01 ‖ public key)\[:4\]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use super::merkle::Hash;

/// A checkpoint's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin (also the key name).
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// Merkle root over them.
    pub root: Hash,
}

impl Checkpoint {
    /// The note body that is signed.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a note body.
    pub fn parse_body(body: &str) -> Option<Self> {
        let mut lines = body.strip_suffix('\n')?.split('\n');
        let origin = lines.next()?.to_string();
        let size = lines.next()?.parse().ok()?;
        let root: Hash = B64.decode(lines.next()?).ok()?.try_into().ok()?;
        lines
            .next()
            .is_none()
            .then_some(Self { origin, size, root })
    }
}

fn key_id(name: &str, public: &[u8]) -> [u8; 4] {
    let mut c = ring::digest::Context::new(&ring::digest::SHA256);
    c.update(name.as_bytes());
    c.update(b"\n\x01");
    c.update(public);
    c.finish().as_ref()[..4].try_into().expect("4 bytes")
}

/// Signs a checkpoint into a signed note.
pub fn sign(cp: &Checkpoint, key: &Ed25519KeyPair) -> String {
    let body = cp.body();
    let sig = key.sign(body.as_bytes());
    let mut blob = key_id(&cp.origin, key.public_key().as_ref()).to_vec();
    blob.extend_from_slice(sig.as_ref());
    format!("{body}\n\u{2014} {} {}\n", cp.origin, B64.encode(blob))
}

/// Why a note did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Not a signed note with a checkpoint body.
    #[error("not a signed checkpoint note")]
    Malformed,
    /// No signature line from this key.
    #[error("no signature by the log key")]
    NoSignature,
    /// A signature line from this key that does not verify.
    #[error("bad signature")]
    BadSignature,
}

/// Verifies a signed note against the log's public key; returns the checkpoint.
pub fn verify(note: &str, public: &[u8]) -> Result<Checkpoint, NoteError> {
    let (body, sigs) = note.split_once("\n\n").ok_or(NoteError::Malformed)?;
    let body = format!("{body}\n");
    let cp = Checkpoint::parse_body(&body).ok_or(NoteError::Malformed)?;
    let want = key_id(&cp.origin, public);
    let mut seen = false;
    for line in sigs.lines() {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err(NoteError::Malformed);
        };
        let Some((name, blob)) = rest.split_once(' ') else {
            return Err(NoteError::Malformed);
        };
        let blob = B64.decode(blob).map_err(|_| NoteError::Malformed)?;
        if name != cp.origin || blob.len() != 68 || blob[..4] != want {
            continue; // another key's signature: ignored, as signed-note requires
        }
        seen = true;
        UnparsedPublicKey::new(&ED25519, public)
            .verify(body.as_bytes(), &blob[4..])
            .map_err(|_| NoteError::BadSignature)?;
    }
    if seen {
        Ok(cp)
    } else {
        Err(NoteError::NoSignature)
    }
}

/// The raw Ed25519 public key from a PEM SubjectPublicKeyInfo (`signing.pub`) or 64 hex digits.
pub fn parse_public_key(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if let Some(key) = sluice_policy::hex::decode32(t) {
        return Some(key.to_vec());
    }
    let b64: String = t.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = B64.decode(b64).ok()?;
    // SPKI for Ed25519: 30 2a 30 05 06 03 2b 65 70 03 21 00 ‖ 32-byte key.
    (der.len() == 44
        && der[..12]
            == [
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
            ])
    .then(|| der[12..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    #[test]
    fn sign_verify_and_tamper() {
        let k = key();
        let cp = Checkpoint {
            origin: "bank.example/sluice/1".into(),
            size: 12,
            root: [7; 32],
        };
        let note = sign(&cp, &k);
        assert!(note.starts_with("bank.example/sluice/1\n12\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n\u{2014} bank.example/sluice/1 "));
        assert_eq!(verify(&note, k.public_key().as_ref()).unwrap(), cp);
        let tampered = note.replacen("\n12\n", "\n13\n", 1);
        assert_eq!(
            verify(&tampered, k.public_key().as_ref()),
            Err(NoteError::BadSignature)
        );
        let other = key();
        assert_eq!(
            verify(&note, other.public_key().as_ref()),
            Err(NoteError::NoSignature)
        );
    }
}
