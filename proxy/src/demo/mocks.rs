//! The demo's stand-ins: an institution API (plain HTTP) that holds applicant records, and a
//! partner API (HTTPS, client certificate required) that records what it receives.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// The institution's record of an applicant (fake, but realistic).
pub const APPLICANT: &str = r#"{"applicants":[{"applicant_no":"LA00000001","name":"欧阳明轩","id_no":"31011519751103008X","mobile":"13860642414","card_cvn":"123","bank_card":"6222029365368615645","address":"上海市浦东新区张江路123弄5号1202室","loan":{"amount":50000,"term_months":12,"purpose":"装修"},"credit_score":700,"remarks":"客户补充：身份证 310115 19751103 008X，备用卡 6222 0293 6536 8615 645"}],"total":1}"#;

/// What a mock received: bodies, in order.
pub type Received = Arc<Mutex<Vec<Vec<u8>>>>;

async fn serve<S>(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    handle: S,
) where
    S: Fn(http::Method, Vec<u8>) -> (u16, &'static str, Vec<u8>) + Clone + Send + Sync + 'static,
{
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            break;
        };
        let (tls, handle) = (tls.clone(), handle.clone());
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let handle = handle.clone();
                    async move {
                        let method = req.method().clone();
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes().to_vec())
                            .unwrap_or_default();
                        let (status, ct, out) = handle(method, body);
                        let mut r = http::Response::new(Full::new(Bytes::from(out)));
                        *r.status_mut() =
                            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
                        r.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static(ct),
                        );
                        Ok::<_, Infallible>(r)
                    }
                });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            match tls {
                Some(cfg) => {
                    if let Ok(s) = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await {
                        let _ = builder.serve_connection(TokioIo::new(s), svc).await;
                    }
                }
                None => {
                    let _ = builder.serve_connection(TokioIo::new(tcp), svc).await;
                }
            }
        });
    }
}

/// Starts the institution API.
pub async fn institution() -> std::io::Result<SocketAddr> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?;
    tokio::spawn(serve(l, None, |_, _| {
        (200, "application/json", APPLICANT.as_bytes().to_vec())
    }));
    Ok(addr)
}

/// Starts the partner API; returns its address and what it receives.
pub async fn partner_api(pki: &Path) -> Result<(SocketAddr, Received), String> {
    let tls = sluice_certs::server::build(
        &sluice_certs::server::ServerMaterial {
            cert: pki.join("server.pem"),
            key: pki.join("server.key"),
            client_ca: Some(pki.join("ca.pem")),
            crls: vec![],
            client_auth: sluice_certs::server::ClientAuth::Required,
        },
        sluice_certs::inspect::now(),
    )
    .map_err(|e| e.to_string())?;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = l.local_addr().map_err(|e| e.to_string())?;
    let received: Received = Arc::default();
    let r = received.clone();
    tokio::spawn(serve(l, Some(tls.config), move |_, body| {
        r.lock().unwrap_or_else(|e| e.into_inner()).push(body);
        (201, "application/json", br#"{"accepted":true}"#.to_vec())
    }));
    Ok((addr, received))
}
