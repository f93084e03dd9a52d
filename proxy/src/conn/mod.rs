//! A connection's life after `accept`: who may hold how many, how long one may sit idle or
//! live, how long a partner may leave a response unread, and when reload closes it.
//!
//! - **Limits** ([`registry`]): each listener has its own connection cap (`max_connections`),
//!   so partners can never starve the internal listener, and each partner its own
//!   (`max_connections_per_partner`, counted once the handshake names the partner), so one
//!   partner can never starve the others. A connection over its partner's cap is answered
//!   `503 connection_limit` and closed. Before the handshake names anyone, each source address
//!   may have only so many handshakes in progress ([`handshakes`]). Requests have the same two
//!   levels: the process's
//!   `max_in_flight`, and each partner's share of it ([`shares`]).
//! - **Lifetimes** ([`drive`]): an HTTP/1.1 connection must send its first request head within
//!   `header_read_timeout_ms` of the handshake, and finish every later head within as long of
//!   its first byte (slowloris), or it is dropped; the pause *between* requests is not a head
//!   being read. A connection with no request in flight for `idle_timeout_ms` is
//!   closed (HTTP/2: GOAWAY); one older than `max_connection_age_ms` is asked to close
//!   gracefully (GOAWAY, or `Connection: close` after the response in flight) and dropped
//!   `drain_timeout_ms` later.
//! - **Send deadline** ([`activity`]): a response the partner does not take any bytes of for
//!   `send_timeout_ms` (a zero HTTP/2 flow-control window, a TCP window it never opens) ends
//!   the connection: every stream on it is reset, their upstream requests are dropped, and the
//!   ledger records `send_timeout`. (hyper never polls a body whose stream has no send window,
//!   so a stalled stream can only be ended from outside, with its connection.)
//! - **Reload** ([`registry::Registry::sweep`]): after a reload, connections whose certificate is
//!   now revoked, or whose partner has no contract in force, are closed gracefully; and every
//!   request checks its certificate against the current CRLs (`403 certificate_revoked`).

pub mod activity;
pub mod counted;
pub mod drive;
pub mod handshakes;
pub mod registry;
pub mod shares;

pub use activity::{Activity, RequestGuard, SendTimedOut, Tracked};
pub use drive::{Lifetimes, drive};
pub use handshakes::{Handshakes, Pending};
pub use registry::{Registration, Registry};
pub use shares::{Share, Shares};

/// Why sluice closed a connection (log and metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// No request in flight for `idle_timeout_ms`.
    Idle,
    /// Older than `max_connection_age_ms`.
    MaxAge,
    /// A response was not taken for `send_timeout_ms`.
    SendTimeout,
    /// A request head was not complete `header_read_timeout_ms` after it was due or begun.
    HeaderTimeout,
    /// The certificate was revoked, or the partner's contracts ended, at a reload.
    Revoked,
    /// The server is shutting down.
    Shutdown,
}

impl CloseReason {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Idle => "idle",
            CloseReason::MaxAge => "max_age",
            CloseReason::SendTimeout => "send_timeout",
            CloseReason::HeaderTimeout => "header_timeout",
            CloseReason::Revoked => "revoked",
            CloseReason::Shutdown => "shutdown",
        }
    }
}
