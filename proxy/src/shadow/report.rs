//! The shadow side file and `sluice policy shadow-report`: one JSON line per body the candidate
//! would have treated differently —
//! `{"time_ms":…,"candidate":"<sha256>","contract":…,"route":…,"differences":[{"path":…,"kind":…}]}`
//! — and its summary: per contract, route, path and kind, how many bodies.

use std::collections::BTreeMap;

use super::Labels;
use super::compare::Difference;

/// The side file's line for one body.
pub(crate) fn line(l: &Labels, differences: &[Difference]) -> String {
    let time_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let diffs: Vec<serde_json::Value> = differences
        .iter()
        .map(|d| serde_json::json!({"path": d.path, "kind": d.kind}))
        .collect();
    let mut s = serde_json::json!({
        "time_ms": time_ms,
        "candidate": l.candidate,
        "contract": l.contract,
        "route": l.route,
        "differences": diffs,
    })
    .to_string();
    s.push('\n');
    s
}

/// (contract, route, path, kind) → bodies.
pub type Totals = BTreeMap<(String, String, String, String), u64>;

/// What a side file holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Bodies with a difference.
    pub bodies: u64,
    /// The candidates seen (a reload to another candidate starts new lines).
    pub candidates: Vec<String>,
    /// Bodies per contract, route, path and kind.
    pub totals: Totals,
}

/// Reads a side file; a line that is not one of ours is named by its number.
pub fn summarise(text: &str) -> Result<Summary, String> {
    let mut s = Summary::default();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let bad = || format!("line {}: not a shadow report line", i + 1);
        let v: serde_json::Value = serde_json::from_str(line).map_err(|_| bad())?;
        let field = |k: &str| v[k].as_str().map(str::to_owned).ok_or_else(bad);
        let (contract, route, candidate) =
            (field("contract")?, field("route")?, field("candidate")?);
        if !s.candidates.contains(&candidate) {
            s.candidates.push(candidate);
        }
        s.bodies += 1;
        for d in v["differences"].as_array().ok_or_else(bad)? {
            let (Some(path), Some(kind)) = (d["path"].as_str(), d["kind"].as_str()) else {
                return Err(bad());
            };
            *s.totals
                .entry((contract.clone(), route.clone(), path.into(), kind.into()))
                .or_default() += 1;
        }
    }
    Ok(s)
}

/// The summary as a Markdown table.
pub fn markdown(s: &Summary) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "# Shadow evaluation: {} bodies the candidate would treat differently\n\ncandidate policy: {}\n\n",
        s.bodies,
        if s.candidates.is_empty() {
            "none seen".to_string()
        } else {
            s.candidates.join(", ")
        }
    );
    if s.totals.is_empty() {
        out.push_str("No differences.\n");
        return out;
    }
    out.push_str("| contract | route | path | would | bodies |\n|---|---|---|---|---:|\n");
    for ((contract, route, path, kind), n) in &s.totals {
        let kind = kind
            .strip_prefix("would_")
            .unwrap_or(kind)
            .replace('_', " ");
        let _ = writeln!(out, "| {contract} | `{route}` | `{path}` | {kind} | {n} |");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_summarise_per_path_and_kind() {
        let l = Labels {
            contract: "c".into(),
            route: "/v1/x/{id}".into(),
            candidate: "ab".into(),
        };
        let d = |path: &str, kind| Difference {
            path: path.into(),
            kind,
        };
        let text = [
            line(&l, &[d("$.a", "would_add"), d("$.b", "would_drop")]),
            line(&l, &[d("$.a", "would_add")]),
        ]
        .concat();
        let s = summarise(&text).unwrap();
        assert_eq!(s.bodies, 2);
        let key = |p: &str, k: &str| ("c".into(), "/v1/x/{id}".into(), p.into(), k.into());
        assert_eq!(s.totals[&key("$.a", "would_add")], 2);
        assert_eq!(s.totals[&key("$.b", "would_drop")], 1);
        assert!(markdown(&s).contains("| c | `/v1/x/{id}` | `$.a` | add | 2 |"));
        assert_eq!(
            summarise("{}\n").unwrap_err(),
            "line 1: not a shadow report line"
        );
    }
}
