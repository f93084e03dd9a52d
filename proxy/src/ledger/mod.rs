//! The disclosure ledger: a tamper-evident, signed, append-only log of every disclosure.
//!
//! One log per proxy instance, in a directory:
//! ```text
//! segment-00000000.log        records: u32 length | u32 crc32c | canonical entry
//! checkpoints.log             C2SP signed notes (Ed25519) over the RFC 6962 tree root, framed
//!                             as segment records, oldest first (`notes`)
//! policies/<sha256>.toml      every policy that was in force, under its hash
//! LOCK                        held (flock) by the one process writing this ledger
//! ```
//! Writes are group-committed: one `fdatasync` per batch, into a segment preallocated ahead of its
//! records so that the sync flushes data only (`writer`), at the moment the runtime's workers go
//! idle (`idle`), and the batch's waiters are answered with one wake-up of the runtime
//! (`answers`). A `disclosure.begin` is durable before
//! the first byte goes to the partner; if the ledger cannot write, nothing is disclosed. A
//! `disclosure.end` nobody waits for rides with the next batch, durable within 10 ms (`queue`). On open, a torn tail is cut, the tree is rebuilt and checked
//! against the last signed checkpoint (a shorter or different log refuses to start), every
//! `begin` without an `end` gets a `disclosure.incomplete`, and `instance.started` is appended.

mod answers;
pub mod checkpoint;
pub mod entry;
mod error;
pub mod html;
pub mod idle;
pub mod keycheck;
pub mod lock;
pub mod merkle;
pub mod notes;
mod queue;
pub mod read;
#[cfg(test)]
mod scratch;
pub mod segment;
pub mod store;
pub mod subjects;
pub mod summary;
pub mod verify;
mod writer;

pub use entry::{Begin, End, Entry, FieldCounts, Outcome, Record, Unreadable};
pub use store::{CommitDelay, Ledger, LedgerError, LedgerOptions, Recovery};
