//! The names of the headers sluice writes on the request path, as constants.
//!
//! A header name given as a `&str` is looked up and, when it is not one of the standard names,
//! copied into a new allocation at every insert; a constant made by
//! [`HeaderName::from_static`] is neither. Every per-request insert of these names uses them.

use http::HeaderName;

/// The request's id, to the upstream and on the answer.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The partner a pull is made for, to the institution.
pub const SLUICE_PARTNER: HeaderName = HeaderName::from_static("sluice-partner");
/// The contract a pull is made under, to the institution.
pub const SLUICE_CONTRACT: HeaderName = HeaderName::from_static("sluice-contract");
/// The disclosure's ledger reference.
pub const SLUICE_DISCLOSURE: HeaderName = HeaderName::from_static("sluice-disclosure");
/// RFC 9530 `Content-Digest`.
pub const CONTENT_DIGEST: HeaderName = HeaderName::from_static("content-digest");
/// RFC 9421 `Signature`.
pub const SIGNATURE: HeaderName = HeaderName::from_static("signature");
/// RFC 9421 `Signature-Input`.
pub const SIGNATURE_INPUT: HeaderName = HeaderName::from_static("signature-input");
