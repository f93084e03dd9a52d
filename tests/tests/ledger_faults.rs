//! The ledger fails closed: on a full disk, disclosures get 503 `ledger_unavailable`, nothing is
//! sent, readiness turns false — and all of it recovers by itself when space comes back.
//!
//! Needs a small tmpfs (root). Elsewhere the test says so and skips; under CI it must run.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use sluice_tests::harness::*;

struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then(|| Mount(at.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// The status line of `GET /readyz` on the admin listener.
async fn readyz(admin: std::net::SocketAddr) -> String {
    admin_get(admin, "/readyz")
        .await
        .get(..12)
        .unwrap_or_default()
        .to_string()
}

fn institution() -> Handler {
    json_mock(r#"{"applicants":[{"name":"张伟","credit_score":1}]}"#.as_bytes())
}

#[tokio::test]
async fn a_full_ledger_disk_refuses_disclosures_until_space_returns() {
    let dir = pki("ledger-full", &["acme-loans"]);
    let Some(_mount) = Mount::tmpfs(&dir.join("ledger"), "256k") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root and must run this test"
        );
        eprintln!("note: cannot mount a tmpfs here (not root?); skipped");
        return;
    };
    let (inst, _) = mock_http(institution()).await;
    let (partner, _) = mock_https(&dir, institution()).await;
    let sluice = start_sluice(&dir, inst, partner, &example_policy()).await;
    let addr = sluice.addr("partners").unwrap();
    let c = client(
        &dir,
        Some(("partners/acme-loans.pem", "partners/acme-loans.key")),
        false,
    );
    let get = || {
        Request::get(format!("https://localhost:{}/v1/applicants/1", addr.port()))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    assert_eq!(fetch(&c, get()).await.0, 200);

    // Fill the disk.
    let filler = dir.join("ledger/filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 4096];
    while std::io::Write::write_all(&mut f, &block).is_ok() {}
    drop(f);
    // The segment's last page may still hold a few entries: at most a page's worth get through.
    let (mut status, mut body) = (0, String::new());
    for _ in 0..64 {
        let (s, _, b) = fetch(&c, get()).await;
        (status, body) = (s, String::from_utf8(b.unwrap()).unwrap());
        if status != 200 {
            break;
        }
    }
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"error\":\"ledger_unavailable\""), "{body}");
    assert!(!body.contains("张"), "nothing of the body went out");
    let admin = sluice.addr("admin").unwrap();
    assert_eq!(
        readyz(admin).await,
        "HTTP/1.1 503",
        "readiness follows the ledger"
    );

    // Space returns: the next disclosure goes through and is recorded.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(fetch(&c, get()).await.0, 200);
    assert_eq!(
        readyz(admin).await,
        "HTTP/1.1 200",
        "ready again once it writes"
    );
    sluice.shutdown().await;
}
