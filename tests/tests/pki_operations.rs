//! Operator PKI work against a running sluice over real mTLS (issue 26, item 2): a partner added
//! with `certs issue` is served after a reload while the existing partner and its pseudonyms are
//! unchanged; replacing the keys under a running instance (`certs init --force`) makes the
//! reload refuse with the reason instead of saying "reloaded" while the old keys stay in memory.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_certs::devpki::Subject;
use sluice_tests::harness::*;

const RECORD: &[u8] =
    br#"{"applicants":[{"applicant_no":"LA20260001","mobile":"13812345678","credit_score":700}]}"#;

async fn pull(dir: &std::path::Path, port: u16, identity: (&str, &str)) -> (u16, Vec<u8>) {
    let c = client(dir, Some(identity), true);
    let req = Request::get(format!("https://localhost:{port}/v1/applicants/1"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, _, body) = fetch(&c, req).await;
    (status, body.unwrap())
}

/// The example policy with a third partner, `beta-credit`, on a copy of acme's contract.
fn with_beta(policy: &str) -> String {
    let start = policy
        .find("[[contract]]\nid          = \"acme-prescreen-2026\"")
        .unwrap();
    let end = policy[start..]
        .find("\n[[contract]]")
        .map_or(policy.len(), |e| start + e + 1);
    let contract = policy[start..end]
        .replace("acme-prescreen-2026", "beta-prescreen-2026")
        .replace(
            "partner     = \"acme-loans\"",
            "partner     = \"beta-credit\"",
        );
    let partner = "[[partner]]\nid           = \"beta-credit\"\nidentity     = { uri_san = \"spiffe://partners.sluice.test/beta-credit\" }\njurisdiction = \"CN\"\n\n";
    let at = policy.find("[[contract]]").unwrap();
    format!("{}{partner}{}\n{contract}", &policy[..at], &policy[at..])
}

#[tokio::test]
async fn a_partner_issued_with_the_existing_ca_is_served_after_reload_and_pseudonyms_stay() {
    let dir = pki("pki-issue", &["acme-loans"]);
    let (inst, _) = mock_http(json_mock(RECORD)).await;
    let (partner, _) = mock_https(&dir, json_mock(b"{}")).await;
    let policy = example_policy();
    let sluice = start_sluice(&dir, inst, partner, &policy).await;
    let port = sluice.addr("partners").unwrap().port();
    let acme = ("partners/acme-loans.pem", "partners/acme-loans.key");
    let beta = ("partners/beta-credit.pem", "partners/beta-credit.key");
    let (status, before) = pull(&dir, port, acme).await;
    assert_eq!(status, 200);

    sluice_certs::devpki::issue(&dir, &Subject::Partner("beta-credit".into()), false).unwrap();
    std::fs::write(dir.join("policy.toml"), with_beta(&policy)).unwrap();
    let said = sluice.shared().reload().unwrap();
    assert!(said.contains("reloaded"), "{said}");

    let (status, body) = pull(&dir, port, beta).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, after) = pull(&dir, port, acme).await;
    assert_eq!(status, 200);
    assert_eq!(
        after, before,
        "acme-loans receives something else (pseudonym changed?)"
    );
    // The hashed mobile differs between contracts (per-contract keys) but is there for both.
    let text = String::from_utf8(after).unwrap();
    assert!(
        !text.contains("13812345678") && text.contains("mobile"),
        "{text}"
    );
}

#[tokio::test]
async fn a_reload_after_the_keys_were_replaced_is_refused_with_the_reason() {
    let dir = pki("pki-force", &["acme-loans"]);
    let (inst, _) = mock_http(json_mock(RECORD)).await;
    let (partner, _) = mock_https(&dir, json_mock(b"{}")).await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    let port = sluice.addr("partners").unwrap().port();
    let acme = ("partners/acme-loans.pem", "partners/acme-loans.key");
    let (_, before) = pull(&dir, port, acme).await;
    // Keep the old CA and acme's old certificate, then do what `certs init --force` does.
    let old = dir.join("old");
    std::fs::create_dir_all(old.join("partners")).unwrap();
    for f in ["ca.pem", acme.0, acme.1] {
        std::fs::copy(dir.join(f), old.join(f)).unwrap();
    }
    sluice_certs::devpki::init_with(&dir, &["acme-loans".into()], true).unwrap();
    let err = sluice.shared().reload().unwrap_err().to_string();
    assert!(
        err.contains("keys.pseudonym_key")
            && err.contains("changed on disk since sluice started")
            && err.contains("nothing was reloaded"),
        "{err}"
    );
    // Nothing was swapped: acme's old certificate (of the old CA) is still served, with the same
    // pseudonyms; the new one (of a CA the running instance does not trust yet) is not.
    let (status, after) = pull(&old, port, acme).await;
    assert_eq!(status, 200);
    assert_eq!(after, before);
    let c = client(
        &old,
        Some(("../partners/acme-loans.pem", "../partners/acme-loans.key")),
        true,
    );
    let req = Request::get(format!("https://localhost:{port}/v1/applicants/1"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert!(
        c.request(req).await.is_err(),
        "a certificate of the new CA was accepted"
    );
}
