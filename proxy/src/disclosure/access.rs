//! The access-log line, the metrics and the span attributes of a finished disclosure: ids,
//! counts and the outcome — never values.

use sluice_policy::Resolved;

use crate::body::Outcome;

/// The access-log line for a disclosure: ids, counts and the outcome — never values.
pub(super) fn access_logger(
    id: &str,
    partner: &str,
    r: &Resolved<'_>,
    metrics: crate::metrics::Metrics,
    otel: Option<crate::telemetry::SpanHandle>,
) -> crate::body::OnFinish {
    let (id, partner, contract, route) = (
        id.to_string(),
        partner.to_string(),
        r.contract.id.clone(),
        r.route.path.as_str().to_string(),
    );
    Box::new(move |outcome| {
        let name = match &outcome {
            Outcome::Sent(_) => "sent",
            Outcome::Violation(_) => "aborted_policy",
            Outcome::SourceFailed(e)
                if crate::errors::chain_has::<crate::digest::DigestMismatch>(e.as_ref()) =>
            {
                "aborted_integrity"
            }
            Outcome::SourceFailed(_) => "upstream_error",
            Outcome::Dropped => "client_gone",
        };
        metrics.disclosure(&partner, &contract, name);
        if let Some(span) = &otel {
            // The server span ends when this last handle drops, with the body's counts.
            let carried = match &outcome {
                Outcome::Sent(s) => {
                    let t = s.totals();
                    Some(crate::telemetry::attributes::Carried {
                        records: s.records,
                        kept: t.kept,
                        masked: t.masked,
                        hashed: t.hashed,
                        redacted: t.redacted,
                        stripped: t.stripped,
                        bytes_in: s.bytes_in,
                        bytes_out: s.bytes_out,
                    })
                }
                _ => None,
            };
            span.disclosure_ended(name, carried);
        }
        if let Outcome::Sent(s) = &outcome {
            let t = s.totals();
            metrics.sent(
                &partner,
                &contract,
                s.records,
                &[
                    ("kept", t.kept),
                    ("masked", t.masked),
                    ("hashed", t.hashed),
                    ("redacted", t.redacted),
                    ("stripped", t.stripped),
                ],
                (s.bytes_in, s.bytes_out),
            );
        }
        log_disclosure(&id, &partner, &contract, &route, name, outcome);
    })
}

/// The access-log line itself.
fn log_disclosure(
    id: &str,
    partner: &str,
    contract: &str,
    route: &str,
    name: &str,
    outcome: Outcome<'_>,
) {
    match outcome {
        Outcome::Sent(s) => {
            let t = s.totals();
            tracing::info!(request_id = %id, partner = %partner, contract = %contract, route = %route, outcome = "sent", bytes_in = s.bytes_in, bytes_out = s.bytes_out, records = s.records, kept = t.kept, masked = t.masked, hashed = t.hashed, redacted = t.redacted, stripped = t.stripped, "disclosure");
        }
        Outcome::Violation(v) => {
            tracing::warn!(request_id = %id, partner = %partner, contract = %contract, route = %route, outcome = "aborted_policy", reason = v.kind.code(), path = %v.path, offset = v.offset, "disclosure");
        }
        Outcome::SourceFailed(_) => {
            tracing::warn!(request_id = %id, partner = %partner, contract = %contract, route = %route, outcome = name, "disclosure");
        }
        Outcome::Dropped => {
            tracing::warn!(request_id = %id, partner = %partner, contract = %contract, route = %route, outcome = "client_gone", "disclosure");
        }
    }
}
