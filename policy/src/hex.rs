//! Lowercase hexadecimal, the one spelling sluice uses for digests, keys, pseudonyms and ids.
//!
//! Pseudonyms are written for every hashed value of a body, so the writer takes both digits of
//! a byte from one table and appends to a caller's buffer; [`hex`] is the allocating form for
//! everything else (ledger digests, request ids, reports).

/// Lowercase hex of `bytes` appended to `out`.
pub fn hex_into(bytes: &[u8], out: &mut String) {
    // Both digits of a byte from one table.
    static PAIRS: [[u8; 2]; 256] = {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut t = [[0; 2]; 256];
        let mut b = 0;
        while b < 256 {
            t[b] = [HEX[b >> 4], HEX[b & 15]];
            b += 1;
        }
        t
    };
    for chunk in bytes.chunks(32) {
        let mut text = [0u8; 64];
        for (pair, &b) in text.chunks_exact_mut(2).zip(chunk) {
            pair.copy_from_slice(&PAIRS[b as usize]);
        }
        let text = &text[..2 * chunk.len()];
        out.push_str(std::str::from_utf8(text).expect("hex digits are ASCII"));
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    hex_into(bytes, &mut out);
    out
}

/// The value of a hex digit, either case; `None` for any other byte. The one reading of a hex
/// digit, for every reader of hex: keys and pins here, percent escapes in forms, `\u` escapes in
/// JSON.
#[inline]
pub fn digit(b: u8) -> Option<u8> {
    static VALUES: [u8; 256] = {
        let mut t = [u8::MAX; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            t[b] = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => u8::MAX,
            };
            b += 1;
        }
        t
    };
    let v = VALUES[usize::from(b)];
    (v < 16).then_some(v)
}

/// The bytes of `text`: an even number of hex digits, either case; `None` for anything else.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// Exactly 32 bytes from 64 hex digits.
pub fn decode32(text: &str) -> Option<[u8; 32]> {
    decode(text)?.try_into().ok()
}

/// A SHA-256 written as 64 hex digits, colons allowed between them (as openssl prints a
/// fingerprint): key pins and hashes in policies, configurations and lists.
pub fn decode_sha256(text: &str) -> Option<[u8; 32]> {
    let digits: String = text.chars().filter(|&c| c != ':').collect();
    decode32(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_reads_what_encoding_writes_and_nothing_else() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&hex(&all)).unwrap(), all);
        assert_eq!(decode("ABcd"), Some(vec![0xab, 0xcd]));
        for bad in ["a", "zz", "0x", "+1", " 1", "1 "] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        assert_eq!(decode32(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(decode32(&"ab".repeat(31)), None);
    }

    #[test]
    fn a_digit_is_what_the_standard_library_reads_and_nothing_else() {
        for b in 0..=255u8 {
            let std = char::from(b).to_digit(16).map(|d| d as u8);
            assert_eq!(digit(b), std, "{b:#04x}");
        }
    }

    #[test]
    fn every_byte_is_two_lowercase_digits_at_any_length() {
        let all: Vec<u8> = (0..=255).collect();
        let want: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), want);
        // Across the 32-byte pieces the writer works in, and appending to what is there.
        for n in [0, 1, 31, 32, 33, 64, 65] {
            let mut out = String::from("x");
            hex_into(&all[..n], &mut out);
            assert_eq!(out, format!("x{}", &want[..2 * n]));
        }
    }
}
