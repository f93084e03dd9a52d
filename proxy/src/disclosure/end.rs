//! The end of a disclosure as the ledger records it, from how its body ended.

use crate::body::Outcome;

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
