//! The HTTP client the OTLP/HTTP exporter sends with: sluice's own hyper + rustls stack (the same
//! ring provider and certificate loading as its upstream clients), so TLS to the collector, a
//! private CA and a client certificate work as they do everywhere else in sluice.
//!
//! The SDK's batch processor and periodic reader export from threads of their own, where no
//! Tokio runtime runs; each request is therefore handed to the runtime sluice serves on and its
//! answer awaited across threads. A response body is read up to 4 MiB.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use opentelemetry_http::{HttpError, Request, Response};

/// Largest collector response read.
const MAX_RESPONSE: usize = 4 << 20;

/// An OTLP/HTTP client on the runtime `handle`.
#[derive(Debug, Clone)]
pub struct RuntimeClient {
    handle: tokio::runtime::Handle,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl RuntimeClient {
    /// A client trusting `tls` (built by the caller from `[telemetry]`), on the current runtime.
    pub fn new(tls: rustls::ClientConfig, timeout: Duration) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        RuntimeClient {
            handle: tokio::runtime::Handle::current(),
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        }
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for RuntimeClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (client, timeout) = (self.client.clone(), self.timeout);
        let request = request.map(Full::new);
        let answer = self.handle.spawn(async move {
            let exchange = async {
                let resp = client.request(request).await?;
                let (parts, body) = resp.into_parts();
                let body = Limited::new(body, MAX_RESPONSE).collect().await?.to_bytes();
                Ok::<_, HttpError>(Response::from_parts(parts, body))
            };
            tokio::time::timeout(timeout, exchange)
                .await
                .map_err(|_| HttpError::from("the OTLP collector did not answer in time"))?
        });
        answer.await?
    }
}
