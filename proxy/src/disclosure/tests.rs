//! The lifecycle of a disclosure, without sockets: a real ledger in a scratch directory.

use std::sync::Arc;
use std::time::Duration;

use super::*;

struct Fixture {
    dir: PathBuf,
    ledger: Arc<Ledger>,
    rec: Recorder,
    policy: sluice_policy::CompiledPolicy,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fixture(name: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!("sluice-disclosure-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let key = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let (ledger, _) = Ledger::open(crate::ledger::LedgerOptions {
        dir: dir.clone(),
        origin: "test.sluice/disclosure".into(),
        key: Arc::new(key),
        commit_window: Duration::ZERO,
        checkpoint_every: 1000,
        checkpoint_min_interval: std::time::Duration::ZERO,
        commit_delay: crate::ledger::CommitDelay::default(),
        segment_bytes: 1 << 20,
        idle_commit_wait: std::time::Duration::ZERO,
    })
    .unwrap();
    let ledger = Arc::new(ledger);
    let policy = sluice_policy::CompiledPolicy::load(
        "policy.toml",
        include_str!("../../../deploy/examples/policy.toml"),
    )
    .unwrap();
    Fixture {
        rec: Recorder {
            ledger: Some(ledger.clone()),
            metrics: Default::default(),
            subjects_dir: dir.join("subjects"),
            target_key: sluice_policy::pseudonym::SubjectKey::derive(&[7; 32]),
        },
        dir,
        ledger,
        policy,
    }
}

fn ctx() -> RequestCtx {
    RequestCtx {
        id: "00aa".into(),
        trace: crate::tracecontext::TraceId(String::new()),
        otel: None,
        send_timed_out: None,
    }
}

async fn begin(f: &Fixture) -> Result<Disclosure, Reason> {
    let c = &f.policy.contracts[0];
    let resolved = Resolved {
        contract: c,
        route_index: 0,
        route: &c.routes[0],
    };
    Disclosure::begin(
        &f.rec,
        &ctx(),
        Recipient {
            partner: "acme-loans",
            peer: None,
            resolved: &resolved,
            policy_version: f.policy.version.0,
            target: "/v1/applicants/1",
            headers: &[],
        },
    )
    .await
}

/// The joined disclosures once every begin has ended (or after 30 s: a bound for a machine
/// under load, not a timing the test asserts).
async fn settled(f: &Fixture) -> Vec<serde_json::Value> {
    let mut found = Vec::new();
    for _ in 0..1500 {
        let entries = crate::ledger::read::entries(&f.dir).unwrap();
        found = crate::ledger::read::disclosures(&f.dir, &entries)
            .into_iter()
            .map(|(v, _, _)| v)
            .collect();
        if found.iter().all(|v| v["outcome"] != "open") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    found
}

fn ends(f: &Fixture) -> usize {
    crate::ledger::read::entries(&f.dir)
        .unwrap()
        .iter()
        .filter(|(r, _)| matches!(r.entry, Entry::End(_)))
        .count()
}

#[tokio::test]
async fn a_disclosure_handed_to_a_body_ends_once_with_the_bodys_outcome() {
    let f = fixture("body");
    let d = begin(&f).await.unwrap();
    assert_eq!(d.header(), "test.sluice/disclosure/1");
    let (finish, _sink) = d.into_body();
    let err: crate::body::BoxError = "upstream closed".into();
    finish(Outcome::SourceFailed(&err));
    let found = settled(&f).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["outcome"], "upstream_error");
    assert_eq!(ends(&f), 1, "ended more than once");
    f.ledger.close();
}

#[tokio::test]
async fn a_disclosure_dropped_before_a_body_took_it_ends_as_client_gone() {
    let f = fixture("dropped");
    let d = begin(&f).await.unwrap();
    drop(d);
    let found = settled(&f).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["outcome"], "client_gone");
    assert_eq!(found[0]["bytes_sent"], 0);
    assert_eq!(ends(&f), 1);
    f.ledger.close();
}

#[tokio::test]
async fn a_disclosure_cancelled_before_its_begin_is_durable_is_never_left_open() {
    let f = fixture("cancelled");
    for polls in 0..3 {
        let fut = begin(&f);
        tokio::pin!(fut);
        for _ in 0..polls {
            let _ = futures_poll_once(fut.as_mut()).await;
        }
        // Dropped here: before, or while, the begin is being written.
    }
    let found = settled(&f).await;
    assert!(
        found.iter().all(|v| v["outcome"] == "client_gone"),
        "{found:?}"
    );
    assert_eq!(ends(&f), found.len());
    f.ledger.close();
}

#[tokio::test]
async fn no_ledger_no_disclosure() {
    let mut f = fixture("no-ledger");
    f.rec.ledger = None;
    assert_eq!(begin(&f).await.unwrap_err(), Reason::LedgerUnavailable);
    f.ledger.close();
}

/// Polls `fut` once (whatever it answers).
async fn futures_poll_once<F: std::future::Future>(fut: std::pin::Pin<&mut F>) {
    let mut fut = Some(fut);
    std::future::poll_fn(move |cx| {
        if let Some(f) = fut.take() {
            let _ = f.poll(cx);
        }
        std::task::Poll::Ready(())
    })
    .await;
}
