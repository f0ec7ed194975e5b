//! The step loop: run a node's action (with its retries and timeout), pick the next node
//! by its edges or its loop, log the step, repeat until `end`.

use std::time::{Duration, Instant, SystemTime};

use rhai::{Dynamic, Map};

use crate::cancel::CancelToken;
use crate::compile::ERROR_FIELD;
use crate::compile::ir::{EdgeWhen, Node, NodeId, NodeKind, Policy, Program, Target};
use crate::runtime::code::{CodeFailure, Deadline, Sandbox, values_of};
use crate::runtime::error::RuntimeError;
use crate::runtime::events::{
    Changes, EdgeTaken, ErrorRecord, Event, EventSink, LoopPosition, OuterUntil, Step,
};
use crate::runtime::state::{BadWrite, State, Stored};
use crate::runtime::write::{Writer, invalid_write};
use crate::runtime::{Interpreter, Plan, RunOptions};
use crate::tools::{FailureKind, ToolCall, ToolFailure, ToolRegistry};
use crate::value::{DurationStyle, Kind, format_duration};

/// Where a step goes next.
struct Next<'p> {
    target: Target,
    edge: EdgeTaken<'p>,
    until: Option<bool>,
}

pub(super) struct Machine<'r> {
    program: &'r Program,
    plan: &'r Plan,
    tools: &'r ToolRegistry,
    options: &'r RunOptions,
    events: &'r mut dyn EventSink,
    cancel: &'r CancelToken,
    log: bool,
    sandbox: Sandbox,
    state: State,
    /// Each loop's finished iterations, by node index.
    counters: Vec<u64>,
    steps: u64,
    run_deadline: Option<Instant>,
    changes: Vec<usize>,
    /// The `until` guards evaluated this step, innermost loop first: loop, iteration, value.
    untils: Vec<(NodeId, u64, bool)>,
    /// The enclosing ones among them, for the step's log record.
    outer_untils: Vec<OuterUntil<'r>>,
}

impl<'r> Machine<'r> {
    pub(super) fn new(
        interpreter: &'r Interpreter,
        mut sandbox: Sandbox,
        state: State,
        events: &'r mut dyn EventSink,
        cancel: &'r CancelToken,
        started: Instant,
    ) -> Self {
        let options = &interpreter.options;
        sandbox.begin(cancel);
        Machine {
            program: &interpreter.program,
            plan: &interpreter.plan,
            tools: &interpreter.tools,
            options,
            log: events.enabled(),
            events,
            cancel,
            sandbox,
            state,
            counters: vec![0; interpreter.program.nodes.len()],
            steps: 0,
            run_deadline: options
                .timeout
                .and_then(|timeout| started.checked_add(timeout)),
            changes: Vec::new(),
            untils: Vec::new(),
            outer_untils: Vec::new(),
        }
    }

    pub(super) fn steps(&self) -> u64 {
        self.steps
    }

    pub(super) fn into_parts(self) -> (State, Sandbox) {
        (self.state, self.sandbox)
    }

    pub(super) fn execute(&mut self) -> Result<(), RuntimeError> {
        let program = self.program;
        let Target::Node(first) = program.entry else {
            return Ok(());
        };
        let mut current = self.enter(first);
        loop {
            let node = program.node(current);
            self.before_step(node)?;
            self.steps += 1;
            let started = self.log.then(|| (SystemTime::now(), Instant::now()));
            self.changes.clear();
            self.untils.clear();
            let in_loop = node
                .parent
                .map(|parent| (parent, self.counters[parent.index()] + 1));
            let (result, attempts) = self.perform(node);
            // Without a next node, the step failed: `failure` says why. With one, `failure`
            // is a node failure its `on error` edge handled.
            let (next, failure) = match result {
                Ok(()) => match self.route(current) {
                    Ok(next) => (Some(next), None),
                    Err(error) => (self.exhausted_loop_edge(&error), Some(error)),
                },
                Err(error) => (self.error_edge(node, &error), Some(error)),
            };
            if let Some((started_at, started)) = started {
                let record = StepRecord {
                    started_at,
                    duration: started.elapsed(),
                    in_loop,
                    attempts,
                };
                self.log_step(node, &record, next.as_ref(), failure.as_ref());
            }
            match next {
                Some(next) => match next.target {
                    Target::End => return Ok(()),
                    Target::Node(id) => current = self.enter(id),
                },
                None => return Err(failure.expect("a step without a next node failed")),
            }
        }
    }

    /// Enters loops down to their first node, resetting each one's counter.
    fn enter(&mut self, mut id: NodeId) -> NodeId {
        while let Some(body) = self.program.node(id).as_loop() {
            self.counters[id.index()] = 0;
            id = body.entry;
        }
        id
    }

    fn before_step(&self, node: &Node) -> Result<(), RuntimeError> {
        if self.cancel.is_cancelled() {
            return Err(cancelled(node));
        }
        if self
            .run_deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return Err(self.run_timeout(node));
        }
        if self.steps >= self.options.max_steps {
            return Err(RuntimeError::MaxSteps {
                max: self.options.max_steps,
                node: node.name.clone(),
                at: node.span.into(),
            });
        }
        Ok(())
    }

    fn run_timeout(&self, node: &Node) -> RuntimeError {
        RuntimeError::RunTimeout {
            node: node.name.clone(),
            limit: format_duration(
                self.options.timeout.unwrap_or_default(),
                DurationStyle::Literal,
            ),
            at: node.span.into(),
        }
    }

    /// Runs the node's action with its retries; returns the result and the attempts made.
    fn perform(&mut self, node: &'r Node) -> (Result<(), RuntimeError>, u32) {
        let policy = match &node.kind {
            NodeKind::Tool { policy, .. } | NodeKind::Script { policy, .. } => policy,
            NodeKind::Wait { .. } => return (Err(wait_needs_durable_run(node)), 1),
            NodeKind::Junction | NodeKind::Loop(_) => return (Ok(()), 1),
        };
        let attempts = 1 + policy.retry.as_ref().map_or(0, |retry| retry.attempts);
        let mut attempt = 1;
        loop {
            let result = self.attempt(node, policy);
            match result {
                Err(error) if error.is_node_failure() && attempt < attempts => {
                    let backoff = policy.retry.as_ref().map_or(0, |retry| retry.backoff_ms);
                    let wait = backoff.saturating_mul(1 << (attempt - 1).min(32));
                    if let Err(error) = self.sleep(Duration::from_millis(wait), node) {
                        return (Err(error), attempt);
                    }
                    self.changes.clear();
                    attempt += 1;
                }
                result => return (result, attempt),
            }
        }
    }

    /// Waits out a retry's backoff, waking for cancellation and the run's deadline.
    fn sleep(&self, wait: Duration, node: &Node) -> Result<(), RuntimeError> {
        let Some(until) = Instant::now().checked_add(wait) else {
            // Longer than the clock can count: wait until cancelled or timed out.
            return self.sleep(Duration::from_secs(365 * 24 * 3600), node);
        };
        loop {
            if self.cancel.is_cancelled() {
                return Err(cancelled(node));
            }
            let now = Instant::now();
            if self.run_deadline.is_some_and(|deadline| now >= deadline) {
                return Err(self.run_timeout(node));
            }
            if now >= until {
                return Ok(());
            }
            std::thread::sleep((until - now).min(Duration::from_millis(5)));
        }
    }

    fn attempt(&mut self, node: &'r Node, policy: &Policy) -> Result<(), RuntimeError> {
        let node_deadline = policy
            .timeout_ms
            .and_then(|ms| Instant::now().checked_add(Duration::from_millis(ms)));
        match &node.kind {
            NodeKind::Tool { tool, args, .. } => {
                self.call_tool(node, tool, args, node_deadline, policy)
            }
            NodeKind::Script { code, .. } => {
                let slots = &self.plan.nodes[node.id.index()].script;
                let result = self.sandbox.script(
                    code,
                    slots,
                    &mut self.state,
                    (node_deadline, self.run_deadline),
                    &mut self.changes,
                );
                result.map_err(|failure| match failure {
                    CodeFailure::Cancelled => cancelled(node),
                    CodeFailure::Deadline(Deadline::Node) => node_timeout(node, policy),
                    CodeFailure::Deadline(Deadline::Run) => self.run_timeout(node),
                    CodeFailure::Write(bad) => {
                        self.invalid_write(node, *bad, &Writer::Script(code))
                    }
                    other => {
                        let (reason, help) = other.describe(self.sandbox.limits());
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
            NodeKind::Wait { .. } => Err(wait_needs_durable_run(node)),
            NodeKind::Junction | NodeKind::Loop(_) => Ok(()),
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
            state: self.state.json_view(),
            cancel: self.cancel,
            deadline,
            workdir: &self.options.workdir,
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
                    if let Err(bad) = self.state.check_write_json(name, value) {
                        return Err(self.invalid_write(node, *bad, &Writer::Tool(tool)));
                    }
                }
                for (name, value) in changes {
                    let slot = self.state.slot(&name);
                    self.state.set_json(slot, value);
                    // The tool's keys are unique, and a failed attempt left no changes.
                    self.changes.push(slot);
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
        let old = self.state.stored(bad.slot).map(|stored| match stored {
            Stored::Rhai(value) => Kind::of_dynamic(value),
            Stored::Json(value) => Kind::of_json(value),
        });
        invalid_write(node, bad, writer, old)
    }

    /// An exhausted loop fails like a node: its own `on error` edge, when it has one.
    fn exhausted_loop_edge(&mut self, error: &RuntimeError) -> Option<Next<'r>> {
        if !matches!(error, RuntimeError::LoopExhausted { .. }) {
            return None;
        }
        // The exhausted loop's `until` was the last one evaluated.
        let &(id, _, _) = self.untils.last()?;
        let program = self.program;
        let mut next = self.error_edge(program.node(id), error)?;
        next.until = Some(false);
        Some(next)
    }

    /// The node's `on error` edge, with `error` set in the state, when it has one.
    fn error_edge(&mut self, node: &'r Node, error: &RuntimeError) -> Option<Next<'r>> {
        if !error.is_node_failure() && !matches!(error, RuntimeError::LoopExhausted { .. }) {
            return None;
        }
        let edge = node
            .edges
            .iter()
            .find(|edge| matches!(edge.when, EdgeWhen::OnError))?;
        let mut record = Map::new();
        record.insert("node".into(), Dynamic::from(node.name.clone()));
        record.insert("message".into(), Dynamic::from(error.message()));
        record.insert("code".into(), Dynamic::from(error.short_code()));
        let slot = self.state.slot(ERROR_FIELD);
        self.state.set(slot, Dynamic::from_map(record));
        self.changes.retain(|&s| s != slot);
        self.changes.push(slot);
        Some(Next {
            target: edge.to,
            edge: EdgeTaken {
                to: self.target_name(edge.to),
                guard: None,
                on_error: true,
            },
            until: None,
        })
    }

    /// After a node finished: its loop's `until` when it is the loop's exit, else its edges.
    fn route(&mut self, from: NodeId) -> Result<Next<'r>, RuntimeError> {
        let program = self.program;
        let node = program.node(from);
        if let Some(parent_id) = node.parent {
            let parent = program.node(parent_id);
            let body = parent.as_loop().expect("a node's parent is a loop");
            if body.exit == from {
                self.counters[parent_id.index()] += 1;
                let slots = &self.plan.nodes[parent_id.index()].until;
                let done = self.guard(&body.until, slots, parent)?;
                self.untils
                    .push((parent_id, self.counters[parent_id.index()], done));
                if !done {
                    let iterations = self.counters[parent_id.index()];
                    if iterations >= body.max {
                        return Err(RuntimeError::LoopExhausted {
                            name: parent.name.clone(),
                            max: body.max,
                            values: values_of(&self.state, slots),
                            at: parent.span.into(),
                            until: body.until.span.into(),
                        });
                    }
                    return Ok(Next {
                        target: Target::Node(body.entry),
                        edge: EdgeTaken {
                            to: &program.node(body.entry).name,
                            guard: None,
                            on_error: false,
                        },
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
    fn choose_edge(&mut self, node: &'r Node) -> Result<Next<'r>, RuntimeError> {
        let plan = &self.plan.nodes[node.id.index()];
        let mut default = None;
        let mut any = false;
        for (edge, slots) in node.edges.iter().zip(&plan.guards) {
            match &edge.when {
                EdgeWhen::OnError => {}
                EdgeWhen::Always => {
                    any = true;
                    default.get_or_insert(edge);
                }
                EdgeWhen::Guard(code) => {
                    any = true;
                    if self.guard(code, slots, node)? {
                        return Ok(Next {
                            target: edge.to,
                            edge: EdgeTaken {
                                to: self.target_name(edge.to),
                                guard: Some(&code.text),
                                on_error: false,
                            },
                            until: None,
                        });
                    }
                }
            }
        }
        if let Some(edge) = default {
            return Ok(Next {
                target: edge.to,
                edge: EdgeTaken {
                    to: self.target_name(edge.to),
                    guard: None,
                    on_error: false,
                },
                until: None,
            });
        }
        if !any {
            return Ok(Next {
                target: Target::End,
                edge: EdgeTaken {
                    to: "end",
                    guard: None,
                    on_error: false,
                },
                until: None,
            });
        }
        let guards = node
            .edges
            .iter()
            .zip(&plan.guards)
            .filter_map(|(edge, slots)| match &edge.when {
                EdgeWhen::Guard(code) => Some(miette::LabeledSpan::new_with_span(
                    Some(format!("false: {}", values_of(&self.state, slots))),
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
        self.sandbox.guard(code, slots, &mut self.state, self.run_deadline).map_err(|failure| match failure {
            CodeFailure::Cancelled => cancelled(node),
            CodeFailure::Deadline(Deadline::Run) => self.run_timeout(node),
            other => {
                let (reason, help) = other.describe(self.sandbox.limits());
                let values = values_of(&self.state, slots);
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

    fn target_name(&self, target: Target) -> &'r str {
        match target {
            Target::End => "end",
            Target::Node(id) => &self.program.node(id).name,
        }
    }

    fn log_step(
        &mut self,
        node: &Node,
        record: &StepRecord,
        next: Option<&Next<'_>>,
        failure: Option<&RuntimeError>,
    ) {
        let output = self.sandbox.take_output();
        let message = failure.map(RuntimeError::message);
        let program = self.program;
        self.outer_untils.clear();
        self.outer_untils
            .extend(
                self.untils
                    .iter()
                    .skip(1)
                    .map(|&(id, iteration, until)| OuterUntil {
                        name: &program.node(id).name,
                        iteration,
                        until,
                    }),
            );
        let step = Step {
            seq: self.steps,
            node: &node.name,
            tool: match &node.kind {
                NodeKind::Tool { tool, .. } => tool,
                NodeKind::Wait { .. } => crate::tools::WAIT_TOOL,
                NodeKind::Script { .. } => "script",
                NodeKind::Junction | NodeKind::Loop(_) => "junction",
            },
            started_at: record.started_at,
            duration: record.duration,
            changes: Changes {
                state: &self.state,
                slots: &self.changes,
            },
            edge: next.map(|next| next.edge),
            in_loop: record.in_loop.map(|(id, iteration)| LoopPosition {
                name: &self.program.node(id).name,
                iteration,
                until: next.and_then(|next| next.until),
                outer: &self.outer_untils,
            }),
            output: &output,
            error: failure.map(|error| ErrorRecord {
                code: error.short_code(),
                message: message.as_deref().unwrap_or_default(),
            }),
            attempts: record.attempts,
        };
        self.events.event(&Event::Step(step));
    }
}

/// What a step's log record needs besides the node and its outcome.
struct StepRecord {
    started_at: SystemTime,
    duration: Duration,
    /// The innermost loop and its iteration (from 1).
    in_loop: Option<(NodeId, u64)>,
    attempts: u32,
}

/// A wait pauses the run, which only a durable run can store and resume.
fn wait_needs_durable_run(node: &Node) -> RuntimeError {
    RuntimeError::ToolFailed {
        node: node.name.clone(),
        tool: crate::tools::WAIT_TOOL.to_owned(),
        message: "wait nodes need a durable run".to_owned(),
        at: node.span.into(),
    }
}

fn cancelled(node: &Node) -> RuntimeError {
    RuntimeError::Cancelled {
        node: Some(node.name.clone()),
        at: Some(node.span.into()),
    }
}

fn node_timeout(node: &Node, policy: &Policy) -> RuntimeError {
    RuntimeError::NodeTimeout {
        node: node.name.clone(),
        limit: format_duration(
            Duration::from_millis(policy.timeout_ms.unwrap_or_default()),
            DurationStyle::Literal,
        ),
        at: node.span.into(),
    }
}
