//! Why a message signature was refused, as a stable detail code.

/// Why a signature was refused. The code goes into the 401 response's `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No `Signature-Input` / `Signature` pair.
    #[error("missing")]
    Missing,
    /// The fields do not parse, or a label has no matching signature.
    #[error("malformed")]
    Malformed,
    /// No signature names one of the partner's keys.
    #[error("unknown_key")]
    UnknownKey,
    /// A required component is not covered, or a covered field is absent.
    #[error("not_covered")]
    NotCovered,
    /// An algorithm, component or parameter sluice does not verify.
    #[error("unsupported")]
    Unsupported,
    /// `created` is missing.
    #[error("created_missing")]
    CreatedMissing,
    /// `created` is in the future beyond the allowed skew.
    #[error("not_yet_valid")]
    NotYetValid,
    /// `created` is older than the allowed age, or `expires` has passed.
    #[error("expired")]
    Expired,
    /// The signature does not verify.
    #[error("invalid")]
    Invalid,
}

impl SignatureError {
    /// The stable detail code.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::Missing => "missing",
            SignatureError::Malformed => "malformed",
            SignatureError::UnknownKey => "unknown_key",
            SignatureError::NotCovered => "not_covered",
            SignatureError::Unsupported => "unsupported",
            SignatureError::CreatedMissing => "created_missing",
            SignatureError::NotYetValid => "not_yet_valid",
            SignatureError::Expired => "expired",
            SignatureError::Invalid => "invalid",
        }
    }
}
