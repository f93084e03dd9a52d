//! The HTTP Garden's documented parser bugs (`tests/corpora/http-garden-trophies/`), replayed
//! as raw bytes over mTLS against a running sluice with a recording institution behind it.
//!
//! Every request target is rewritten to a route the partner's contract allows
//! (`/v1/applicants/g{payload}x{request}`), so a request that gets through really reaches the
//! institution and can be attributed. Pass: for each payload the institution records at most one
//! request, and only the payload's first — a payload never smuggles a second request past
//! sluice, and sluice and the institution never split the bytes differently.

use sluice_tests::harness::*;

struct Payload {
    id: String,
    bytes: Vec<u8>,
}

/// Decodes the corpus's escaping: `\r`, `\n`, `\t`, `\\`, `\xNN`.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'x' if i + 3 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 4;
                    continue;
                }
                other => panic!("unknown escape \\{}", other as char),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Rewrites each request line's origin-form target (`METHOD /… HTTP/`) to an allowed route.
fn retarget(payload: &[u8], index: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 64);
    let mut k = 0;
    let mut i = 0;
    while i < payload.len() {
        let line_start = i == 0 || payload[i - 1] == b'\n';
        if line_start {
            let method_len = payload[i..]
                .iter()
                .take_while(|b| b.is_ascii_uppercase())
                .count();
            let at = i + method_len;
            if method_len > 0 && payload[at..].starts_with(b" /") {
                let target_len = payload[at + 1..].iter().take_while(|&&b| b != b' ').count();
                if payload[at + 1 + target_len..].starts_with(b" HTTP/") {
                    out.extend_from_slice(&payload[i..at + 1]);
                    out.extend_from_slice(format!("/v1/applicants/g{index}x{k}").as_bytes());
                    k += 1;
                    i = at + 1 + target_len;
                    continue;
                }
            }
        }
        out.push(payload[i]);
        i += 1;
    }
    out
}

fn payloads() -> Vec<Payload> {
    let path = sluice_tests::corpus("http-garden-trophies").join("payloads.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            Payload {
                id: cols[0].to_string(),
                bytes: unescape(cols[6]),
            }
        })
        .collect()
}

fn institution() -> Handler {
    json_mock(br#"{"applicants":[]}"#)
}

#[test]
fn retargeting_rewrites_every_request_line() {
    let p = retarget(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /x?y HTTP/1.1\r\n\r\nGET * HTTP/1.1\r\n",
        7,
    );
    assert_eq!(
        p,
        b"GET /v1/applicants/g7x0 HTTP/1.1\r\nHost: a\r\n\r\nPOST /v1/applicants/g7x1 HTTP/1.1\r\n\r\nGET * HTTP/1.1\r\n"
    );
    assert_eq!(unescape(r"a\r\n\x00\t\\"), b"a\r\n\0\t\\");
}

#[tokio::test]
async fn no_garden_payload_smuggles_a_request_past_sluice() {
    let all = payloads();
    assert_eq!(all.len(), 76, "the corpus changed");
    let dir = pki("garden", &["acme-loans"]);
    let (inst, recorder) = mock_http(institution()).await;
    let (partner, _) = mock_https(&dir, institution()).await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    let addr = sluice.addr("partners").unwrap();
    // Concurrently, in batches: a payload sluice leaves open waits for the read timeout.
    let mut answers = Vec::new();
    for batch in all.chunks(20) {
        let tasks: Vec<_> = batch
            .iter()
            .enumerate()
            .map(|(j, p)| {
                let index = answers.len() + j;
                let bytes = retarget(&p.bytes, index);
                let dir = dir.clone();
                tokio::spawn(async move {
                    raw_tls(&dir, addr, &bytes, std::time::Duration::from_millis(1500)).await
                })
            })
            .collect();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
    }
    let recorded: Vec<String> = recorder.requests().into_iter().map(|r| r.1).collect();
    let mut reached = 0;
    for (index, (p, answer)) in all.iter().zip(&answers).enumerate() {
        let prefix = format!("/v1/applicants/g{index}x");
        let got: Vec<&String> = recorded.iter().filter(|r| r.starts_with(&prefix)).collect();
        assert!(got.len() <= 1, "{}: the institution received {got:?}", p.id);
        if let Some(path) = got.first() {
            reached += 1;
            // Only the payload's first request may arrive: a later one arriving would mean
            // sluice and the institution split the bytes differently.
            assert_eq!(
                **path,
                format!("{prefix}0"),
                "{}: {:?}",
                p.id,
                String::from_utf8_lossy(answer)
            );
        }
    }
    eprintln!(
        "{} payloads, {reached} reached the institution as one request, the rest refused or closed",
        all.len()
    );
    sluice.shutdown().await;
}
