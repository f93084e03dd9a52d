//! The files in `deploy/` are what operators run: the container configuration must load with
//! production paths, each replica's ledger overrides must take effect, the health probe the image
//! uses must tell a live admin listener from a dead one, and the Kubernetes manifests, Dockerfile
//! and systemd unit must agree with the configuration (ports, paths, probes, hardening).

mod support;
use support::{SLUICE, free_port, sluice};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use yaml_rust2::{Yaml, YamlLoader};

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(DEPLOY).join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The container's configuration as a table, for cross-checks.
fn container_config() -> toml::Table {
    read("sluice.toml")
        .parse()
        .expect("deploy/sluice.toml parses")
}

fn ledger_dir(cfg: &toml::Table) -> String {
    cfg["ledger"]["dir"].as_str().unwrap().to_string()
}

fn port_of(address: &str) -> i64 {
    address.rsplit(':').next().unwrap().parse().unwrap()
}

fn listener_port(cfg: &toml::Table, name: &str) -> i64 {
    let listeners = cfg["listener"].as_array().unwrap();
    let l = listeners
        .iter()
        .find(|l| l["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("listener {name}"));
    port_of(l["address"].as_str().unwrap())
}

/// Lays out the container's filesystem under `root`: dev PKI in the places `deploy/sluice.toml`
/// names, the example policy, and the configuration with its absolute paths moved under `root`
/// and its ports moved to free loopback ports. Returns the configuration path and the ports.
fn container_root(name: &str) -> (PathBuf, PathBuf, [u16; 3]) {
    let root = support::scratch_dir(&format!("sluice-deploy-{name}"));
    let _ = std::fs::remove_dir_all(&root);
    let pki = root.join("pki");
    let (code, _, err) = sluice(&["certs", "init", pki.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let etc = root.join("etc/sluice");
    let placed = [
        ("server.pem", "tls/server.pem"),
        ("server.key", "tls/server.key"),
        ("ca.pem", "tls/ca.pem"),
        ("crl.pem", "tls/crl.pem"),
        ("ca.pem", "upstream/ca.pem"),
        ("institution.pem", "upstream/client.pem"),
        ("institution.key", "upstream/client.key"),
        ("hash.key", "keys/pseudonym.key"),
        ("hash.key", "keys/subject.key"),
        ("signing.key", "ledger-keys/sluice-0.key"),
        ("signing.key", "ledger-keys/sluice-1.key"),
        ("ca.pem", "store/ca.pem"),
    ];
    for (from, to) in placed {
        let to = etc.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(pki.join(from), &to).unwrap();
    }
    std::fs::copy(
        Path::new(DEPLOY).join("examples/policy.toml"),
        etc.join("policy.toml"),
    )
    .unwrap();
    std::fs::write(
        etc.join("keys/admin.token"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    std::fs::write(etc.join("store/password"), "shipper-password\n").unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let text = read("sluice.toml")
        .replace("\"/etc/sluice/", &format!("\"{}/", etc.display()))
        .replace(
            "sslrootcert=/etc/sluice/",
            &format!("sslrootcert={}/", etc.display()),
        )
        .replace(
            "\"/var/lib/sluice/",
            &format!("\"{}/var/lib/sluice/", root.display()),
        )
        .replace("0.0.0.0:8443", &format!("127.0.0.1:{}", ports[0]))
        .replace("0.0.0.0:8444", &format!("127.0.0.1:{}", ports[1]))
        .replace("0.0.0.0:9090", &format!("127.0.0.1:{}", ports[2]));
    assert!(
        !text.contains("\"/etc/") && !text.contains("=/etc/") && !text.contains("0.0.0.0"),
        "{text}"
    );
    let config = etc.join("sluice.toml");
    std::fs::write(&config, text).unwrap();
    (root, config, ports)
}

#[test]
fn the_container_configuration_runs_with_per_replica_ledger_overrides() {
    let (root, config, [p1, p2, p3]) = container_root("run");
    let (code, out, err) = sluice(&["config", "check", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: 2 listeners, 2 upstreams"), "{out}");

    let keys = config.parent().unwrap().join("ledger-keys");
    let (code, _, err) = sluice(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--ledger-origin",
        "bank.example/sluice 1",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--ledger-origin: got \"bank.example/sluice 1\""),
        "{err}"
    );

    let mut child = Command::new(SLUICE)
        .args(["run", "--config", config.to_str().unwrap()])
        .args(["--ledger-origin", "bank.example/sluice/sluice-1"])
        .arg("--ledger-key")
        .arg(keys.join("sluice-1.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let admin = format!("127.0.0.1:{p3}");
    let start = Instant::now();
    while sluice(&["probe", &admin, "/readyz"]).0 != 0 {
        assert!(start.elapsed() < Duration::from_secs(20), "never ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    for port in [p1, p2] {
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    }
    let (code, _, err) = sluice(&["probe", &admin, "/nothing-here"]);
    assert_eq!(code, 1);
    assert!(err.contains("status 404"), "{err}");
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(child.wait().unwrap().code(), Some(0));

    // The ledger was written where the configuration says, under the replica's origin.
    let ledger = root.join("var/lib/sluice/ledger");
    let (code, out, err) = sluice(&["ledger", "verify", ledger.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, shown, _) = sluice(&["ledger", "show", ledger.to_str().unwrap()]);
    assert!(shown.contains("bank.example/sluice/sluice-1"), "{shown}");
    assert!(!shown.contains("bank.example/sluice/sluice-0"), "{shown}");

    // Nothing listens any more: the probe fails.
    let (code, _, err) = sluice(&["probe", &admin]);
    assert_eq!(code, 1);
    assert!(err.contains(&admin), "{err}");
}

fn docs(rel: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn strs(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kubernetes_manifests_agree_with_the_configuration() {
    let cfg = container_config();
    let kustomization = &docs("kustomization.yaml")[0];
    let mut kinds = Vec::new();
    let mut statefulset = None;
    for file in strs(&kustomization["resources"]) {
        for doc in docs(&file) {
            for key in ["apiVersion", "kind"] {
                assert!(doc[key].as_str().is_some(), "{file}: {key} missing");
            }
            assert!(
                doc["metadata"]["name"].as_str().is_some(),
                "{file}: metadata.name missing"
            );
            let kind = doc["kind"].as_str().unwrap().to_string();
            if kind == "StatefulSet" {
                statefulset = Some(doc.clone());
            }
            kinds.push(kind);
        }
    }
    for want in [
        "Namespace",
        "StatefulSet",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
    ] {
        assert!(kinds.iter().any(|k| k == want), "no {want} in {kinds:?}");
    }
    for generated in kustomization["configMapGenerator"].as_vec().unwrap() {
        for file in strs(&generated["files"]) {
            let path = file.rsplit('=').next().unwrap();
            assert!(
                Path::new(DEPLOY).join(path).is_file(),
                "configMapGenerator: {path}"
            );
        }
    }

    let sts = statefulset.expect("a StatefulSet");
    let spec = &sts["spec"]["template"]["spec"];
    assert_eq!(
        spec["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true)
    );
    let grace = spec["terminationGracePeriodSeconds"].as_i64().unwrap();
    let drain_ms = cfg["limits"]["drain_timeout_ms"].as_integer().unwrap();
    assert!(
        grace * 1000 > drain_ms,
        "grace {grace}s must exceed the drain timeout"
    );
    let c = &spec["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert!(c["resources"]["requests"]["cpu"].as_str().is_some());
    assert!(c["resources"]["requests"]["memory"].as_str().is_some());

    let args = strs(&c["args"]);
    assert!(
        args.contains(&"--config=/etc/sluice/sluice.toml".to_string()),
        "{args:?}"
    );
    assert!(
        args.iter()
            .any(|a| a.starts_with("--ledger-origin=") && a.contains("$(POD_NAME)"))
    );
    assert!(
        args.iter()
            .any(|a| a.starts_with("--ledger-key=") && a.contains("$(POD_NAME)"))
    );

    let ports: Vec<(String, i64)> = c["ports"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().into(),
                p["containerPort"].as_i64().unwrap(),
            )
        })
        .collect();
    let port = |name: &str| ports.iter().find(|(n, _)| n == name).map(|(_, p)| *p);
    assert_eq!(port("partners"), Some(listener_port(&cfg, "partners")));
    assert_eq!(port("internal"), Some(listener_port(&cfg, "internal")));
    let admin = port_of(cfg["admin"]["address"].as_str().unwrap());
    assert_eq!(port("admin"), Some(admin));
    assert_eq!(
        c["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/livez")
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"]["port"].as_str(),
        Some("admin")
    );

    // Every file the configuration names is mounted, and the ledger is on the claimed volume.
    let mounts: Vec<(String, String)> = c["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().into(),
                m["mountPath"].as_str().unwrap().into(),
            )
        })
        .collect();
    let text = read("sluice.toml");
    for path in text.split('"').filter(|s| s.starts_with("/etc/sluice/")) {
        assert!(
            mounts
                .iter()
                .any(|(_, m)| path == m || path.starts_with(&format!("{m}/"))),
            "{path} is not mounted"
        );
    }
    let ledger = ledger_dir(&cfg);
    let claim = sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
        .as_str()
        .unwrap();
    assert!(
        mounts.contains(&(claim.to_string(), ledger.clone())),
        "{mounts:?}"
    );
}

#[test]
fn the_dockerfile_and_systemd_unit_agree_with_the_configuration() {
    let cfg = container_config();
    let admin = cfg["admin"]["address"]
        .as_str()
        .unwrap()
        .replace("0.0.0.0", "127.0.0.1");
    let docker = read("Dockerfile");
    assert!(
        docker.contains(&format!("/sluice\", \"probe\", \"{admin}\", \"/livez\"")),
        "the HEALTHCHECK must probe {admin}"
    );
    assert!(docker.contains("USER 65532:65532"));
    assert!(docker.contains("\"--config\", \"/etc/sluice/sluice.toml\""));
    assert!(docker.contains(&format!("VOLUME [\"{}\"]", ledger_dir(&cfg))));

    let unit = read("systemd/sluice.service");
    let values = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(String::from)
            .collect()
    };
    assert_eq!(values("ReadWritePaths"), [ledger_dir(&cfg)]);
    assert_eq!(values("ProtectSystem"), ["strict"]);
    assert_eq!(values("NoNewPrivileges"), ["yes"]);
    assert_eq!(values("User"), ["sluice"]);
    assert!(
        values("ExecReload")
            .iter()
            .any(|v| v.contains("kill -HUP $MAINPID"))
    );
    assert!(values("ExecStart")[0].contains("run --config /etc/sluice/sluice.toml"));

    // systemd's own checker, where systemd is installed (it is on Debian hosts and CI machines).
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze not installed: unit checked by the assertions above only");
        return;
    };
    assert!(probe.status.success());
    let dir = support::scratch_dir("sluice-deploy-unit");
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("sluice.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/sluice", SLUICE)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "systemd-analyze verify: {err}"
    );
}

#[test]
fn alert_rules_use_exported_metrics_and_each_has_a_runbook_entry() {
    let families: Vec<&str> = sluice::metrics::FAMILIES.iter().map(|f| f.0).collect();
    let runbook = read("runbook.md");
    let rules = &docs("monitoring/alerts.yaml")[0];
    let mut alerts = 0;
    for group in rules["groups"].as_vec().unwrap() {
        for rule in group["rules"].as_vec().unwrap() {
            let name = rule["alert"].as_str().unwrap();
            let expr = rule["expr"].as_str().unwrap();
            // Every metric the expression names is one sluice exports.
            let metrics: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("sluice_") || w.starts_with("http_server_"))
                .collect();
            assert!(!metrics.is_empty(), "{name}: no sluice metric in {expr}");
            for m in metrics {
                let family = m
                    .trim_end_matches("_bucket")
                    .trim_end_matches("_count")
                    .trim_end_matches("_sum");
                assert!(families.contains(&family), "{name}: {m} is not exported");
            }
            let url = rule["annotations"]["runbook_url"].as_str().unwrap();
            let anchor = url.split_once('#').unwrap().1;
            assert_eq!(anchor, name.to_lowercase(), "{name}: runbook anchor");
            assert!(
                runbook.contains(&format!("\n## {name}\n")),
                "{name}: no runbook entry"
            );
            alerts += 1;
        }
    }
    assert_eq!(alerts, 7);
    let collector = &docs("monitoring/otel-collector.yaml")[0];
    for receiver in strs(&collector["service"]["pipelines"]["metrics"]["receivers"]) {
        assert!(
            !collector["receivers"][receiver.as_str()].is_badvalue(),
            "{receiver}"
        );
    }
}

#[test]
fn the_example_secrets_hold_every_file_the_configuration_reads_from_them() {
    let sts = docs("kubernetes/statefulset.yaml").remove(0);
    let spec = &sts["spec"]["template"]["spec"];
    let replicas = sts["spec"]["replicas"].as_i64().unwrap();
    // mount path → secret name, from the StatefulSet.
    let volumes = spec["volumes"].as_vec().unwrap();
    let mut secret_mounts = Vec::new();
    for m in spec["containers"][0]["volumeMounts"].as_vec().unwrap() {
        let name = m["name"].as_str().unwrap();
        // The ledger's volume comes from the claim template, not from `volumes`.
        let Some(v) = volumes.iter().find(|v| v["name"].as_str() == Some(name)) else {
            continue;
        };
        if let Some(secret) = v["secret"]["secretName"].as_str() {
            secret_mounts.push((
                m["mountPath"].as_str().unwrap().to_string(),
                secret.to_string(),
            ));
        }
    }
    let secrets = docs("kubernetes/secrets.example.yaml");
    let keys_of = |name: &str| -> Vec<String> {
        let s = secrets
            .iter()
            .find(|s| s["metadata"]["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no example Secret {name}"));
        s["data"]
            .as_hash()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_string())
            .collect()
    };
    // Every /etc/sluice path in the configuration that lies under a secret mount is a key of it.
    let text = read("sluice.toml");
    let mut checked = 0;
    for path in text.split('"').filter(|s| s.starts_with("/etc/sluice/")) {
        if let Some((mount, secret)) = secret_mounts
            .iter()
            .find(|(m, _)| path.starts_with(&format!("{m}/")))
        {
            let file = &path[mount.len() + 1..];
            assert!(
                keys_of(secret).contains(&file.to_string()),
                "{secret} lacks {file}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 9, "{checked}");
    // One ledger signing key per replica.
    let ledger_keys = keys_of("sluice-ledger-keys");
    for i in 0..replicas {
        assert!(
            ledger_keys.contains(&format!("sluice-{i}.key")),
            "no signing key for sluice-{i}"
        );
    }
}

/// Repository-relative paths of the files under `dir` (recursively) that end with `ext`,
/// leaving out build output and the fuzz crate (outside the workspace).
fn files_under(dir: &Path, ext: &str, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        if path.is_dir() {
            if !matches!(name, "target" | "fuzz") && !name.starts_with('.') {
                files_under(&path, ext, found);
            }
        } else if name.ends_with(ext) {
            found.push(path);
        }
    }
}

#[test]
fn the_dockerfile_copies_every_file_the_build_reads() {
    // Regression: the demo embeds deploy/examples/policy.toml (include_str!), which the image's
    // build stage did not copy, so `docker build` failed to compile.
    let root = Path::new(DEPLOY).parent().unwrap().canonicalize().unwrap();
    let docker = read("Dockerfile");
    let copied: Vec<&str> = docker
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter(|l| !l.starts_with("--from"))
        .flat_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words[..words.len() - 1].to_vec()
        })
        .collect();
    let covered = |rel: &str| {
        copied
            .iter()
            .any(|c| rel == *c || rel.starts_with(&format!("{}/", c.trim_end_matches('/'))))
    };
    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let mut needed = vec!["Cargo.toml".to_string(), "Cargo.lock".to_string()];
    let mut sources = Vec::new();
    for member in manifest["workspace"]["members"].as_array().unwrap() {
        files_under(&root.join(member.as_str().unwrap()), ".rs", &mut sources);
    }
    for file in &sources {
        let text = std::fs::read_to_string(file).unwrap();
        for macro_call in ["include_str!(\"", "include_bytes!(\""] {
            for (at, _) in text.match_indices(macro_call) {
                let rest = &text[at + macro_call.len()..];
                let literal = &rest[..rest.find('"').unwrap()];
                let target = file.parent().unwrap().join(literal).canonicalize();
                let target =
                    target.unwrap_or_else(|e| panic!("{}: {literal}: {e}", file.display()));
                needed.push(target.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    // Scripts the build stage runs.
    for line in docker.lines().filter(|l| l.contains("deploy/")) {
        if line.trim_start().starts_with('#') || line.starts_with("COPY ") {
            continue;
        }
        needed.extend(
            line.split_whitespace()
                .filter(|w| w.starts_with("deploy/"))
                .map(|w| w.trim_end_matches(';').to_string()),
        );
    }
    // The PGO build runs its training script, which reads the rest of its directory.
    if needed.iter().any(|n| n.starts_with("deploy/pgo/")) {
        for entry in std::fs::read_dir(root.join("deploy/pgo")).unwrap() {
            let name = entry.unwrap().file_name();
            needed.push(format!("deploy/pgo/{}", name.to_str().unwrap()));
        }
    }
    assert!(
        needed.iter().any(|n| n.starts_with("deploy/")),
        "{needed:?}"
    );
    for rel in &needed {
        assert!(
            covered(rel),
            "the Dockerfile's build stage does not COPY {rel}"
        );
    }
}

#[test]
fn the_grafana_dashboard_queries_only_exported_families() {
    let families: Vec<&str> = sluice::metrics::FAMILIES.iter().map(|f| f.0).collect();
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("monitoring/grafana-dashboard.json")).unwrap();
    let mut queried = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let title = panel["title"].as_str().unwrap();
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            let expr = t["expr"].as_str().unwrap();
            assert!(
                expr.contains("$instance"),
                "{title}: not filtered by replica"
            );
            for m in expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("sluice_") || w.starts_with("http_server_"))
            {
                let family = m.trim_end_matches("_bucket");
                assert!(families.contains(&family), "{title}: {m} is not exported");
                queried.insert(family);
            }
        }
    }
    // The four views: requests by verdict, disclosures by partner and contract, the
    // ledger's sync latency, rate-limit refusals.
    for must in [
        "sluice_requests_total",
        "sluice_rejections_total",
        "sluice_disclosures_total",
        "sluice_ledger_append_duration_seconds",
    ] {
        assert!(queried.contains(must), "no panel on {must}");
    }
}
