//! `sluice ledger report --html`: the page is well-formed, self-contained, and its figures are the
//! ledger's — counted here from what was appended, not from the page's own tables.

mod support;
use support::{signing_key, sluice};

use std::time::Duration;

use sluice::ledger::entry::FieldCounts;
use sluice::ledger::{End, Entry, Ledger, LedgerOptions, Outcome};

/// (partner, records, outcome, subjects)
type Disclosure = (&'static str, u64, Outcome, Vec<[u8; 32]>);

fn write_ledger(dir: &std::path::Path, disclosures: &[Disclosure]) -> String {
    let (key, pubhex) = signing_key();
    let (l, _) = Ledger::open(LedgerOptions {
        dir: dir.join("ledger"),
        origin: "bank.example/sluice/<r1>&".into(),
        key,
        commit_window: Duration::ZERO,
        checkpoint_every: 2,
        checkpoint_min_interval: std::time::Duration::ZERO,
        commit_delay: sluice::ledger::CommitDelay::default(),
        segment_bytes: 1 << 20,
        idle_commit_wait: std::time::Duration::ZERO,
    })
    .unwrap();
    for (partner, records, outcome, subjects) in disclosures {
        let b = l
            .append_blocking(support::begin("r", partner, &format!("{partner}-contract")))
            .unwrap();
        l.append_blocking(Entry::End(Box::new(End {
            begin: b,
            outcome: *outcome,
            bytes_sent: 10,
            sha256_sent: [3; 32],
            records: *records,
            records_dropped: 0,
            fields: vec![FieldCounts {
                path: "$.applicants[*].id_no".into(),
                counts: [0, *records, 0, 0, 0],
            }],
            subject_count: subjects.len() as u64,
            subjects: subjects.clone(),
            subjects_digest: [0; 32],
            integrity: "none".into(),
        })))
        .unwrap();
    }
    l.close();
    pubhex
}

fn sum_of(doc: &roxmltree::Document<'_>, chart: &str) -> u64 {
    let svg = doc
        .descendants()
        .find(|n| n.attribute("data-chart") == Some(chart))
        .unwrap_or_else(|| panic!("no {chart} chart"));
    svg.descendants()
        .filter(|n| n.has_tag_name("rect"))
        .map(|n| n.attribute("data-value").unwrap().parse::<u64>().unwrap())
        .sum()
}

fn table_rows(doc: &roxmltree::Document<'_>, id: &str) -> Vec<Vec<String>> {
    let table = doc
        .descendants()
        .find(|n| n.attribute("id") == Some(id))
        .unwrap();
    table
        .children()
        .filter(|n| n.has_tag_name("tr"))
        .skip(1)
        .map(|tr| {
            tr.children()
                .filter(|c| c.is_element())
                .map(|c| {
                    c.descendants()
                        .filter(|t| t.is_text())
                        .filter_map(|t| t.text())
                        .collect::<String>()
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_html_report_shows_the_ledgers_figures_and_needs_no_network() {
    let dir = support::scratch_dir("sluice-ledger-report");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let person = [5u8; 32];
    let disclosures: Vec<Disclosure> = vec![
        ("acme-loans", 3, Outcome::Sent, vec![person, [6; 32]]),
        ("acme-loans", 2, Outcome::Sent, vec![person]),
        ("safe-insure", 1, Outcome::AbortedPolicy, vec![person]),
    ];
    let pubhex = write_ledger(&dir, &disclosures);
    std::fs::write(dir.join("ledger.pub"), pubhex).unwrap();
    let (d, pk) = (dir.join("ledger"), dir.join("ledger.pub"));
    let page = dir.join("report.html");
    let report = || {
        sluice(&[
            "ledger",
            "report",
            d.to_str().unwrap(),
            "--html",
            page.to_str().unwrap(),
            "--pubkey",
            pk.to_str().unwrap(),
        ])
    };
    let (code, out, err) = report();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("report written (log verified)"), "{out}");

    let html = std::fs::read_to_string(&page).unwrap();
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&html, options)
        .expect("the report is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "html");
    // Self-contained: nothing to fetch, nothing to run.
    for n in doc.descendants().filter(|n| n.is_element()) {
        assert!(!["script", "link", "img", "iframe"].contains(&n.tag_name().name()));
        for a in n.attributes() {
            assert!(
                !["src", "href"].contains(&a.name()),
                "{} on {:?}",
                a.name(),
                n.tag_name()
            );
        }
    }
    assert!(!html.contains("url("), "no external resources in CSS");
    // The origin is escaped, not injected.
    assert!(html.contains("bank.example/sluice/&lt;r1&gt;&amp;"));

    let verification = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("verification"))
        .unwrap();
    assert_eq!(verification.attribute("class"), Some("ok"));
    assert!(
        html.contains("<pre>bank.example/sluice/&lt;r1&gt;&amp;\n"),
        "checkpoint shown"
    );

    let total_records: u64 = disclosures.iter().map(|d| d.1).sum();
    assert_eq!(sum_of(&doc, "disclosures"), disclosures.len() as u64);
    assert_eq!(sum_of(&doc, "records"), total_records);

    let outcomes = table_rows(&doc, "outcomes");
    assert!(
        outcomes.contains(&vec![
            "acme-loans".into(),
            "acme-loans-contract".into(),
            "sent".into(),
            "2".into()
        ]),
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&vec![
            "safe-insure".into(),
            "safe-insure-contract".into(),
            "aborted_policy".into(),
            "1".into()
        ]),
        "{outcomes:?}"
    );

    // The same person disclosed to both partners counts once per partner and once overall.
    let subjects = table_rows(&doc, "subjects");
    assert_eq!(subjects[0][..2], ["acme-loans".to_string(), "2".into()]);
    assert_eq!(subjects[1][..2], ["safe-insure".to_string(), "1".into()]);
    assert_eq!(subjects[2][..2], ["all partners".to_string(), "2".into()]);
    assert!(subjects[2][3].contains("below the 100,000-person threshold"));

    // Masked id numbers per contract: 3 + 2 records for acme-loans.
    assert!(html.contains(
        "<td><code>$.applicants[*].id_no</code></td><td class=\"n\">0</td><td class=\"n\">5</td>"
    ));

    // A tampered log still gets a report, which says so, and the command fails.
    let segment = std::fs::read_dir(&d)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "log"))
        .expect("a segment file");
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&segment, bytes).unwrap();
    let (code, out, _) = report();
    let html = std::fs::read_to_string(&page).unwrap();
    if code == 0 {
        panic!("a tampered log reported as verified: {out}");
    }
    assert!(html.contains("class=\"bad\" id=\"verification\""), "{out}");
}
