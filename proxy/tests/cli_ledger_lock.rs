//! One writer per ledger (issue 26, item 1), with real `sluice run` processes: a second instance
//! on the same ledger directory — on other ports, or on the same ones — is refused at once and
//! writes nothing; the first instance keeps writing and its ledger verifies; after the holder is
//! SIGKILLed, the next start gets the lock.

mod support;
use support::{SLUICE, free_port, sluice};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A development PKI and the example configuration on fresh ports, in `dir`.
fn setup(dir: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let (code, _, err) = sluice(&["certs", "init", dir.join("certs").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/examples");
    std::fs::copy(format!("{examples}/policy.toml"), dir.join("policy.toml")).unwrap();
    config(dir, "sluice.toml")
}

/// Writes the example configuration as `name` in `dir`, on fresh ports.
fn config(dir: &Path, name: &str) -> PathBuf {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/examples");
    let text = std::fs::read_to_string(format!("{examples}/sluice.toml"))
        .unwrap()
        .replace("127.0.0.1:8443", &format!("127.0.0.1:{}", free_port()))
        .replace("127.0.0.1:8444", &format!("127.0.0.1:{}", free_port()))
        .replace("127.0.0.1:9090", &format!("127.0.0.1:{}", free_port()));
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn admin_port(config: &Path) -> u16 {
    let text = std::fs::read_to_string(config).unwrap();
    let admin = text.split("[admin]").nth(1).unwrap();
    let addr = admin.split('"').nth(1).unwrap();
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

fn start(config: &Path, ledger: &Path) -> Child {
    Command::new(SLUICE)
        .args(["run", "--config"])
        .arg(config)
        .arg("--ledger-dir")
        .arg(ledger)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_ready(port: u16) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut reply = String::new();
            let _ = s.read_to_string(&mut reply);
            if reply.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("sluice on admin port {port} did not become ready");
}

/// Waits (at most 20 s) for `child` to exit; its code and stderr.
fn exit_of(mut child: Child) -> (i32, String) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("still running after 20 s");
}

fn entries(ledger: &Path) -> usize {
    sluice::ledger::read::entries(ledger).unwrap().len()
}

fn verify(ledger: &Path) {
    let (code, out, err) = sluice(&["ledger", "verify", ledger.to_str().unwrap()]);
    assert_eq!(code, 0, "ledger verify: {out}{err}");
}

#[test]
fn a_second_instance_on_a_ledger_in_use_is_refused_and_writes_nothing() {
    let dir = support::scratch_dir("sluice-ledger-lock");
    let first_config = setup(&dir);
    let ledger = dir.join("L2");
    let first = start(&first_config, &ledger);
    let pid = first.id();
    wait_ready(admin_port(&first_config));
    let before = entries(&ledger);

    // Other ports, same ledger: refused by the lock, naming the directory and the holder.
    let second_config = config(&dir, "second.toml");
    let (code, err) = exit_of(start(&second_config, &ledger));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "ledger directory {} is in use by another sluice process (pid {pid})",
            ledger.display()
        )),
        "{err}"
    );
    // The same command again (same ports): refused before it opens the ledger.
    let (code, err) = exit_of(start(&first_config, &ledger));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("Address already in use") || err.contains("in use"),
        "{err}"
    );
    assert_eq!(
        entries(&ledger),
        before,
        "a refused instance wrote to the ledger"
    );

    // The first instance keeps writing (a reload records the new policy) and stays ready.
    let policy = dir.join("policy.toml");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str("\n# revised\n");
    std::fs::write(&policy, text).unwrap();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let start_wait = Instant::now();
    while entries(&ledger) == before && start_wait.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(entries(&ledger) > before, "the reload was not recorded");
    wait_ready(admin_port(&first_config));
    verify(&ledger);

    // SIGKILL: the kernel frees the lock, and the next start gets it.
    let mut first = first;
    first.kill().unwrap();
    first.wait().unwrap();
    let third = start(&second_config, &ledger);
    wait_ready(admin_port(&second_config));
    assert!(
        Command::new("kill")
            .args(["-TERM", &third.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let (code, err) = exit_of(third);
    assert_eq!(code, 0, "{err}");
    verify(&ledger);
    let _ = std::fs::remove_dir_all(&dir);
}
