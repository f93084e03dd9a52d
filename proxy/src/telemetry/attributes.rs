//! The only place a span attribute is set: one method per moment of a request, each taking typed
//! values — ids from the configuration and the policy, codes written in sluice's source, counts.
//!
//! The generic setters of [`SpanHandle`] are private to the telemetry module, so the rest of the
//! proxy can describe a request only through these methods; a new attribute is a new method here,
//! reviewed where every other attribute is. No method takes a path, query, header or body value.
//! Keys follow the HTTP semantic conventions (`http.request.method`, `http.route`,
//! `http.response.status_code`, `network.protocol.version`, `server.address`, `error.type`) and
//! sluice's own `sluice.*` namespace.

use super::{Key, SpanHandle};

/// What a sent disclosure carried, for its server span.
#[derive(Debug, Clone, Copy, Default)]
pub struct Carried {
    /// Records disclosed.
    pub records: u64,
    /// Field occurrences kept as they were.
    pub kept: u64,
    /// Masked.
    pub masked: u64,
    /// Hashed (pseudonymised).
    pub hashed: u64,
    /// Replaced by the redaction marker.
    pub redacted: u64,
    /// Stripped (not allowed by the contract).
    pub stripped: u64,
    /// Body bytes from the source.
    pub bytes_in: u64,
    /// Body bytes to the recipient.
    pub bytes_out: u64,
}

impl SpanHandle {
    /// A request's server span has started: its id and the HTTP version it came in.
    pub fn request(&self, request_id: &str, version: http::Version) {
        self.set_str(Key::RequestId, request_id);
        self.set_static(
            Key::ProtocolVersion,
            match version {
                http::Version::HTTP_2 => "2",
                http::Version::HTTP_10 => "1.0",
                _ => "1.1",
            },
        );
    }

    /// The request matched a route: the span takes the route *template* as its name, and
    /// records who asked under which contract and in which flow.
    pub fn routed(
        &self,
        method: &http::Method,
        template: &str,
        partner: &str,
        contract: &str,
        flow: &'static str,
    ) {
        self.rename(|| format!("{} {template}", super::method_attribute(method)));
        self.set_str(Key::Route, template);
        self.set_str(Key::Partner, partner);
        self.set_str(Key::Contract, contract);
        self.set_static(Key::Flow, flow);
    }

    /// The disclosure's `begin` is durable at ledger sequence `seq`.
    pub fn disclosed(&self, seq: u64) {
        self.set_int(Key::DisclosureSeq, seq as i64);
    }

    /// The disclosure ended with `verdict`; `carried` when it was sent whole (else the span is
    /// marked failed).
    pub fn disclosure_ended(&self, verdict: &'static str, carried: Option<Carried>) {
        self.set_static(Key::Verdict, verdict);
        let Some(c) = carried else {
            self.fail();
            return;
        };
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.set_ints(&[
            (Key::Records, n(c.records)),
            (Key::FieldsKept, n(c.kept)),
            (Key::FieldsMasked, n(c.masked)),
            (Key::FieldsHashed, n(c.hashed)),
            (Key::FieldsRedacted, n(c.redacted)),
            (Key::FieldsStripped, n(c.stripped)),
            (Key::BytesIn, n(c.bytes_in)),
            (Key::BytesOut, n(c.bytes_out)),
        ]);
    }

    /// sluice answered the request with `status`; `refused` is the reason code of a refusal.
    pub fn answered(&self, status: http::StatusCode, refused: Option<&'static str>) {
        self.set_int(Key::StatusCode, i64::from(status.as_u16()));
        if status.is_server_error() {
            self.fail();
        }
        if let Some(reason) = refused {
            self.set_static(Key::Verdict, reason);
            self.set_static(Key::ErrorType, reason);
        }
    }

    /// A client span under this one for a call to the upstream sluice's configuration names
    /// `upstream`.
    pub fn upstream_call(&self, method: &http::Method, upstream: &str) -> SpanHandle {
        let m = super::method_attribute(method);
        let span = self.child(m);
        span.set_static(Key::Method, m);
        span.set_str(Key::ServerAddress, upstream);
        span
    }

    /// The upstream answered with `status`, or failed with the reason code `Err`.
    pub fn upstream_answered(&self, result: Result<http::StatusCode, &'static str>) {
        match result {
            Ok(status) => {
                self.set_int(Key::StatusCode, i64::from(status.as_u16()));
                if status.is_server_error() {
                    self.fail();
                }
            }
            Err(code) => {
                self.set_static(Key::ErrorType, code);
                self.fail();
            }
        }
    }
}
