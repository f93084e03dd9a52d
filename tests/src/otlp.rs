//! In-process OTLP receivers on loopback — HTTP/protobuf (optionally over TLS with a required
//! client certificate) and gRPC — that decode what sluice sends with the OpenTelemetry proto
//! definitions and keep each export as JSON (the protobuf-JSON mapping of `opentelemetry-proto`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    metrics_service_server::{MetricsService, MetricsServiceServer},
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use prost::Message;

/// Every export received: the signal's path (`/v1/traces`, `/v1/metrics`) and the request as
/// JSON. An `x-test-key` header, when sent, is kept under the document's `"x-test-key"`.
pub type Exports = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// An OTLP/HTTP (protobuf) receiver in plain HTTP.
pub async fn otlp_receiver() -> (SocketAddr, Exports) {
    otlp_http_receiver(None).await
}

fn decode(path: &str, body: &[u8]) -> Option<serde_json::Value> {
    match path {
        "/v1/traces" => serde_json::to_value(ExportTraceServiceRequest::decode(body).ok()?).ok(),
        "/v1/metrics" => serde_json::to_value(ExportMetricsServiceRequest::decode(body).ok()?).ok(),
        _ => None,
    }
}

/// An OTLP/HTTP (protobuf) receiver; with `pki`, over TLS with the server certificate of that
/// development PKI, requiring a client certificate its CA signed.
pub async fn otlp_http_receiver(pki: Option<&Path>) -> (SocketAddr, Exports) {
    let tls = pki.map(crate::harness::server_tls_requiring_clients);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Exports = Arc::default();
    let seen = got.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (seen, tls) = (seen.clone(), tls.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let seen = seen.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let protobuf = req
                            .headers()
                            .get(http::header::CONTENT_TYPE)
                            .is_some_and(|v| v == "application/x-protobuf");
                        let key = req.headers().get("x-test-key").cloned();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let Some(mut doc) = decode(&path, &body).filter(|_| protobuf) else {
                            let mut r = Response::new(http_body_util::Full::new(Bytes::new()));
                            *r.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
                            return Ok::<_, Infallible>(r);
                        };
                        if let Some(k) = key {
                            doc["x-test-key"] = k.to_str().unwrap().into();
                        }
                        seen.lock().unwrap().push((path, doc));
                        let mut r = Response::new(http_body_util::Full::new(Bytes::new()));
                        r.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static("application/x-protobuf"),
                        );
                        Ok(r)
                    }
                });
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(config) => {
                        if let Ok(stream) =
                            tokio_rustls::TlsAcceptor::from(config).accept(tcp).await
                        {
                            let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                        }
                    }
                    None => {
                        let _ = http.serve_connection(TokioIo::new(tcp), svc).await;
                    }
                }
            });
        }
    });
    (addr, got)
}

#[derive(Debug, Clone)]
struct Sink(Exports);

impl Sink {
    fn keep<T: serde::Serialize>(&self, path: &str, req: tonic::Request<T>) {
        let key = req
            .metadata()
            .get("x-test-key")
            .map(|v| v.to_str().unwrap().to_string());
        let mut doc = serde_json::to_value(req.into_inner()).unwrap();
        if let Some(k) = key {
            doc["x-test-key"] = k.into();
        }
        self.0.lock().unwrap().push((path.to_string(), doc));
    }
}

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.keep("/v1/traces", req);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        req: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.keep("/v1/metrics", req);
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// An OTLP/gRPC receiver in plain HTTP/2.
pub async fn otlp_grpc_receiver() -> (SocketAddr, Exports) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Exports = Arc::default();
    let sink = Sink(got.clone());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(sink.clone()))
            .add_service(MetricsServiceServer::new(sink))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    (addr, got)
}
