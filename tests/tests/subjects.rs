//! A body about many people: their subject hashes stream to a content-addressed side file while
//! the body flows (memory stays bounded), the `end` entry records the file's digest, and
//! "which partners received this person's data?" still finds someone from the middle of it.

use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_tests::harness::*;
use sluice_tests::people::{applicants, id_no};

const PEOPLE: u32 = 6000;

#[tokio::test]
async fn thousands_of_subjects_stream_to_a_side_file_and_stay_queryable() {
    let body = applicants(0..PEOPLE);
    let dir = pki("subjects", &["acme-loans"]);
    let (inst, _) = mock_http(Arc::new(move |_| MockResponse {
        status: 200,
        content_type: "application/json",
        encoding: None,
        delay_ms: 0,
        body: Chunks::new(body, 16 * 1024, false),
    }))
    .await;
    let (partner, _) = mock_https(
        &dir,
        Arc::new(move |_| MockResponse {
            status: 200,
            content_type: "application/json",
            encoding: None,
            delay_ms: 0,
            body: Chunks::new(b"{}", 8, false),
        }),
    )
    .await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    let c = client(
        &dir,
        Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
        true,
    );
    let req = Request::get(format!(
        "https://localhost:{}/v1/applicants",
        sluice.addr("partners").unwrap().port()
    ))
    .body(Full::new(Bytes::new()))
    .unwrap();
    let (status, _, got) = fetch(&c, req).await;
    assert_eq!(status, 200);
    assert!(got.is_ok());

    let ledger = dir.join("ledger");
    let sent = |(v, _, _): &sluice::ledger::read::Disclosure| v["outcome"] == "sent";
    let end = disclosures_when(&ledger, |ds| ds.iter().any(sent))
        .await
        .into_iter()
        .find(sent);
    let (v, subjects, _) = end.expect("an end entry");
    assert_eq!(v["subject_count"], PEOPLE);
    assert_eq!(
        subjects.len(),
        PEOPLE as usize,
        "all hashes are read back from the side file"
    );
    let files: Vec<_> = std::fs::read_dir(ledger.join("subjects"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "one content-addressed file, no partial left: {files:?}"
    );
    assert!(files[0].ends_with(".bin"));

    // Someone from the middle of the body is found by the compliance query.
    let key = sluice::keys::read_key_file(&dir.join("hash.key")).unwrap();
    let someone =
        sluice_policy::pseudonym::SubjectKey::derive(&key).subject_hash(&id_no(PEOPLE / 2));
    assert!(subjects.contains(&someone));
    sluice.shutdown().await;
}
