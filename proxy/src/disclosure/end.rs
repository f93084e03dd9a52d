//! The end of a disclosure as the ledger records it, from how its body ended.

use crate::body::Outcome;

/// Writes `end` once its side file is committed (synced and named): on a blocking thread when a
/// runtime runs — the sync of a large file would otherwise hold the thread that serves the body,
/// and every connection on it, before the body's last bytes — and here otherwise. A side file that
/// cannot be committed leaves the entry with the count only, as a failed spill does.
pub(super) fn after_commit(
    side: crate::ledger::subjects::SideFile,
    mut end: crate::ledger::End,
    ledger: std::sync::Arc<crate::ledger::Ledger>,
) {
    let commit = move || {
        if let Err(e) = side.commit() {
            tracing::error!(error = %e, "writing the subject side file failed; the entry records the count only");
            end.subjects_digest = [0; 32];
        }
        ledger.append_detached(crate::ledger::Entry::End(Box::new(end)));
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(commit)),
        Err(_) => commit(),
    }
}

/// The `disclosure.end` for how a body ended; `stored` says where a sent body's subjects went
/// (inline, or a side file whose digest the entry keeps — see [`crate::ledger::subjects`]).
pub(super) fn end_entry(
    begin: u64,
    outcome: &Outcome<'_>,
    stored: Option<std::io::Result<crate::ledger::subjects::Stored>>,
) -> crate::ledger::End {
    use crate::ledger::{End, FieldCounts, Outcome as O};
    let mut end = End::new(begin, O::Sent);
    match outcome {
        Outcome::Sent(s) => {
            end.bytes_sent = s.bytes_out;
            end.sha256_sent = s.output_sha256;
            end.records = s.records;
            end.records_dropped = s.records_dropped;
            end.fields = s
                .fields
                .iter()
                .map(|f| FieldCounts {
                    path: f.path.clone(),
                    counts: [f.kept, f.masked, f.hashed, f.redacted, f.stripped],
                })
                .collect();
            end.subject_count = s.subject_count;
            match stored {
                Some(Ok(crate::ledger::subjects::Stored::Inline(subjects))) => {
                    end.subjects = subjects;
                }
                Some(Ok(crate::ledger::subjects::Stored::Side { digest, .. })) => {
                    end.subjects_digest = digest;
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, "writing the subject side file failed; the entry records the count only");
                }
                None => {}
            }
        }
        Outcome::Violation(_) => end.outcome = O::AbortedPolicy,
        Outcome::SourceFailed(e)
            if crate::errors::chain_has::<crate::digest::DigestMismatch>(e.as_ref()) =>
        {
            end.outcome = O::AbortedIntegrity
        }
        Outcome::SourceFailed(_) => end.outcome = O::UpstreamError,
        Outcome::Dropped => end.outcome = O::ClientGone,
    }
    end
}
