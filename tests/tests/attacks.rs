//! The attack matrix (JSON parser differentials and body-filter bypasses over HTTP; the rows of
//! `deploy/docs/security.md`'s "Tested" table), over real mTLS: each case
//! asserts the status (or the abort), what the other side received, and that no canary crossed —
//! searched in the raw bytes and in decoded views (JSON-unescaped, gzip-decoded, NFKC-normalised
//! with zero-width characters and separators removed, read as digits the way a program does:
//! tag characters as ASCII, other scripts' digits and Chinese numerals as digits).
//!
//! - Pull (the institution answers with a crafted body; the partner must not get the canary):
//!   JSON parser-differential tricks.
//! - Push (the institution's system sends a crafted request; the partner's API must not get it):
//!   content types, content codings, chunk extensions and trailers, `Expect`, header tricks.
//!
//! Framing smuggling (CL.TE, duplicate CL, obfuscated TE, `chunked, chunked`, upgrades) is in
//! `framing.rs`, HTTP Garden replays in `http_garden.rs`, the JSONTestSuite in
//! `json_test_suite.rs`; `deploy/docs/security.md` lists them together.

use std::io::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_tests::harness::*;
use unicode_normalization::UnicodeNormalization;

/// The canary: a valid resident identity number that must never reach the other side whole.
const ID: &str = "11010519491231002X";
const INSTITUTION: Option<(&str, &str)> = Some(("institution.pem", "institution.key"));
const ACME: Option<(&str, &str)> = Some(("partners/acme-loans.pem", "partners/acme-loans.key"));

/// Whether `bytes` carries the canary in any view a downstream parser or a person could take.
fn leaks(bytes: &[u8]) -> Option<&'static str> {
    let raw = String::from_utf8_lossy(bytes);
    if raw.contains(ID) {
        return Some("raw");
    }
    let mut gunzipped = Vec::new();
    if std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut gunzipped).is_ok()
        && leaks(&gunzipped).is_some()
    {
        return Some("gzip-decoded");
    }
    // Every JSON value of the body (or of each NDJSON line), unescaped.
    let unescaped: String = serde_json::Deserializer::from_slice(bytes)
        .into_iter::<serde_json::Value>()
        .map_while(Result::ok)
        .map(|v| v.to_string())
        .collect();
    let decoded = unescape_all(&unescaped);
    if decoded.contains(ID) {
        return Some("json-unescaped");
    }
    // NFKC (full-width digits), without format characters (zero-width) and separators.
    let folded: String = format!("{raw}{decoded}")
        .nfkc()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    if folded.contains(ID) {
        return Some("nfkc-folded");
    }
    // As a program reads digits NFKC leaves alone: Unicode tag characters as the ASCII they
    // mirror (invisible on screen), other scripts' digits and Chinese numerals as digits.
    let read: String = format!("{raw}{decoded}")
        .chars()
        .filter_map(|c| match c as u32 {
            0xE0020..=0xE007E => char::from_u32(c as u32 - 0xE0000),
            0x660..=0x669 => char::from_u32(c as u32 - 0x660 + 0x30),
            0x6F0..=0x6F9 => char::from_u32(c as u32 - 0x6F0 + 0x30),
            0x966..=0x96F => char::from_u32(c as u32 - 0x966 + 0x30),
            _ => match "〇一二三四五六七八九".chars().position(|n| n == c) {
                Some(d) => char::from_digit(d as u32, 10),
                None => Some(c),
            },
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    read.contains(ID).then_some("read-as-digits")
}

/// The string values of a JSON text with their escapes decoded (serde's output keeps non-ASCII
/// as is but escapes quotes and controls; decode `\uXXXX` left by the source too).
fn unescape_all(text: &str) -> String {
    let mut out = String::new();
    for v in serde_json::Deserializer::from_str(text)
        .into_iter::<serde_json::Value>()
        .map_while(Result::ok)
    {
        collect_strings(&v, &mut out);
    }
    out
}

fn collect_strings(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::String(s) => {
            out.push_str(s);
            out.push(' ');
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push_str(k);
            out.push(' ');
            collect_strings(x, out);
        }),
        _ => {}
    }
}

/// How a case must end.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// 2xx and a complete body.
    Served,
    /// Refused with this status (nothing of the body sent).
    Refused(u16),
    /// Pull only: refused with 502 when the problem shows before any output, else the stream is
    /// cut (the partner never has a complete message). Which one depends on where the chunk
    /// boundaries fall, so both pass.
    Stopped,
}

struct PullCase {
    name: &'static str,
    body: Vec<u8>,
    content_type: &'static str,
    expect: Expect,
}

fn pull(name: &'static str, body: impl Into<Vec<u8>>, expect: Expect) -> PullCase {
    PullCase {
        name,
        body: body.into(),
        content_type: "application/json",
        expect,
    }
}

fn pull_cases() -> Vec<PullCase> {
    use Expect::*;
    let a =
        |members: &str| format!(r#"{{"applicants":[{{"applicant_no":"LA20260001",{members}}}]}}"#);
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let many_keys: String = (0..20_000)
        .map(|i| format!(r#""k{i}":"{ID}""#))
        .collect::<Vec<_>>()
        .join(",");
    vec![
        // §2.1 duplicate keys, raw and after unescaping; §2.2 escaped keys.
        pull(
            "duplicate key",
            a(&format!(r#""credit_score":1,"credit_score":"{ID}""#)),
            Stopped,
        ),
        pull(
            "duplicate after unescaping",
            a(&format!(r#""credit_score":1,"credit\u005fscore":"{ID}""#)),
            Stopped,
        ),
        pull(
            "escaped allowed key, stripped neighbour",
            a(&format!(r#""credit\u005fscore":700,"note":"{ID}""#)),
            Served,
        ),
        // §2.3 truncation and collisions.
        pull(
            "lone surrogate in a stripped key",
            a(&format!(r#""credit_score\ud888":"{ID}""#)),
            Stopped,
        ),
        pull(
            "NUL in a key",
            a(&format!(r#""credit_score\u0000":"{ID}""#)),
            Served,
        ),
        pull(
            "invalid escape",
            a(&format!(r#""credit\_score":"{ID}""#)),
            Stopped,
        ),
        // §2.4–2.5 encodings.
        pull(
            "invalid UTF-8 in a stripped value",
            [
                a(r#""x":""#).as_bytes(),
                b"\xff\xfe",
                format!(r#"{ID}"}}]}}"#).as_bytes(),
            ]
            .concat(),
            Stopped,
        ),
        pull(
            "overlong UTF-8 quote",
            [
                a(r#""x":"a"#).as_bytes(),
                b"\xc0\xa2,\"credit_score\":\"",
                ID.as_bytes(),
                b"\"}]}",
            ]
            .concat(),
            Stopped,
        ),
        pull(
            "BOM",
            [
                b"\xef\xbb\xbf".as_slice(),
                a(&format!(r#""note":"{ID}""#)).as_bytes(),
            ]
            .concat(),
            Stopped,
        ),
        // §2.6–2.7 numbers and literals.
        pull(
            "huge exponent in a stripped member",
            a(r#""x":1e400"#),
            Stopped,
        ),
        pull(
            "30-digit integer in a stripped member",
            a(r#""x":123456789012345678901234567890"#),
            Stopped,
        ),
        // A kept number that says more than a parser of doubles reads: the identity number's
        // digits in the fraction of a bounded score (regression: went out as written).
        pull(
            "identity digits past binary64 in a kept number",
            a(r#""credit_score":700.110105194912310021"#),
            Stopped,
        ),
        pull("NaN", a(r#""x":NaN"#), Stopped),
        pull("leading zero", a(r#""credit_score":0700"#), Stopped),
        pull("True", a(r#""x":True"#), Stopped),
        // §2.8–2.11 comments, commas, quotes, whitespace, trailing data.
        pull(
            "comment hiding a member",
            a(&format!(r#""credit_score":1 /*,"x":"{ID}"*/"#)),
            Stopped,
        ),
        pull("trailing comma", a(r#""credit_score":1,"#), Stopped),
        pull(
            "single quotes",
            a(&format!(r#"'credit_score':'{ID}'"#)),
            Stopped,
        ),
        pull(
            "form feed as whitespace",
            a("\"credit_score\":\x0c1"),
            Stopped,
        ),
        pull(
            "two documents",
            format!(
                "{}{}",
                a(r#""credit_score":1"#),
                a(&format!(r#""note":"{ID}""#))
            ),
            Stopped,
        ),
        pull(
            "truncated",
            a(r#""credit_score":1"#).trim_end_matches("}]}").to_string(),
            Stopped,
        ),
        // §2.12–2.13 depth and size.
        pull(
            "deep nesting in a stripped member",
            a(&format!(r#""x":{deep}"#)),
            Stopped,
        ),
        // Over the string limit: the body stops (a limit, never "inspect the first N KiB").
        pull(
            "very long string in a stripped member",
            a(&format!(r#""x":"{}{ID}""#, "a".repeat(1 << 20))),
            Stopped,
        ),
        pull(
            "20,000 keys in a stripped object",
            a(&format!(r#""x":{{{many_keys}}}"#)),
            Served,
        ),
        // §2.14–2.16 key variants, path confusion, type confusion.
        pull(
            "case variant of an allowed key",
            a(&format!(r#""Credit_Score":"{ID}""#)),
            Served,
        ),
        pull(
            "full-width underscore in a key",
            a(&format!(r#""credit＿score":"{ID}""#)),
            Served,
        ),
        pull(
            "zero-width space in a key",
            a(&format!(r#""credit\u200b_score":"{ID}""#)),
            Served,
        ),
        pull(
            "dotted key",
            a(&format!(r#""applicant.name":"{ID}""#)),
            Served,
        ),
        pull(
            "object where a number is allowed",
            a(&format!(r#""credit_score":{{"id":"{ID}"}}"#)),
            Stopped,
        ),
        pull(
            "array where a string is allowed",
            a(&format!(r#""applicant_no":["{ID}"]"#)).replacen(
                r#""applicant_no":"LA20260001","#,
                "",
                1,
            ),
            Stopped,
        ),
        // §2.17 personal data inside an allowed (scanned) value.
        pull(
            "id number in a scanned remark",
            a(&format!(r#""remarks":"call about {ID}""#)),
            Served,
        ),
        pull(
            "full-width digits in a remark",
            a(r#""remarks":"身份证１１０１０５１９４９１２３１００２Ｘ""#),
            Served,
        ),
        pull(
            "zero-width splits in a remark",
            a(r#""remarks":"1101\u200b0519\u200b4912\u200b3100\u200b2X""#),
            Served,
        ),
        pull(
            "tag characters in a remark (invisible, ASCII to a program)",
            a(&format!(
                r#""remarks":"备注{}""#,
                ID.chars()
                    .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
                    .collect::<String>()
            )),
            Served,
        ),
        pull(
            "Arabic-Indic digits in a remark",
            a(&format!(
                r#""remarks":"{}""#,
                ID.chars()
                    .map(|c| match c.to_digit(10) {
                        Some(d) => char::from_u32(0x660 + d).unwrap(),
                        None => c,
                    })
                    .collect::<String>()
            )),
            Served,
        ),
        pull(
            "Chinese numerals in a remark",
            a(r#""remarks":"身份证一一〇一〇五一九四九一二三一〇〇二X""#),
            Served,
        ),
        pull(
            "separators in a remark",
            a(r#""remarks":"110105-19491231-002X""#),
            Served,
        ),
        pull(
            "control characters between the digits of a remark (BEL, a C1 control)",
            a(r#""remarks":"身份证1101051949\u00071231\u009f002X""#),
            Served,
        ),
        pull(
            "thin spaces and a spaced dash between digit groups of a remark",
            a("\"remarks\":\"身份证110105\u{2009}19491231 - 002X\""),
            Served,
        ),
        pull(
            "escaped digits in a remark",
            a(
                r#""remarks":"\u0031\u0031\u0030\u0031\u0030\u0035\u0031\u0039\u0034\u0039\u0031\u0032\u0033\u0031\u0030\u0030\u0032X""#,
            ),
            Served,
        ),
        // §2.18–2.19 root type, prototype keys.
        pull(
            "top-level array",
            format!(r#"[{{"applicant_no":"LA20260001","note":"{ID}"}}]"#),
            Stopped,
        ),
        pull(
            "__proto__ key",
            a(&format!(r#""__proto__":{{"id":"{ID}"}}"#)),
            Served,
        ),
        // §3 content type of a response.
        PullCase {
            content_type: "text/plain",
            ..pull(
                "text/plain response",
                a(&format!(r#""note":"{ID}""#)),
                Refused(502),
            )
        },
        PullCase {
            content_type: "application/json; charset=utf-16",
            ..pull(
                "utf-16 response",
                a(&format!(r#""note":"{ID}""#)),
                Refused(502),
            )
        },
    ]
}

#[tokio::test]
async fn json_attacks_on_the_pull_path() {
    let cases = Arc::new(pull_cases());
    let table = cases.clone();
    let handler: Handler = Arc::new(move |req| {
        let i: usize = req
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let case = &table[i];
        MockResponse {
            status: 200,
            content_type: case.content_type,
            encoding: None,
            delay_ms: 0,
            body: Chunks::new(&case.body, 7, false),
        }
    });
    let dir = pki("attacks-pull", &["acme-loans"]);
    let (inst, _) = mock_http(handler).await;
    let (partner_api, _) = mock_http(handler_ok()).await;
    let sluice = start_sluice(&dir, inst, partner_api, &example_policy()).await;
    let port = sluice.addr("partners").unwrap().port();
    let mut failures = Vec::new();
    for h2 in [false, true] {
        let acme = client(&dir, ACME, h2);
        for (i, case) in cases.iter().enumerate() {
            let (status, received, complete) = fetch_partial(
                &acme,
                Request::get(format!("https://localhost:{port}/v1/applicants/{i}"))
                    .body(Full::new(Bytes::new()))
                    .unwrap(),
            )
            .await;
            let got = match (complete, status) {
                (true, s) if (200..300).contains(&s) => Expect::Served,
                (false, s) if (200..300).contains(&s) && case.expect == Expect::Stopped => {
                    Expect::Stopped
                }
                (_, 502) if case.expect == Expect::Stopped => Expect::Stopped,
                (_, s) => Expect::Refused(s),
            };
            if got != case.expect {
                failures.push(format!(
                    "h2={h2} {}: expected {:?}, got {got:?} ({:?})",
                    case.name,
                    case.expect,
                    String::from_utf8_lossy(&received[..received.len().min(200)])
                ));
            }
            if got == Expect::Served
                && serde_json::from_slice::<serde_json::Value>(&received).is_err()
            {
                failures.push(format!(
                    "h2={h2} {}: served output is not one JSON document",
                    case.name
                ));
            }
            if let Some(view) = leaks(&received) {
                failures.push(format!(
                    "h2={h2} {}: the canary crossed ({view})",
                    case.name
                ));
            }
        }
    }
    sluice.shutdown().await;
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        2 * cases.len(),
        failures.join("\n")
    );
}

/// Status, the body bytes received (even when the stream is cut), and whether it completed.
async fn fetch_partial(
    client: &hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Full<Bytes>,
    >,
    req: Request<Full<Bytes>>,
) -> (u16, Vec<u8>, bool) {
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut got = Vec::new();
    while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
        match frame {
            Ok(f) => {
                if let Some(d) = f.data_ref() {
                    got.extend_from_slice(d);
                }
            }
            Err(_) => return (status, got, false),
        }
    }
    (status, got, true)
}

fn handler_ok() -> Handler {
    Arc::new(|_| MockResponse {
        status: 201,
        content_type: "application/json",
        encoding: None,
        delay_ms: 0,
        body: Chunks::new(b"{}", 64, false),
    })
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A push request as raw HTTP/1.1: head lines (without Host and framing) and the body.
struct PushCase {
    name: &'static str,
    head: String,
    body: Vec<u8>,
    /// 2xx with the partner receiving one filtered request, or refused with the partner
    /// receiving nothing.
    expect: Expect,
}

const POLICY: &str = r#"{"policies":[{"policy_no":"P1","holder":{"name":"张伟","id_no":"11010519491231002X","mobile":"13860642414"},"premium":1200,"diagnosis":"11010519491231002X"}]}"#;

fn push(name: &'static str, head: &str, body: impl Into<Vec<u8>>, expect: Expect) -> PushCase {
    PushCase {
        name,
        head: head.to_string(),
        body: body.into(),
        expect,
    }
}

fn push_cases() -> Vec<PushCase> {
    use Expect::*;
    let json = "content-type: application/json\r\n";
    let chunked = |body: &[u8], ext: &str, trailer: &str| {
        let mut out = Vec::new();
        for c in body.chunks(13) {
            out.extend_from_slice(format!("{:x}{ext}\r\n", c.len()).as_bytes());
            out.extend_from_slice(c);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("0\r\n{trailer}\r\n").as_bytes());
        out
    };
    let bomb = {
        let mut doc = br#"{"policies":[{"policy_no":""#.to_vec();
        doc.extend(std::iter::repeat_n(b'0', 64 << 20));
        doc.extend_from_slice(br#""}]}"#);
        gzip(&doc)
    };
    vec![
        // Content types.
        push("application/json", json, POLICY, Served),
        push(
            "odd-case type with a quoted charset",
            "content-type: Application/JSON ; Charset=\"UTF-8\"\r\n",
            POLICY,
            Served,
        ),
        push(
            "+json suffix",
            "content-type: application/vnd.policies+json\r\n",
            POLICY,
            Served,
        ),
        push(
            "charset utf-16",
            "content-type: application/json; charset=utf-16\r\n",
            POLICY,
            Refused(415),
        ),
        push("missing content type", "", POLICY, Refused(415)),
        push(
            "text/plain holding JSON",
            "content-type: text/plain\r\n",
            POLICY,
            Refused(415),
        ),
        push(
            "form",
            "content-type: application/x-www-form-urlencoded\r\n",
            format!("holder.id_no={ID}"),
            Refused(415),
        ),
        push(
            "multipart",
            "content-type: multipart/form-data; boundary=x\r\n",
            format!("--x\r\ncontent-type: application/json\r\n\r\n{POLICY}\r\n--x--\r\n"),
            Refused(415),
        ),
        // Content codings.
        push(
            "gzip",
            &format!("{json}content-encoding: gzip\r\n"),
            gzip(POLICY.as_bytes()),
            Served,
        ),
        push(
            "stacked gzip, gzip",
            &format!("{json}content-encoding: gzip, gzip\r\n"),
            gzip(&gzip(POLICY.as_bytes())),
            Refused(415),
        ),
        push(
            "unknown coding",
            &format!("{json}content-encoding: x-partner\r\n"),
            POLICY,
            Refused(415),
        ),
        push(
            "gzip bomb",
            &format!("{json}content-encoding: gzip\r\n"),
            bomb,
            Refused(413),
        ),
        // Chunk extensions and trailers carrying personal data.
        push(
            "chunk extensions with an id",
            &format!("{json}transfer-encoding: chunked\r\n"),
            chunked(POLICY.as_bytes(), &format!(";id={ID}"), ""),
            Served,
        ),
        push(
            "trailer with an id",
            &format!("{json}transfer-encoding: chunked\r\ntrailer: x-id-number\r\n"),
            chunked(POLICY.as_bytes(), "", &format!("x-id-number: {ID}\r\n")),
            Served,
        ),
        // Expect, header tricks.
        push(
            "expect 100-continue",
            &format!("{json}expect: 100-continue\r\n"),
            POLICY,
            Served,
        ),
        push(
            "obs-fold",
            &format!("{json}x-note: a\r\n b\r\n"),
            POLICY,
            Refused(400),
        ),
        push(
            "identity headers from the caller",
            &format!("{json}x-forwarded-client-cert: {ID}\r\nx-partner-id: {ID}\r\n"),
            POLICY,
            Served,
        ),
        push(
            "bare LF line endings",
            "content-type: application/json\n",
            POLICY,
            Refused(400),
        ),
        push(
            "duplicate content type",
            "content-type: application/json\r\ncontent-type: text/plain\r\n",
            POLICY,
            Refused(415),
        ),
    ]
}

#[tokio::test]
async fn http_attacks_on_the_push_path() {
    let dir = pki("attacks-push", &["safe-insure"]);
    let (inst, _) = mock_http(handler_ok()).await;
    let (partner_api, recorder) = mock_https(&dir, handler_ok()).await;
    let sluice = start_sluice(&dir, inst, partner_api, &example_policy()).await;
    let addr = sluice.addr("internal").unwrap();
    let mut failures = Vec::new();
    for case in push_cases() {
        let before = recorder.requests().len();
        let framing = if case.head.contains("transfer-encoding") {
            String::new()
        } else {
            format!("content-length: {}\r\n", case.body.len())
        };
        let eol = if case.name == "bare LF line endings" {
            "\n"
        } else {
            "\r\n"
        };
        let mut raw = format!(
            "POST /v2/policies HTTP/1.1{eol}host: localhost{eol}connection: close{eol}{}{framing}{eol}",
            case.head
        )
        .into_bytes();
        raw.extend_from_slice(&case.body);
        let answer = raw_tls_as(
            &dir,
            INSTITUTION.unwrap(),
            addr,
            &raw,
            std::time::Duration::from_secs(10),
        )
        .await;
        // The final status line (after any `100 Continue`).
        let text = String::from_utf8_lossy(&answer);
        let status: u16 = text
            .match_indices("HTTP/1.1 ")
            .filter_map(|(at, _)| text.get(at + 9..at + 12)?.parse().ok())
            .find(|s: &u16| *s >= 200)
            .unwrap_or(0);
        let got = if (200..300).contains(&status) {
            Expect::Served
        } else {
            Expect::Refused(status)
        };
        let received = recorder.requests()[before..].to_vec();
        if got != case.expect {
            failures.push(format!(
                "{}: expected {:?}, got {got:?}: {}",
                case.name,
                case.expect,
                String::from_utf8_lossy(&answer[..answer.len().min(300)])
            ));
        }
        let complete: Vec<_> = received.iter().filter(|r| r.3.is_ok()).collect();
        match case.expect {
            Expect::Served if complete.len() != 1 => failures.push(format!(
                "{}: the partner got {} complete requests",
                case.name,
                complete.len()
            )),
            Expect::Refused(_) if !complete.is_empty() => failures.push(format!(
                "{}: refused, yet the partner got a complete request",
                case.name
            )),
            _ => {}
        }
        for (_, pq, headers, body, _) in &received {
            let mut seen = pq.as_bytes().to_vec();
            for (k, v) in headers {
                seen.extend_from_slice(format!("{k}: ").as_bytes());
                seen.extend_from_slice(v.as_bytes());
                seen.push(b'\n');
            }
            if let Some(view) = leaks(&seen) {
                failures.push(format!(
                    "{}: the canary crossed in the head ({view})",
                    case.name
                ));
            }
            if let Some(view) = body.as_ref().ok().and_then(|b| leaks(b)) {
                failures.push(format!(
                    "{}: the canary crossed in the body ({view})",
                    case.name
                ));
            }
        }
    }
    sluice.shutdown().await;
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_canary_views_find_what_they_should() {
    assert_eq!(leaks(ID.as_bytes()), Some("raw"));
    assert_eq!(leaks(&gzip(ID.as_bytes())), Some("gzip-decoded"));
    assert_eq!(
        leaks(br#"{"a":"1101051949123100\u0032X"}"#),
        Some("json-unescaped")
    );
    assert_eq!(
        leaks("１１０１０５１９４９１２３１００２Ｘ".as_bytes()),
        Some("nfkc-folded")
    );
    assert_eq!(
        leaks("1101\u{200b}0519-4912 3100 2X".as_bytes()),
        Some("nfkc-folded")
    );
    assert_eq!(leaks(br#"{"id_no":"110105********002X"}"#), None);
}

#[tokio::test]
async fn h2_one_byte_data_frames_are_reassembled_and_filtered() {
    let dir = pki("attacks-h2", &["safe-insure"]);
    let (inst, _) = mock_http(handler_ok()).await;
    let (partner_api, recorder) = mock_https(&dir, handler_ok()).await;
    let sluice = start_sluice(&dir, inst, partner_api, &example_policy()).await;
    let port = sluice.addr("internal").unwrap().port();
    let c = client_for::<Chunks>(&dir, INSTITUTION, true);
    let req = Request::post(format!("https://localhost:{port}/v2/policies"))
        .header("content-type", "application/json")
        .body(Chunks::new(POLICY.as_bytes(), 1, false))
        .unwrap();
    let resp = c.request(req).await.unwrap();
    assert_eq!(resp.status(), 201);
    let got = recorder.requests();
    assert_eq!(got.len(), 1);
    let body = got[0].3.as_ref().unwrap();
    assert_eq!(leaks(body), None);
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v["policies"][0]["holder"]["name"], "张*");
    assert!(v["policies"][0].get("diagnosis").is_none(), "stripped");
    sluice.shutdown().await;
}

/// HTTP/2 carries the body in DATA frames and may also declare `content-length`; the two must
/// agree (RFC 9113 §8.1.1). A body longer or shorter than declared is a malformed message: the
/// institution's request fails, and the partner never receives a whole message.
#[tokio::test]
async fn h2_content_length_that_disagrees_with_the_data_is_refused() {
    let dir = pki("attacks-h2-cl", &["safe-insure"]);
    let (inst, _) = mock_http(handler_ok()).await;
    let (partner_api, recorder) = mock_https(&dir, handler_ok()).await;
    let sluice = start_sluice(&dir, inst, partner_api, &example_policy()).await;
    let port = sluice.addr("internal").unwrap().port();
    let c = client_for::<Chunks>(&dir, INSTITUTION, true);
    let send = |declared: usize| {
        let req = Request::post(format!("https://localhost:{port}/v2/policies"))
            .header("content-type", "application/json")
            .header("content-length", declared)
            .body(Chunks::new(POLICY.as_bytes(), 64, false))
            .unwrap();
        c.request(req)
    };
    // The honest request first: the route works, and the partner gets one whole message.
    let ok = send(POLICY.len()).await.unwrap();
    assert_eq!(ok.status(), 201);
    for (declared, what) in [
        (10, "longer than declared"),
        (POLICY.len() + 100, "shorter"),
    ] {
        // An error here is the stream being reset (PROTOCOL_ERROR).
        if let Ok(resp) = send(declared).await {
            let status = resp.status();
            let body = http_body_util::BodyExt::collect(resp.into_body()).await;
            assert!(
                status.is_client_error() || body.is_err(),
                "{what}: {status} with a complete body"
            );
        }
    }
    // Both malformed messages reached sluice (they are in the ledger) and none of their bytes
    // went out.
    let ledger = dir.join("ledger");
    let outcomes: Vec<(String, Option<u64>)> = disclosures_when(&ledger, |ds| {
        ds.len() == 3 && ds.iter().all(|(v, _, _)| v["outcome"] != "open")
    })
    .await
    .into_iter()
    .map(|(v, _, _)| {
        (
            v["outcome"].as_str().unwrap().to_string(),
            v["bytes_sent"].as_u64(),
        )
    })
    .collect();
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert_eq!(outcomes[0].0, "sent");
    for (outcome, sent) in &outcomes[1..] {
        assert!(outcome != "sent" && outcome != "open", "{outcomes:?}");
        assert_eq!(*sent, Some(0), "{outcomes:?}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got = recorder.requests();
    let whole: Vec<_> = got.iter().filter(|r| r.3.is_ok()).collect();
    assert_eq!(
        whole.len(),
        1,
        "only the honest request arrived whole: {got:?}"
    );
    assert_eq!(leaks(whole[0].3.as_ref().unwrap()), None);
    sluice.shutdown().await;
}
