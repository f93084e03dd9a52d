//! Compiling a route's field rules (as read by [`crate::document`]) into its
//! [`FieldProgram`]: conflicts between rules are load-time errors reported against the rules'
//! key paths.

use std::sync::Arc;

use crate::document::{Problems, quote};
use crate::path::FieldPath;
use crate::program::{FieldProgram, KeyTable, Node, ProgramRule};
use crate::rule::Action;

/// Builds the program of a route from its contract's rules. Problems are reported against the
/// rules' key paths.
pub(crate) fn compile_route(
    fields: &[crate::document::FieldRule],
    field_key_paths: &[String],
    records: Option<&FieldPath>,
    subject: Option<&FieldPath>,
    route_key_path: &str,
    problems: &mut Problems,
) -> Arc<FieldProgram> {
    let mut program = FieldProgram::default();
    program.nodes.push(Node {
        path: "$".into(),
        ..Node::default()
    });
    // Shorter paths first, so that "rule below a rule" is found from the deeper rule's side.
    let mut order: Vec<usize> = (0..fields.len()).collect();
    order.sort_by_key(|&i| fields[i].path.segments().len());
    for i in order {
        let rule = &fields[i];
        match program.walk(&rule.path) {
            Ok(id) => {
                let node = &program.nodes[id as usize];
                let only_attributes = rule.path.is_xml()
                    && node.any.is_none()
                    && node.keys.iter().all(|k| k.starts_with(b"@"));
                if (!node.children.is_empty() || node.any.is_some()) && !only_attributes {
                    problems.push(
                        &field_key_paths[i],
                        "has rules below it; a path may have a rule or rules below it, not both",
                    );
                    continue;
                }
                program.nodes[id as usize].rule = Some(program.rules.len() as u32);
                program.rules.push(ProgramRule {
                    path: rule.path.to_string().into(),
                    action: rule.action.clone(),
                });
            }
            Err(e) => problems.push(&field_key_paths[i], e),
        }
    }
    for (key, path, is_record) in [("records", records, true), ("subject", subject, false)] {
        let Some(path) = path else { continue };
        match program.walk(path) {
            Ok(id) => {
                let node = &mut program.nodes[id as usize];
                if is_record {
                    node.record = true;
                    program.record_node = Some(id);
                } else if node.expects_object() || node.expects_array() {
                    problems.push(
                        format!("{route_key_path}.{key}"),
                        format!(
                            "got {}, expected a path to a scalar, but rules lie below it",
                            quote(&path.to_string())
                        ),
                    );
                } else {
                    node.subject = true;
                }
            }
            Err(e) => problems.push(
                format!("{route_key_path}.{key}"),
                format!("got {}, which {e}", quote(&path.to_string())),
            ),
        }
    }
    for node in &mut program.nodes {
        node.table = KeyTable::build(&node.keys);
        node.as_written = match node.rule.map(|r| &program.rules[r as usize].action) {
            Some(Action::Keep(k))
                if k.kind != crate::rule::KeepKind::Subtree
                    && !k.needs_whole_value()
                    && !node.subject =>
            {
                Some(k.kind)
            }
            _ => None,
        };
    }
    // A node emits when it or a descendant has a rule; children have higher ids than parents.
    for id in (0..program.nodes.len()).rev() {
        let node = &program.nodes[id];
        let emits = node.rule.is_some()
            || node
                .children
                .iter()
                .chain(node.any.iter())
                .any(|&c| program.nodes[c as usize].emits);
        program.nodes[id].emits = emits;
    }
    Arc::new(program)
}
