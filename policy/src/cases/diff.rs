//! A readable difference between an expected and an actual body: both re-indented one member
//! per line (tokens kept as written, each NDJSON line on its own), then a line diff (longest
//! common subsequence) with `-` for expected and `+` for actual lines and two lines of context.
//! When the re-indented forms agree but the bytes do not (whitespace: kept values are
//! byte-exact), the first differing byte is named instead.

/// Lines beyond which the diff is not computed (the first differing line is shown instead).
const MAX_LINES: usize = 2000;

/// Re-indents JSON text one member or element per line, keeping every token as written (member
/// order, number spelling, escapes): whitespace outside strings is dropped and replaced.
fn reindent(doc: &str, lines: &mut Vec<String>) {
    let mut line = String::new();
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = doc.chars().peekable();
    let mut newline = |line: &mut String, depth: usize| {
        lines.push(std::mem::take(line));
        line.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            line.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                line.push(c);
            }
            '{' | '[' => {
                line.push(c);
                while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}' | ']')) {
                    line.push(chars.next().unwrap_or(c));
                } else {
                    depth += 1;
                    newline(&mut line, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut line, depth);
                line.push(c);
            }
            ',' => {
                line.push(c);
                newline(&mut line, depth);
            }
            ':' => line.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            c => line.push(c),
        }
    }
    if !line.trim().is_empty() {
        lines.push(line);
    }
}

fn pretty(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let mut lines = Vec::new();
    for doc in text.lines() {
        reindent(doc, &mut lines);
    }
    lines
}

/// The difference, one output line per entry.
pub fn bodies(expected: &[u8], actual: &[u8]) -> Vec<String> {
    let (a, b) = (pretty(expected), pretty(actual));
    if a == b {
        let at = expected
            .iter()
            .zip(actual)
            .position(|(x, y)| x != y)
            .unwrap_or(expected.len().min(actual.len()));
        return vec![format!(
            "  (same JSON, different bytes: first difference at byte {at}; expected {} bytes, got {})",
            expected.len(),
            actual.len()
        )];
    }
    if a.len() > MAX_LINES || b.len() > MAX_LINES {
        let at = a
            .iter()
            .zip(&b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        return vec![
            format!("  (too long to diff; first difference at line {})", at + 1),
            format!("- {}", a.get(at).map_or("", String::as_str)),
            format!("+ {}", b.get(at).map_or("", String::as_str)),
        ];
    }
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', &a[i]));
            (i, j) = (i + 1, j + 1);
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] > lcs[i + 1][j]) {
            ops.push(('+', &b[j]));
            j += 1;
        } else {
            ops.push(('-', &a[i]));
            i += 1;
        }
    }
    // Changed lines with two lines of context; `...` between distant hunks.
    let near = |k: usize| {
        let lo = k.saturating_sub(2);
        let hi = (k + 2).min(ops.len() - 1);
        ops[lo..=hi].iter().any(|(op, _)| *op != ' ')
    };
    let mut out = Vec::new();
    let mut skipped = false;
    for (k, (op, line)) in ops.iter().enumerate() {
        if near(k) {
            if skipped && !out.is_empty() {
                out.push("  ...".to_owned());
            }
            skipped = false;
            out.push(format!("{op} {line}"));
        } else {
            skipped = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::bodies;

    #[test]
    fn changed_members_are_shown_with_context() {
        let d = bodies(
            br#"{"a":1,"b":"x","c":3,"d":4,"e":5,"f":6}"#,
            br#"{"a":1,"b":"y","c":3,"d":4,"e":5,"f":6}"#,
        );
        assert_eq!(
            d,
            [
                "  {",
                "    \"a\": 1,",
                "-   \"b\": \"x\",",
                "+   \"b\": \"y\",",
                "    \"c\": 3,",
                "    \"d\": 4,"
            ]
        );
    }

    #[test]
    fn whitespace_differences_name_the_byte_and_numbers_are_kept_as_written() {
        let d = bodies(br#"{"n":1.0}"#, br#"{"n": 1.0}"#);
        assert_eq!(d.len(), 1);
        assert!(d[0].contains("first difference at byte 5"), "{d:?}");
        let d = bodies(br#"{"n":1.0,"s":"a,{b"}"#, br#"{"n":1.00,"s":"a,{b"}"#);
        assert_eq!(
            d,
            [
                "  {",
                "-   \"n\": 1.0,",
                "+   \"n\": 1.00,",
                "    \"s\": \"a,{b\"",
                "  }"
            ]
        );
    }
}
