//! Upstream clients: one pooled hyper client per `[[upstream]]`, HTTP/1.1 or HTTP/2 (by ALPN),
//! TLS from the certificates crate (presenting the institution's client certificate to partner
//! APIs in the push flow), with connect (TCP and TLS, [`connect`]) and response-header
//! timeouts. An HTTP/1.1 client connection bypasses the pool and keeps its own upstream
//! connection ([`sticky`]).

pub mod connect;
pub mod sticky;

use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::body::ProxyBody;
use crate::config::Upstream;
use crate::errors::Reason;

/// A client for one upstream.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    /// Its configuration.
    pub cfg: Upstream,
    client: Client<connect::Timed, ProxyBody>,
    /// The same connector offering HTTP/1.1 only, for [`sticky`] connections.
    h1_connector: connect::Timed,
    /// `Host` for requests on [`sticky`] connections: the URL's host, and its port unless the
    /// scheme's default (as the pool writes it).
    host: http::HeaderValue,
    /// The base URI without its trailing `/`, written once: a request's URI is this and its
    /// path-and-query.
    prefix: String,
}

impl UpstreamClient {
    /// Builds the client; TLS files are read and validated now.
    pub fn new(cfg: &Upstream) -> Result<Self, sluice_certs::CertError> {
        let tls = if cfg.base.scheme_str() == Some("https") {
            let mut tls =
                (*sluice_certs::client::client_config(&cfg.tls, sluice_certs::inspect::now())?)
                    .clone();
            // hyper-rustls sets ALPN itself from the enabled protocols (and panics if it is set).
            tls.alpn_protocols.clear();
            tls
        } else {
            // Never used for http:// upstreams; the connector type wants one.
            rustls::ClientConfig::builder_with_provider(sluice_certs::provider())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default versions")
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        // Split across the addresses a name resolves to; `connect::Timed` bounds the whole
        // connect, TLS included, by the same deadline.
        http.set_connect_timeout(Some(cfg.connect_timeout));
        http.set_nodelay(true);
        let h1_connector = connect::Timed::new(
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls.clone())
                .https_or_http()
                .enable_http1()
                .wrap_connector(http.clone()),
            cfg.connect_timeout,
        );
        let connector = connect::Timed::new(
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .enable_http1()
                .enable_http2()
                .wrap_connector(http),
            cfg.connect_timeout,
        );
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(cfg.idle_timeout)
            .pool_max_idle_per_host(cfg.pool_size)
            .build(connector);
        Ok(Self {
            cfg: cfg.clone(),
            client,
            h1_connector,
            host: host_header(&cfg.base),
            prefix: cfg.base.to_string().trim_end_matches('/').to_string(),
        })
    }

    /// The absolute URI for a path-and-query on this upstream.
    pub fn uri(&self, path_and_query: &str) -> Result<http::Uri, Reason> {
        let mut uri = String::with_capacity(self.prefix.len() + path_and_query.len());
        uri.push_str(&self.prefix);
        uri.push_str(path_and_query);
        // From the String itself: its bytes become the URI's, not a copy.
        http::Uri::try_from(uri).map_err(|_| Reason::NoRoute)
    }

    /// Sends a request, on the client connection's own upstream connection when it has a
    /// [`sticky::Slot`] (HTTP/1.1), else through the pool; the response headers must arrive
    /// within the response-header timeout, connecting included.
    pub async fn send(
        self: &Arc<Self>,
        req: Request<ProxyBody>,
        slot: Option<&sticky::Slot>,
    ) -> Result<Response<Incoming>, Reason> {
        let deadline = self.cfg.response_header_timeout;
        let answer = match slot {
            Some(slot) => tokio::time::timeout(deadline, sticky::send(self, slot, req)).await,
            None => tokio::time::timeout(deadline, self.pooled(req)).await,
        };
        answer.unwrap_or(Err(Reason::UpstreamTimeout))
    }

    async fn pooled(&self, req: Request<ProxyBody>) -> Result<Response<Incoming>, Reason> {
        self.client.request(req).await.map_err(|e| {
            if e.is_connect() {
                Reason::UpstreamUnavailable
            } else {
                Reason::UpstreamProtocol
            }
        })
    }
}

/// `Host` for a base URL: `host`, or `host:port` when the port is not the scheme's default.
fn host_header(base: &http::Uri) -> http::HeaderValue {
    let host = base.host().unwrap_or_default();
    let default = match base.scheme_str() {
        Some("https") => 443,
        _ => 80,
    };
    let value = match base.port_u16() {
        Some(port) if port != default => format!("{host}:{port}"),
        _ => host.to_string(),
    };
    http::HeaderValue::try_from(value).expect("a parsed URI's host and port are header bytes")
}

/// Clients for every configured upstream.
pub fn clients(
    cfg: &crate::config::Config,
) -> Result<std::collections::HashMap<String, Arc<UpstreamClient>>, sluice_certs::CertError> {
    cfg.upstreams
        .iter()
        .map(|u| Ok((u.name.clone(), Arc::new(UpstreamClient::new(u)?))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn client(base: &str) -> UpstreamClient {
        UpstreamClient::new(&Upstream {
            name: "institution".into(),
            base: base.parse().unwrap(),
            tls: Default::default(),
            connect_timeout: Duration::from_secs(1),
            response_header_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            body_stall_timeout: Duration::from_secs(1),
            pool_size: 1,
        })
        .unwrap()
    }

    #[test]
    fn a_requests_uri_is_the_upstreams_base_and_its_path() {
        let with_path = client("http://127.0.0.1:9/api/");
        assert_eq!(
            with_path.uri("/v1/loans/LA1?page=2").unwrap().to_string(),
            "http://127.0.0.1:9/api/v1/loans/LA1?page=2"
        );
        let bare = client("http://127.0.0.1:9");
        assert_eq!(
            bare.uri("/v1/loans").unwrap().to_string(),
            "http://127.0.0.1:9/v1/loans"
        );
        // Not a URI once joined: no route, never a request to somewhere else.
        assert!(matches!(bare.uri("/v1/a b"), Err(Reason::NoRoute)));
    }
}
