//! HTTP message signatures (RFC 9421) with Ed25519, in both directions.
//!
//! - **In**: a contract with `require_signature = true` only admits requests that carry a
//!   `Signature` / `Signature-Input` pair made with one of its partner's keys
//!   (`[[partner]] signature_keys`), covering at least `@method`, `@target-uri` and — when the
//!   request has a body — `content-digest`, with `created` within the allowed age and skew and
//!   `expires` (when given) not past. The digest itself is recomputed as the body streams
//!   ([`crate::digest`]): a signature over a `Content-Digest` proves nothing until the bytes
//!   match it. The partner's identity comes from its client certificate, and only that partner's
//!   keys are tried, so a key is bound to a certificate.
//! - **Out**: with `[keys] message_signing_key`, every filtered response is signed with the
//!   institution's key. Sluice rewrites bodies, so the digest is only known at the end: the
//!   signature travels in the trailers next to `Content-Digest`, covering `@status`,
//!   `content-type`, `sluice-disclosure` and `"content-digest";tr`. It deliberately covers no
//!   request component (`;req`), so a partner or an auditor can verify a saved response alone
//!   (`sluice integrity verify --message --pubkey`), and `sluice-disclosure` ties it to the
//!   ledger entry that records the request. A filtered request pushed to a partner is signed the
//!   same way, over `@method`, `@target-uri`, `sluice-disclosure` and `"content-digest";tr`.
//!
//! The signature base (RFC 9421 §2.5) is built by [`base`]; structured fields are parsed and
//! serialised with `sfv`, so `@signature-params` is the canonical serialisation.

pub mod base;
pub mod error;
pub mod message;
pub mod sign;
pub mod verify;

pub use sign::MessageSigner;
pub use verify::{SignatureError, verify_request};

/// The `tag` sluice puts on its response signatures.
pub const RESPONSE_TAG: &str = "sluice-response/v1";

/// The `tag` sluice puts on its signatures of pushed requests.
pub const REQUEST_TAG: &str = "sluice-request/v1";
