//! Bodies in GB18030 and GBK (and GB2312, which the Encoding Standard reads as GBK): decoded
//! strictly, filtered as text, and re-encoded in the same charset.
//!
//! The format engines work on UTF-8. A body in another charset goes through a [`Transcoder`]:
//! each chunk is decoded with `encoding_rs` without replacement (an invalid sequence stops the
//! body: `invalid_encoding`, never a U+FFFD), the text is filtered, and what the engine releases
//! is encoded back, again without replacement (a character the charset cannot carry stops the
//! body). Masks, hashes and detectors see the decoded text, full-width digits included.
//!
//! **Byte-exact round trips.** Kept values must go out as the institution wrote them, but the
//! Encoding Standard's decoders are supersets of their encoders: GBK's `0x80` decodes to `€`,
//! which GB18030 encodes as `A2 E3`; a few GB18030-2005 code points decode to characters the 2022
//! encoder writes elsewhere. So the decoded text is encoded again as it is read and compared
//! with the bytes it came from: a body whose bytes would not survive the round trip is refused
//! (`invalid_encoding`), never altered in passing.
//!
//! Counts and the digest in the [`Summary`] are of the body's own bytes (what was read, what was
//! sent); a violation's offset counts bytes of the decoded UTF-8 text, except for encoding
//! failures, which count bytes of the body.

use encoding_rs::{Decoder, DecoderResult, Encoder, EncoderResult, Encoding};

use super::summary::Summary;
use super::violation::{Violation, ViolationKind as V};

/// A body's character set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Charset {
    /// UTF-8 (the default, and the only charset of forms).
    #[default]
    Utf8,
    /// GB 18030 (`charset=gb18030`).
    Gb18030,
    /// GBK (`charset=gbk`, `charset=gb2312`).
    Gbk,
    /// No `charset` parameter: UTF-8, except for XML, whose encoding declaration names the
    /// charset (RFC 7303); a declaration of a charset sluice does not decode is refused.
    Unlabelled,
}

impl Charset {
    /// The charset a `charset` parameter names (case-insensitive), if sluice filters it.
    pub fn from_label(label: &str) -> Option<Self> {
        match label.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(Self::Utf8),
            "gb18030" => Some(Self::Gb18030),
            "gbk" | "gb2312" => Some(Self::Gbk),
            _ => None,
        }
    }

    /// The label sluice writes in an XML declaration (`UTF-8` when unlabelled: the default).
    pub fn xml_label(self) -> &'static str {
        match self {
            Self::Utf8 | Self::Unlabelled => "UTF-8",
            Self::Gb18030 => "GB18030",
            Self::Gbk => "GBK",
        }
    }

    fn encoding(self) -> Option<&'static Encoding> {
        match self {
            Self::Utf8 | Self::Unlabelled => None,
            Self::Gb18030 => Some(encoding_rs::GB18030),
            Self::Gbk => Some(encoding_rs::GBK),
        }
    }
}

/// Decoding in, encoding out, for one body.
pub(crate) struct Transcoder {
    decoder: Decoder,
    encoder: Encoder,
    /// Encodes the decoded text again, for the round-trip check.
    check: Encoder,
    /// Input bytes read and not yet matched by the round trip (at most a chunk and a sequence).
    unmatched: Vec<u8>,
    /// Absolute offset of `unmatched[0]`.
    unmatched_at: u64,
    text: String,
    again: Vec<u8>,
    /// The engine's UTF-8 output not yet encoded (a character cut by a call's end waits).
    utf8: Vec<u8>,
    bytes_in: u64,
    bytes_out: u64,
    digest: ring::digest::Context,
}

impl Transcoder {
    /// A transcoder for `charset`, or `None` for UTF-8 (nothing to do).
    pub(crate) fn new(charset: Charset) -> Option<Self> {
        let encoding = charset.encoding()?;
        Some(Self {
            decoder: encoding.new_decoder_without_bom_handling(),
            encoder: encoding.new_encoder(),
            check: encoding.new_encoder(),
            unmatched: Vec::new(),
            unmatched_at: 0,
            text: String::new(),
            again: Vec::new(),
            utf8: Vec::new(),
            bytes_in: 0,
            bytes_out: 0,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
        })
    }

    /// Decodes `chunk` (the body's end when `last`): the text to filter, or where the body
    /// stops being the charset. On an error the text decoded before it is still returned, so
    /// that a violation the engine finds earlier in the body wins, whatever the split.
    pub(crate) fn decode(&mut self, chunk: &[u8], last: bool) -> (&str, Result<(), Violation>) {
        self.text.clear();
        self.bytes_in += chunk.len() as u64;
        self.unmatched.extend_from_slice(chunk);
        let mut rest = chunk;
        let result = loop {
            let need = self
                .decoder
                .max_utf8_buffer_length_without_replacement(rest.len())
                .expect("a chunk's decoding fits in memory");
            self.text.reserve(need);
            let (r, read) =
                self.decoder
                    .decode_to_string_without_replacement(rest, &mut self.text, last);
            rest = &rest[read..];
            match r {
                DecoderResult::InputEmpty => break Ok(()),
                DecoderResult::OutputFull => continue,
                // The text before the malformed sequence was written; the sequence starts
                // where that text's bytes end, which the round trip below finds.
                DecoderResult::Malformed(..) => break Err(()),
            }
        };
        // The round trip: the text encoded again must be the bytes it was decoded from.
        self.again.clear();
        let need = self
            .check
            .max_buffer_length_from_utf8_without_replacement(self.text.len())
            .expect("a chunk's encoding fits in memory");
        self.again.reserve(need);
        let (r, _) = self.check.encode_from_utf8_to_vec_without_replacement(
            &self.text,
            &mut self.again,
            false,
        );
        let same =
            matches!(r, EncoderResult::InputEmpty) && self.unmatched.starts_with(&self.again);
        let matched = if same {
            self.again.len()
        } else {
            self.again
                .iter()
                .zip(&self.unmatched)
                .take_while(|(a, b)| a == b)
                .count()
        };
        let failed_at = self.unmatched_at + matched as u64;
        let result = match (same, result) {
            (true, Ok(())) => {
                self.unmatched.drain(..matched);
                self.unmatched_at = failed_at;
                Ok(())
            }
            _ => Err(Violation {
                kind: V::InvalidEncoding,
                path: "$".into(),
                offset: failed_at,
            }),
        };
        if result.is_err() {
            // Only the text whose bytes round-tripped goes to the engine: character by
            // character, as long as their bytes lie within the matched prefix.
            let mut encoder = self.check.encoding().new_encoder();
            let mut bytes = 0;
            let mut buf = [0u8; 4];
            let mut one = Vec::with_capacity(8);
            let cut = self
                .text
                .char_indices()
                .find(|&(_, c)| {
                    one.clear();
                    let r = encoder.encode_from_utf8_to_vec_without_replacement(
                        c.encode_utf8(&mut buf),
                        &mut one,
                        false,
                    );
                    bytes += one.len();
                    !matches!(r.0, EncoderResult::InputEmpty) || bytes > matched
                })
                .map_or(self.text.len(), |(i, _)| i);
            self.text.truncate(cut);
        }
        (&self.text, result)
    }

    /// Encodes the engine's new UTF-8 output (`from`) into `out`, the body's end when `last`.
    pub(crate) fn encode(
        &mut self,
        from: &[u8],
        out: &mut Vec<u8>,
        last: bool,
    ) -> Result<(), Violation> {
        self.utf8.extend_from_slice(from);
        let whole = match std::str::from_utf8(&self.utf8) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        let text = std::str::from_utf8(&self.utf8[..whole]).expect("checked");
        let start = out.len();
        let need = self
            .encoder
            .max_buffer_length_from_utf8_without_replacement(text.len())
            .expect("a chunk's encoding fits in memory");
        out.reserve(need);
        let (r, _) = self
            .encoder
            .encode_from_utf8_to_vec_without_replacement(text, out, last);
        let result = match r {
            EncoderResult::InputEmpty => Ok(()),
            EncoderResult::OutputFull => unreachable!("reserved the worst case"),
            EncoderResult::Unmappable(_) => Err(Violation {
                kind: V::InvalidEncoding,
                path: "$".into(),
                offset: self.bytes_in,
            }),
        };
        self.digest.update(&out[start..]);
        self.bytes_out += (out.len() - start) as u64;
        self.utf8.drain(..whole);
        if last && result.is_ok() && !self.utf8.is_empty() {
            unreachable!("the engines release whole characters at the end");
        }
        result
    }

    /// The engine's summary with the body's own counts and digest.
    pub(crate) fn summary(&mut self, mut s: Summary) -> Summary {
        s.bytes_in = self.bytes_in;
        s.bytes_out = self.bytes_out;
        let digest = std::mem::replace(
            &mut self.digest,
            ring::digest::Context::new(&ring::digest::SHA256),
        )
        .finish();
        s.output_sha256 = digest.as_ref().try_into().expect("sha256 is 32 bytes");
        s
    }
}
