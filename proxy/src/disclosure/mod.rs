//! One disclosure, from the durable `disclosure.begin` to its one end.
//!
//! [`Disclosure::begin`] makes the begin entry durable (nothing may go out before) and returns
//! the disclosure, which hands out what the response needs — the `Sluice-Disclosure` value and,
//! for the body, [`Disclosure::into_body`]: where the body's subject hashes go while it streams
//! and the callback that ends it. It is finished exactly once: by the body, with how the body
//! ended ([`Outcome`]); or, when it is dropped before a body took it (a refusal after the begin),
//! as `client_gone` with nothing sent. A request cancelled while the begin is being written is
//! ended by the ledger itself (see `Ledger::append_begin`).
//!
//! The end writes `disclosure.end` (outcome, bytes and digest of what was sent, counts, subjects),
//! the access-log line, the metrics and the span's attributes — ids, counts and reasons, never a
//! value (the `access` module).

mod access;
mod end;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use http::HeaderValue;
use sluice_certs::PeerIdentity;
use sluice_policy::Resolved;

use crate::body::{OnFinish, Outcome, SubjectSink};
use crate::errors::Reason;
use crate::ledger::{Begin, Entry, Ledger};

/// What recording a disclosure needs from the process: the ledger, the metrics, where subject
/// side files go, and the key that hashes request targets.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// The ledger (`None` only for `config check`, which never serves).
    pub ledger: Option<Arc<Ledger>>,
    /// Counters and histograms.
    pub metrics: crate::metrics::Metrics,
    /// `LEDGER/subjects`: side files of long subject lists.
    pub subjects_dir: PathBuf,
    /// Hashes the exact path and query sent upstream (the begin's `target_hmac`).
    pub target_key: sluice_policy::pseudonym::SubjectKey,
}

/// The request a disclosure belongs to.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    /// Request id (hex).
    pub id: Arc<str>,
    /// W3C trace id (empty when none).
    pub trace: crate::tracecontext::TraceId,
    /// The request's server span, when telemetry exports.
    pub otel: Option<crate::telemetry::SpanHandle>,
    /// Set when the connection ended because the partner took none of the response in time.
    pub send_timed_out: Option<crate::conn::SendTimedOut>,
}

/// Who receives, under which contract and route, and what was asked of the upstream.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    /// Partner id.
    pub partner: &'a str,
    /// The partner's certificate (pull; none in the push flow).
    pub peer: Option<&'a PeerIdentity>,
    /// Contract and route.
    pub resolved: &'a Resolved<'a>,
    /// The policy's SHA-256.
    pub policy_version: [u8; 32],
    /// The path and query sent upstream, exactly.
    pub target: &'a str,
    /// The header fields the route named that cross with the message, as sent.
    pub headers: &'a [(String, Vec<u8>)],
}

/// A disclosure whose begin is durable (see the module docs).
pub struct Disclosure {
    header: HeaderValue,
    finish: Option<OnFinish>,
    sink: Option<SubjectSink>,
}

impl std::fmt::Debug for Disclosure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disclosure")
            .field("id", &self.header)
            .field("finished", &self.finish.is_none())
            .finish()
    }
}

impl Disclosure {
    /// Makes `disclosure.begin` durable; `Err(LedgerUnavailable)` when it cannot be (nothing may
    /// then go out).
    pub async fn begin(
        rec: &Recorder,
        ctx: &RequestCtx,
        to: Recipient<'_>,
    ) -> Result<Self, Reason> {
        let r = to.resolved;
        let begin = Begin {
            request_id: ctx.id.to_string(),
            trace_id: ctx.trace.0.clone(),
            partner: to.partner.to_string(),
            spki_sha256: to.peer.map_or([0; 32], |p| p.spki_sha256),
            serial: to.peer.map_or(String::new(), |p| p.serial.clone()),
            contract: r.contract.id.clone(),
            route: r.route.path.as_str().to_string(),
            flow: r.route.flow.as_str().to_string(),
            policy_version: to.policy_version,
            target: Some(rec.target_key.target_hash(to.target)),
            headers: (!to.headers.is_empty()).then(|| {
                let fields = to.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice()));
                rec.target_key.headers_hash(fields)
            }),
        };
        let ledger = rec.ledger.clone().ok_or(Reason::LedgerUnavailable)?;
        let started = std::time::Instant::now();
        let appended = ledger.append_begin(begin).await;
        rec.metrics.ledger_append(started.elapsed());
        let seq = appended.map_err(|e| {
            tracing::error!(request_id = %ctx.id, error = %e, "ledger unavailable: disclosure refused");
            Reason::LedgerUnavailable
        })?;
        if let Some(s) = &ctx.otel {
            s.disclosed(seq);
        }
        // From the String itself: its bytes become the header's, not a copy.
        let header = HeaderValue::try_from(format!("{}/{seq}", ledger.origin()))
            .map_err(|_| Reason::LedgerUnavailable)?;
        let log = access::access_logger(
            &ctx.id,
            to.partner,
            r,
            rec.metrics.clone(),
            ctx.otel.clone(),
        );
        let spill = Arc::new(Mutex::new(Some(
            crate::ledger::subjects::SubjectSpill::new(rec.subjects_dir.clone()),
        )));
        let feeding = spill.clone();
        let sink: SubjectSink = Box::new(move |subjects| {
            match feeding.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                Some(s) => s.push(subjects),
                None => Ok(()),
            }
        });
        let timed_out = ctx.send_timed_out.clone();
        let finish: OnFinish = Box::new(move |outcome| {
            let spill = spill.lock().unwrap_or_else(|e| e.into_inner()).take();
            let (stored, side) = match (&outcome, spill) {
                (Outcome::Sent(s), Some(spill)) => match spill.seal(s.subjects.clone()) {
                    Ok((stored, side)) => (Some(Ok(stored)), side),
                    Err(e) => (Some(Err(e)), None),
                },
                _ => (None, None), // an abandoned spill removes its partial file
            };
            let mut end = end::end_entry(seq, &outcome, stored);
            // Dropped because the partner left the response unread: say so, not `client_gone`.
            if matches!(outcome, Outcome::Dropped) && timed_out.as_ref().is_some_and(|t| t.is_set())
            {
                end.outcome = crate::ledger::Outcome::SendTimeout;
            }
            log(outcome);
            match side {
                None => ledger.append_detached(Entry::End(Box::new(end))),
                Some(side) => end::after_commit(side, end, ledger),
            }
        });
        Ok(Self {
            header,
            finish: Some(finish),
            sink: Some(sink),
        })
    }

    /// The `Sluice-Disclosure` value: `origin/seq`, the entry both sides can cite.
    pub fn header(&self) -> HeaderValue {
        self.header.clone()
    }

    /// What the body takes: its end callback (called once, with how it ended) and its subject
    /// sink. From here on the body finishes the disclosure.
    pub fn into_body(mut self) -> (OnFinish, SubjectSink) {
        let finish = self
            .finish
            .take()
            .expect("a disclosure is handed to one body");
        let sink = self
            .sink
            .take()
            .expect("a disclosure is handed to one body");
        (finish, sink)
    }
}

impl Drop for Disclosure {
    /// Never handed to a body: ended as `client_gone` with nothing sent.
    fn drop(&mut self) {
        if let Some(f) = self.finish.take() {
            f(Outcome::Dropped);
        }
    }
}

#[cfg(test)]
mod tests;
