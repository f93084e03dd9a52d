//! `sluice ledger report --html`: one self-contained page for a compliance team — no scripts, no
//! fonts, nothing fetched at view time. Charts are inline SVG; every figure in a chart is also in a
//! table below it. The page is well-formed XML (polyglot XHTML), so any XML parser can check it.

use std::fmt::Write as _;

use super::summary::{Pair, Summary, cross_border_regime};

const PALETTE: [&str; 8] = [
    "#2b6cb0", "#dd6b20", "#2f855a", "#b7791f", "#6b46c1", "#c53030", "#319795", "#718096",
];
const TREATMENTS: [&str; 5] = ["kept", "masked", "hashed", "redacted", "stripped"];

/// Escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// Renders the page; `generated` is the time shown as "generated at".
pub fn render(s: &Summary, generated: &str) -> String {
    let mut h = String::new();
    let title = format!("Disclosure report — {}", s.origin);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    let _ = writeln!(
        h,
        "<p class=\"meta\">Generated {} from {} ledger entries. Days and years are China Standard Time.</p>",
        escape(generated),
        s.entries
    );
    verification(&mut h, s);
    let pairs: Vec<Pair> = {
        let mut p: Vec<Pair> = s.per_day.values().flat_map(|d| d.keys().cloned()).collect();
        p.sort();
        p.dedup();
        p
    };
    h.push_str("<h2>Disclosures per day</h2>\n");
    h.push_str(&chart(s, &pairs, "disclosures", |c| c.0));
    h.push_str("<h2>Records disclosed per day</h2>\n");
    h.push_str(&chart(s, &pairs, "records", |c| c.1));
    legend(&mut h, &pairs);
    per_day_table(&mut h, s, &pairs);
    fields(&mut h, s);
    outcomes(&mut h, s);
    subjects(&mut h, s);
    h.push_str(
        "<p class=\"meta\">Requests refused before a disclosure began (unknown partner, no contract, \
         a route outside the contract, rate limits) disclose nothing and are not ledger entries; \
         they are in sluice's logs and metrics with their reason codes.</p>\n</body>\n</html>\n",
    );
    h
}

fn verification(h: &mut String, s: &Summary) {
    match &s.verified {
        Ok(line) => {
            let _ = writeln!(
                h,
                "<p class=\"ok\" id=\"verification\">Log verified: {}.</p>",
                escape(line)
            );
        }
        Err(problem) => {
            let _ = writeln!(
                h,
                "<p class=\"bad\" id=\"verification\">Log does NOT verify: {}.</p>",
                escape(problem)
            );
        }
    }
    match &s.checkpoint {
        Some(note) => {
            let _ = writeln!(
                h,
                "<h2>Latest signed checkpoint</h2>\n<pre>{}</pre>",
                escape(note)
            );
        }
        None => h.push_str("<p class=\"bad\">No signed checkpoint yet.</p>\n"),
    }
}

/// A stacked bar per day, one segment per (partner, contract).
fn chart(s: &Summary, pairs: &[Pair], what: &str, value: impl Fn(&(u64, u64)) -> u64) -> String {
    let (w, ht, left, bottom) = (760.0_f64, 240.0_f64, 48.0_f64, 40.0_f64);
    let max = s
        .per_day
        .values()
        .map(|d| d.values().map(&value).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = s.per_day.len().max(1) as f64;
    let slot = (w - left - 8.0) / n;
    let bar = (slot * 0.7).min(48.0);
    let plot = ht - bottom - 10.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-chart=\"{what}\" width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" role=\"img\">\n\
         <title>{what} per day</title>\n<line x1=\"{left}\" y1=\"{y0}\" x2=\"{w}\" y2=\"{y0}\" stroke=\"#999\"/>\n\
         <text x=\"{tx}\" y=\"14\" text-anchor=\"end\" class=\"axis\">{max}</text>\n<text x=\"{tx}\" y=\"{y0}\" text-anchor=\"end\" class=\"axis\">0</text>\n",
        y0 = ht - bottom,
        tx = left - 6.0,
    );
    for (i, (day, cells)) in s.per_day.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let mut y = ht - bottom;
        for (k, pair) in pairs.iter().enumerate() {
            let v = cells.get(pair).map_or(0, &value);
            if v == 0 {
                continue;
            }
            let hgt = plot * v as f64 / max;
            y -= hgt;
            let _ = writeln!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{hgt:.1}\" fill=\"{}\" data-day=\"{day}\" data-value=\"{v}\"><title>{day} {} / {}: {v} {what}</title></rect>",
                PALETTE[k % PALETTE.len()],
                escape(&pair.0),
                escape(&pair.1),
            );
        }
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"axis\">{}</text>",
            x + bar / 2.0,
            ht - bottom + 16.0,
            &day[5..]
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn legend(h: &mut String, pairs: &[Pair]) {
    h.push_str("<p class=\"legend\">");
    for (k, (partner, contract)) in pairs.iter().enumerate() {
        let _ = write!(
            h,
            "<span><i style=\"background:{}\"></i>{} / {}</span> ",
            PALETTE[k % PALETTE.len()],
            escape(partner),
            escape(contract)
        );
    }
    h.push_str("</p>\n");
}

fn per_day_table(h: &mut String, s: &Summary, pairs: &[Pair]) {
    h.push_str("<table id=\"per-day\">\n<tr><th>day</th><th>partner</th><th>contract</th><th>disclosures</th><th>records</th></tr>\n");
    for (day, cells) in &s.per_day {
        for pair in pairs {
            if let Some((n, r)) = cells.get(pair) {
                let _ = writeln!(
                    h,
                    "<tr><td>{day}</td><td>{}</td><td>{}</td><td class=\"n\">{n}</td><td class=\"n\">{r}</td></tr>",
                    escape(&pair.0),
                    escape(&pair.1)
                );
            }
        }
    }
    h.push_str("</table>\n");
}

fn fields(h: &mut String, s: &Summary) {
    h.push_str("<h2>Fields disclosed per contract</h2>\n");
    for (contract, paths) in &s.fields {
        let _ = write!(
            h,
            "<h3>{}</h3>\n<table class=\"fields\">\n<tr><th>path</th>",
            escape(contract)
        );
        for t in TREATMENTS {
            let _ = write!(h, "<th>{t}</th>");
        }
        h.push_str("</tr>\n");
        for (path, counts) in paths {
            let _ = write!(h, "<tr><td><code>{}</code></td>", escape(path));
            for c in counts {
                let _ = write!(h, "<td class=\"n\">{c}</td>");
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }
}

fn outcomes(h: &mut String, s: &Summary) {
    h.push_str("<h2>Outcomes</h2>\n<table id=\"outcomes\">\n<tr><th>partner</th><th>contract</th><th>outcome</th><th>disclosures</th></tr>\n");
    for ((partner, contract), by) in &s.outcomes {
        for (outcome, n) in by {
            let class = if outcome == "sent" {
                ""
            } else {
                " class=\"warn\""
            };
            let _ = writeln!(
                h,
                "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{n}</td></tr>",
                escape(partner),
                escape(contract),
                escape(outcome)
            );
        }
    }
    h.push_str("</table>\n");
}

fn subjects(h: &mut String, s: &Summary) {
    let _ = write!(
        h,
        "<h2>Distinct data subjects in {}</h2>\n<p class=\"meta\">Persons counted once per partner \
         (and once overall) by their keyed subject hash, against the thresholds of the CAC rules on \
         cross-border data flows (March 2024). They matter for partners outside the mainland.</p>\n\
         <table id=\"subjects\">\n<tr><th>partner</th><th>distinct subjects</th><th>counted, not recorded individually</th><th>regime if abroad</th></tr>\n",
        s.year
    );
    for (partner, set) in &s.subjects {
        let extra = s.subjects_uncounted.get(partner).copied().unwrap_or(0);
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{extra}</td><td>{}</td></tr>",
            escape(partner),
            set.len(),
            escape(cross_border_regime(set.len() as u64 + extra))
        );
    }
    let _ = writeln!(
        h,
        "<tr><th>all partners</th><th class=\"n\">{}</th><th></th><th>{}</th></tr>\n</table>",
        s.subjects_total,
        escape(cross_border_regime(s.subjects_total))
    );
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#1a202c}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em}table{border-collapse:collapse;margin:.6em 0}\
td,th{border-bottom:1px solid #e2e8f0;padding:.25em .7em;text-align:left}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
.ok{color:#22543d;background:#f0fff4;padding:.5em}.bad{color:#742a2a;background:#fff5f5;padding:.5em}\
tr.warn td{color:#9c4221}.meta{color:#4a5568}pre{background:#f7fafc;padding:.7em;overflow:auto}\
.axis{font-size:11px;fill:#4a5568}.legend span{margin-right:1.2em}.legend i{display:inline-block;width:.8em;height:.8em;margin-right:.3em}";
