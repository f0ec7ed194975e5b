//! Where a step goes: a loop's `until` at its exit node, else the node's guarded edges in
//! source order, its default edge, or its `on error` edge when the action failed.

use rhai::{Dynamic, Map};

use crate::compile::ir::{EdgeWhen, Node, NodeId, Target};
use crate::runtime::code::{CodeFailure, Deadline, values_of};
use crate::runtime::error::RuntimeError;
use crate::runtime::machine::{Machine, Next, cancelled};
use crate::value::ERROR_FIELD;

impl<'r> Machine<'r> {
    /// An exhausted loop fails like a node: its own `on error` edge, when it has one.
    pub(super) fn exhausted_loop_edge(&mut self, error: &RuntimeError) -> Option<Next> {
        if !matches!(error, RuntimeError::LoopExhausted { .. }) {
            return None;
        }
        // The exhausted loop's `until` was the last one evaluated.
        let &(id, _, _) = self.run.untils.last()?;
        let program = self.program;
        let mut next = self.error_edge(program.node(id), error)?;
        next.until = Some(false);
        Some(next)
    }

    /// The node's `on error` edge, with `error` set in the state, when it has one.
    pub(super) fn error_edge(&mut self, node: &'r Node, error: &RuntimeError) -> Option<Next> {
        if !error.is_node_failure() && !matches!(error, RuntimeError::LoopExhausted { .. }) {
            return None;
        }
        let (index, edge) = node
            .edges
            .iter()
            .enumerate()
            .find(|(_, edge)| matches!(edge.when, EdgeWhen::OnError))?;
        let mut record = Map::new();
        record.insert("node".into(), Dynamic::from(node.name.clone()));
        record.insert("message".into(), Dynamic::from(error.message()));
        record.insert("code".into(), Dynamic::from(error.short_code()));
        let slot = self.run.state.slot(ERROR_FIELD);
        self.run.state.set(slot, Dynamic::from_map(record));
        self.run.changes.retain(|&s| s != slot);
        self.run.changes.push(slot);
        Some(Next {
            target: edge.to,
            edge: Some((node.id, edge_index(index))),
            on_error: true,
            until: None,
        })
    }

    /// After a node finished: its loop's `until` when it is the loop's exit, else its edges.
    pub(super) fn route(&mut self, from: NodeId) -> Result<Next, RuntimeError> {
        let program = self.program;
        let node = program.node(from);
        if let Some(parent_id) = node.parent {
            let parent = program.node(parent_id);
            let body = parent.as_loop().expect("a node's parent is a loop");
            if body.exit == from {
                let counter = &mut self.run.counters[parent_id.index()];
                *counter = counter.saturating_add(1);
                let slots = &self.plan.nodes[parent_id.index()].until;
                let done = self.guard(&body.until, slots, parent)?;
                self.run
                    .untils
                    .push((parent_id, self.run.counters[parent_id.index()], done));
                if !done {
                    let iterations = self.run.counters[parent_id.index()];
                    if iterations >= body.max {
                        return Err(RuntimeError::LoopExhausted {
                            name: parent.name.clone(),
                            max: body.max,
                            values: values_of(&self.run.state, slots),
                            at: parent.span.into(),
                            until: body.until.span.into(),
                        });
                    }
                    return Ok(Next {
                        target: Target::Node(body.entry),
                        edge: None,
                        on_error: false,
                        until: Some(false),
                    });
                }
                let mut next = self.route(parent_id)?;
                next.until = Some(true);
                return Ok(next);
            }
        }
        self.choose_edge(node)
    }

    /// The first edge whose guard holds, in source order, else the default.
    fn choose_edge(&mut self, node: &'r Node) -> Result<Next, RuntimeError> {
        let plan = &self.plan.nodes[node.id.index()];
        let mut default = None;
        let mut any = false;
        for (index, (edge, slots)) in node.edges.iter().zip(&plan.guards).enumerate() {
            match &edge.when {
                EdgeWhen::OnError => {}
                EdgeWhen::Always => {
                    any = true;
                    default.get_or_insert((index, edge));
                }
                EdgeWhen::Guard(code) => {
                    any = true;
                    if self.guard(code, slots, node)? {
                        return Ok(Next {
                            target: edge.to,
                            edge: Some((node.id, edge_index(index))),
                            on_error: false,
                            until: None,
                        });
                    }
                }
            }
        }
        if let Some((index, edge)) = default {
            return Ok(Next {
                target: edge.to,
                edge: Some((node.id, edge_index(index))),
                on_error: false,
                until: None,
            });
        }
        if !any {
            return Ok(Next {
                target: Target::End,
                edge: None,
                on_error: false,
                until: None,
            });
        }
        let guards = node
            .edges
            .iter()
            .zip(&plan.guards)
            .filter_map(|(edge, slots)| match &edge.when {
                EdgeWhen::Guard(code) => Some(miette::LabeledSpan::new_with_span(
                    Some(format!("false: {}", values_of(&self.run.state, slots))),
                    code.span,
                )),
                _ => None,
            })
            .collect();
        Err(RuntimeError::NoMatchingEdge {
            node: node.name.clone(),
            at: node.span.into(),
            guards,
        })
    }

    fn guard(
        &mut self,
        code: &crate::sandbox::CompiledCode,
        slots: &[usize],
        node: &Node,
    ) -> Result<bool, RuntimeError> {
        let run = &mut *self.run;
        let sandbox = run.sandbox.as_mut().expect("a run steps with a sandbox");
        sandbox.guard(code, slots, &mut run.state, self.run_deadline).map_err(|failure| match failure {
            CodeFailure::Cancelled => cancelled(node),
            CodeFailure::Deadline(Deadline::Run) => self.run_timeout(node),
            other => {
                let (reason, help) = other.describe(&self.options.limits);
                let values = values_of(&self.run.state, slots);
                let help = if matches!(other, CodeFailure::RefusedComparison { .. }) {
                    format!("a guard compares values of one type (ints and floats mix); it read {values}")
                } else if !help.is_empty() {
                    format!("{help}; the guard read {values}")
                } else {
                    format!("the guard read {values}")
                };
                RuntimeError::GuardError {
                    node: node.name.clone(),
                    reason,
                    help,
                    at: other.at().unwrap_or(code.span).into(),
                    node_at: node.span.into(),
                }
            }
        })
    }
}

/// An edge's place among its node's edges (a node has far fewer than 2^32).
fn edge_index(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}
