//! `sluice demo`: the whole product on loopback in one command — a development PKI, the example
//! contracts, a mock institution API and a mock partner API, and sluice between them — then a
//! walkthrough: a partner pulls an applicant record, an institution system pushes a policy
//! record to a partner, a revoked partner is refused, a route outside the contract is refused,
//! and the ledger of it all verifies. `--once` exits after the walkthrough; otherwise sluice keeps
//! running and the demo prints `curl` commands to try by hand.

mod mocks;
mod table;

use table::side_by_side;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

struct Style {
    on: bool,
}

impl Style {
    fn head(&self, s: &str) -> String {
        if self.on {
            format!("\x1b[1;36m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn good(&self, s: &str) -> String {
        if self.on {
            format!("\x1b[32m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bad(&self, s: &str) -> String {
        if self.on {
            format!("\x1b[31m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn dim(&self, s: &str) -> String {
        if self.on {
            format!("\x1b[2m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

fn client(pki: &Path, cert: &str, key: &str) -> Result<Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(pki.join("ca.pem")).map_err(|e| e.to_string())? {
        roots
            .add(c.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let chain: Vec<_> = CertificateDer::pem_file_iter(pki.join(cert))
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let key =
        rustls_pki_types::PrivateKeyDer::from_pem_file(pki.join(key)).map_err(|e| e.to_string())?;
    let tls = rustls::ClientConfig::builder_with_provider(sluice_certs::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| e.to_string())?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .enable_http2()
        .build();
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector),
    )
}

async fn call(
    c: &Client,
    req: http::Request<Full<Bytes>>,
) -> Result<(u16, http::HeaderMap, Vec<u8>), String> {
    let resp = c.request(req).await.map_err(|e| {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(x) = src {
            s = format!("{s}: {x}");
            src = x.source();
        }
        s
    })?;
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes()
        .to_vec();
    Ok((parts.status.as_u16(), parts.headers, body))
}

fn policy_text() -> String {
    include_str!("../../../deploy/examples/policy.toml")
        .replace(
            "valid_from  = 2026-01-01\nvalid_until = 2027-01-01",
            "valid_from  = 2020-01-01\nvalid_until = 2099-01-01",
        )
        .replace(
            "valid_from  = 2026-01-01\nvalid_until = 2027-07-01",
            "valid_from  = 2020-01-01\nvalid_until = 2099-01-01",
        )
}

/// A throwaway PostgreSQL cluster in `dir/pg` with the evidence store's schema: the cluster (kept
/// alive by the caller), the shipper's URL and its password file.
async fn evidence_store(
    dir: &Path,
) -> Result<(sluice::evidence::throwaway::Cluster, String, PathBuf), String> {
    let pg = dir.join("pg");
    let cluster = tokio::task::spawn_blocking(move || {
        let cluster = sluice::evidence::throwaway::Cluster::start(&pg, None)?;
        cluster.database("evidence", "demo_shipper", "demo-shipper-pw")?;
        Ok::<_, String>(cluster)
    })
    .await
    .map_err(|e| e.to_string())??;
    let password = dir.join("store.password");
    std::fs::write(&password, "demo-shipper-pw\n").map_err(|e| e.to_string())?;
    let url = cluster.url("demo_shipper", "evidence");
    let settings = sluice::evidence::StoreSettings {
        url: url.parse()?,
        password_file: Some(password.clone()),
    };
    let mut client = settings.connect().await.map_err(|e| e.to_string())?;
    sluice::evidence::schema::init(&mut client, &settings.url)
        .await
        .map_err(|e| e.to_string())?;
    Ok((cluster, url, password))
}

/// Waits (at most 5 s) for the shipper to have the whole ledger in the store; says how far it got.
async fn shipped(shared: &sluice::state::Shared) -> String {
    let (Some(status), Some(ledger)) = (&shared.shipper, &shared.ledger) else {
        return "not shipping".into();
    };
    for _ in 0..100 {
        if status.shipped() >= ledger.durable_entries() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    format!(
        "{} of {} entries",
        status.shipped(),
        ledger.durable_entries()
    )
}

/// Runs the demo.
pub async fn run(once: bool, dir: Option<PathBuf>) -> Result<(), String> {
    let st = Style {
        on: std::io::stdout().is_terminal(),
    };
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("sluice-demo-{}", std::process::id()))
    });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let pki = dir.join("certs");
    eprint!("starting: certificates");
    sluice_certs::devpki::init(&pki, &["acme-loans".into(), "safe-insure".into()])
        .map_err(|e| e.to_string())?;
    std::fs::write(dir.join("policy.toml"), policy_text()).map_err(|e| e.to_string())?;
    eprint!(", institution API");
    let inst = mocks::institution().await.map_err(|e| e.to_string())?;
    eprint!(", partner API");
    let (partner_addr, received) = mocks::partner_api(&pki).await?;
    // The evidence store, when PostgreSQL's server programs are here: a throwaway cluster the
    // ledger is shipped to (sluice itself never needs it to serve).
    let store = match sluice::evidence::throwaway::server_programs() {
        Some(_) => {
            eprint!(", evidence store (PostgreSQL)");
            match evidence_store(&dir).await {
                Ok(store) => Some(store),
                Err(e) => {
                    eprint!(" [skipped: {e}]");
                    None
                }
            }
        }
        None => None,
    };
    eprint!(", sluice");
    let config = format!(
        "policy = \"policy.toml\"\n[keys]\npseudonym_key = \"certs/hash.key\"\n[ledger]\ndir = \"ledger\"\nsigning_key = \"certs/signing.key\"\norigin = \"demo.sluice/ledger\"\n\
         [[listener]]\nname = \"partners\"\nkind = \"partner\"\naddress = \"127.0.0.1:0\"\ncert = \"certs/server.pem\"\nkey = \"certs/server.key\"\nclient_ca = \"certs/ca.pem\"\ncrls = [\"certs/crl.pem\"]\n\
         [[listener]]\nname = \"internal\"\nkind = \"internal\"\naddress = \"127.0.0.1:0\"\ncert = \"certs/server.pem\"\nkey = \"certs/server.key\"\nclient_ca = \"certs/ca.pem\"\nclient_auth = \"required\"\n\
         [[upstream]]\nname = \"institution\"\nurl = \"http://{inst}\"\n\
         [[upstream]]\nname = \"acme-api\"\nurl = \"https://localhost:{}\"\nca = \"certs/ca.pem\"\nclient_cert = \"certs/institution.pem\"\nclient_key = \"certs/institution.key\"\n",
        partner_addr.port()
    );
    let config = match &store {
        Some((_, url, password)) => format!(
            "{config}[ledger.store]\nurl = \"{url}\"\npassword_file = \"{}\"\n",
            password.display()
        ),
        None => config,
    };
    std::fs::write(dir.join("sluice.toml"), config).map_err(|e| e.to_string())?;
    let cfg = sluice::config::Config::load(&dir.join("sluice.toml")).map_err(|e| e.to_string())?;
    let shared = Arc::new(sluice::state::Shared::load(cfg, None).map_err(|e| e.to_string())?);
    let running = sluice::server::start(shared.clone())
        .await
        .map_err(|e| e.to_string())?;
    let (pp, ip) = (
        running.addr("partners").expect("partners").port(),
        running.addr("internal").expect("internal").port(),
    );
    eprintln!(" — ready (partners on 127.0.0.1:{pp}, institution systems on 127.0.0.1:{ip})\n");

    // 1. Pull.
    println!(
        "{}",
        st.head("1. acme-loans (a loan facilitator) pulls an applicant over mTLS")
    );
    println!(
        "   GET https://localhost:{pp}/v1/applicants/42 with the certificate spiffe://partners.sluice.test/acme-loans"
    );
    let acme = client(&pki, "partners/acme-loans.pem", "partners/acme-loans.key")?;
    let req = http::Request::get(format!("https://localhost:{pp}/v1/applicants/42"))
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let (status, headers, body) = call(&acme, req).await?;
    println!(
        "   {} {status}, Sluice-Disclosure: {}",
        st.good("→"),
        headers
            .get("sluice-disclosure")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
    );
    side_by_side(&st, mocks::APPLICANT.as_bytes(), &body);
    println!("   {}\n", st.dim("contract acme-prescreen-2026: names masked, ID masked, mobile hashed (HMAC), amounts checked, identifiers in remarks masked, the CVN (class C3) and everything unlisted stripped"));

    // 2. Push.
    println!(
        "{}",
        st.head("2. an institution system pushes a policyholder record to safe-insure's API")
    );
    let record = r#"{"policies":[{"policy_no":"PN-2026-0001","product":"health","holder":{"name":"张伟","id_no":"11010519491231002X","mobile":"13860642414","occupation":"engineer"},"payment":{"card_no":"6222029365368615645","card_cvn":"999"},"premium":1200,"claims":[{"claim_no":"CL-1","amount":300,"diagnosis":"confidential"}]}]}"#;
    let inst_client = client(&pki, "institution.pem", "institution.key")?;
    let push = |content_type: &'static str, body: &'static str| {
        let req = http::Request::post(format!("https://localhost:{ip}/v2/policies"))
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)));
        let (inst_client, received) = (&inst_client, &received);
        async move {
            let (status, _, _) = call(inst_client, req.map_err(|e| e.to_string())?).await?;
            // What the partner's API received last.
            let got = received
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .last()
                .cloned()
                .unwrap_or_default();
            Ok::<_, String>((status, got))
        }
    };
    let (status, got) = push("application/json", record).await?;
    println!("   {} the partner API answered {status}", st.good("→"));
    side_by_side(&st, record.as_bytes(), &got);
    println!("   {}\n", st.dim("contract safe-insure-claims-2026: the holder's ID hashed with SM3 (HMAC), the mobile kept with a documented reason, the card masked, diagnosis and CVN stripped"));

    // 2b. The same contract over XML.
    println!(
        "{}",
        st.head("   … and the same record as XML, from the core system's SOAP-era export")
    );
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?><policies><policy_no>PN-2026-0002</policy_no><holder><name>欧阳娜娜</name><id_no>11010519491231002X</id_no><mobile>13860642414</mobile><occupation>teacher</occupation></holder><payment><card_no>6222029365368615645</card_no><card_cvn>999</card_cvn></payment><premium>900</premium><claims><claim_no>CL-2</claim_no><amount>120</amount><diagnosis>confidential</diagnosis></claims></policies>"#;
    let (status, got) = push("application/xml", xml).await?;
    println!("   {} the partner API answered {status}", st.good("→"));
    println!("   the institution has:    {xml}");
    println!(
        "   the partner receives:   {}",
        st.good(&String::from_utf8_lossy(&got))
    );
    println!("   {}\n", st.dim("the same rules by element: holder name masked, ID hashed, card masked, occupation, CVN and diagnosis stripped; a DOCTYPE (XXE) would be refused"));

    // 3. Revocation.
    println!(
        "{}",
        st.head("3. safe-insure's certificate is revoked, and sluice reloads")
    );
    sluice_certs::devpki::revoke(&pki, "safe-insure").map_err(|e| e.to_string())?;
    shared.reload().map_err(|e| e.to_string())?;
    let safe = client(&pki, "partners/safe-insure.pem", "partners/safe-insure.key")?;
    let req = http::Request::get(format!("https://localhost:{pp}/v1/applicants/42"))
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    match call(&safe, req).await {
        Ok((status, _, body)) => println!(
            "   {} {status} {}",
            st.bad("unexpected:"),
            String::from_utf8_lossy(&body)
        ),
        Err(e) => println!(
            "   {} the TLS handshake is refused: {}",
            st.good("→"),
            e.rsplit(": ").next().unwrap_or(&e)
        ),
    }
    println!();

    // 4. Outside the contract.
    println!(
        "{}",
        st.head("4. acme-loans asks for something its contract does not cover")
    );
    let req = http::Request::get(format!(
        "https://localhost:{pp}/v1/applicants/42/bank-statements"
    ))
    .body(Full::new(Bytes::new()))
    .map_err(|e| e.to_string())?;
    let (status, _, body) = call(&acme, req).await?;
    println!(
        "   {} {status} {}\n",
        st.good("→"),
        String::from_utf8_lossy(&body)
    );

    // 5. The ledger.
    println!("{}", st.head("5. the disclosure ledger"));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let ledger_dir = dir.join("ledger");
    for (r, _) in sluice::ledger::read::entries(&ledger_dir)? {
        let j = r.to_json();
        let detail = match j["kind"].as_str() {
            Some("disclosure.begin") => format!(
                "{} {} {} {}",
                j["partner"], j["contract"], j["flow"], j["route"]
            ),
            Some("disclosure.end") => format!(
                "begin {} {} {} bytes sha256 {}…",
                j["begin"],
                j["outcome"],
                j["bytes_sent"],
                &j["sha256_sent"].as_str().unwrap_or("")[..16]
            ),
            Some("policy.loaded") => format!(
                "sha256 {}…",
                &j["policy_sha256"].as_str().unwrap_or("")[..16]
            ),
            Some("keys.loaded") => format!(
                "subject key check {}…, pseudonym key check {}…",
                &j["subject_key_check"].as_str().unwrap_or("")[..12],
                &j["pseudonym_key_check"].as_str().unwrap_or("")[..12]
            ),
            _ => String::new(),
        };
        println!(
            "   #{:<3} {:<22} {}",
            r.seq,
            j["kind"].as_str().unwrap_or(""),
            detail.replace('"', "")
        );
    }
    let key = std::fs::read_to_string(pki.join("signing.pub"))
        .ok()
        .and_then(|t| sluice::ledger::checkpoint::parse_public_key(&t))
        .ok_or("signing.pub")?;
    // The writer signs a checkpoint once it has been idle for a second; then verify with the key.
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    match sluice::ledger::verify::verify_dir(&ledger_dir, &key) {
        Ok(r) => println!(
            "   sluice ledger verify → {} {} entries, {} signed checkpoints, root {}…\n",
            st.good("ok:"),
            r.entries,
            r.checkpoints,
            &r.root[..16]
        ),
        Err(e) => println!("   sluice ledger verify → {} {e}\n", st.bad("FAILED:")),
    }
    // The compliance team's view of the same log.
    let report = dir.join("report.html");
    let summary = sluice::ledger::summary::summarize(&ledger_dir, &key, None)?;
    std::fs::write(
        &report,
        sluice::ledger::html::render(&summary, "by sluice demo"),
    )
    .map_err(|e| format!("{}: {e}", report.display()))?;
    println!(
        "   sluice ledger report → {} (open it in a browser)\n",
        report.display()
    );

    // 6. The evidence store.
    println!("{}", st.head("6. the evidence store"));
    match &store {
        Some((_, url, password)) => {
            let shipped = shipped(&shared).await;
            let settings = sluice::evidence::StoreSettings {
                url: url.parse()?,
                password_file: Some(password.clone()),
            };
            let verdicts = async {
                let client = settings.connect().await?;
                sluice::evidence::audit::verify(&client, &settings.url, None).await
            }
            .await
            .map_err(|e| e.to_string())?;
            println!(
                "   the ledger shipped to PostgreSQL at {}: {shipped}",
                settings.url
            );
            for v in verdicts {
                match v.result {
                    Ok(ok) => println!(
                        "   sluice ledger verify --store → {} origin {}: {} entries, {} checkpoints",
                        st.good("ok:"),
                        v.origin,
                        ok.entries,
                        ok.checkpoints
                    ),
                    Err(e) => println!(
                        "   sluice ledger verify --store → {} origin {}: {e}",
                        st.bad("FAILED:"),
                        v.origin
                    ),
                }
            }
            println!(
                "   {}\n",
                st.dim("every replica ships here; `sluice ledger query --store URL --subject ID --key-file F` asks all of them at once")
            );
        }
        None => println!(
            "   {}\n",
            st.dim("skipped: PostgreSQL's server programs are not installed (apt-get install postgresql shows every replica's ledger in one database)")
        ),
    }

    if once {
        running.shutdown().await;
        println!("demo files kept in {}", dir.display());
        return Ok(());
    }
    let p = |f: &str| pki.join(f).display().to_string();
    println!("{}", st.head("try it by hand (Ctrl-C to stop):"));
    println!(
        "  curl --cacert {} --cert {} --key {} https://localhost:{pp}/v1/applicants/7",
        p("ca.pem"),
        p("partners/acme-loans.pem"),
        p("partners/acme-loans.key")
    );
    println!(
        "  curl --cacert {} --cert {} --key {} -H 'content-type: application/json' \\\n       -d '{}' https://localhost:{ip}/v2/policies",
        p("ca.pem"),
        p("institution.pem"),
        p("institution.key"),
        record.replace('\'', "")
    );
    println!(
        "  cargo run --release -- ledger show {}",
        ledger_dir.display()
    );
    println!(
        "  cargo run --release -- ledger verify {} --pubkey {}",
        ledger_dir.display(),
        p("signing.pub")
    );
    let _ = tokio::signal::ctrl_c().await;
    running.shutdown().await;
    println!("\ndemo files kept in {}", dir.display());
    Ok(())
}
