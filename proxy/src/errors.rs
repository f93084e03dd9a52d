//! The one place that turns a failure into an HTTP response: status, a stable machine-readable
//! reason, and the request id — never a value from a body, header or path.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;

use crate::body::ProxyBody;

/// Why a request was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The client certificate matches no partner of the policy.
    UnknownPartner,
    /// The client certificate carries the identities of more than one partner.
    AmbiguousIdentity,
    /// The client certificate was revoked (or its partner's contracts ended) after this
    /// connection was opened: the connection is closed after this answer.
    CertificateRevoked,
    /// A certificate carrying a partner's identity on an internal listener: partners do not
    /// speak for the institution's systems.
    PartnerCertificate,
    /// An internal listener names its callers (`callers`) and the certificate is none of them.
    UnknownCaller,
    /// The partner already holds as many connections as it may (`max_connections_per_partner`).
    ConnectionLimit,
    /// The request path is not canonical (with the class of problem, never the path): an
    /// upstream could read it as another resource than the route describes.
    BadPath(&'static str),
    /// No route for this method and path.
    NoRoute,
    /// Routes match, but the partner has no contract for them.
    NoContract,
    /// The contract has ended.
    ContractExpired,
    /// The contract has not started.
    ContractNotYetValid,
    /// A filtered body of a type sluice does not filter (on a request).
    UnsupportedMediaType,
    /// A content coding sluice does not decode (on a request).
    UnsupportedEncoding,
    /// A request body over the limit.
    BodyTooLarge,
    /// A request body that, asked for more, sent nothing for `body_read_timeout_ms`.
    BodyTimeout,
    /// A body on a GET, HEAD or DELETE request, whose methods define none: a server that
    /// ignores it unread would take it for the next request on the connection. Or a body on a
    /// pull route whose contract lists nothing a partner's body may carry (`request_fields`).
    BodyNotAllowed,
    /// The body broke the contract (with the structural path; never the value).
    PolicyViolation(String),
    /// Ambiguous or forbidden message framing (CL+TE, bad Transfer-Encoding, ...).
    BadFraming,
    /// `CONNECT` or an `Upgrade` request: tunnels bypass filtering.
    UpgradeRefused,
    /// The upstream could not be reached.
    UpstreamUnavailable,
    /// The upstream did not answer in time.
    UpstreamTimeout,
    /// The upstream answered something sluice cannot pass on safely (a 206, a 101, a body on a
    /// 204, a type or coding it does not filter).
    UpstreamProtocol,
    /// The upstream answered with a non-success status; its body is not forwarded.
    UpstreamStatus(StatusCode),
    /// The request took longer than the configured limit.
    Timeout,
    /// Too many requests in flight: shed at once rather than queued.
    Overloaded,
    /// The partner has as many requests in flight as its share allows
    /// (`max_in_flight_per_partner`).
    InFlightLimit,
    /// Over the contract's or the partner's rate (with the seconds until a request is admitted).
    RateLimited(u64),
    /// The disclosure ledger cannot record: nothing may be disclosed.
    LedgerUnavailable,
    /// A body did not match its `Content-Digest`.
    DigestMismatch,
    /// A `Content-Digest` that is malformed or names no supported algorithm.
    BadDigest,
    /// The route requires a `Content-Digest` and the request has none.
    DigestRequired,
    /// The contract requires an RFC 9421 signature and the request's is missing or bad (with the
    /// detail code: `missing`, `expired`, `invalid`, ...).
    BadSignature(&'static str),
    /// The institution's response broke the contract before anything was sent to the partner
    /// (the partner learns nothing of where: that is the institution's data).
    ResponseViolation,
    /// The institution's response did not match its `Content-Digest`.
    UpstreamDigestMismatch,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for Reason {}

/// Marks a refusal response with its reason (for the access log).
#[derive(Debug, Clone, Copy)]
pub struct Refused(pub &'static str);

/// True when `err` or one of its sources is an `E`.
pub fn chain_has<E: std::error::Error + 'static>(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut e = Some(err);
    while let Some(cur) = e {
        if cur.is::<E>() {
            return true;
        }
        e = cur.source();
    }
    false
}

/// The first error of type `E` in `err`'s source chain.
pub fn chain_find<'a, E: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut e = Some(err);
    while let Some(cur) = e {
        if let Some(found) = cur.downcast_ref::<E>() {
            return Some(found);
        }
        e = cur.source();
    }
    None
}

/// Where a failing body came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodySource {
    /// The caller's request body (push; a pull with a body): its failures are the caller's.
    Request,
    /// The upstream's response body (pull).
    Upstream,
}

/// What a body that failed means for the caller, walking the error's sources: the one place a
/// body error becomes a [`Reason`]. `None` for a request body that failed for no reason of the
/// caller's (the upstream's answer then decides).
pub fn body_reason(err: &(dyn std::error::Error + 'static), source: BodySource) -> Option<Reason> {
    let decode = chain_find::<crate::decode::DecodeError>(err);
    let digest = chain_has::<crate::digest::DigestMismatch>(err);
    match source {
        BodySource::Request => {
            if chain_has::<http_body_util::LengthLimitError>(err)
                || decode.is_some_and(|d| d.is_over_limit())
            {
                Some(Reason::BodyTooLarge)
            } else if chain_has::<crate::stall::Stalled>(err) {
                Some(Reason::BodyTimeout)
            } else if decode.is_some() {
                Some(Reason::UnsupportedEncoding)
            } else if digest {
                Some(Reason::DigestMismatch)
            } else {
                None
            }
        }
        BodySource::Upstream => Some(if chain_has::<crate::body::BodyViolation>(err) {
            Reason::ResponseViolation
        } else if digest {
            Reason::UpstreamDigestMismatch
        } else {
            Reason::UpstreamProtocol
        }),
    }
}

impl Reason {
    /// Status code.
    pub fn status(&self) -> StatusCode {
        match self {
            Reason::UnknownPartner
            | Reason::AmbiguousIdentity
            | Reason::CertificateRevoked
            | Reason::PartnerCertificate
            | Reason::UnknownCaller
            | Reason::NoContract
            | Reason::ContractExpired
            | Reason::ContractNotYetValid => StatusCode::FORBIDDEN,
            Reason::NoRoute => StatusCode::NOT_FOUND,
            Reason::UnsupportedMediaType | Reason::UnsupportedEncoding => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Reason::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reason::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Reason::PolicyViolation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Reason::BadFraming
            | Reason::UpgradeRefused
            | Reason::BadPath(_)
            | Reason::BodyNotAllowed => StatusCode::BAD_REQUEST,
            Reason::ConnectionLimit => StatusCode::SERVICE_UNAVAILABLE,
            Reason::UpstreamUnavailable | Reason::UpstreamProtocol => StatusCode::BAD_GATEWAY,
            Reason::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Reason::UpstreamStatus(s) => *s,
            Reason::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Reason::Overloaded | Reason::InFlightLimit | Reason::LedgerUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }

            Reason::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Reason::DigestMismatch | Reason::BadDigest | Reason::DigestRequired => {
                StatusCode::BAD_REQUEST
            }
            Reason::BadSignature(_) => StatusCode::UNAUTHORIZED,
            Reason::ResponseViolation | Reason::UpstreamDigestMismatch => StatusCode::BAD_GATEWAY,
        }
    }

    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::UnknownPartner => "unknown_partner",
            Reason::AmbiguousIdentity => "ambiguous_identity",
            Reason::PartnerCertificate => "partner_certificate",
            Reason::UnknownCaller => "unknown_caller",
            Reason::CertificateRevoked => "certificate_revoked",
            Reason::ConnectionLimit => "connection_limit",
            Reason::BadPath(_) => "bad_path",
            Reason::NoRoute => "no_route",
            Reason::NoContract => "no_contract",
            Reason::ContractExpired => "contract_expired",
            Reason::ContractNotYetValid => "contract_not_yet_valid",
            Reason::UnsupportedMediaType => "unsupported_media_type",
            Reason::UnsupportedEncoding => "unsupported_encoding",
            Reason::BodyTooLarge => "body_too_large",
            Reason::BodyTimeout => "body_timeout",
            Reason::BodyNotAllowed => "body_not_allowed",
            Reason::PolicyViolation(_) => "policy_violation",
            Reason::BadFraming => "bad_framing",
            Reason::UpgradeRefused => "upgrade_refused",
            Reason::UpstreamUnavailable => "upstream_unavailable",
            Reason::UpstreamTimeout => "upstream_timeout",
            Reason::UpstreamProtocol => "upstream_protocol",
            Reason::UpstreamStatus(_) => "upstream_status",
            Reason::Timeout => "request_timeout",
            Reason::Overloaded => "overloaded",
            Reason::InFlightLimit => "in_flight_limit",
            Reason::RateLimited(_) => "rate_limited",
            Reason::DigestMismatch => "digest_mismatch",
            Reason::BadDigest => "bad_digest",
            Reason::DigestRequired => "digest_required",
            Reason::BadSignature(_) => "bad_signature",
            Reason::ResponseViolation => "response_violation",
            Reason::UpstreamDigestMismatch => "upstream_digest_mismatch",
            Reason::LedgerUnavailable => "ledger_unavailable",
        }
    }

    /// Whether the connection should be closed after the response (framing ambiguity).
    pub fn closes_connection(&self) -> bool {
        matches!(
            self,
            Reason::BadFraming
                | Reason::UpgradeRefused
                | Reason::BodyNotAllowed
                | Reason::CertificateRevoked
                | Reason::PartnerCertificate
                | Reason::ConnectionLimit
        )
    }
}

impl From<sluice_policy::ResolveError> for Reason {
    fn from(e: sluice_policy::ResolveError) -> Self {
        match e {
            sluice_policy::ResolveError::NoRoute => Reason::NoRoute,
            sluice_policy::ResolveError::NoContract => Reason::NoContract,
            sluice_policy::ResolveError::ContractExpired => Reason::ContractExpired,
            sluice_policy::ResolveError::ContractNotYetValid => Reason::ContractNotYetValid,
            _ => Reason::NoRoute,
        }
    }
}

/// The response for a refusal: `{"error": REASON, "request_id": ID}` (plus `path` for a policy
/// violation: a structural path, never a value).
pub fn error_response(reason: &Reason, request_id: &str) -> Response<ProxyBody> {
    let mut body = serde_json::json!({ "error": reason.code(), "request_id": request_id });
    if let Reason::PolicyViolation(path) = reason {
        body["path"] = serde_json::Value::String(path.clone());
    }
    if let Reason::BadSignature(detail) | Reason::BadPath(detail) = reason {
        body["detail"] = serde_json::Value::String((*detail).to_string());
    }
    let bytes = Bytes::from(serde_json::to_vec(&body).expect("a JSON value serialises"));
    let mut resp = Response::new(
        http_body_util::Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = reason.status();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(crate::headers::X_REQUEST_ID, v);
    }
    if reason.closes_connection() {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let Reason::BadSignature(_) = reason {
        // What a signature must cover (RFC 9421 §5.1); `content-digest` when there is a body.
        h.insert(
            "accept-signature",
            HeaderValue::from_static(
                r#"sig1=("@method" "@target-uri" "content-digest");created;keyid;alg="ed25519""#,
            ),
        );
    }
    match reason {
        Reason::RateLimited(secs) => {
            h.insert(header::RETRY_AFTER, HeaderValue::from(*secs));
        }
        // Load that passes within a moment: a client retrying at once only adds to it.
        Reason::Overloaded | Reason::InFlightLimit => {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    resp.extensions_mut().insert(Refused(reason.code()));
    resp
}
