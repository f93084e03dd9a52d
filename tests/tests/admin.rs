//! The admin listener after real traffic: `/metrics` carries the expected series and none of the
//! personal data that went through; `POST /admin/reload` refuses a broken policy (the old one keeps
//! serving) and applies a good one. With a token, `/metrics` and reloads need it and the probes
//! do not; beyond loopback a token is required.

use std::io::{Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_tests::harness::*;

const NAME: &str = "欧阳明轩";
const ID_NO: &str = "11010519491231002X";
const MOBILE: &str = "13860642414";
const PATH_ID: &str = "LA20260001";

fn applicant() -> Handler {
    Arc::new(|_| {
        MockResponse {
        status: 200,
        content_type: "application/json",
        encoding: None,
        delay_ms: 0,
        body: Chunks::new(
            format!(r#"{{"applicants":[{{"applicant_no":"{PATH_ID}","name":"{NAME}","id_no":"{ID_NO}","mobile":"{MOBILE}","card_cvn":"123"}}]}}"#).as_bytes(),
            64,
            false,
        ),
    }
    })
}

/// One plain-HTTP request to the admin listener: (status, body).
fn admin(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    admin_as(addr, method, path, "")
}

/// As [`admin`], with extra header lines.
fn admin_as(addr: std::net::SocketAddr, method: &str, path: &str, extra: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

const ACME: Option<(&str, &str)> = Some(("partners/acme-loans.pem", "partners/acme-loans.key"));

#[tokio::test]
async fn metrics_after_traffic_and_reload_over_http() {
    let dir = pki("admin", &["acme-loans", "safe-insure"]);
    let (inst, _) = mock_http(applicant()).await;
    let (partner, _) = mock_https(&dir, applicant()).await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    let addr = sluice.addr("partners").unwrap();
    let admin_addr = sluice.addr("admin").unwrap();
    let acme = client(&dir, ACME, false);
    // Canaries in a header and (on the route-less request: a route refuses a query it does
    // not list) in the query string.
    let get = |path: &str| {
        Request::get(format!("https://localhost:{}{path}", addr.port()))
            .header("x-canary", ID_NO)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let (status, _, body) = fetch(&acme, get(&format!("/v1/applicants/{PATH_ID}"))).await;
    assert_eq!(status, 200, "{body:?}");
    let (status, _, _) = fetch(&acme, get(&format!("/v1/nothing/{ID_NO}?mobile={MOBILE}"))).await;
    assert_eq!(status, 404);

    let metrics = tokio::task::spawn_blocking(move || admin(admin_addr, "GET", "/metrics"))
        .await
        .unwrap();
    assert_eq!(metrics.0, 200);
    let text = metrics.1;
    for want in [
        "# TYPE sluice_disclosures counter",
        "sluice_disclosures_total{partner=\"acme-loans\",contract=\"acme-prescreen-2026\",outcome=\"sent\"} 1\n",
        "sluice_records_total{partner=\"acme-loans\",contract=\"acme-prescreen-2026\"} 1\n",
        "sluice_fields_total{action=\"masked\"} 2\n",
        "sluice_fields_total{action=\"hashed\"} 1\n",
        "sluice_rejections_total{reason=\"no_route\"} 1\n",
        "sluice_requests_total{kind=\"partner\",status=\"2xx\"} 1\n",
        "sluice_requests_total{kind=\"partner\",status=\"4xx\"} 1\n",
        "http_server_request_duration_seconds_count{kind=\"partner\"} 2\n",
        "sluice_ledger_append_duration_seconds_count 1\n",
        "sluice_ledger_healthy 1\n",
        "sluice_certificate_expiry_days{listener=\"partners\"",
        "sluice_policy_contracts 2\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    for canary in [NAME, ID_NO, MOBILE, PATH_ID] {
        assert!(!text.contains(canary), "{canary} leaked into /metrics");
    }

    // Reload: GET is refused, a broken policy is refused and the old one keeps serving, a good
    // one is applied.
    let (status, _) =
        tokio::task::spawn_blocking(move || admin(admin_addr, "GET", "/admin/reload"))
            .await
            .unwrap();
    assert_eq!(status, 405);
    std::fs::write(dir.join("policy.toml"), "version = 1\n[[partner]\nid = 1\n").unwrap();
    let (status, body) =
        tokio::task::spawn_blocking(move || admin(admin_addr, "POST", "/admin/reload"))
            .await
            .unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("reload refused") && body.contains("policy.toml"),
        "{body}"
    );
    let (status, _, _) = fetch(&acme, get(&format!("/v1/applicants/{PATH_ID}"))).await;
    assert_eq!(status, 200, "the old policy keeps serving");
    let without_acme = example_policy().replace(
        "partner     = \"acme-loans\"",
        "partner     = \"safe-insure\"",
    );
    std::fs::write(dir.join("policy.toml"), without_acme).unwrap();
    let (status, body) =
        tokio::task::spawn_blocking(move || admin(admin_addr, "POST", "/admin/reload"))
            .await
            .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("reloaded"), "{body}");
    let (status, _, _) = fetch(&acme, get(&format!("/v1/applicants/{PATH_ID}"))).await;
    assert_eq!(status, 403, "acme-loans no longer has a contract");
    sluice.shutdown().await;
}

#[tokio::test]
async fn a_token_guards_metrics_and_reload_but_not_the_probes() {
    let dir = pki("admin-token", &["acme-loans"]);
    let token = "0123456789abcdef0123456789abcdef0123456789abcdef";
    std::fs::write(dir.join("admin.token"), format!("{token}\n")).unwrap();
    let (inst, _) = mock_http(applicant()).await;
    let (partner, _) = mock_http(applicant()).await;
    let extras = Extras {
        admin: "token_file = \"admin.token\"",
        ..Extras::default()
    };
    let sluice = start_sluice_extras(&dir, inst, partner, &example_policy(), &extras).await;
    let addr = sluice.addr("admin").unwrap();
    let results = tokio::task::spawn_blocking(move || {
        let bearer = format!("Authorization: Bearer {token}\r\n");
        let wrong = "Authorization: Bearer 0123456789abcdef0123456789abcdef0123456789abcdee\r\n";
        vec![
            admin(addr, "GET", "/livez").0,
            admin(addr, "GET", "/readyz").0,
            admin(addr, "GET", "/metrics").0,
            admin_as(addr, "GET", "/metrics", wrong).0,
            admin_as(addr, "GET", "/metrics", &bearer).0,
            admin(addr, "POST", "/admin/reload").0,
            admin_as(addr, "POST", "/admin/reload", &bearer).0,
        ]
    })
    .await
    .unwrap();
    assert_eq!(results, vec![200, 200, 401, 401, 200, 401, 200]);
    sluice.shutdown().await;
}

#[test]
fn an_admin_listener_beyond_loopback_needs_a_token() {
    let dir = pki("admin-open", &["acme-loans"]);
    let config = "policy = \"policy.toml\"\n[keys]\npseudonym_key = \"hash.key\"\n[admin]\naddress = \"0.0.0.0:0\"\n[ledger]\ndir = \"ledger\"\nsigning_key = \"signing.key\"\norigin = \"t/ledger\"\n[[listener]]\nname = \"p\"\nkind = \"partner\"\naddress = \"127.0.0.1:0\"\ncert = \"server.pem\"\nkey = \"server.key\"\nclient_ca = \"ca.pem\"\n";
    let path = dir.join("sluice.toml");
    std::fs::write(&path, config).unwrap();
    let err = sluice::config::Config::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("admin.token_file: missing; expected a bearer-token file, because admin.address 0.0.0.0:0 is not a loopback address"),
        "{err}"
    );
}

#[tokio::test]
async fn admin_connections_are_bounded_in_time_and_number() {
    // The admin port listens on every address in Kubernetes (probes, scrapes): a client that
    // connects and sends nothing, or opens connection after connection, must not hold the
    // process's descriptors. A silent connection is closed at the head deadline; past the
    // cap, a new connection is closed at once.
    use tokio::io::AsyncReadExt;
    let dir = pki("admin-bounds", &["acme-loans"]);
    let (inst, _) = mock_http(applicant()).await;
    let (partner, _) = mock_http(applicant()).await;
    let extras = Extras {
        limits: "header_read_timeout_ms = 3000",
        ..Extras::default()
    };
    let sluice = start_sluice_extras(&dir, inst, partner, &example_policy(), &extras).await;
    let addr = sluice.addr("admin").unwrap();
    let mut crowd = Vec::new();
    for _ in 0..sluice::admin::MAX_CONNECTIONS {
        crowd.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    // Let the listener take them all, then one more: closed at once, well before the deadline.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut extra = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut b = [0u8; 16];
    let at_once =
        tokio::time::timeout(std::time::Duration::from_millis(1500), extra.read(&mut b)).await;
    assert!(
        matches!(at_once, Ok(Ok(0) | Err(_))),
        "over the cap: {at_once:?}"
    );
    // The silent crowd is closed by the head deadline (3 s), not left open: bounded wait.
    for mut c in crowd {
        let closed = tokio::time::timeout(std::time::Duration::from_secs(10), c.read(&mut b)).await;
        assert!(
            matches!(closed, Ok(Ok(0) | Err(_))),
            "still open: {closed:?}"
        );
    }
    // Served again once they are gone.
    let (status, _) = tokio::task::spawn_blocking(move || admin(addr, "GET", "/livez"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    sluice.shutdown().await;
}
