//! The demo's side-by-side table: every leaf of what the institution has, next to what the
//! partner receives (kept, masked, hashed, or stripped). Long values wrap; nothing is cut.

use super::Style;

/// Leaf paths and values of a JSON document.
fn flatten(v: &serde_json::Value, path: String, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| flatten(x, format!("{path}.{k}"), out)),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| flatten(x, format!("{path}[{i}]"), out)),
        other => out.push((
            path,
            other.as_str().map_or(other.to_string(), str::to_string),
        )),
    }
}

pub(super) fn side_by_side(st: &Style, had: &[u8], got: &[u8]) {
    let (Ok(had), Ok(got)) = (
        serde_json::from_slice::<serde_json::Value>(had),
        serde_json::from_slice::<serde_json::Value>(got),
    ) else {
        println!("  (bodies are not JSON)");
        return;
    };
    let (mut h, mut g) = (Vec::new(), Vec::new());
    flatten(&had, "$".into(), &mut h);
    flatten(&got, "$".into(), &mut g);
    let width = h.iter().map(|(p, _)| p.chars().count()).max().unwrap_or(0);
    let vw = 34;
    let (left, middle) = ("path", "the institution has");
    println!("  {left:<width$}  {middle:<vw$}  the partner receives");
    for (path, value) in &h {
        let received = g.iter().find(|(p, _)| p == path).map(|(_, v)| v.clone());
        let right = match received {
            None => st.dim("— stripped"),
            Some(v) if &v == value => v,
            Some(v) => st.good(&v),
        };
        // The institution's value is wrapped, never cut: a reader compares it whole with what
        // the partner receives.
        for (i, line) in wrap(value, vw).iter().enumerate() {
            let pad = " ".repeat(vw.saturating_sub(display_width(line)));
            if i == 0 {
                println!("  {path:<width$}  {line}{pad}  {right}");
            } else {
                println!("  {:<width$}  {line}", "");
            }
        }
    }
}

/// Columns a character takes in a terminal: two for the wide (CJK) ones, one otherwise.
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// `s` cut into lines of at most `width` columns (a character never split), all of it kept.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    let mut used = 0;
    for c in s.chars() {
        let w = display_width(c.encode_utf8(&mut [0; 4]));
        if used + w > width && used > 0 {
            lines.push(String::new());
            used = 0;
        }
        lines.last_mut().expect("never empty").push(c);
        used += w;
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::{display_width, wrap};

    /// The side-by-side table cut the institution's column at 34 columns, so a row could show
    /// the partner receiving text the institution's column did not show (issue 26, item 5).
    #[test]
    fn the_institutions_column_wraps_and_loses_nothing() {
        for value in [
            "".to_string(),
            "short".to_string(),
            "x".repeat(100),
            "客户张三的身份证号码是110105194912310021，手机号13812345678，请核实".to_string(),
        ] {
            let lines = wrap(&value, 34);
            assert_eq!(lines.concat(), value);
            assert!(lines.iter().all(|l| display_width(l) <= 34), "{lines:?}");
        }
    }
}
