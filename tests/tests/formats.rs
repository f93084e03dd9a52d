//! CSV and form bodies end to end over mTLS: pulled by a partner and pushed to one, filtered by
//! the same contract as JSON, refused when malformed (nothing reaches the other side), and
//! refused on a route whose `formats` do not list them.

use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_tests::harness::*;

const ID: &str = "310115197511030084";
const MOBILE: &str = "13812345678";

/// A policy of the two partners, `acme-loans` and `safe-insure`, with `contracts`; `head` are
/// top-level tables before them (`[namespaces]`).
fn two_partners(head: &str, contracts: &str) -> String {
    format!(
        r#"version = 1
{head}
[[partner]]
id           = "acme-loans"
identity     = {{ uri_san = "spiffe://partners.sluice.test/acme-loans" }}
jurisdiction = "CN"
[[partner]]
id           = "safe-insure"
identity     = {{ uri_san = "spiffe://partners.sluice.test/safe-insure" }}
jurisdiction = "CN"
{contracts}"#
    )
}

/// Contract `id` of `partner` with `body`: its routes and `[contract.fields]`.
fn contract(id: &str, partner: &str, body: &str) -> String {
    format!(
        r#"
[[contract]]
id          = "{id}"
partner     = "{partner}"
purpose     = "tests"
legal_basis = "consent"
valid_from  = 2020-01-01
valid_until = 2099-01-01
{body}"#
    )
}

/// One contract per direction, both listing CSV and forms besides JSON; `/v1/json-only` lists
/// the defaults only.
fn policy() -> String {
    let fields = r#"
  [contract.fields]
  "$.loans[*].loan_id" = "keep"
  "$.loans[*].name"    = "mask:name"
  "$.loans[*].id_no"   = "mask:id_card"
  "$.loans[*].mobile"  = "hash"
  "$.loans[*].amount"  = { keep = "number", min = 0 }
"#;
    let route = |flow: &str, method: &str, path: &str, upstream: &str, formats: &str| {
        format!(
            r#"
  [[contract.route]]
  flow     = "{flow}"
  method   = "{method}"
  path     = "{path}"
  upstream = "{upstream}"
  records  = "$.loans[*]"
  subject  = "$.loans[*].id_no"
  formats  = {formats}
"#
        )
    };
    let all = r#"["json", "csv", "form"]"#;
    let pulls = route("pull", "GET", "/v1/loans/{kind}", "institution", all)
        + &route(
            "pull",
            "GET",
            "/v1/json-only/{kind}",
            "institution",
            r#"["json"]"#,
        );
    let pushes = route("push", "POST", "/v2/loans", "acme-api", all)
        + &route("push", "POST", "/v2/json-only", "acme-api", r#"["json"]"#);
    two_partners(
        "",
        &(contract("acme-pull", "acme-loans", &(pulls + fields))
            + &contract("insure-push", "safe-insure", &(pushes + fields))),
    )
}

fn csv_body() -> String {
    format!(
        "loan_id,name,id_no,mobile,card,amount\r\n\"L,1\",欧阳明轩,{ID},{MOBILE},6222020000000005645,100\r\nL2,张三,110101199003074258,,,\"5\"\r\n"
    )
}

fn form_body() -> String {
    format!(
        "loan_id=L1&name=%E5%BC%A0%E4%B8%89&id_no={ID}&card=6222020000000005645&mobile={MOBILE}&amount=12"
    )
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

fn institution() -> Handler {
    Arc::new(|req| {
        let path = req.uri().path().to_string();
        let (content_type, body): (&'static str, Vec<u8>) = if path.ends_with("/csv") {
            (
                "text/csv; charset=utf-8; header=present",
                csv_body().into_bytes(),
            )
        } else if path.ends_with("/gbk") {
            ("text/csv; charset=GBK", gbk(&csv_body()))
        } else if path.ends_with("/big5") {
            ("text/csv; charset=big5", csv_body().into_bytes())
        } else if path.ends_with("/form") {
            (
                "application/x-www-form-urlencoded",
                form_body().into_bytes(),
            )
        } else {
            // A bare quote: refused, never guessed.
            ("text/csv", b"loan_id\nL\"1\n".to_vec())
        };
        MockResponse {
            status: 200,
            content_type,
            encoding: None,
            delay_ms: 0,
            body: Chunks::new(&body, 7, false),
        }
    })
}

fn partner_api() -> Handler {
    Arc::new(|_| MockResponse {
        status: 201,
        content_type: "application/json",
        encoding: None,
        delay_ms: 0,
        body: Chunks::new(b"{}", 8, false),
    })
}

fn assert_no_secret(text: &str) {
    for s in [
        ID,
        MOBILE,
        "6222020000000005645",
        "欧阳明轩",
        "张三",
        "E5%BC%A0%E4%B8%89",
    ] {
        assert!(!text.contains(s), "{s} leaked: {text}");
    }
}

#[tokio::test]
async fn a_partner_pulls_csv_and_forms_filtered_by_its_contract() {
    let dir = pki("formats-pull", &["acme-loans", "safe-insure"]);
    let (inst, institution) = mock_http(institution()).await;
    let (partner, _) = mock_https(&dir, partner_api()).await;
    let sluice = start_sluice(&dir, inst, partner, &policy()).await;
    let port = sluice.addr("partners").unwrap().port();
    let get = |path: &str| {
        Request::get(format!("https://localhost:{port}{path}"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    for h2 in [false, true] {
        let acme = client(
            &dir,
            Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
            h2,
        );
        let (status, headers, body) = fetch(&acme, get("/v1/loans/csv")).await;
        assert_eq!(status, 200, "h2={h2}");
        assert_eq!(
            headers["content-type"],
            "text/csv; charset=utf-8; header=present"
        );
        let text = String::from_utf8(body.unwrap()).unwrap();
        assert_no_secret(&text);
        let rows: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(rows[0], "loan_id,name,id_no,mobile,amount");
        assert!(
            rows[1].starts_with("\"L,1\",欧阳**,310115********0084,"),
            "{}",
            rows[1]
        );
        assert!(rows[1].ends_with(",100"));
        // Kept text as written, quoted only where it needs quotes.
        assert_eq!(rows[2], "L2,张*,110101********4258,,5");
        assert_eq!(rows[3], "");

        let (status, _, body) = fetch(&acme, get("/v1/loans/form")).await;
        assert_eq!(status, 200);
        let text = String::from_utf8(body.unwrap()).unwrap();
        assert_no_secret(&text);
        let pairs: Vec<&str> = text.split('&').collect();
        assert_eq!(pairs[0], "loan_id=L1");
        assert_eq!(pairs[1], "name=%E5%BC%A0*");
        assert_eq!(pairs[2], "id_no=310115********0084");
        assert!(pairs[3].starts_with("mobile=") && pairs[3].len() == 7 + 64);
        assert_eq!(pairs[4], "amount=12");

        // Malformed CSV: the partner gets no data (a status before the body, or a cut body).
        let (status, _, body) = fetch(&acme, get("/v1/loans/bad")).await;
        if status == 200 {
            assert!(body.is_err(), "a refused body is cut, never completed");
        } else {
            assert_eq!(status, 502);
        }
        // GBK in, GBK out: the partner gets the filtered rows in the body's own charset.
        let (status, headers, body) = fetch(&acme, get("/v1/loans/gbk")).await;
        assert_eq!(status, 200);
        // The type is sluice's rendering: the canonical label, and the header row it always has.
        assert_eq!(
            headers["content-type"],
            "text/csv; charset=gbk; header=present"
        );
        let body = body.unwrap();
        let (text, malformed) = encoding_rs::GBK.decode_without_bom_handling(&body);
        assert!(!malformed);
        assert_no_secret(&text);
        assert!(
            text.starts_with("loan_id,name,id_no,mobile,amount\r\n\"L,1\",欧阳**,"),
            "{text}"
        );
        assert!(
            body.windows(2).any(|w| w == gbk("欧").as_slice()),
            "encoded as GBK"
        );
        // A charset sluice does not decode is refused.
        let (status, _, _) = fetch(&acme, get("/v1/loans/big5")).await;
        assert_eq!(status, 502);
        // A route that does not list CSV refuses it: 502, nothing of the body sent.
        let (status, _, body) = fetch(&acme, get("/v1/json-only/csv")).await;
        assert_eq!(status, 502);
        let body = String::from_utf8(body.unwrap()).unwrap();
        assert!(body.contains("upstream_protocol"), "{body}");
        assert_no_secret(&body);
    }
    assert!(!institution.requests().is_empty());
    // The ledger counted the rows and their subjects.
    let sent = |(v, _, _): &sluice::ledger::read::Disclosure| v["outcome"] == "sent";
    let ds = disclosures_when(&dir.join("ledger"), |ds| {
        ds.iter().filter(|d| sent(d)).count() >= 6
    })
    .await;
    let csv_end = ds
        .iter()
        .find(|d| sent(d) && d.0["records"] == 2)
        .expect("a CSV disclosure");
    assert_eq!(csv_end.0["subject_count"], 2);
    sluice.shutdown().await;
}

#[tokio::test]
async fn the_institution_pushes_csv_and_forms_filtered_to_the_partner() {
    let dir = pki("formats-push", &["acme-loans", "safe-insure"]);
    let (inst, _) = mock_http(institution()).await;
    let (partner, partner_rec) = mock_https(&dir, partner_api()).await;
    let sluice = start_sluice(&dir, inst, partner, &policy()).await;
    let port = sluice.addr("internal").unwrap().port();
    let post = |path: &str, ct: &str, body: String| {
        Request::post(format!("https://localhost:{port}{path}"))
            .header("content-type", ct)
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    let inst_client = client(&dir, Some(("institution.pem", "institution.key")), false);
    let (status, _, _) = fetch(&inst_client, post("/v2/loans", "text/csv", csv_body())).await;
    assert_eq!(status, 201);
    let (status, _, _) = fetch(
        &inst_client,
        post(
            "/v2/loans",
            "application/x-www-form-urlencoded",
            form_body(),
        ),
    )
    .await;
    assert_eq!(status, 201);
    let got = partner_rec.requests();
    assert_eq!(got.len(), 2);
    let csv = String::from_utf8(got[0].3.clone().unwrap()).unwrap();
    assert_no_secret(&csv);
    assert!(
        csv.starts_with("loan_id,name,id_no,mobile,amount\r\n\"L,1\",欧阳**,"),
        "{csv}"
    );
    assert_eq!(got[0].2["content-type"], "text/csv; header=present");
    let form = String::from_utf8(got[1].3.clone().unwrap()).unwrap();
    assert_no_secret(&form);
    assert!(
        form.starts_with("loan_id=L1&name=%E5%BC%A0*&id_no=310115********0084&mobile="),
        "{form}"
    );

    // Refused before the partner is called: a form with a `;`, a duplicate key, CSV with a
    // ragged row, and CSV on a route that filters JSON only.
    let refusals = [
        (
            "/v2/loans",
            "application/x-www-form-urlencoded",
            format!("loan_id=1;id_no={ID}"),
            422,
        ),
        (
            "/v2/loans",
            "application/x-www-form-urlencoded",
            format!("id_no={ID}&id_no=1"),
            422,
        ),
        (
            "/v2/loans",
            "text/csv",
            format!("loan_id,id_no\nL1,{ID},x\n"),
            422,
        ),
        ("/v2/json-only", "text/csv", csv_body(), 415),
    ];
    for (path, ct, body, want) in refusals {
        let (status, _, resp) = fetch(&inst_client, post(path, ct, body.clone())).await;
        let resp = String::from_utf8(resp.unwrap()).unwrap();
        assert_eq!(status, want, "{body}: {resp}");
        assert_no_secret(&resp);
    }
    // A refusal found mid-body (the ragged row) may have reached the partner as a cut message,
    // never as a complete one; the others never reached it at all.
    let after = partner_rec.requests();
    assert!(after.len() <= 3, "{}", after.len());
    for (_, _, _, body, _) in &after[2..] {
        assert!(body.is_err(), "a refused body is cut: {body:?}");
    }
    sluice.shutdown().await;
}

const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const BANK_NS: &str = "urn:bank:loans:v1";

fn xml_policy() -> String {
    // One contract per direction, with the same records and rules.
    let body = |flow: &str, method: &str, path: &str, upstream: &str| {
        format!(
            r#"  [[contract.route]]
  flow     = "{flow}"
  method   = "{method}"
  path     = "{path}"
  upstream = "{upstream}"
  formats  = ["xml"]
  records  = "/soap:Envelope/soap:Body/b:Loans/b:Loan[*]"
  subject  = "/soap:Envelope/soap:Body/b:Loans/b:Loan[*]/b:IdNo"
  [contract.fields]
  "/soap:Envelope/soap:Body/b:Loans/b:Loan[*]/@id" = "keep"
  "/soap:Envelope/soap:Body/b:Loans/b:Loan[*]/b:Name" = "mask:name"
  "/soap:Envelope/soap:Body/b:Loans/b:Loan[*]/b:IdNo" = "mask:id_card"
  "/soap:Envelope/soap:Body/b:Loans/b:Loan[*]/b:Amount" = {{ keep = "number", min = 0 }}
"#
        )
    };
    two_partners(
        &format!("[namespaces]\nsoap = \"{SOAP_NS}\"\nb    = \"{BANK_NS}\""),
        &(contract(
            "acme-xml",
            "acme-loans",
            &body("pull", "GET", "/v1/soap/{kind}", "institution"),
        ) + &contract(
            "insure-xml",
            "safe-insure",
            &body("push", "POST", "/v2/soap", "acme-api"),
        )),
    )
}

fn soap_body() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="{SOAP_NS}"><s:Header><Token>secret-token</Token></s:Header><s:Body><Loans xmlns="{BANK_NS}"><Loan id="L1" branch="x"><Name>欧阳明轩</Name><IdNo>{ID}</IdNo><Mobile>{MOBILE}</Mobile><Amount>100</Amount></Loan></Loans></s:Body></s:Envelope>"#
    )
}

#[tokio::test]
async fn xml_is_pulled_and_pushed_filtered_and_an_xxe_payload_never_reaches_anyone() {
    let dir = pki("formats-xml", &["acme-loans", "safe-insure"]);
    let (inst, _) = mock_http(Arc::new(|req| {
        // A legacy service: GBK, `text/xml` without a charset, the declaration says which.
        let (content_type, body) = if req.uri().path().ends_with("gbk") {
            ("text/xml", gbk(&soap_body().replace("UTF-8", "GBK")))
        } else {
            (
                "application/soap+xml; charset=utf-8",
                soap_body().into_bytes(),
            )
        };
        MockResponse {
            status: 200,
            content_type,
            encoding: None,
            delay_ms: 0,
            body: Chunks::new(&body, 11, false),
        }
    }))
    .await;
    let (partner, partner_rec) = mock_https(&dir, partner_api()).await;
    let sluice = start_sluice(&dir, inst, partner, &xml_policy()).await;
    let want = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:b="{BANK_NS}"><soap:Body><b:Loans><b:Loan id="L1"><b:Name>欧阳**</b:Name><b:IdNo>310115********0084</b:IdNo><b:Amount>100</b:Amount></b:Loan></b:Loans></soap:Body></soap:Envelope>"#
    );
    let port = sluice.addr("partners").unwrap().port();
    for h2 in [false, true] {
        let acme = client(
            &dir,
            Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
            h2,
        );
        let req = Request::get(format!("https://localhost:{port}/v1/soap/utf8"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let (status, headers, body) = fetch(&acme, req).await;
        assert_eq!(status, 200);
        assert_eq!(
            headers["content-type"],
            "application/soap+xml; charset=utf-8"
        );
        let text = String::from_utf8(body.unwrap()).unwrap();
        assert_no_secret(&text);
        assert!(!text.contains("secret-token") && !text.contains("branch"));
        assert_eq!(text, want);
        let req = Request::get(format!("https://localhost:{port}/v1/soap/gbk"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let (status, headers, body) = fetch(&acme, req).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "text/xml");
        assert_eq!(
            body.unwrap(),
            gbk(&want.replace("UTF-8", "GBK")),
            "GBK in, GBK out"
        );
    }
    let port = sluice.addr("internal").unwrap().port();
    let inst_client = client(&dir, Some(("institution.pem", "institution.key")), false);
    let post = |body: String| {
        Request::post(format!("https://localhost:{port}/v2/soap"))
            .header("content-type", "text/xml")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    let (status, _, _) = fetch(&inst_client, post(soap_body())).await;
    assert_eq!(status, 201);
    let got = partner_rec.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(String::from_utf8(got[0].3.clone().unwrap()).unwrap(), want);
    // XXE: refused before anything is sent; the partner is never called.
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE s [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        &soap_body()[39..]
    );
    let (status, _, resp) = fetch(&inst_client, post(xxe)).await;
    let resp = String::from_utf8(resp.unwrap()).unwrap();
    assert_eq!(status, 422, "{resp}");
    assert!(resp.contains("xml_forbidden"), "{resp}");
    assert_eq!(
        partner_rec.requests().len(),
        1,
        "nothing reached the partner"
    );
    sluice.shutdown().await;
}
