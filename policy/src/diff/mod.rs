//! What a policy change gives or takes from each partner: the question a change review asks.
//!
//! Contracts are matched by id, routes by flow, method and path template, field rules by path.
//! For each contract in both policies: every path the partner gains, loses, or receives
//! differently (kept → masked, another mask, hashed, other ranges or patterns), routes added or
//! removed, and changed terms (partner, validity window, legal basis, purpose). Contracts added or
//! removed are one change each.
//!
//! A route carries more than its body's fields, and each of those is compared the same way,
//! named after its route (`push POST /v2/loans/{id}: header x-batch-id`): the header fields of
//! the institution's side that cross as written (`headers`), the rules of a route's target
//! parameters (`params`), the media types that go out unfiltered (`pass_through`), the body
//! formats filtered (`formats`), and what a partner's request body may ask with
//! (`request_fields`). A review that says "no change" must mean it: a type let through
//! unfiltered is the largest disclosure a policy can add.
//!
//! A contract's partner is compared by what makes it the recipient — its identity (the
//! certificate that names it), its jurisdiction, the keys that sign its requests — so a partner
//! whose certificate identity changes shows on every contract it holds. Nothing else is
//! compared: classes show through the field rules they change.

use std::collections::BTreeMap;

use crate::{CompiledPolicy, Contract};

/// One change a partner would see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The contract.
    pub contract: String,
    /// Its partner (in the new policy, or the old one for a removed contract).
    pub partner: String,
    /// What changed: `contract added`, `contract removed`, `gains`, `loses`,
    /// `receives differently`, `route added`, `route removed`, or a term (`partner`,
    /// `identity`, `jurisdiction`, `signature_keys`, `valid_from`, `valid_until`, `legal_basis`,
    /// `purpose`).
    pub kind: &'static str,
    /// The path, route or term concerned.
    pub what: String,
    /// Before (empty when there was nothing).
    pub before: String,
    /// After (empty when there is nothing).
    pub after: String,
}

/// How a field rule reads to a reviewer: its action and constraints.
fn describe(rule: &crate::FieldRule) -> String {
    rule_text(&rule.action)
}

/// How a rule reads to a reviewer: its action and constraints.
fn rule_text(action: &crate::rule::Action) -> String {
    let constraints = crate::explain::constraints(action);
    if constraints.is_empty() {
        action.label()
    } else {
        format!("{} ({constraints})", action.label())
    }
}

fn route_text(r: &crate::Route) -> String {
    format!("{} {} {}", r.flow.as_str(), r.method, r.path)
}

/// What a contract's routes carry besides the body's fields, keyed `route: item`, each with
/// how it reads to a reviewer; a route's formats only where `formats_of` says.
fn route_items(c: &Contract, formats_of: impl Fn(&str) -> bool) -> BTreeMap<String, String> {
    let mut items = BTreeMap::new();
    for r in &c.routes {
        let route = route_text(r);
        let with_formats = formats_of(&route);
        let mut item = |what: String, how: String| {
            items.insert(format!("{route}: {what}"), how);
        };
        for f in r.formats.iter().filter(|_| with_formats) {
            item(format!("format {}", f.name()), "filtered".into());
        }
        for h in &r.headers {
            let how = r
                .header_rule(h)
                .map_or_else(|| "crosses as written".into(), rule_text);
            item(format!("header {h}"), how);
        }
        for t in &r.pass_through {
            item(format!("type {t}"), "passed through unfiltered".into());
        }
        for (name, action) in &r.params {
            item(format!("param {}", r.param_place(name)), rule_text(action));
        }
        for f in &r.request_fields {
            item(format!("request field {}", f.path), rule_text(&f.action));
        }
    }
    items
}

/// The changes between two keyed sets of what a partner receives: gained, received differently,
/// lost.
fn compare(
    olds: &BTreeMap<String, String>,
    news: &BTreeMap<String, String>,
    push: &mut impl FnMut(&'static str, String, String, String),
) {
    for (what, after) in news {
        match olds.get(what) {
            None => push("gains", what.clone(), String::new(), after.clone()),
            Some(before) if before != after => push(
                "receives differently",
                what.clone(),
                before.clone(),
                after.clone(),
            ),
            Some(_) => {}
        }
    }
    for (what, before) in olds {
        if !news.contains_key(what) {
            push("loses", what.clone(), before.clone(), String::new());
        }
    }
}

/// Every change from `old` to `new`, contract by contract in the new policy's order, then the
/// contracts removed.
pub fn diff(old: &CompiledPolicy, new: &CompiledPolicy) -> Vec<Change> {
    let mut out = Vec::new();
    for c in &new.contracts {
        let partner = new.partner_of(c).id.clone();
        let change = |kind, what: String, before: String, after: String| Change {
            contract: c.id.clone(),
            partner: partner.clone(),
            kind,
            what,
            before,
            after,
        };
        let Some(o) = old.contract(&c.id) else {
            out.push(change(
                "contract added",
                c.id.clone(),
                String::new(),
                partner.clone(),
            ));
            continue;
        };
        terms(old, o, new, c, &mut |kind, before, after| {
            out.push(change(kind, kind.to_string(), before, after));
        });
        let olds: BTreeMap<String, String> = o
            .fields
            .iter()
            .map(|f| (f.path.to_string(), describe(f)))
            .collect();
        let news: BTreeMap<String, String> = c
            .fields
            .iter()
            .map(|f| (f.path.to_string(), describe(f)))
            .collect();
        compare(&olds, &news, &mut |kind, what, before, after| {
            out.push(change(kind, what, before, after));
        });
        let old_routes: Vec<String> = o.routes.iter().map(route_text).collect();
        let new_routes: Vec<String> = c.routes.iter().map(route_text).collect();
        for r in new_routes.iter().filter(|r| !old_routes.contains(r)) {
            out.push(change("route added", r.clone(), String::new(), r.clone()));
        }
        for r in old_routes.iter().filter(|r| !new_routes.contains(r)) {
            out.push(change("route removed", r.clone(), r.clone(), String::new()));
        }
        // A route added or removed says so above; what else it carries follows, but not its
        // formats, which only matter as a change to a route that stays.
        let stays = |route: &str| {
            old_routes.iter().any(|r| r == route) && new_routes.iter().any(|r| r == route)
        };
        compare(
            &route_items(o, stays),
            &route_items(c, stays),
            &mut |kind, what, before, after| out.push(change(kind, what, before, after)),
        );
    }
    for o in &old.contracts {
        if new.contract(&o.id).is_none() {
            let partner = old.partner_of(o).id.clone();
            out.push(Change {
                contract: o.id.clone(),
                partner: partner.clone(),
                kind: "contract removed",
                what: o.id.clone(),
                before: partner,
                after: String::new(),
            });
        }
    }
    out
}

/// The contract's terms that changed: partner (its id, identity, jurisdiction and signature
/// keys), validity window, legal basis, purpose.
fn terms(
    old: &CompiledPolicy,
    o: &Contract,
    new: &CompiledPolicy,
    c: &Contract,
    push: &mut impl FnMut(&'static str, String, String),
) {
    let (op, np) = (old.partner_of(o), new.partner_of(c));
    if op.id != np.id {
        push("partner", op.id.clone(), np.id.clone());
    }
    // Who receives (the certificate that names the partner), where (offshore is a cross-border
    // transfer), and who may sign its requests: the same contract, another recipient.
    if op.identity != np.identity {
        push("identity", op.identity.to_string(), np.identity.to_string());
    }
    if op.jurisdiction != np.jurisdiction {
        push(
            "jurisdiction",
            op.jurisdiction.clone(),
            np.jurisdiction.clone(),
        );
    }
    let keys = |p: &crate::Partner| {
        p.signature_keys
            .iter()
            .map(|k| format!("{} {}", k.id, crate::hex::hex(&k.ed25519)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if keys(op) != keys(np) {
        push("signature_keys", keys(op), keys(np));
    }
    if o.valid_from != c.valid_from {
        push(
            "valid_from",
            o.valid_from.to_string(),
            c.valid_from.to_string(),
        );
    }
    if o.valid_until != c.valid_until {
        push(
            "valid_until",
            o.valid_until.to_string(),
            c.valid_until.to_string(),
        );
    }
    if o.legal_basis != c.legal_basis {
        push("legal_basis", o.legal_basis.clone(), c.legal_basis.clone());
    }
    if o.purpose != c.purpose {
        push("purpose", o.purpose.clone(), c.purpose.clone());
    }
}

/// The changes as a Markdown table for a change review (a line saying so when there are none).
pub fn markdown(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "No change to what any partner receives.\n".to_string();
    }
    let cell = |s: &str| {
        if s.is_empty() {
            "—".to_string()
        } else {
            format!("`{}`", s.replace('|', "\\|").replace('`', "'"))
        }
    };
    let mut out = String::from(
        "| contract | partner | change | what | before | after |\n|---|---|---|---|---|---|\n",
    );
    for c in changes {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            c.contract,
            c.partner,
            c.kind,
            cell(&c.what),
            cell(&c.before),
            cell(&c.after)
        ));
    }
    out
}

#[cfg(test)]
mod tests;
