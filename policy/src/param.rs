//! What a route's request target carries: the values of its path parameters
//! (`/v2/loans/{loan_id}`) and of the query parameters it lists (`query = ["page"]`).
//!
//! **Push.** The institution system's values reach the partner as surely as a body field does:
//! `{loan_id}` can carry an identity number, `?page=` a name. So each goes through a rule of the
//! route's `params`, as a field goes through the contract's, and every parameter of a push route
//! has one — the policy does not load otherwise (default deny: a template or a `query` list
//! says where a value goes, not what it may be). Query names the route does not list are
//! dropped.
//!
//! **Pull.** The partner's values choose what the institution answers: a query parameter is a
//! route parameter by another name (`?id=` beside `{id}`, `?branch=all`, `?page_size=100000`, a
//! framework's `?_method=DELETE`), so the contract names the ones a partner may send and bounds
//! each with a rule; a query name the route does not list refuses the request (`not_listed`,
//! without the name: it is the partner's text) — nothing the contract does not describe reaches
//! the institution, and a partner whose query is not served as written is told so. Path
//! parameters are canonical segments already ([`crate::target::check_path`]); a rule for one
//! is optional and bounds it further (`{id} = { keep = "string", pattern = "A[0-9]{6}" }`).
//!
//! A parameter's rule is a keep — its type and checks (`pattern`, `max_len`, `min`/`max`); a
//! detector of `scan` that finds an identifier refuses the request, since a masked value would
//! name another resource — or, on a push route, a hash: the value replaced by the contract's
//! pseudonym of it (lower-case hex, a canonical segment). Masks and `redact` are refused at load,
//! and so is a hash on a pull route (a pseudonym names nothing at the institution).
//!
//! The query string is read strictly: `name=value` pairs joined by `&` (a pair without `=` has
//! an empty value), `%XX` escapes decoded and `+` read as a space, as a form's; an escape that
//! is cut short or decodes to something that is not UTF-8, or an empty pair, refuses the
//! request; so does a listed name that appears twice after decoding (`page=1&pag%65=2`: which
//! one a framework reads is anyone's guess). What goes out is sluice's writing: each listed pair,
//! in the order it came, its name and its value (after the rule) encoded as the WHATWG
//! serializer does — the source's spelling of an escape (`%2d` or `%2D` or `-`) is text no rule
//! lists, and a spelling the upstream decodes otherwise than sluice is never forwarded.
//!
//! A refusal names the parameter (`{loan_id}`, `?page`) and the check, never the value.
//!
//! The same one-value rules serve the header fields a route names with a rule (`headers` as a
//! table): [`allowed`] at load, [`apply`] to each value as it crosses.

use crate::document::{Flow, RouteSpec};
use crate::engine::{EngineKeys, ViolationKind};
use crate::rule::{Action, KeepKind};

/// Why a request target was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The check: a violation code (`pattern_mismatch`, `type_mismatch`, `out_of_range`,
    /// `too_long`), `identifier_found`, `invalid_query`, `invalid_utf8` or `duplicate_key`.
    pub code: &'static str,
    /// The parameter: `{name}` for a path parameter, `?name` for a query parameter.
    pub param: String,
}

/// Why a rule cannot apply to one value of a request target or header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotForOneValue {
    /// `keep = "subtree"`: there is one value, no subtree.
    Subtree,
    /// A mask or `redact`: the value is kept (with its checks) or hashed.
    Replaced,
}

/// Which rules a parameter or a header value may have: a keep (with its checks) or a hash.
pub(crate) fn allowed(action: &Action) -> Result<(), NotForOneValue> {
    match action {
        Action::Keep(k) if k.kind == KeepKind::Subtree => Err(NotForOneValue::Subtree),
        Action::Keep(_) | Action::Hash(_) => Ok(()),
        Action::Mask(_) | Action::Redact => Err(NotForOneValue::Replaced),
    }
}

/// The target sent on for `path` and `query` on `route`: to the partner on a push route, to the
/// institution on a pull route (see the module docs). Each parameter with a rule goes through
/// it; the query is sluice's writing of the listed pairs.
pub fn target(
    route: &RouteSpec,
    path: &str,
    query: Option<&str>,
    keys: &EngineKeys,
) -> Result<String, Refusal> {
    let pull = route.flow == Flow::Pull;
    let rule = |name: &str| route.params.iter().find(|(n, _)| n == name).map(|(_, a)| a);
    let mut value = String::new();
    let mut target = route
        .path
        .render(path, |name, segment| {
            let refused = |code| Refusal {
                code,
                param: format!("{{{name}}}"),
            };
            match rule(name) {
                Some(action) => apply(action, segment, keys, &mut value).map_err(refused)?,
                // A pull route's path parameter without a rule: a canonical segment, as sent.
                None if pull => segment.clone_into(&mut value),
                None => return Err(refused("no_rule")),
            }
            Ok(std::mem::take(&mut value))
        })
        .unwrap_or_else(|| {
            Err(Refusal {
                code: "no_route",
                param: String::new(),
            })
        })?;
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        let mut first = true;
        let mut seen: Vec<Vec<u8>> = Vec::new();
        let (mut name, mut decoded) = (Vec::new(), Vec::new());
        for pair in q.split('&') {
            let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let refused = |code, name: &[u8]| Refusal {
                code,
                param: format!("?{}", String::from_utf8_lossy(name)),
            };
            if raw_name.is_empty() {
                return Err(refused("invalid_query", b""));
            }
            read(raw_name, &mut name).map_err(|code| refused(code, b""))?;
            let Some((listed, action)) = route.params.iter().find(|(n, _)| {
                n.as_bytes() == name.as_slice() && route.query.iter().any(|q| q == n)
            }) else {
                if pull {
                    return Err(refused("not_listed", b""));
                }
                continue;
            };
            if seen.contains(&name) {
                return Err(refused("duplicate_key", &name));
            }
            seen.push(name.clone());
            read(raw_value, &mut decoded).map_err(|code| refused(code, &name))?;
            let text = std::str::from_utf8(&decoded).expect("read checks UTF-8");
            apply(action, text, keys, &mut value).map_err(|code| refused(code, &name))?;
            target.push(if first { '?' } else { '&' });
            first = false;
            let mut encoded = Vec::new();
            crate::engine::form::encode(listed.as_bytes(), &mut encoded);
            encoded.push(b'=');
            crate::engine::form::encode(value.as_bytes(), &mut encoded);
            target.push_str(std::str::from_utf8(&encoded).expect("encoding writes ASCII"));
        }
    }
    Ok(target)
}

/// Decodes one query name or value (`%XX` escapes, `+` a space) into `out`.
fn read(raw: &str, out: &mut Vec<u8>) -> Result<(), &'static str> {
    crate::engine::form::decode(raw.as_bytes(), out).map_err(|v| match v {
        ViolationKind::InvalidUtf8 => "invalid_utf8",
        _ => "invalid_query",
    })
}

/// Puts `value` through a parameter's or header's rule (one [`allowed`]): what goes out is
/// left in `out`; `Err` names the check it failed.
pub fn apply(
    action: &Action,
    value: &str,
    keys: &EngineKeys,
    out: &mut String,
) -> Result<(), &'static str> {
    out.clear();
    match action {
        Action::Keep(k) => {
            // Read as a text field's value is (a CSV cell, a form value).
            crate::engine::text::check_kept_text(k, value, &mut Vec::new())
                .map_err(|v| v.code())?;
            if !k.scan.is_empty() && crate::detect::scan(&k.scan, value, out) > 0 {
                return Err("identifier_found");
            }
            out.clear();
            out.push_str(value);
        }
        Action::Hash(_) if value.is_empty() => {}
        Action::Hash(alg) => keys.pseudonym.pseudonym(*alg, value, out),
        Action::Mask(_) | Action::Redact => return Err("no_rule"),
    }
    Ok(())
}
