//! An OTLP/HTTP sink for the `sluice-otel` target: it accepts every export sluice posts to
//! `/v1/traces` and `/v1/metrics`, reads the body and answers 200 with an empty protobuf
//! response. It runs in the bench process on a thread of its own, so its CPU is not counted as
//! sluice's; what the target measures is sluice's cost of building, batching and sending its
//! telemetry.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// Bytes received so far (to report that export really happened).
#[derive(Debug, Clone, Default)]
pub struct Received(Arc<AtomicU64>);

impl Received {
    /// Bytes of export bodies received.
    pub fn bytes(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Starts the sink on a loopback port.
pub fn start() -> Result<(SocketAddr, Received), String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let received = Received::default();
    let count = received.0.clone();
    std::thread::Builder::new()
        .name("otlp-sink".into())
        .spawn(move || {
            // Lowest priority: on the load generator's core, the sink takes only time the load
            // generator leaves idle, so the closed-loop rate (and with it the proxy's batching)
            // is not lowered by the sink itself.
            if let Ok(me) = std::fs::read_link("/proc/thread-self")
                && let Some(tid) = me.file_name().and_then(|t| t.to_str())
            {
                let _ = std::process::Command::new("renice")
                    .args(["-n", "19", "-p", tid])
                    .stdout(std::process::Stdio::null())
                    .status();
            }
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                while let Ok((tcp, _)) = listener.accept().await {
                    let count = count.clone();
                    tokio::spawn(async move {
                        let svc = hyper::service::service_fn(
                            move |req: http::Request<hyper::body::Incoming>| {
                                let count = count.clone();
                                async move {
                                    let body = req
                                        .into_body()
                                        .collect()
                                        .await
                                        .map(|b| b.to_bytes())
                                        .unwrap_or_default();
                                    count.fetch_add(body.len() as u64, Ordering::Relaxed);
                                    let mut r = http::Response::new(Full::new(Bytes::new()));
                                    r.headers_mut().insert(
                                        http::header::CONTENT_TYPE,
                                        http::HeaderValue::from_static("application/x-protobuf"),
                                    );
                                    Ok::<_, Infallible>(r)
                                }
                            },
                        );
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tcp), svc)
                            .await;
                    });
                }
            });
        })
        .map_err(|e| e.to_string())?;
    Ok((addr, received))
}
