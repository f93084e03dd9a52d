//! A serving instance shipping to the evidence store (a real PostgreSQL cluster on loopback): the
//! store stopped under load costs nothing but lag — requests are served and recorded locally,
//! the lag gauges and `/readyz` say so — and once it returns every entry arrives exactly once.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice::evidence::throwaway::Cluster;
use sluice_tests::harness::*;
use sluice_tests::people::{applicants, id_no};

/// The value of the unlabelled series `name` in a `/metrics` response.
fn gauge(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
}

fn local_entries(ledger: &Path) -> u64 {
    sluice::ledger::read::entries(ledger).unwrap().len() as u64
}

fn stored(cluster: &Cluster) -> (u64, u64, u64) {
    let row = cluster
        .psql(
            "evidence",
            "SELECT count(*), count(DISTINCT seq), coalesce(max(seq) + 1, 0) FROM sluice_entries",
        )
        .unwrap();
    let v: Vec<u64> = row.split('|').map(|n| n.parse().unwrap()).collect();
    (v[0], v[1], v[2])
}

/// Waits (at most 60 s) until `cond` holds, polling every 50 ms.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_stopped_under_load_loses_nothing_and_every_entry_arrives_once() {
    let dir = pki("evidence", &["acme-loans"]);
    let mut cluster = Cluster::start(&dir.join("pg"), None).unwrap();
    cluster
        .database("evidence", "shipper", "shipper-pw")
        .unwrap();
    std::fs::write(dir.join("store.password"), "shipper-pw\n").unwrap();
    let url = cluster.url("shipper", "evidence");
    let settings = sluice::evidence::StoreSettings {
        url: url.parse().unwrap(),
        password_file: Some(dir.join("store.password")),
    };
    let mut store = settings.connect().await.unwrap();
    sluice::evidence::schema::init(&mut store, &settings.url)
        .await
        .unwrap();
    drop(store);

    let (inst, _) = mock_http(json_mock(
        r#"{"applicants":[{"name":"张伟","credit_score":1}]}"#.as_bytes(),
    ))
    .await;
    let (partner, _) = mock_https(&dir, json_mock(b"{}")).await;
    let tail = format!(
        "[ledger.store]\nurl = \"{url}\"\npassword_file = \"store.password\"\nbatch = 7\nlag_warn_entries = 1\nlag_warn_seconds = 1\n"
    );
    let sluice = start_sluice_tail(&dir, inst, partner, &example_policy(), &tail).await;
    let admin_addr = sluice.addr("admin").unwrap();
    let c = client(
        &dir,
        Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
        true,
    );
    let port = sluice.addr("partners").unwrap().port();
    let request = || {
        Request::get(format!("https://localhost:{port}/v1/applicants"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let ledger = dir.join("ledger");

    for _ in 0..10 {
        assert_eq!(fetch(&c, request()).await.0, 200);
    }
    until("the first requests in the store", || {
        stored(&cluster).0 == local_entries(&ledger)
    })
    .await;
    let metrics = admin_get(admin_addr, "/metrics").await;
    assert_eq!(gauge(&metrics, "sluice_ledger_store_connected"), 1.0);

    // The store goes away: disclosures go on, recorded locally; the lag shows.
    cluster.stop();
    for _ in 0..10 {
        let (status, _, body) = fetch(&c, request()).await;
        assert_eq!(status, 200, "{body:?}");
    }
    let begins = sluice::ledger::read::entries(&ledger)
        .unwrap()
        .iter()
        .filter(|(r, _)| matches!(r.entry, sluice::ledger::Entry::Begin(_)))
        .count();
    assert_eq!(begins, 20);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let last = admin_get(admin_addr, "/metrics").await;
        if gauge(&last, "sluice_ledger_store_connected") == 0.0
            && gauge(&last, "sluice_ledger_store_lag_entries") >= 20.0
        {
            break;
        }
        assert!(Instant::now() < deadline, "{last}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = admin_get(admin_addr, "/readyz").await;
    assert!(
        ready.starts_with("HTTP/1.1 200") && ready.contains("warning: the evidence store is "),
        "{ready}"
    );

    // It returns: the backlog follows, each entry once.
    cluster.resume().unwrap();
    until("the backlog in the store", || {
        stored(&cluster).0 == local_entries(&ledger)
    })
    .await;
    let (rows, distinct, end) = stored(&cluster);
    assert_eq!((rows, distinct, end), (rows, rows, rows));
    let metrics = admin_get(admin_addr, "/metrics").await;
    assert_eq!(gauge(&metrics, "sluice_ledger_store_lag_entries"), 0.0);
    let store = settings.connect().await.unwrap();
    let verdicts = sluice::evidence::audit::verify(&store, &settings.url, None)
        .await
        .unwrap();
    assert_eq!(verdicts.len(), 1);
    assert!(verdicts[0].result.is_ok(), "{:?}", verdicts[0].result);
    sluice.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_ship_to_one_store_and_one_query_sees_both() {
    let root = pki("evidence-two", &["acme-loans"]);
    let cluster = Cluster::start(&root.join("pg"), None).unwrap();
    cluster
        .database("evidence", "shipper", "shipper-pw")
        .unwrap();
    let url = cluster.url("shipper", "evidence");
    let password = root.join("store.password");
    std::fs::write(&password, "shipper-pw\n").unwrap();
    let settings = sluice::evidence::StoreSettings {
        url: url.parse().unwrap(),
        password_file: Some(password.clone()),
    };
    let mut store = settings.connect().await.unwrap();
    sluice::evidence::schema::init(&mut store, &settings.url)
        .await
        .unwrap();
    let tail = format!(
        "[ledger.store]\nurl = \"{url}\"\npassword_file = \"{}\"\n",
        password.display()
    );
    // Replica 1 answers about 3000 people (their hashes go to a side file), replica 2 about one
    // of them; both replicas hash subjects with the institution's one subject key.
    let mut instances = Vec::new();
    for (name, body) in [
        ("evidence-r1", applicants(0..3000)),
        ("evidence-r2", applicants(1500..1501)),
    ] {
        let dir = pki(name, &["acme-loans"]);
        std::fs::copy(root.join("hash.key"), dir.join("hash.key")).unwrap();
        let (inst, _) = mock_http(json_mock(body)).await;
        let (partner, _) = mock_https(&dir, json_mock(b"{}")).await;
        let origin = format!("bank.example/sluice/{name}");
        let extras = Extras {
            tail: &tail,
            origin: Some(&origin),
            ..Extras::default()
        };
        let sluice = start_sluice_extras(&dir, inst, partner, &example_policy(), &extras).await;
        let c = client(
            &dir,
            Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
            true,
        );
        let port = sluice.addr("partners").unwrap().port();
        let req = Request::get(format!("https://localhost:{port}/v1/applicants"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        assert_eq!(fetch(&c, req).await.0, 200);
        instances.push((sluice, dir.join("ledger"), origin));
    }
    for (_, ledger, origin) in &instances {
        until("both ledgers in the store", || {
            let stored = cluster
                .psql(
                    "evidence",
                    &format!("SELECT count(*) FROM sluice_entries WHERE origin = '{origin}'"),
                )
                .unwrap();
            stored == local_entries(ledger).to_string()
        })
        .await;
    }

    // "Which partners received data about this person?": one lookup, both replicas.
    let key = sluice::keys::read_key_file(&root.join("hash.key")).unwrap();
    let someone = sluice_policy::pseudonym::SubjectKey::derive(&key).subject_hash(&id_no(1500));
    let mut found = Vec::new();
    sluice::evidence::audit::for_each_disclosure(
        &store,
        &settings.url,
        None,
        Some(someone),
        |origin, (v, _, _)| found.push((origin.to_string(), v["partner"].clone())),
    )
    .await
    .unwrap();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        found,
        [
            (instances[0].2.clone(), serde_json::json!("acme-loans")),
            (instances[1].2.clone(), serde_json::json!("acme-loans")),
        ]
    );
    // Someone only replica 1 disclosed, from the middle of its side file.
    let other = sluice_policy::pseudonym::SubjectKey::derive(&key).subject_hash(&id_no(2222));
    let mut origins = Vec::new();
    sluice::evidence::audit::for_each_disclosure(
        &store,
        &settings.url,
        None,
        Some(other),
        |o, _| origins.push(o.to_string()),
    )
    .await
    .unwrap();
    assert_eq!(origins, [instances[0].2.clone()]);
    for (sluice, _, _) in instances {
        sluice.shutdown().await;
    }
}
