//! One HTTP connection of the load generator: HTTP/1.1 (one request at a time) or HTTP/2 (a
//! sender shared by the connection's streams), driven by its own task.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::Protocol;
use super::tls::{ConnectError, Endpoint};

/// A request sender bound to one connection.
#[derive(Debug)]
pub enum Sender {
    /// HTTP/1.1: one request in flight.
    Http1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    /// HTTP/2: many streams; cloned for each stream worker.
    Http2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

/// What went wrong with one request (an error kind in the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Failure {
    /// TCP connect failed.
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// The HTTP handshake (h2 preface/settings) failed.
    Handshake,
    /// Sending the request or reading the head failed (reset, closed).
    Request,
    /// The body broke off before its end.
    Body,
    /// The response status was not 2xx.
    Status(u16),
}

impl Failure {
    /// The label used in the report.
    pub fn label(&self) -> String {
        match self {
            Failure::Connect => "connect".into(),
            Failure::Tls => "tls".into(),
            Failure::Handshake => "handshake".into(),
            Failure::Request => "request".into(),
            Failure::Body => "body".into(),
            Failure::Status(s) => format!("status {s}"),
        }
    }
}

impl From<ConnectError> for Failure {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Tcp => Failure::Connect,
            ConnectError::Tls => Failure::Tls,
        }
    }
}

/// Opens a connection and performs the HTTP handshake for `protocol`.
pub async fn open(endpoint: &Endpoint, protocol: Protocol) -> Result<Sender, Failure> {
    let io = TokioIo::new(endpoint.connect().await?);
    match protocol {
        Protocol::Http1 => {
            let (sender, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|_| Failure::Handshake)?;
            tokio::spawn(conn);
            Ok(Sender::Http1(sender))
        }
        Protocol::Http2 => {
            let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .initial_stream_window_size(4 << 20)
                .initial_connection_window_size(16 << 20)
                .handshake(io)
                .await
                .map_err(|_| Failure::Handshake)?;
            tokio::spawn(conn);
            Ok(Sender::Http2(sender))
        }
    }
}

impl Sender {
    /// Another handle on the same HTTP/2 connection (HTTP/1.1 senders cannot be shared).
    pub fn share(&self) -> Option<Sender> {
        match self {
            Sender::Http1(_) => None,
            Sender::Http2(s) => Some(Sender::Http2(s.clone())),
        }
    }

    /// Whether the connection can take no more requests.
    pub fn is_closed(&self) -> bool {
        match self {
            Sender::Http1(s) => s.is_closed(),
            Sender::Http2(s) => s.is_closed(),
        }
    }

    /// Sends `request` and reads the whole response body; returns the body's length.
    pub async fn exchange(&mut self, request: http::Request<Full<Bytes>>) -> Result<u64, Failure> {
        let response = match self {
            Sender::Http1(s) => {
                s.ready().await.map_err(|_| Failure::Request)?;
                s.send_request(request).await
            }
            Sender::Http2(s) => {
                s.ready().await.map_err(|_| Failure::Request)?;
                s.send_request(request).await
            }
        }
        .map_err(|_| Failure::Request)?;
        let status = response.status();
        let mut body = response.into_body();
        let mut length = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| Failure::Body)?;
            if let Some(data) = frame.data_ref() {
                length += data.len() as u64;
            }
        }
        if !status.is_success() {
            return Err(Failure::Status(status.as_u16()));
        }
        Ok(length)
    }
}
