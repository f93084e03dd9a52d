//! The mock institution API of the bench harness: serves the reference feed as JSON documents of
//! a chosen size and as an NDJSON stream of any length, as fast as it can, over HTTP/1.1 or
//! HTTP/2 (prior knowledge), without TLS (the proxies in front of it terminate TLS).
//!
//! - `GET /feed?size=BYTES` — one JSON document `{"records":[...],"total":N}` of whole feed
//!   records, about BYTES long (records repeat cyclically when the feed is shorter);
//! - `GET /feed?ndjson=BYTES` — an NDJSON stream of feed records, BYTES long (rounded to whole
//!   64 KiB chunks), produced without holding it in memory.
//!
//! Documents are built once per size and cached, so serving them costs a reference count.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// The feed's records, one JSON object per entry.
#[derive(Debug, Clone)]
pub struct Records(Arc<Vec<String>>);

impl Records {
    /// The records of a feed written by `gen-feed` ([`crate::feed`]) (one record per line).
    pub fn from_feed(feed: &[u8]) -> Records {
        let text = std::str::from_utf8(feed).expect("the feed is UTF-8");
        let records: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with('{') && l.contains("\"id\""))
            .map(|l| l.trim_end_matches(',').to_string())
            .collect();
        assert!(!records.is_empty(), "the feed has no records");
        Records(Arc::new(records))
    }

    /// A JSON document of whole records, about `size` bytes (at least one record).
    pub fn document(&self, size: usize) -> Bytes {
        let mut out = String::with_capacity(size + 4096);
        out.push_str("{\"records\":[");
        let mut n = 0usize;
        for record in self.0.iter().cycle() {
            if n > 0 && out.len() + record.len() + 16 > size {
                break;
            }
            if n > 0 {
                out.push(',');
            }
            out.push_str(record);
            n += 1;
        }
        out.push_str(&format!("],\"total\":{n}}}"));
        Bytes::from(out)
    }

    /// About 64 KiB of NDJSON lines (whole records).
    pub fn ndjson_chunk(&self) -> Bytes {
        let mut out = String::new();
        for record in self.0.iter().cycle() {
            if out.len() + record.len() > 64 * 1024 && !out.is_empty() {
                break;
            }
            out.push_str(record);
            out.push('\n');
        }
        Bytes::from(out)
    }
}

/// A body that repeats one chunk `left` times.
#[derive(Debug)]
struct Repeat {
    chunk: Bytes,
    left: u64,
}

impl http_body::Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        self.left -= 1;
        Poll::Ready(Some(Ok(http_body::Frame::data(self.chunk.clone()))))
    }
}

type Body = UnsyncBoxBody<Bytes, Infallible>;

#[derive(Debug)]
struct Api {
    records: Records,
    chunk: Bytes,
    documents: Mutex<HashMap<usize, Bytes>>,
}

impl Api {
    fn respond(&self, query: Option<&str>) -> http::Response<Body> {
        let param = |name: &str| -> Option<u64> {
            query?
                .split('&')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))?
                .parse()
                .ok()
        };
        let (body, content_type) = if let Some(total) = param("ndjson") {
            let left = total.div_ceil(self.chunk.len() as u64);
            let body = Repeat {
                chunk: self.chunk.clone(),
                left,
            };
            (body.boxed_unsync(), "application/x-ndjson")
        } else {
            let size = param("size").unwrap_or(1024) as usize;
            let doc = self
                .documents
                .lock()
                .expect("the cache lock is never poisoned")
                .entry(size)
                .or_insert_with(|| self.records.document(size))
                .clone();
            (Full::new(doc).boxed_unsync(), "application/json")
        };
        let mut response = http::Response::new(body);
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        );
        response
    }
}

/// Serves the mock API on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, records: Records) {
    let api = Arc::new(Api {
        chunk: records.ndjson_chunk(),
        records,
        documents: Mutex::new(HashMap::new()),
    });
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let api = api.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let response = api.respond(req.uri().query());
                    async move { Ok::<_, Infallible>(response) }
                });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

/// Binds `address` and serves the API in the background; returns the bound address.
pub async fn spawn(address: &str, records: Records) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(serve(listener, records));
    Ok(bound)
}
