//! The records a step logs: `run_started`/`run_resumed`, `node_started`, `step`, built only
//! when the sink wants them.

use std::time::SystemTime;

use crate::compile::ir::{Node, NodeId, Target};
use crate::runtime::RuntimeError;
use crate::runtime::events::{
    EdgeTaken, ErrorRecord, Event, LoopPosition, NodeRef, NodeStarted, OuterUntil, RunResumed,
    RunStarted, Step,
};
use crate::runtime::machine::{Machine, Next};
use crate::runtime::run::{Announce, Begun, from_us};

impl Machine<'_> {
    /// `run_started` (or `run_resumed`), once per process.
    pub(super) fn announce(&mut self) {
        let announce = std::mem::replace(&mut self.run.announce, Announce::Done);
        if !self.log || announce == Announce::Done {
            return;
        }
        let checkpoint = &self.run.checkpoint;
        let event = if announce == Announce::Started {
            Event::RunStarted(RunStarted {
                seq: checkpoint.seq,
                run_id: self.run.id.clone(),
                flow: self.plan.flow.clone(),
                program: self.plan.hash.clone(),
                started_at: from_us(checkpoint.started_at_us),
                state: self.run.state.to_json(),
            })
        } else {
            self.run.checkpoint.next_seq();
            Event::RunResumed(RunResumed {
                seq: self.run.checkpoint.seq,
                run_id: self.run.id.clone(),
                flow: self.plan.flow.clone(),
                steps: self.run.checkpoint.steps,
                resumed_at: SystemTime::now(),
            })
        };
        self.events.event(&event);
    }

    pub(super) fn node_started(&mut self, node: &Node, begun: &Begun) {
        if self.log {
            self.events.event(&Event::NodeStarted(NodeStarted {
                step: self.run.checkpoint.steps,
                node: self.node_ref(node.id),
                tool: self.plan.tools[node.id.index()].clone(),
                attempt: begun.attempts + 1,
                started_at: SystemTime::now(),
            }));
        }
    }

    pub(super) fn node_ref(&self, id: NodeId) -> NodeRef {
        NodeRef {
            id,
            name: self.plan.names[id.index()].clone(),
        }
    }

    fn edge_taken(&self, next: &Next) -> EdgeTaken {
        let to = match next.target {
            Target::End => self.plan.end.clone(),
            Target::Node(id) => self.plan.names[id.index()].clone(),
        };
        EdgeTaken {
            target: match next.target {
                Target::End => None,
                Target::Node(id) => Some(id),
            },
            to,
            edge: next.edge,
            guard: next.edge.and_then(|(from, index)| {
                self.plan.nodes[from.index()].guard_texts[index as usize].clone()
            }),
            on_error: next.on_error,
        }
    }

    pub(super) fn log_step(
        &mut self,
        node: &Node,
        begun: &Begun,
        in_loop: Option<(NodeId, u64)>,
        next: Option<&Next>,
        failure: Option<&RuntimeError>,
    ) {
        let output = self
            .run
            .sandbox
            .as_ref()
            .map(crate::runtime::code::Sandbox::take_output)
            .unwrap_or_default();
        let stderr = self.run.tool_log.take();
        let changes = self
            .run
            .changes
            .iter()
            .filter_map(|&slot| {
                let value = self.run.state.stored(slot)?.to_json();
                Some((self.run.state.name(slot).to_owned(), value))
            })
            .collect();
        let outer = self
            .run
            .untils
            .iter()
            .skip(1)
            .map(|&(id, iteration, until)| OuterUntil {
                node: self.node_ref(id),
                iteration,
                until,
            })
            .collect();
        self.run.checkpoint.next_seq();
        let started_at = from_us(begun.started_at_us);
        let step = Step {
            seq: self.run.checkpoint.seq,
            step: self.run.checkpoint.steps,
            node: self.node_ref(node.id),
            tool: self.plan.tools[node.id.index()].clone(),
            started_at,
            duration: SystemTime::now()
                .duration_since(started_at)
                .unwrap_or_default(),
            changes,
            edge: next.map(|next| self.edge_taken(next)),
            in_loop: in_loop.map(|(id, iteration)| LoopPosition {
                node: self.node_ref(id),
                iteration,
                until: next.and_then(|next| next.until),
                outer,
            }),
            output,
            stderr,
            error: failure.map(|error| ErrorRecord {
                code: error.short_code().to_owned(),
                message: error.message(),
            }),
            attempts: begun.attempts.max(1),
        };
        self.events.event(&Event::Step(step));
    }
}
