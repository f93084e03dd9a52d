//! A contract as a compliance reviewer reads it: for each route, every path the partner can
//! receive, with its action, class and constraints, and what happens to everything else.

use std::fmt::Write;

use crate::CompiledPolicy;
use crate::rule::{Action, Keep};

/// Renders the table for contract `id`; `None` if there is no such contract.
pub fn explain(policy: &CompiledPolicy, id: &str) -> Option<String> {
    let c = policy.contract(id)?;
    let partner = policy.partner_of(c);
    let mut out = String::new();
    let _ = writeln!(out, "contract   {}", c.id);
    let _ = writeln!(
        out,
        "partner    {} ({}, jurisdiction {})",
        partner.id, partner.identity, partner.jurisdiction
    );
    let _ = writeln!(out, "purpose    {}", c.purpose);
    let _ = writeln!(out, "basis      {}", c.legal_basis);
    let _ = writeln!(
        out,
        "valid      {} until {} (exclusive)",
        c.valid_from, c.valid_until
    );
    match c.rate {
        Some(r) if r.per_minute % 60 == 0 => {
            let _ = writeln!(out, "rate       {}/s, burst {}", r.per_minute / 60, r.burst);
        }
        Some(r) => {
            let _ = writeln!(out, "rate       {}/min, burst {}", r.per_minute, r.burst);
        }
        None => {
            let _ = writeln!(out, "rate       unlimited");
        }
    }
    let _ = writeln!(out, "policy     sha256 {}", policy.version);
    for (i, route) in c.routes.iter().enumerate() {
        let body = match route.flow {
            crate::Flow::Pull => "response body",
            crate::Flow::Push => "request body",
        };
        let _ = writeln!(
            out,
            "\nroute {i}: {} {} {} -> upstream {} (filters the {body})",
            route.flow.as_str(),
            route.method,
            route.path,
            route.upstream
        );
        let formats: Vec<&str> = route.formats.iter().map(|f| f.name()).collect();
        let _ = writeln!(out, "  formats  {}", formats.join(", "));
        if let Some(r) = &route.records {
            let _ = writeln!(out, "  records  {r}");
        }
        if let Some(s) = &route.subject {
            let _ = writeln!(out, "  subject  {s} (keyed hash recorded in the ledger)");
        }
        // What crosses besides the body: each header the route names, each parameter, and
        // the rule each goes through.
        let rule = |action: &Action| {
            format!("{} {}", action.label(), constraints(action))
                .trim_end()
                .to_string()
        };
        for h in &route.headers {
            let how = route
                .header_rule(h)
                .map_or_else(|| "crosses as written".to_string(), rule);
            let _ = writeln!(out, "  header   {h} {how}");
        }
        for (name, action) in &route.params {
            let _ = writeln!(
                out,
                "  param    {} {}",
                route.param_place(name),
                rule(action)
            );
        }
        // What a partner may ask with: a pull route's request body, field by field.
        for f in &route.request_fields {
            let _ = writeln!(out, "  request  {} {}", f.path, rule(&f.action));
        }
        let rows: Vec<[String; 4]> = c
            .fields
            .iter()
            .map(|r| {
                let class = policy
                    .class_of(&r.path)
                    .map_or("-".to_string(), |c| format!("{c:?}"));
                [
                    r.path.to_string(),
                    r.action.label(),
                    class,
                    constraints(&r.action),
                ]
            })
            .collect();
        let header = [
            "PATH".to_string(),
            "ACTION".into(),
            "CLASS".into(),
            "CONSTRAINTS".into(),
        ];
        let widths: Vec<usize> = (0..3)
            .map(|k| {
                rows.iter()
                    .chain([&header])
                    .map(|r| r[k].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = String::from("  ");
            for k in 0..3 {
                let _ = write!(
                    line,
                    "{}{}  ",
                    row[k],
                    " ".repeat(widths[k] - row[k].chars().count())
                );
            }
            line.push_str(&row[3]);
            let _ = writeln!(out, "{}", line.trim_end());
        }
        let _ = writeln!(out, "  everything else is stripped");
    }
    Some(out)
}

pub(crate) fn constraints(action: &Action) -> String {
    let Action::Keep(keep) = action else {
        return String::new();
    };
    let Keep {
        min,
        max,
        pattern,
        max_len,
        scan,
        plaintext_reason,
        ..
    } = &**keep;
    let mut parts = Vec::new();
    if let Some((_, t)) = min {
        parts.push(format!("min {t}"));
    }
    if let Some((_, t)) = max {
        parts.push(format!("max {t}"));
    }
    if let Some((_, p)) = pattern {
        parts.push(format!("pattern {p}"));
    }
    if let Some(n) = max_len {
        parts.push(format!("max_len {n}"));
    }
    if !scan.is_empty() {
        let names: Vec<_> = scan.iter().map(ToString::to_string).collect();
        parts.push(format!("scan {}", names.join(",")));
    }
    if let Some(r) = plaintext_reason {
        parts.push(format!("plaintext because: {r}"));
    }
    parts.join("; ")
}
