//! Upstream clients: one pooled hyper client per `[[upstream]]`, HTTP/1.1 or HTTP/2 (by ALPN),
//! TLS from the certificates crate (presenting the institution's client certificate to partner
//! APIs in the push flow), with connect and response-header timeouts.

use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
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
    client: Client<HttpsConnector<HttpConnector>, ProxyBody>,
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
        http.set_connect_timeout(Some(cfg.connect_timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(cfg.idle_timeout)
            .pool_max_idle_per_host(cfg.pool_size)
            .build(connector);
        Ok(Self {
            cfg: cfg.clone(),
            client,
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

    /// Sends a request; the response headers must arrive within the response-header timeout.
    pub async fn send(&self, req: Request<ProxyBody>) -> Result<Response<Incoming>, Reason> {
        match tokio::time::timeout(self.cfg.response_header_timeout, self.client.request(req)).await
        {
            Err(_) => Err(Reason::UpstreamTimeout),
            Ok(Err(e)) if e.is_connect() => Err(Reason::UpstreamUnavailable),
            Ok(Err(_)) => Err(Reason::UpstreamProtocol),
            Ok(Ok(resp)) => Ok(resp),
        }
    }
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
