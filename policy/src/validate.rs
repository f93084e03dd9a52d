//! Checks that span several parts of a policy: classes against rules, rules against a route's
//! record boundary, and routes of one partner against each other.

use crate::document::{Class, Document, Problems, quote};
use crate::path::FieldPath;

/// Runs every cross-cutting check; problems name the rule or route concerned.
pub(crate) fn check(doc: &Document, problems: &mut Problems) {
    for raw in &doc.contracts {
        let c = &raw.contract;
        for (rule, key_path) in c.fields.iter().zip(&raw.field_key_paths) {
            check_classes(&rule.path, &rule.action, key_path, &doc.classes, problems);
        }
        for (ri, route) in c.routes.iter().enumerate() {
            let route_path = format!("{}.route[{ri}]", raw.key_path);
            if let Some(records) = &route.records {
                for (rule, key_path) in c.fields.iter().zip(&raw.field_key_paths) {
                    if !rule.path.starts_with(records) {
                        problems.push(key_path, format!("lies outside route[{ri}]'s records path {records}; a route with records applies rules to records only"));
                    }
                }
                if let Some(subject) = &route.subject
                    && !subject.is_below(records)
                {
                    problems.push(
                        format!("{route_path}.subject"),
                        format!(
                            "got {}, expected a path below records ({records})",
                            quote(&subject.to_string())
                        ),
                    );
                }
            } else if route.subject.is_some() {
                problems.push(
                    format!("{route_path}.subject"),
                    "a subject needs a records path on the same route (records = \"$.items[*]\")",
                );
            }
        }
    }
    check_overlaps(doc, problems);
}

/// A rule discloses class data when its path is the classified path or lies below it, or when it
/// keeps a whole subtree that contains it.
fn check_classes(
    path: &FieldPath,
    action: &crate::rule::Action,
    key_path: &str,
    classes: &[(FieldPath, Class, String)],
    problems: &mut Problems,
) {
    let touching = classes
        .iter()
        .filter(|(cp, _, _)| path.starts_with(cp) || (action.is_subtree() && cp.is_below(path)));
    let Some(class) = touching.map(|(_, c, _)| *c).max() else {
        return;
    };
    match class {
        Class::C3 => problems.push(key_path, "path is class C3 and can never be disclosed"),
        Class::C2 => {
            if let crate::rule::Action::Keep(k) = action
                && k.plaintext_reason.is_none()
            {
                problems.push(key_path, "path is class C2 and kept in plaintext without plaintext_reason; mask or hash it, or write { keep = \"...\", plaintext_reason = \"why the partner needs it\" }");
            }
        }
        Class::C1 => {}
    }
}

/// Two routes of one partner (or two push routes of any partners) overlap when their methods are
/// equal, some request path matches both templates and their contracts' validity windows
/// intersect.
fn check_overlaps(doc: &Document, problems: &mut Problems) {
    let mut seen: Vec<(
        usize,
        String,
        &crate::document::Contract<crate::document::RouteSpec>,
        usize,
    )> = Vec::new();
    for raw in &doc.contracts {
        let c = &raw.contract;
        for (ri, route) in c.routes.iter().enumerate() {
            for (_, other_path, other, oi) in &seen {
                let o = &other.routes[*oi];
                // Push routes name their partner by themselves: they must be unique policy-wide.
                let same_partner = other.partner == c.partner
                    || (o.flow == crate::Flow::Push && route.flow == crate::Flow::Push);
                let windows = c.valid_from < other.valid_until && other.valid_from < c.valid_until;
                if same_partner
                    && windows
                    && o.method == route.method
                    && o.path.overlaps(&route.path)
                {
                    problems.push(
                        format!("{}.route[{ri}]", raw.key_path),
                        format!(
                            "{} {} overlaps {other_path} ({} {}) for partner {} while both contracts are valid; the contract that applies would be ambiguous",
                            route.method, route.path, o.method, o.path, quote(&doc.partners[c.partner].1.id)
                        ),
                    );
                }
            }
            seen.push((0, format!("{}.route[{ri}]", raw.key_path), c, ri));
        }
    }
}
