//! Key files: 32 raw bytes, or 64 hex digits with optional surrounding whitespace; and the admin
//! listener's bearer-token file.

use std::path::Path;

/// Reads a 32-byte key file.
pub fn read_key_file(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    if bytes.len() == 32 {
        return Ok(bytes);
    }
    let text = String::from_utf8_lossy(&bytes);
    if let Some(key) = sluice_policy::hex::decode32(text.trim()) {
        return Ok(key.to_vec());
    }
    Err(format!(
        "{}: expected 32 raw bytes or 64 hex digits, got {} bytes",
        path.display(),
        bytes.len()
    ))
}

/// Reads the admin bearer token (one line of at least 32 characters) and returns its SHA-256:
/// only the digest is kept, and requests are compared against it.
pub fn read_token(path: &std::path::Path) -> Result<[u8; 32], String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let token = text.trim();
    if token.len() < 32 || token.contains(char::is_whitespace) {
        return Err(format!(
            "{}: expected one line of at least 32 characters without spaces (e.g. `openssl rand -hex 32`)",
            path.display()
        ));
    }
    Ok(token_digest(token.as_bytes()))
}

/// SHA-256 of a bearer token (what is kept and compared).
pub fn token_digest(token: &[u8]) -> [u8; 32] {
    ring::digest::digest(&ring::digest::SHA256, token)
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes")
}
