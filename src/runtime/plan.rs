//! What the engine precomputes for a program: the state slots each guard and script uses,
//! and the names its log records carry.

use std::collections::HashMap;
use std::sync::Arc;

use crate::compile::ir::{EdgeWhen, NodeKind, Program};
use crate::runtime::state::{Declared, Slots};
use crate::sandbox::CompiledCode;
use crate::value::{ERROR_FIELD, FieldType};

/// For each node, the slots of the names its code uses (precomputed so no step hashes a
/// name), and the names its log records carry (shared, so a record costs no copy of them).
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) slots: Slots,
    /// The first `named` slots are the names some guard or script uses.
    pub(super) named: usize,
    pub(super) nodes: Vec<NodePlan>,
    /// Per node: its name, and what it runs (the tool, `script`, `wait` or `junction`).
    pub(super) names: Vec<Arc<str>>,
    pub(super) tools: Vec<Arc<str>>,
    pub(super) end: Arc<str>,
    pub(super) flow: Arc<str>,
    pub(super) hash: Arc<str>,
}

#[derive(Debug, Default)]
pub(super) struct NodePlan {
    pub(super) script: Vec<usize>,
    /// Per edge, in order; empty for edges without a guard.
    pub(super) guards: Vec<Vec<usize>>,
    /// Per edge, in order: the guard's text.
    pub(super) guard_texts: Vec<Option<Arc<str>>>,
    pub(super) until: Vec<usize>,
}

impl Plan {
    pub(super) fn new(program: &Program) -> Self {
        let mut slots = Slots::default();
        let mut intern = |code: &CompiledCode| -> Vec<usize> {
            code.names.iter().map(|n| slots.intern_code(n)).collect()
        };
        let nodes = program
            .nodes
            .iter()
            .map(|node| NodePlan {
                script: match &node.kind {
                    NodeKind::Script { code, .. } => intern(code),
                    _ => Vec::new(),
                },
                guards: node
                    .edges
                    .iter()
                    .map(|edge| match &edge.when {
                        EdgeWhen::Guard(code) => intern(code),
                        _ => Vec::new(),
                    })
                    .collect(),
                guard_texts: node
                    .edges
                    .iter()
                    .map(|edge| match &edge.when {
                        EdgeWhen::Guard(code) => Some(Arc::from(code.text.as_str())),
                        _ => None,
                    })
                    .collect(),
                until: node
                    .as_loop()
                    .map(|body| intern(&body.until))
                    .unwrap_or_default(),
            })
            .collect();
        let named = slots.len();
        if let Some(schema) = &program.schema {
            for field in &schema.fields {
                slots.declare(
                    &field.name,
                    Declared {
                        ty: field.ty,
                        nullable: field.nullable,
                        at: Some(field.span),
                    },
                );
            }
            // The engine's own field holds the record an `on error` edge sets, or nothing.
            slots.declare(
                ERROR_FIELD,
                Declared {
                    ty: FieldType::Map,
                    nullable: true,
                    at: None,
                },
            );
        }
        let mut tool_names: HashMap<&str, Arc<str>> = HashMap::new();
        let tools = program
            .nodes
            .iter()
            .map(|node| {
                let label = match &node.kind {
                    NodeKind::Tool { tool, .. } => tool.as_str(),
                    NodeKind::Script { .. } => "script",
                    NodeKind::Wait { .. } => "wait",
                    NodeKind::Junction | NodeKind::Loop(_) => "junction",
                };
                tool_names
                    .entry(label)
                    .or_insert_with(|| Arc::from(label))
                    .clone()
            })
            .collect();
        Plan {
            slots,
            named,
            nodes,
            names: program
                .nodes
                .iter()
                .map(|n| Arc::from(n.name.as_str()))
                .collect(),
            tools,
            end: Arc::from("end"),
            flow: Arc::from(program.name.as_str()),
            hash: Arc::from(program.hash.as_str()),
        }
    }
}
