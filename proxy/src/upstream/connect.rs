//! The connect deadline: TCP *and* TLS within the upstream's `connect_timeout`.
//!
//! `HttpConnector::set_connect_timeout` bounds the TCP connect only. An upstream that accepts
//! TCP and never finishes its TLS handshake (an overloaded TLS terminator, a half-dead load
//! balancer, a port that is not TLS at all) then held each request until the response-header
//! timeout (30 s by default) and was reported as `504 upstream_timeout`, where the
//! configuration promises a failure at `connect_timeout_ms` as `502 upstream_unavailable`.
//! [`Timed`] puts the whole connect — TCP, then TLS — under the one deadline, for the pool and
//! for the HTTP/1.1 connections client connections keep ([`super::sticky`]) alike.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A connection to an upstream, plain or TLS.
pub type Stream = MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;

/// An HTTP-or-HTTPS connector whose connect, TLS handshake included, has a deadline.
#[derive(Debug, Clone)]
pub struct Timed {
    inner: HttpsConnector<HttpConnector>,
    deadline: Duration,
}

impl Timed {
    /// `inner`, its connects cut at `deadline`.
    pub fn new(inner: HttpsConnector<HttpConnector>, deadline: Duration) -> Self {
        Timed { inner, deadline }
    }
}

impl tower::Service<Uri> for Timed {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let deadline = self.deadline;
        Box::pin(async move {
            tokio::time::timeout(deadline, connecting)
                .await
                .map_err(|_| BoxError::from("the upstream's connect deadline passed"))?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tls_handshake_that_never_ends_fails_at_the_deadline() {
        // Accepts TCP (the kernel does, unasked) and never answers the ClientHello.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let tls = rustls::ClientConfig::builder_with_provider(sluice_certs::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let mut timed = Timed::new(https, Duration::from_millis(100));
        let uri: Uri = format!("https://localhost:{}/", addr.port())
            .parse()
            .unwrap();
        let outcome = tokio::time::timeout(
            Duration::from_secs(10),
            tower::Service::call(&mut timed, uri),
        )
        .await
        .expect("the connector gave up by itself");
        let Err(err) = outcome else {
            panic!("a TLS connection to a silent peer")
        };
        assert!(err.to_string().contains("connect deadline"), "{err}");
        drop(silent);
    }
}
