//! Reading one field rule (`"keep"`, `"mask:name"`, `{ keep = "number", min = 0 }`, ...) into
//! the rule model of [`crate::rule`], with a problem per bad part.

use crate::decimal::Decimal;
use crate::rule::*;

const RULE_FORMS: &str = "expected \"keep\", \"mask:KIND\" (KIND one of name, id_card, mobile, bank_card, email, address, landline, passport, plate, partial(F,L)), \"hash\", \"hash:sm3\", \"redact\" or a table { keep = ... }";

const TABLE_KEYS: &[&str] = &[
    "keep",
    "min",
    "max",
    "pattern",
    "max_len",
    "scan",
    "plaintext_reason",
];

/// Parses a rule value. Problems are reported with `key_path` (the rule's own key path).
pub(crate) fn parse_rule(
    key_path: &str,
    value: &toml::Value,
    problems: &mut crate::document::Problems,
) -> Option<Action> {
    use crate::document::{describe, join};
    match value {
        toml::Value::String(s) => {
            let action = match s.as_str() {
                "keep" => Some(Action::Keep(Box::new(Keep::plain(KeepKind::Scalar)))),
                "hash" => Some(Action::Hash(HashAlg::HmacSha256)),
                "hash:sm3" => Some(Action::Hash(HashAlg::HmacSm3)),
                "redact" => Some(Action::Redact),
                other => other
                    .strip_prefix("mask:")
                    .and_then(MaskKind::parse)
                    .map(Action::Mask),
            };
            if action.is_none() {
                problems.push(key_path, format!("got {}, {RULE_FORMS}", describe(value)));
            }
            action
        }
        toml::Value::Table(t) => {
            let before = problems.0.len();
            let reader = crate::document::read::TableReader::new(key_path, t, TABLE_KEYS);
            reader.check_unknown(problems);
            let kind = match reader.required(
                "keep",
                "one of \"scalar\", \"string\", \"number\", \"boolean\", \"null\", \"subtree\"",
                problems,
            ) {
                Some(v) => match v.as_str().and_then(KeepKind::parse) {
                    Some(k) => Some(k),
                    None => {
                        problems.push(
                            join(key_path, "keep"),
                            format!("got {}, expected one of \"scalar\", \"string\", \"number\", \"boolean\", \"null\", \"subtree\"", describe(v)),
                        );
                        None
                    }
                },
                None => None,
            };
            let mut keep = Keep::plain(kind.unwrap_or(KeepKind::Scalar));
            let need = |problems: &mut crate::document::Problems, key: &str, want: KeepKind| {
                if kind.is_some_and(|k| k != want) {
                    problems.push(
                        join(key_path, key),
                        format!(
                            "applies to keep = \"{}\" only, but the rule says keep = \"{}\"",
                            want.name(),
                            kind.map_or("?", KeepKind::name)
                        ),
                    );
                }
            };
            for (key, slot) in [("min", &mut keep.min), ("max", &mut keep.max)] {
                if let Some(v) = t.get(key) {
                    need(problems, key, KeepKind::Number);
                    let text = match v {
                        toml::Value::Integer(i) => Some(i.to_string()),
                        toml::Value::Float(f) if f.is_finite() => Some(format!("{f:?}")),
                        toml::Value::String(s) => Some(s.clone()),
                        _ => None,
                    };
                    match text
                        .as_deref()
                        .and_then(|s| Decimal::parse(s.as_bytes()).map(|d| (d, s.to_string())))
                    {
                        Some(d) => *slot = Some(d),
                        None => problems.push(
                            join(key_path, key),
                            format!(
                                "got {}, expected a number (or a decimal string such as \"0.01\")",
                                describe(v)
                            ),
                        ),
                    }
                }
            }
            if let (Some((lo, lo_text)), Some((hi, hi_text))) = (&keep.min, &keep.max)
                && lo > hi
            {
                problems.push(
                    join(key_path, "max"),
                    format!("got {hi_text}, expected a value not below min ({lo_text})"),
                );
            }
            if let Some(v) = t.get("pattern") {
                need(problems, "pattern", KeepKind::String);
                match v.as_str() {
                    Some(p) => match regex::Regex::new(&format!("^(?:{p})$")) {
                        Ok(re) => keep.pattern = Some((re, p.to_string())),
                        Err(e) => {
                            let detail = e
                                .to_string()
                                .lines()
                                .last()
                                .unwrap_or("")
                                .trim()
                                .to_string();
                            problems.push(
                                join(key_path, "pattern"),
                                format!(
                                    "got {}, expected a regular expression ({detail})",
                                    describe(v)
                                ),
                            )
                        }
                    },
                    None => problems.push(
                        join(key_path, "pattern"),
                        format!(
                            "got {}, expected a regular expression as a string",
                            describe(v)
                        ),
                    ),
                }
            }
            if t.contains_key("max_len") {
                need(problems, "max_len", KeepKind::String);
                keep.max_len = reader.opt_u32("max_len", problems);
            }
            if let Some(v) = t.get("scan") {
                need(problems, "scan", KeepKind::String);
                match v.as_array() {
                    Some(items) => {
                        for (i, item) in items.iter().enumerate() {
                            match item.as_str().and_then(Detector::parse) {
                                Some(d) if !keep.scan.contains(&d) => keep.scan.push(d),
                                Some(_) => {}
                                None => problems.push(
                                    format!("{}[{i}]", join(key_path, "scan")),
                                    format!(
                                        "got {}, expected one of: {}",
                                        describe(item),
                                        DETECTORS.join(", ")
                                    ),
                                ),
                            }
                        }
                    }
                    None => problems.push(
                        join(key_path, "scan"),
                        format!("got {}, expected an array of detector names", describe(v)),
                    ),
                }
            }
            keep.plaintext_reason = reader
                .opt_string("plaintext_reason", problems)
                .map(str::to_string);
            (problems.0.len() == before).then(|| Action::Keep(Box::new(keep)))
        }
        other => {
            problems.push(key_path, format!("got {}, {RULE_FORMS}", describe(other)));
            None
        }
    }
}

/// A table of field rules (`"$.path" = rule`): each path parsed and written once, with its rule;
/// and the key path of each, for problems found later (compiling them).
pub(crate) fn read_field_table(
    key: &str,
    table: &toml::Table,
    problems: &mut crate::document::Problems,
) -> (Vec<crate::document::FieldRule>, Vec<String>) {
    use crate::document::{FieldRule, join, quote};
    use crate::path::FieldPath;
    let mut fields: Vec<FieldRule> = Vec::new();
    let mut key_paths = Vec::new();
    let mut texts: Vec<&str> = Vec::new();
    for (path_text, v) in table {
        let key_path = join(key, path_text);
        let parsed = FieldPath::parse(path_text)
            .map_err(|e| problems.push(&key_path, e.to_string()))
            .ok();
        let action = parse_rule(&key_path, v, problems);
        if let (Some(path), Some(action)) = (parsed, action) {
            if let Some(j) = fields.iter().position(|f| f.path == path) {
                problems.push(
                    &key_path,
                    format!("same path as {}; write each path once", quote(texts[j])),
                );
                continue;
            }
            fields.push(FieldRule { path, action });
            key_paths.push(key_path);
            texts.push(path_text);
        }
    }
    (fields, key_paths)
}
