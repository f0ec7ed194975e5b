//! A node's action, one attempt: its script in the sandbox, or its tool, with the node's
//! deadline; each write checked against the schema.

use std::time::{Duration, Instant};

use crate::compile::ir::{Node, NodeKind, Policy};
use crate::runtime::code::{CodeFailure, Deadline};
use crate::runtime::error::RuntimeError;
use crate::runtime::machine::{Machine, cancelled, node_timeout};
use crate::runtime::state::{BadWrite, Stored};
use crate::runtime::write::{Writer, invalid_write};
use crate::sandbox::Limits;
use crate::tools::{FailureKind, ToolCall, ToolFailure};
use crate::value::Kind;

impl<'r> Machine<'r> {
    pub(super) fn attempt(&mut self, node: &'r Node, policy: &Policy) -> Result<(), RuntimeError> {
        let node_deadline = policy
            .timeout_ms
            .and_then(|ms| Instant::now().checked_add(Duration::from_millis(ms)));
        match &node.kind {
            NodeKind::Tool { tool, args, .. } => {
                self.call_tool(node, tool, args, node_deadline, policy)
            }
            NodeKind::Script { code, .. } => {
                let slots = &self.plan.nodes[node.id.index()].script;
                let run = &mut *self.run;
                let sandbox = run.sandbox.as_mut().expect("a run steps with a sandbox");
                let result = sandbox.script(
                    code,
                    slots,
                    &mut run.state,
                    (node_deadline, self.run_deadline),
                    &mut run.changes,
                );
                result.map_err(|failure| match failure {
                    CodeFailure::Cancelled => cancelled(node),
                    CodeFailure::Deadline(Deadline::Node) => node_timeout(node, policy),
                    CodeFailure::Deadline(Deadline::Run) => self.run_timeout(node),
                    CodeFailure::Write(bad) => {
                        self.invalid_write(node, *bad, &Writer::Script(code))
                    }
                    other => {
                        let (reason, help) = other.describe(self.limits());
                        RuntimeError::ScriptError {
                            node: node.name.clone(),
                            reason,
                            help: if help.is_empty() {
                                format!("add `{} -> … on error` to handle the failure", node.name)
                            } else {
                                help
                            },
                            at: other.at().unwrap_or(code.span).into(),
                        }
                    }
                })
            }
            NodeKind::Junction | NodeKind::Loop(_) | NodeKind::Wait { .. } => Ok(()),
        }
    }

    fn call_tool(
        &mut self,
        node: &Node,
        tool: &str,
        args: &serde_json::Map<String, serde_json::Value>,
        node_deadline: Option<Instant>,
        policy: &Policy,
    ) -> Result<(), RuntimeError> {
        let failed = |message: String| RuntimeError::ToolFailed {
            node: node.name.clone(),
            tool: tool.to_owned(),
            message,
            at: node.span.into(),
        };
        let Some(implementation) = self.tools.implementation(tool) else {
            return Err(failed(
                "the tool is not registered with this engine".to_owned(),
            ));
        };
        let deadline = match (node_deadline, self.run_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let call = ToolCall {
            node: &node.name,
            args,
            state: self.run.state.json_view(),
            cancel: self.cancel,
            deadline,
            workdir: &self.options.workdir,
            files: &self.options.files,
            log: &self.run.tool_log,
        };
        let mut result = implementation.call(&call);
        // A tool that ignores its deadline cannot be interrupted, but its late result is not
        // taken: the node's `timeout` holds whatever the tool does.
        if result.is_ok() && deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            result = Err(ToolFailure {
                kind: FailureKind::TimedOut,
                message: "the tool returned after its deadline".to_owned(),
            });
        }
        match result {
            Ok(changes) => {
                // All of them fit, or none is applied.
                for (name, value) in &changes {
                    if let Err(bad) = self.run.state.check_write_json(name, value) {
                        return Err(self.invalid_write(node, *bad, &Writer::Tool(tool)));
                    }
                }
                for (name, value) in changes {
                    let slot = self.run.state.slot(&name);
                    self.run.state.set_json(slot, value);
                    // The tool's keys are unique, and a failed attempt left no changes.
                    self.run.changes.push(slot);
                }
                Ok(())
            }
            Err(failure) => Err(match failure.kind {
                FailureKind::Failed => failed(failure.message),
                FailureKind::Cancelled => cancelled(node),
                FailureKind::TimedOut => {
                    if node_deadline.is_some() && node_deadline == deadline {
                        node_timeout(node, policy)
                    } else {
                        self.run_timeout(node)
                    }
                }
            }),
        }
    }

    fn invalid_write(&self, node: &Node, bad: BadWrite, writer: &Writer<'_>) -> RuntimeError {
        let old = self.run.state.stored(bad.slot).map(|stored| match stored {
            Stored::Rhai(value) => Kind::of_dynamic(value),
            Stored::Json(value) => Kind::of_json(value),
        });
        invalid_write(node, bad, writer, old)
    }

    fn limits(&self) -> &Limits {
        &self.options.limits
    }
}
