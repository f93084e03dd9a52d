//! `sluice demo --once` runs the whole walkthrough and exits 0.

mod support;

use std::process::Command;

#[test]
fn the_demo_walkthrough_runs_end_to_end() {
    let dir = support::scratch_dir("sluice-cli-demo");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["demo", "--once", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for want in [
        "$.applicants[0].name              欧阳明轩",
        "欧阳**",
        "310115********008X",
        "$.applicants[0].card_cvn          123                                 — stripped",
        "622202*********5645",
        "the TLS handshake is refused",
        "<holder><name>欧阳**</name><id_no>",
        "<payment><card_no>622202*********5645</card_no></payment><premium>900</premium>",
        "\"error\":\"no_route\"",
        "keys.loaded            subject key check ",
        "disclosure.end         begin 3 sent",
        "sluice ledger verify → ok:",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in\n{stdout}");
    }
    assert!(!stdout.contains('\x1b'), "no colours when piped");
    // The compliance report is written into the kept directory and names a verified log.
    assert!(stdout.contains("sluice ledger report →"), "{stdout}");
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        report.contains("class=\"ok\" id=\"verification\""),
        "{report}"
    );
    assert!(report.contains("data-chart=\"disclosures\""));
    // With PostgreSQL's server programs here (CI installs them), the ledger is shipped to a
    // throwaway evidence store and verified there; without them the section says why not.
    if sluice::evidence::throwaway::server_programs().is_some() {
        assert!(
            stdout.contains("sluice ledger verify --store → ok: origin demo.sluice/ledger: "),
            "{stdout}"
        );
        assert!(!dir.join("pg").exists(), "the throwaway cluster is removed");
    } else {
        assert!(stdout.contains("skipped: PostgreSQL"), "{stdout}");
    }
    assert!(stdout.contains(&format!("demo files kept in {}", dir.display())));
}
