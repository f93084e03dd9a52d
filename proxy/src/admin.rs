//! The admin listener (loopback by default): `/livez` and `/readyz` for orchestrators.
//! Ready means: a policy is loaded and the ledger can write. (Metrics and reload over HTTP come
//! with the telemetry issue.)

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::state::Shared;

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}

async fn serve(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match req.uri().path() {
        "/livez" => reply(StatusCode::OK, "ok\n"),
        "/readyz" => match &shared.ledger {
            Some(l) if l.healthy() => reply(StatusCode::OK, "ready\n"),
            _ => reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the ledger cannot write\n",
            ),
        },
        _ => reply(StatusCode::NOT_FOUND, "not found\n"),
    })
}

/// Starts the admin listener; returns its bound address.
pub async fn start(
    shared: Arc<Shared>,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                break;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| serve(shared.clone(), req));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    Ok((bound, task))
}
