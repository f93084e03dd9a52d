//! Why the ledger refused to open, or an entry could not be made durable.

/// Why the ledger cannot do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The log cannot be written (disk full, read-only, I/O error): nothing may be disclosed.
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
    /// The log on disk is not the log that was signed.
    #[error("ledger refused: {0}")]
    Tampered(String),
    /// An entry over the size limit.
    #[error("ledger entry of {0} bytes is over the limit")]
    TooLarge(usize),
    /// The configuration names an origin or a subject key other than the ones this log was
    /// written with.
    #[error("ledger refused: {0}")]
    NotThisLedger(String),
    /// Another process holds the ledger directory.
    #[error("ledger refused: {0}")]
    Locked(String),
}
