//! The evidence store: every replica's ledger in one PostgreSQL database, so that the compliance
//! team verifies and queries the whole institution's disclosures at once.
//!
//! The local ledger stays the write-ahead log: a `disclosure.begin` is durable on the replica's
//! own disk before the first byte goes out, and the store is never on the request path. A
//! shipper in every instance (`ship`) copies the log to the store behind it, one signed
//! checkpoint at a time: it reads the entries a new checkpoint covers, checks them against the
//! checkpoint's Merkle root and signature, and inserts entries, subject hashes and checkpoint in
//! one transaction, keyed by origin and sequence number. Nothing is ever updated or deleted: an
//! entry that is already there must be byte for byte the one being shipped, and a checkpoint must
//! agree with the one already stored at its size; anything else (a log restored from an old
//! volume, a rewritten history, another key under the same origin) is refused and recorded as an
//! alarm, and shipping for that origin stops until an operator looks.
//!
//! Plain SQL (tables, indexes, transactions; no extensions), so PostgreSQL and the databases that
//! speak its protocol serve. The schema is versioned and created or migrated by
//! `sluice ledger store init` (`schema`); the compliance commands read the store with the same
//! checks as on a directory (`audit`).

pub mod audit;
pub mod connect;
pub mod schema;
pub mod ship;
mod tail;
pub mod throwaway;

pub use connect::{StoreSettings, StoreUrl};

/// Why the store could not be used. Messages name the store by host, port and database, never
/// with credentials, and never carry a ledger value.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL or the TLS or password settings are wrong.
    #[error("{0}")]
    Settings(String),
    /// Connecting, authenticating or a query failed.
    #[error("{store}: {what}: {detail}")]
    Database {
        /// The store, without credentials.
        store: String,
        /// What was being done.
        what: &'static str,
        /// The server's or the driver's message.
        detail: String,
    },
    /// The schema is missing, older or newer than this binary's.
    #[error("{0}")]
    Schema(String),
    /// The store or the local log disagree with what was already stored or signed.
    #[error("{0}")]
    Refused(String),
    /// The local log could not be read.
    #[error("{0}")]
    Local(String),
}

impl StoreError {
    pub(crate) fn db(store: &StoreUrl, what: &'static str, e: tokio_postgres::Error) -> Self {
        // The driver's Display of a server error is its severity and message only; the source
        // chain adds the detail for I/O and TLS failures.
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let text = s.to_string();
            if !detail.contains(&text) {
                detail = format!("{detail}: {text}");
            }
            source = s.source();
        }
        StoreError::Database {
            store: store.to_string(),
            what,
            detail,
        }
    }
}
