//! `sluice run` as a process: it starts on the example configuration, a SIGHUP with a broken
//! policy is refused and logged while it keeps serving, and SIGTERM drains and exits 0.

mod support;
use support::free_port;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn signal(pid: u32, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

#[test]
fn sighup_keeps_the_policy_on_error_and_sigterm_exits_zero() {
    let dir = support::with_pki("sluice-cli-run");
    let sluice = env!("CARGO_BIN_EXE_sluice");
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/examples");
    std::fs::copy(format!("{examples}/policy.toml"), dir.join("policy.toml")).unwrap();
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    support::example_config(&dir, (p1, p2, p3), None);

    let mut child = Command::new(sluice)
        .args(["run", "--config"])
        .arg(dir.join("sluice.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        [p1, p2, p3]
            .iter()
            .all(|&p| support::opens(p, &mut child, Duration::from_secs(20))),
        "sluice did not start listening"
    );
    // The admin listener answers readiness (a policy is loaded and the ledger writes).
    let mut admin = std::net::TcpStream::connect(("127.0.0.1", p3)).unwrap();
    std::io::Write::write_all(
        &mut admin,
        b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut reply = String::new();
    admin.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    std::fs::write(dir.join("policy.toml"), "version = 1\n[[partner]\n").unwrap();
    signal(child.id(), "-HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running after a refused reload"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", p1)).is_ok());

    signal(child.id(), "-TERM");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let mut logs = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(
        logs.contains("reload refused; the current policy and certificates stay"),
        "{logs}"
    );
    assert!(logs.contains("not valid TOML"), "{logs}");
    assert!(logs.contains("shutting down"), "{logs}");
}
