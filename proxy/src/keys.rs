//! Key files: 32 raw bytes, or 64 hex digits with optional surrounding whitespace.

use std::path::Path;

/// Reads a 32-byte key file.
pub fn read_key_file(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    if bytes.len() == 32 {
        return Ok(bytes);
    }
    let text = String::from_utf8_lossy(&bytes);
    let hex = text.trim();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok((0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex digits"))
            .collect());
    }
    Err(format!(
        "{}: expected 32 raw bytes or 64 hex digits, got {} bytes",
        path.display(),
        bytes.len()
    ))
}
