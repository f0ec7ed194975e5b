//! One step: run a node's action (one attempt of it; a retry's backoff is a `Sleeping`
//! outcome, a `wait` node a `Waiting` one), pick the next node by its edges or its loop, log
//! the step, move the run's cursor. The action is in `action`, the routing in `route`.

mod action;
mod log;
mod route;

use std::time::{Duration, Instant, SystemTime};

use crate::cancel::CancelToken;
use crate::compile::ir::{Node, NodeId, NodeKind, Policy, Program, Target};
use crate::runtime::error::RuntimeError;
use crate::runtime::events::{Event, EventSink, RunFinished, RunStatus, Waiting};
use crate::runtime::run::{Begun, Progress, Run, WaitRequest, from_ms, unix_ms, unix_us};
use crate::runtime::{Interpreter, Plan, RunOptions};
use crate::tools::ToolRegistry;
use crate::value::{DurationStyle, format_duration};

/// Where a step goes next.
struct Next {
    target: Target,
    /// The edge of the node (or of the loop left) taken; `None` for a loop's repeat.
    edge: Option<(NodeId, u32)>,
    on_error: bool,
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
    run: &'r mut Run,
    run_deadline: Option<Instant>,
}

impl<'r> Machine<'r> {
    pub(super) fn new(
        interpreter: &'r Interpreter,
        run: &'r mut Run,
        events: &'r mut dyn EventSink,
        cancel: &'r CancelToken,
    ) -> Self {
        let options = &interpreter.options;
        // The time left is the timeout less the time the run has run before, in any process.
        let run_deadline = timeout(run, options).and_then(|timeout| {
            let before = Duration::from_micros(run.checkpoint.elapsed_us);
            run.session_started
                .checked_add(timeout.saturating_sub(before))
        });
        if let Some(sandbox) = run.sandbox.as_mut() {
            sandbox.use_cancel(cancel);
        }
        Machine {
            program: &interpreter.program,
            plan: &interpreter.plan,
            tools: &interpreter.program.tools,
            options,
            log: events.enabled(),
            events,
            cancel,
            run,
            run_deadline,
        }
    }

    /// One step of the run (see [`Progress`]).
    pub(super) fn step(&mut self) -> Progress {
        if let Some(status) = self.run.checkpoint.ended {
            return Progress::Ended(status);
        }
        self.announce();
        let Some(at) = self.run.checkpoint.at else {
            // `start -> end`: nothing to run.
            return self.finish(None);
        };
        let node = self.program.node(NodeId(at));
        let mut begun = if let Some(begun) = self.run.checkpoint.begun.take() {
            begun
        } else {
            match self.begin_step(node) {
                Ok(begun) => begun,
                Err(error) => return self.finish(Some(error)),
            }
        };
        let result = match &node.kind {
            NodeKind::Wait { prompt, timeout_ms } => {
                if let Some(result) = self.wait(node, prompt, *timeout_ms, &mut begun) {
                    result
                } else {
                    let request = begun.waiting.clone().expect("a wait sets its request");
                    self.run.checkpoint.begun = Some(begun);
                    return Progress::Waiting(request);
                }
            }
            NodeKind::Tool { policy, .. } | NodeKind::Script { policy, .. } => {
                if let Some(until) = self.backing_off(node, &mut begun) {
                    return match until {
                        Ok(until) => {
                            self.run.checkpoint.begun = Some(begun);
                            Progress::Sleeping { until }
                        }
                        Err(error) => self.fail_begun(node, &begun, error),
                    };
                }
                if node.once && !begun.once_started {
                    // Marked and stored before the action runs (see `Progress::Continued`).
                    begun.once_started = true;
                    self.run.once_marked_here = true;
                    self.node_started(node, &begun);
                    self.run.checkpoint.begun = Some(begun);
                    return Progress::Continued;
                }
                if !node.once {
                    self.node_started(node, &begun);
                }
                let result = self.attempt(node, policy);
                begun.attempts = begun.attempts.saturating_add(1);
                match result {
                    Err(error) if error.is_node_failure() && begun.attempts < attempts(policy) => {
                        self.run.changes.clear();
                        let until = Self::backoff(policy, begun.attempts);
                        begun.backoff_until_ms = Some(unix_ms(until));
                        self.run.checkpoint.begun = Some(begun);
                        return Progress::Sleeping {
                            until: self.sleep_limit(until),
                        };
                    }
                    result => result,
                }
            }
            NodeKind::Junction | NodeKind::Loop(_) => Ok(()),
        };
        self.end_step(node, &begun, result)
    }

    /// A new step at `node`, unless the run's limits end the run first.
    fn begin_step(&mut self, node: &Node) -> Result<Begun, RuntimeError> {
        self.before_step(node)?;
        self.run.checkpoint.steps = self.run.checkpoint.steps.saturating_add(1);
        self.run.changes.clear();
        self.run.untils.clear();
        Ok(Begun {
            // Only log records read it: no clock read for a run that logs nothing.
            started_at_us: if self.log {
                unix_us(SystemTime::now())
            } else {
                0
            },
            attempts: 0,
            backoff_until_ms: None,
            once_started: false,
            waiting: None,
        })
    }

    /// Routes after the node's action, logs the step and moves the cursor.
    fn end_step(
        &mut self,
        node: &'r Node,
        begun: &Begun,
        result: Result<(), RuntimeError>,
    ) -> Progress {
        // Before routing counts the loop's iteration.
        let in_loop = node
            .parent
            .map(|parent| (parent, self.run.counters[parent.index()].saturating_add(1)));
        // Without a next node, the step failed: `failure` says why. With one, `failure`
        // is a node failure its `on error` edge handled.
        let (next, failure) = match result {
            Ok(()) => match self.route(node.id) {
                Ok(next) => (Some(next), None),
                Err(error) => (self.exhausted_loop_edge(&error), Some(error)),
            },
            Err(error) => (self.error_edge(node, &error), Some(error)),
        };
        if self.log {
            self.log_step(node, begun, in_loop, next.as_ref(), failure.as_ref());
        }
        match next {
            Some(next) => match next.target {
                Target::End => {
                    self.run.checkpoint.at = None;
                    self.run.checkpoint.loops.clear();
                    self.finish(None)
                }
                Target::Node(id) => {
                    let at = self.enter(id);
                    self.move_to(at);
                    Progress::Continued
                }
            },
            None => self.finish(Some(failure.expect("a step without a next node failed"))),
        }
    }

    /// A begun step that fails before its action runs again (cancelled or out of time while
    /// backing off): logged as the step it is.
    fn fail_begun(&mut self, node: &'r Node, begun: &Begun, error: RuntimeError) -> Progress {
        self.run.changes.clear();
        if self.log {
            let in_loop = node
                .parent
                .map(|parent| (parent, self.run.counters[parent.index()].saturating_add(1)));
            self.log_step(node, begun, in_loop, None, Some(&error));
        }
        self.finish(Some(error))
    }

    /// The cursor at `at`, with the iteration counts of the loops around it.
    fn move_to(&mut self, at: NodeId) {
        self.run.checkpoint.at = Some(at.0);
        let loops = &mut self.run.checkpoint.loops;
        loops.clear();
        let mut parent = self.program.node(at).parent;
        while let Some(id) = parent {
            loops.push(self.run.counters[id.index()]);
            parent = self.program.node(id).parent;
        }
        loops.reverse();
    }

    /// Enters loops down to their first node, resetting each one's counter.
    fn enter(&mut self, mut id: NodeId) -> NodeId {
        while let Some(body) = self.program.node(id).as_loop() {
            self.run.counters[id.index()] = 0;
            id = body.entry;
        }
        id
    }

    fn before_step(&self, node: &Node) -> Result<(), RuntimeError> {
        if self.cancel.is_cancelled() {
            return Err(cancelled(node));
        }
        if self.out_of_time() {
            return Err(self.run_timeout(node));
        }
        let max_steps = self
            .run
            .checkpoint
            .max_steps
            .unwrap_or(self.options.max_steps);
        if self.run.checkpoint.steps >= max_steps {
            return Err(RuntimeError::MaxSteps {
                max: max_steps,
                node: node.name.clone(),
                at: node.span.into(),
            });
        }
        Ok(())
    }

    fn out_of_time(&self) -> bool {
        self.run_deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    fn run_timeout(&self, node: &Node) -> RuntimeError {
        RuntimeError::RunTimeout {
            node: node.name.clone(),
            limit: format_duration(
                timeout(self.run, self.options).unwrap_or_default(),
                DurationStyle::Literal,
            ),
            at: node.span.into(),
        }
    }

    /// While a retry's backoff lasts: when to come back (or why the run ends now). `None`
    /// once it is over (or there is none).
    fn backing_off(
        &self,
        node: &Node,
        begun: &mut Begun,
    ) -> Option<Result<SystemTime, RuntimeError>> {
        let until = from_ms(begun.backoff_until_ms?);
        if self.cancel.is_cancelled() {
            return Some(Err(cancelled(node)));
        }
        if self.out_of_time() {
            return Some(Err(self.run_timeout(node)));
        }
        if SystemTime::now() < until {
            return Some(Ok(self.sleep_limit(until)));
        }
        begun.backoff_until_ms = None;
        None
    }

    /// When the next attempt may start: the backoff doubles after each failed attempt.
    fn backoff(policy: &Policy, failed: u32) -> SystemTime {
        let backoff = policy.retry.as_ref().map_or(0, |retry| retry.backoff_ms);
        let wait = backoff.saturating_mul(1 << (failed - 1).min(32));
        let now = SystemTime::now();
        // Longer than the clock can count: until the run's deadline or a cancel.
        now.checked_add(Duration::from_millis(wait))
            .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
    }

    /// `until`, or the run's deadline when that comes first.
    fn sleep_limit(&self, until: SystemTime) -> SystemTime {
        match self.run_deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                until.min(SystemTime::now() + left)
            }
            None => until,
        }
    }

    /// A `wait` node: the step's result once input came or the wait timed out; `None`
    /// while it waits.
    fn wait(
        &mut self,
        node: &Node,
        prompt: &str,
        timeout_ms: Option<u64>,
        begun: &mut Begun,
    ) -> Option<Result<(), RuntimeError>> {
        let Some(request) = &begun.waiting else {
            let now = SystemTime::now();
            let request = WaitRequest {
                node: node.id.0,
                name: node.name.clone(),
                prompt: prompt.to_owned(),
                deadline_ms: timeout_ms
                    .and_then(|ms| now.checked_add(Duration::from_millis(ms)))
                    .map(unix_ms),
            };
            self.run.checkpoint.next_seq();
            if self.log {
                self.events.event(&Event::Waiting(Waiting {
                    seq: self.run.checkpoint.seq,
                    step: self.run.checkpoint.steps,
                    node: self.node_ref(node.id),
                    prompt: request.prompt.clone(),
                    deadline: request.deadline(),
                }));
            }
            begun.waiting = Some(request);
            return None;
        };
        if let Some(slots) = self.run.input.take() {
            self.run.changes = slots;
            return Some(Ok(()));
        }
        if request
            .deadline()
            .is_some_and(|deadline| SystemTime::now() >= deadline)
        {
            return Some(Err(RuntimeError::WaitTimedOut {
                node: node.name.clone(),
                limit: format_duration(
                    Duration::from_millis(timeout_ms.unwrap_or_default()),
                    DurationStyle::Literal,
                ),
                at: node.span.into(),
            }));
        }
        None
    }

    /// Ends the run: logs `run_finished`, marks the checkpoint and gives the sandbox back.
    fn finish(&mut self, error: Option<RuntimeError>) -> Progress {
        let status = match &error {
            None => RunStatus::Ok,
            Some(RuntimeError::Cancelled { .. }) => RunStatus::Cancelled,
            Some(_) => RunStatus::Failed,
        };
        self.run.checkpoint.ended = Some(status);
        self.run.checkpoint.begun = None;
        self.run.checkpoint.next_seq();
        if self.log {
            self.events.event(&Event::RunFinished(RunFinished {
                seq: self.run.checkpoint.seq,
                run_id: self.run.id.clone(),
                status,
                steps: self.run.checkpoint.steps,
                duration: self.run.elapsed(),
                error: error.as_ref().map(super::finished_error),
                state: Some(self.run.state.to_json()),
            }));
        }
        match error {
            None => Progress::Finished,
            Some(error) => Progress::Failed(Box::new(error)),
        }
    }
}

/// The run's own time limit, else the interpreter's.
fn timeout(run: &Run, options: &RunOptions) -> Option<Duration> {
    match run.checkpoint.timeout_ms {
        Some(ms) => Some(Duration::from_millis(ms)),
        None => options.timeout,
    }
}

/// Attempts the policy allows: the first, and its retries.
fn attempts(policy: &Policy) -> u32 {
    1 + policy.retry.as_ref().map_or(0, |retry| retry.attempts)
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
