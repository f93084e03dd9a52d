//! What a policy change gives or takes from each partner: the question a change review asks.
//!
//! Contracts are matched by id, routes by flow, method and path template, field rules by path.
//! For each contract in both policies: every path the partner gains, loses, or receives
//! differently (kept → masked, another mask, hashed, other ranges or patterns), routes added or
//! removed, and changed terms (partner, validity window, legal basis, purpose). Contracts added or
//! removed are one change each. Nothing else is compared: classes and partners' identities show
//! through the contracts they change.

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
    /// `valid_from`, `valid_until`, `legal_basis`, `purpose`).
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
    let constraints = crate::explain::constraints(&rule.action);
    if constraints.is_empty() {
        rule.action.label()
    } else {
        format!("{} ({constraints})", rule.action.label())
    }
}

fn route_text(r: &crate::Route) -> String {
    format!("{} {} {}", r.flow.as_str(), r.method, r.path)
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
        for (path, after) in &news {
            match olds.get(path) {
                None => out.push(change("gains", path.clone(), String::new(), after.clone())),
                Some(before) if before != after => out.push(change(
                    "receives differently",
                    path.clone(),
                    before.clone(),
                    after.clone(),
                )),
                Some(_) => {}
            }
        }
        for (path, before) in &olds {
            if !news.contains_key(path) {
                out.push(change("loses", path.clone(), before.clone(), String::new()));
            }
        }
        let old_routes: Vec<String> = o.routes.iter().map(route_text).collect();
        let new_routes: Vec<String> = c.routes.iter().map(route_text).collect();
        for r in new_routes.iter().filter(|r| !old_routes.contains(r)) {
            out.push(change("route added", r.clone(), String::new(), r.clone()));
        }
        for r in old_routes.iter().filter(|r| !new_routes.contains(r)) {
            out.push(change("route removed", r.clone(), r.clone(), String::new()));
        }
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

/// The contract's terms that changed: partner, validity window, legal basis, purpose.
fn terms(
    old: &CompiledPolicy,
    o: &Contract,
    new: &CompiledPolicy,
    c: &Contract,
    push: &mut impl FnMut(&'static str, String, String),
) {
    let (op, np) = (&old.partner_of(o).id, &new.partner_of(c).id);
    if op != np {
        push("partner", op.clone(), np.clone());
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
