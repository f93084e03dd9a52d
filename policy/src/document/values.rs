//! The values a route lets cross besides its body, each with its rule: a push's target
//! parameters (`params`, one required for each) and the header fields `headers` names (a table
//! gives each a rule; an array lets them cross as written). See [`crate::param`].

use super::read::TableReader;
use super::rules::parse_rule;
use super::{Flow, Problems, describe, join, quote};
use crate::rule::Action;
use crate::template::PathTemplate;

/// The route's `headers`: the names (lower case), and the rule of each named in a table.
pub(super) fn read_headers(
    r: &TableReader<'_>,
    t: &toml::Table,
    header_name: impl Fn(&str) -> Result<(), &'static str>,
    problems: &mut Problems,
) -> (Vec<String>, Vec<(String, Action)>) {
    let mut header_rules = Vec::new();
    let headers: Vec<String> = match t.get("headers") {
        // A table names each header with the rule its value goes through.
        Some(toml::Value::Table(rules)) => {
            let mut names = Vec::new();
            for (name, value) in rules {
                let at = join(&r.key_path("headers"), name);
                if let Err(want) = header_name(name) {
                    problems.push(at, format!("got {}, expected {want}", quote(name)));
                    continue;
                }
                let Some(action) = parse_rule(&at, value, problems) else {
                    continue;
                };
                match crate::param::allowed(&action) {
                    Ok(()) => {
                        names.push(name.to_ascii_lowercase());
                        header_rules.push((name.to_ascii_lowercase(), action));
                    }
                    Err(_) => problems.push(
                        at,
                        format!(
                            "got {}, but a header's value is kept (\"keep\", {{ keep = \"string\", pattern = ... }}) or hashed (\"hash\")",
                            describe(value)
                        ),
                    ),
                }
            }
            names
        }
        _ => r
            .opt_strings("headers", header_name, problems)
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
    };
    (headers, header_rules)
}

/// A route's `params`: a rule for each of its listed query parameters and (on a push route,
/// where each reaches the partner) each of its path parameters, and for nothing else (see
/// [`crate::param`]).
pub(super) fn read_params(
    r: &TableReader<'_>,
    t: &toml::Table,
    flow: Option<Flow>,
    template: Option<&PathTemplate>,
    query: &[String],
    problems: &mut Problems,
) -> Vec<(String, Action)> {
    let key = r.key_path("params");
    let table = match t.get("params") {
        None => &toml::Table::new(),
        Some(toml::Value::Table(table)) => table,
        Some(other) => {
            problems.push(
                key,
                format!(
                    "got {}, expected a table of parameter rules",
                    describe(other)
                ),
            );
            return Vec::new();
        }
    };
    let named: Vec<&str> = template
        .map(|p| p.params().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(query.iter().map(String::as_str))
        .collect();
    let mut params = Vec::new();
    for (name, value) in table {
        let at = join(&key, name);
        if !named.contains(&name.as_str()) {
            problems.push(
                at,
                format!("names neither a parameter of the route's path nor a name in its query list (expected one of: {})", if named.is_empty() { "none on this route".to_string() } else { named.join(", ") }),
            );
            continue;
        }
        let Some(action) = parse_rule(&at, value, problems) else {
            continue;
        };
        let why = match crate::param::allowed(&action) {
            Ok(()) if flow == Some(Flow::Pull) && matches!(action, Action::Hash(_)) => {
                "a pull route's parameters go to the institution, where a pseudonym names nothing: keep it, with its checks (\"keep\", { keep = \"string\", pattern = ... })"
            }
            Ok(()) => {
                params.push((name.clone(), action));
                continue;
            }
            Err(crate::param::NotForOneValue::Subtree) => {
                "a parameter is one value: keep it (\"keep\", { keep = \"string\", pattern = ... }) or \"hash\" it"
            }
            Err(crate::param::NotForOneValue::Replaced) => {
                "a parameter is kept (with its checks) or hashed: a masked or redacted value would name another resource"
            }
        };
        problems.push(at, format!("got {}, but {why}", describe(value)));
    }
    // A push route's every parameter reaches the partner; a pull route's query parameters
    // choose what the institution answers (its path parameters are canonical segments, and a
    // rule for them is optional).
    for name in named {
        if table.contains_key(name) {
            continue;
        }
        let is_path = template.is_some_and(|p| p.params().any(|p| p == name));
        let what = if is_path {
            "the path parameter"
        } else {
            "the query parameter"
        };
        let why = match flow {
            Some(Flow::Push) => format!(
                "{what} {} reaches the partner, so it needs a rule as a field does (e.g. {name} = {{ keep = \"string\", pattern = \"[0-9]{{1,12}}\" }}, or \"hash\")",
                quote(name)
            ),
            Some(Flow::Pull) if !is_path => format!(
                "{what} {} chooses what the institution answers, so it needs a rule that bounds it (e.g. {name} = {{ keep = \"number\", min = 1, max = 1000 }})",
                quote(name)
            ),
            _ => continue,
        };
        problems.push(join(&key, name), format!("missing: {why}"));
    }
    params
}

/// A pull route's `request_fields`: what the partner's request body may carry to the
/// institution. A body is the partner's question as much as a query string is (`{"id_no": …}`
/// beside `{"include": "all"}`), so the same default deny holds: only listed fields go, each
/// kept with its checks; a mask, hash or `redact` would ask the institution something else and
/// is refused at load, and so is the key on a push route (a push's body is filtered by the
/// contract's `fields`).
pub(super) fn read_request_fields(
    r: &TableReader<'_>,
    (flow, method): (Option<Flow>, Option<&str>),
    problems: &mut Problems,
) -> (Vec<super::FieldRule>, Vec<String>) {
    let key = r.key_path("request_fields");
    let Some(table) = r.opt_table("request_fields", problems) else {
        return Default::default();
    };
    if flow == Some(Flow::Push) {
        problems.push(
            key,
            "applies to pull routes only (a push's body is filtered by the contract's fields)",
        );
        return Default::default();
    }
    if let Some(m @ ("GET" | "HEAD" | "DELETE")) = method {
        problems.push(
            key,
            format!("a {m} request carries no body (POST, PUT or PATCH routes take one)"),
        );
        return Default::default();
    }
    let (fields, key_paths) = super::rules::read_field_table(&key, table, problems);
    let mut kept = (Vec::new(), Vec::new());
    for (field, at) in fields.into_iter().zip(key_paths) {
        if let Action::Keep(_) = field.action {
            kept.0.push(field);
            kept.1.push(at);
        } else {
            problems.push(at, format!("got \"{}\", but a partner's request body goes to the institution: a field is kept, with its checks (\"keep\", {{ keep = \"string\", pattern = ... }}), or not sent — a masked or hashed value would ask for something else", field.action.label()));
        }
    }
    kept
}
