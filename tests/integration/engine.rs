//! The engine's semantics, one test per rule of the language contract (sections 4 to 8),
//! plus the sandbox's limits, cancellation and embedding.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use flowc::CancelToken;
use flowc::runtime::{
    Event, Interpreter, JsonLines, NoEvents, RunOptions, RunOutcome, RuntimeError,
};
use flowc::sandbox::Limits;
use flowc::tools::{FailureKind, Tool, ToolCall, ToolFailure, ToolRegistry, ToolSpec};
use flowc::{FileReport, SourceFile};
use miette::Diagnostic;
use serde_json::{Map, Value, json};

struct Run {
    result: Result<RunOutcome, RuntimeError>,
    trace: Vec<Value>,
    source: SourceFile,
    elapsed: Duration,
}

impl Run {
    fn state(&self) -> &Map<String, Value> {
        match &self.result {
            Ok(outcome) => &outcome.state,
            Err(error) => panic!("the run failed: {}", render(&self.source, error)),
        }
    }

    fn error(&self) -> &RuntimeError {
        match &self.result {
            Ok(outcome) => panic!("the run succeeded: {:?}", outcome.state),
            Err(error) => error,
        }
    }

    fn code(&self) -> String {
        self.error()
            .code()
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    fn rendered(&self) -> String {
        render(&self.source, self.error())
    }

    fn steps(&self) -> Vec<&Value> {
        self.trace.iter().filter(|e| e["event"] == "step").collect()
    }

    /// The nodes run, in order.
    fn path(&self) -> Vec<String> {
        self.steps()
            .iter()
            .map(|s| s["node"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn render(source: &SourceFile, error: &RuntimeError) -> String {
    let mut report = FileReport::new(source.clone());
    report.push(error.clone());
    report.render_human(false, 80)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn run_with(
    text: &str,
    input: Value,
    tools: &ToolRegistry,
    options: RunOptions,
    cancel: &CancelToken,
) -> Run {
    let source = SourceFile::new("test.flow", text);
    let checked = flowc::check(&source, tools);
    let Some(program) = checked.program else {
        panic!(
            "the flow must compile:\n{}",
            checked.report.render_human(false, 100)
        );
    };
    let interpreter = Interpreter::new(Arc::new(program), options);
    let mut log = JsonLines::new(Vec::new());
    let started = Instant::now();
    let result = interpreter.run(object(input), &mut log, cancel);
    let elapsed = started.elapsed();
    let bytes = log.finish().unwrap();
    let trace = String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Run {
        result,
        trace,
        source,
        elapsed,
    }
}

fn run(text: &str, input: Value) -> Run {
    run_tools(text, input, &test_tools())
}

/// A run with these tools and the default options.
fn run_tools(text: &str, input: Value, tools: &ToolRegistry) -> Run {
    run_with(
        text,
        input,
        tools,
        RunOptions::default(),
        &CancelToken::new(),
    )
}

/// Fails its first `failures` calls, then sets `calls`.
struct Flaky {
    failures: u32,
    calls: Arc<AtomicU32>,
}

impl Tool for Flaky {
    fn call(&self, _call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if call <= self.failures {
            return Err(ToolFailure::failed(format!("attempt {call} failed")));
        }
        Ok(object(json!({ "calls": call })))
    }
}

/// Waits until cancelled or past its deadline, as a well-behaved slow tool does.
struct Slow;

impl Tool for Slow {
    fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        loop {
            if call.cancel.is_cancelled() {
                return Err(ToolFailure {
                    kind: FailureKind::Cancelled,
                    message: "cancelled".into(),
                });
            }
            if call.deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(ToolFailure {
                    kind: FailureKind::TimedOut,
                    message: "too slow".into(),
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn test_tools() -> ToolRegistry {
    let mut tools = ToolRegistry::builtin();
    tools.register(
        ToolSpec::new("test.fail", "Always fails."),
        Flaky {
            failures: u32::MAX,
            calls: Arc::default(),
        },
    );
    tools.register(ToolSpec::new("test.slow", "Waits for its deadline."), Slow);
    tools
}

fn flaky_tools(failures: u32) -> (ToolRegistry, Arc<AtomicU32>) {
    let mut tools = test_tools();
    let calls = Arc::new(AtomicU32::new(0));
    tools.register(
        ToolSpec::new("test.flaky", "Fails, then works."),
        Flaky {
            failures,
            calls: Arc::clone(&calls),
        },
    );
    (tools, calls)
}

// ---- 4.3 edges --------------------------------------------------------------------------

#[test]
fn the_first_true_guard_in_source_order_wins() {
    let run = run(
        "flow f {\n  state { n: int, took: string = \"\" }\n  node a\n  node b { took = \"b\" }\n  node c { took = \"c\" }\n  node d { took = \"d\" }\n  start -> a\n  a -> b when n > 10\n  a -> c when n > 1\n  a -> d when n > 0\n  a -> d\n}\n",
        json!({ "n": 5 }),
    );
    assert_eq!(run.state()["took"], "c");
    assert_eq!(run.path(), ["a", "c"]);
    assert_eq!(
        run.steps()[0]["edge"],
        json!({ "to": "c", "guard": "n > 1" })
    );
}

#[test]
fn the_default_edge_is_taken_when_no_guard_holds_wherever_it_is_written() {
    let text = "flow f {\n  state { n: int, took: string = \"\" }\n  node a\n  node b { took = \"b\" }\n  node c { took = \"c\" }\n  start -> a\n  a -> c\n  a -> b when n > 10\n}\n";
    assert_eq!(run(text, json!({ "n": 1 })).state()["took"], "c");
    assert_eq!(run(text, json!({ "n": 11 })).state()["took"], "b");
    let step = &run(text, json!({ "n": 1 })).trace[1];
    assert_eq!(step["edge"], json!({ "to": "c", "guard": null }));
}

#[test]
fn without_a_default_edge_the_run_fails_listing_each_guard_and_its_values() {
    let run = run(
        "flow f {\n  state { n: int, limit: int = 3 }\n  node a\n  node b\n  start -> a\n  a -> b when n > limit\n  a -> b when n == 100\n}\n",
        json!({ "n": 2 }),
    );
    assert_eq!(run.code(), "flow::no-matching-edge");
    let rendered = run.rendered();
    assert!(rendered.contains("false: limit = 3, n = 2"), "{rendered}");
    assert!(rendered.contains("false: n = 2"), "{rendered}");
}

#[test]
fn a_node_without_outgoing_edges_finishes_the_run() {
    let run = run("flow f {\n  node a { x = 1 }\n  start -> a\n}\n", json!({}));
    assert_eq!(run.state()["x"], 1);
    assert_eq!(
        run.steps()[0]["edge"],
        json!({ "to": "end", "guard": null })
    );
}

#[test]
fn junctions_route_only_and_count_as_steps() {
    let run = run(
        "flow f {\n  node a\n  node b\n  start -> a -> b -> end\n}\n",
        json!({ "keep": true }),
    );
    assert_eq!(run.state(), &object(json!({ "keep": true })));
    assert_eq!(run.steps().len(), 2);
    assert_eq!(run.steps()[0]["tool"], "junction");
}

// ---- 4.4 loops --------------------------------------------------------------------------

const COUNTING: &str = "flow f {\n  state { n: int = 0, stop: int }\n  node inc { n += 1 }\n  node done\n  start -> again\n  loop again max 5 {\n    inc\n  } until n >= stop\n  again -> done\n}\n";

#[test]
fn a_loop_runs_its_body_then_checks_until_do_until_style() {
    // The guard already holds on entry, yet the body runs once.
    let once = run(COUNTING, json!({ "stop": 0 }));
    assert_eq!(once.state()["n"], 1);
    let run = run(COUNTING, json!({ "stop": 3 }));
    assert_eq!(run.state()["n"], 3);
    assert_eq!(run.path(), ["inc", "inc", "inc", "done"]);
    let loops: Vec<&Value> = run.steps().iter().take(3).map(|s| &s["loop"]).collect();
    assert_eq!(
        loops,
        [
            &json!({ "name": "again", "iteration": 1, "until": false }),
            &json!({ "name": "again", "iteration": 2, "until": false }),
            &json!({ "name": "again", "iteration": 3, "until": true }),
        ]
    );
    assert_eq!(run.steps()[2]["edge"]["to"], "done");
}

#[test]
fn a_loop_may_use_every_one_of_its_iterations() {
    assert_eq!(run(COUNTING, json!({ "stop": 5 })).state()["n"], 5);
}

#[test]
fn a_loop_that_reaches_max_with_until_false_is_exhausted() {
    let run = run(COUNTING, json!({ "stop": 6 }));
    assert_eq!(run.code(), "flow::loop-exhausted");
    assert_eq!(run.steps().len(), 5);
    let rendered = run.rendered();
    assert!(
        rendered.contains("still false: n = 5, stop = 6"),
        "{rendered}"
    );
    assert!(rendered.contains("ran 5 times"), "{rendered}");
}

#[test]
fn an_exhausted_loop_takes_its_own_error_edge() {
    let text = "flow f {\n  state { n: int = 0 }\n  node inc { n += 1 }\n  node give_up\n  start -> l\n  loop l max 2 {\n    inc\n  } until n > 5\n  l -> end\n  l -> give_up on error\n}\n";
    let run = run(text, json!({}));
    assert_eq!(run.path(), ["inc", "inc", "give_up"]);
    assert_eq!(run.state()["error"]["code"], "loop-exhausted");
    assert_eq!(run.state()["error"]["node"], "l");
    let step = run.steps()[1];
    assert_eq!(
        step["edge"],
        json!({ "to": "give_up", "guard": null, "on_error": true })
    );
    assert_eq!(step["error"]["code"], "loop-exhausted");
}

#[test]
fn nested_loops_reset_the_inner_counter_on_each_outer_iteration() {
    let text = "flow f {\n  state { i: int = 0, j: int = 0, total: int = 0 }\n  node outer_step { i += 1; j = 0 }\n  node inner_step { j += 1; total += 1 }\n  start -> outer\n  loop outer max 3 {\n    outer_step -> inner\n    loop inner max 4 {\n      inner_step\n    } until j >= 4\n  } until i >= 3\n}\n";
    let run = run(text, json!({}));
    assert_eq!(run.state()["total"], 12);
    // The inner loop's `max 4` is used fully three times: its counter starts over.
    let inner: Vec<u64> = run
        .steps()
        .iter()
        .filter(|s| s["node"] == "inner_step")
        .map(|s| s["loop"]["iteration"].as_u64().unwrap())
        .collect();
    assert_eq!(inner, [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]);
    // Leaving the inner loop at its last exit also finishes the outer iteration.
    let last = run.steps().last().copied().unwrap();
    assert_eq!(last["edge"]["to"], "end");
}

#[test]
fn a_loop_with_a_multi_node_body_repeats_from_its_entry() {
    let text = "flow f {\n  state { log: list = [] }\n  node a { log.push(\"a\") }\n  node b { log.push(\"b\") }\n  start -> twice\n  loop twice max 2 {\n    a -> b\n  } until log.len() >= 4\n}\n";
    let run = run(text, json!({}));
    assert_eq!(run.state()["log"], json!(["a", "b", "a", "b"]));
}

#[test]
fn a_loop_leaves_along_its_guarded_edges() {
    let text = "flow f {\n  state { n: int = 0 }\n  node inc { n += 1 }\n  node big\n  node small\n  start -> l\n  loop l max 3 {\n    inc\n  } until n >= 2\n  l -> big when n > 1\n  l -> small\n}\n";
    assert_eq!(run(text, json!({})).path(), ["inc", "inc", "big"]);
}

// ---- on error, retry, timeouts ----------------------------------------------------------

#[test]
fn an_error_edge_is_taken_with_the_error_in_the_state() {
    let run = run(
        "flow f {\n  node fetch = test.fail\n  node recover { handled = error.code }\n  start -> fetch -> end\n  fetch -> recover on error\n}\n",
        json!({}),
    );
    let state = run.state();
    assert_eq!(
        state["error"],
        json!({ "node": "fetch", "message": "attempt 1 failed", "code": "tool-failed" })
    );
    assert_eq!(state["handled"], "tool-failed");
    let step = run.steps()[0];
    assert_eq!(
        step["edge"],
        json!({ "to": "recover", "guard": null, "on_error": true })
    );
    assert_eq!(step["error"]["code"], "tool-failed");
}

#[test]
fn without_an_error_edge_a_failing_node_fails_the_run() {
    let run = run(
        "flow f {\n  node fetch = test.fail\n  start -> fetch\n}\n",
        json!({}),
    );
    assert_eq!(run.code(), "flow::tool-failed");
    assert!(run.rendered().contains("attempt 1 failed"));
}

#[test]
fn an_error_edge_may_leave_a_loop() {
    let text = "flow f {\n  state { n: int = 0 }\n  node inc { n += 1 }\n  node boom = test.fail\n  node out\n  start -> l\n  loop l max 5 {\n    inc -> boom\n  } until n > 9\n  boom -> out on error\n}\n";
    let run = run(text, json!({}));
    assert_eq!(run.path(), ["inc", "boom", "out"]);
}

#[test]
fn retry_makes_n_more_attempts_with_exponential_backoff() {
    let (tools, calls) = flaky_tools(2);
    let text = "flow f {\n  node fetch = test.flaky retry 3 backoff 10ms\n  start -> fetch\n}\n";
    let run = run_tools(text, json!({}), &tools);
    assert_eq!(run.state()["calls"], 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(run.steps()[0]["attempts"], 3);
    // Waits of 10ms then 20ms.
    assert!(
        run.elapsed >= Duration::from_millis(30),
        "{:?}",
        run.elapsed
    );
}

#[test]
fn retries_that_all_fail_end_in_the_error_edge() {
    let (tools, calls) = flaky_tools(10);
    let text = "flow f {\n  node fetch = test.flaky retry 2\n  node recover\n  start -> fetch\n  fetch -> recover on error\n}\n";
    let run = run_tools(text, json!({}), &tools);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(run.state()["error"]["message"], "attempt 3 failed");
}

#[test]
fn a_node_timeout_stops_a_slow_tool() {
    let run = run(
        "flow f {\n  node wait = test.slow timeout 20ms\n  start -> wait\n}\n",
        json!({}),
    );
    assert_eq!(run.code(), "flow::timeout");
    assert!(run.elapsed < Duration::from_secs(2));
    assert!(
        run.rendered().contains("timed out after 20ms"),
        "{}",
        run.rendered()
    );
}

#[test]
fn a_node_timeout_stops_a_looping_script_and_can_be_handled() {
    let text = "flow f {\n  node spin { loop {} } timeout 30ms\n  node after\n  start -> spin\n  spin -> after on error\n}\n";
    // Operations high enough that the 30ms deadline, not the operation budget, ends the loop.
    let options = RunOptions {
        limits: Limits {
            max_operations: 1_000_000_000,
            ..Limits::default()
        },
        ..RunOptions::default()
    };
    let run = run_with(text, json!({}), &test_tools(), options, &CancelToken::new());
    assert_eq!(run.state()["error"]["code"], "timeout");
    assert_eq!(run.path(), ["spin", "after"]);
}

#[test]
fn an_exec_timeout_argument_fails_the_node_so_retry_and_on_error_handle_it() {
    let text = "flow f {\n  node slow = exec(cmd: \"sleep 5\", timeout: 100ms) retry 1\n  node after\n  start -> slow\n  slow -> after on error\n}\n";
    let options = RunOptions {
        timeout: Some(Duration::from_secs(3600)),
        ..RunOptions::default()
    };
    let run = run_with(text, json!({}), &test_tools(), options, &CancelToken::new());
    assert_eq!(run.path(), ["slow", "after"]);
    assert_eq!(run.state()["error"]["code"], "tool-failed");
    let message = run.state()["error"]["message"].as_str().unwrap();
    assert!(message.contains("100ms `timeout`"), "{message}");
    assert_eq!(run.steps()[0]["attempts"], 2, "{:?}", run.steps()[0]);
    assert!(run.elapsed < Duration::from_secs(4), "{:?}", run.elapsed);
}

/// Sleeps, then succeeds, whatever its deadline says.
struct Stubborn;

impl Tool for Stubborn {
    fn call(&self, _call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        std::thread::sleep(Duration::from_millis(60));
        Ok(object(json!({ "late": true })))
    }
}

#[test]
fn a_node_timeout_holds_for_a_tool_that_ignores_its_deadline() {
    let mut tools = test_tools();
    tools.register(
        ToolSpec::new("test.stubborn", "Ignores deadlines."),
        Stubborn,
    );
    let text = "flow f {\n  node wait = test.stubborn timeout 10ms\n  start -> wait\n}\n";
    let run = run_tools(text, json!({}), &tools);
    assert_eq!(run.code(), "flow::timeout");
    assert!(
        run.steps()[0]
            .get("changes")
            .is_none_or(|c| c.get("late").is_none())
    );
}

#[test]
fn a_script_cannot_put_a_value_json_cannot_hold_into_the_state() {
    for (script, what) in [
        (
            "#{ f: || 1 }",
            "the object map it returns holds a value of type `Fn`",
        ),
        ("let r = 1..3; x = [r];", "`x` holds a value of type"),
        ("x = #{ y: 1.0 / 0.0 };", "`x` holds the float `inf`"),
    ] {
        let text = format!("flow f {{\n  node a {{ {script} }}\n  start -> a\n}}\n");
        let run = run(&text, json!({ "x": 0 }));
        assert_eq!(run.code(), "flow::script-error", "{script}");
        assert!(
            run.rendered().contains(what),
            "{script}: {}",
            run.rendered()
        );
    }
}

#[test]
fn the_run_timeout_ends_the_run() {
    let options = RunOptions {
        timeout: Some(Duration::from_millis(30)),
        ..RunOptions::default()
    };
    let text = "flow f {\n  node wait = test.slow\n  node after\n  start -> wait\n  wait -> after on error\n}\n";
    let run = run_with(text, json!({}), &test_tools(), options, &CancelToken::new());
    // The run's own limit is not the node's failure: no error edge.
    assert_eq!(run.code(), "flow::timeout");
    assert!(
        run.rendered().contains("the run timed out after 30ms"),
        "{}",
        run.rendered()
    );
}

#[test]
fn max_steps_bounds_a_plain_cycle() {
    let text = "flow f {\n  state { n: int = 0 }\n  node inc { n += 1 }\n  start -> inc\n  inc -> inc when n < 1000000\n  inc -> end\n}\n";
    let options = RunOptions {
        max_steps: 50,
        ..RunOptions::default()
    };
    let run = run_with(text, json!({}), &test_tools(), options, &CancelToken::new());
    assert_eq!(run.code(), "flow::max-steps");
    assert_eq!(run.steps().len(), 50);
    let finished = run.trace.last().unwrap();
    assert_eq!(finished["event"], "run_finished");
    assert_eq!(finished["status"], "failed");
    assert_eq!(finished["steps"], 50);
}

#[test]
fn the_default_step_limit_is_ten_thousand() {
    assert_eq!(RunOptions::default().max_steps, 10_000);
}

/// Returns the state it was given, under `seen`.
struct Seen;

impl Tool for Seen {
    fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        let mut seen = call.state.clone();
        seen.remove("seen");
        Ok(object(json!({ "seen": seen })))
    }
}

#[test]
fn tools_see_the_current_state_including_untouched_fields() {
    let mut tools = test_tools();
    tools.register(ToolSpec::new("test.seen", "Echoes the state."), Seen);
    let text = "flow f {\n  node one { n = 1 }\n  node look = test.seen\n  node two { n = 2; #{ m: [n] } }\n  node again = test.seen\n  start -> one -> look -> two -> again\n}\n";
    let run = run_tools(text, json!({ "payload": [{ "a": 1 }], "n": 0 }), &tools);
    let state = run.state();
    assert_eq!(
        state["seen"],
        json!({ "payload": [{ "a": 1 }], "n": 2, "m": [2] })
    );
    assert_eq!(state["payload"], json!([{ "a": 1 }]));
    assert_eq!(
        run.steps()[1]["changes"]["seen"],
        json!({ "payload": [{ "a": 1 }], "n": 1 })
    );
}

// ---- 6 scripts --------------------------------------------------------------------------

#[test]
fn script_assignments_write_back_and_a_returned_map_merges() {
    let text = "flow f {\n  node s {\n    let local = 40;\n    n = local + 2;\n    print(`n is ${n}`);\n    debug(\"dbg\");\n    #{ added: true, n: n + 1 }\n  }\n  start -> s\n}\n";
    let run = run(text, json!({ "n": 0, "untouched": [1, 2] }));
    assert_eq!(
        run.state(),
        &object(json!({ "n": 43, "untouched": [1, 2], "added": true }))
    );
    let step = run.steps()[0];
    assert_eq!(step["changes"], json!({ "n": 43, "added": true }));
    assert_eq!(step["output"], json!(["n is 42", "[debug] \"dbg\""]));
    assert!(!run.state().contains_key("local"));
}

#[test]
fn a_script_that_fails_changes_nothing() {
    let text = "flow f {\n  node s { n = 5; throw \"nope\" }\n  node recover\n  start -> s\n  s -> recover on error\n}\n";
    let run = run(text, json!({ "n": 1 }));
    assert_eq!(run.state()["n"], 1);
    assert_eq!(
        run.state()["error"],
        json!({ "node": "s", "message": "nope", "code": "script-error" })
    );
}

#[test]
fn a_script_error_points_into_the_script() {
    let run = run(
        "flow f {\n  node s { n = 1 / 0 }\n  start -> s\n}\n",
        json!({ "n": 1 }),
    );
    assert_eq!(run.code(), "flow::script-error");
    assert!(
        run.rendered().contains("division by zero"),
        "{}",
        run.rendered()
    );
}

#[test]
fn unchanged_values_are_not_reported_as_changes() {
    let run = run(
        "flow f {\n  node s { a = a; b = 2 }\n  start -> s\n}\n",
        json!({ "a": [1], "b": 1 }),
    );
    assert_eq!(run.steps()[0]["changes"], json!({ "b": 2 }));
}

// ---- 4.1 the schema ---------------------------------------------------------------------

const SCHEMA: &str = "flow f {\n  state {\n    name: string\n    retries: int = 3\n    ratio: float = 1\n    tags: list = []\n    note: string?\n  }\n  node a\n  start -> a\n}\n";

#[test]
fn defaults_fill_missing_fields_and_extra_fields_are_carried() {
    let run = run(
        SCHEMA,
        json!({ "extra": { "x": 1 }, "name": "n", "ratio": 2 }),
    );
    assert_eq!(
        serde_json::to_string(run.state()).unwrap(),
        r#"{"name":"n","retries":3,"ratio":2.0,"tags":[],"note":null,"extra":{"x":1}}"#
    );
}

#[test]
fn a_value_of_the_wrong_type_is_invalid_state_naming_field_and_types() {
    let run = run(SCHEMA, json!({ "name": "n", "retries": "three" }));
    assert_eq!(run.code(), "flow::invalid-state");
    let rendered = run.rendered();
    assert!(
        rendered.contains("state field `retries` must be int, but the initial state has string"),
        "{rendered}"
    );
    assert!(rendered.contains("`\"three\"`"), "{rendered}");
    assert!(
        rendered.contains("retries: int = 3"),
        "it points at the declaration: {rendered}"
    );
    assert_eq!(run.trace.len(), 1, "only run_finished: {:?}", run.trace);
}

#[test]
fn a_missing_field_without_default_is_invalid_state() {
    let run = run(SCHEMA, json!({}));
    assert_eq!(run.code(), "flow::invalid-state");
    assert!(
        run.rendered()
            .contains("`name` has no value and no default")
    );
}

#[test]
fn every_problem_of_the_initial_state_is_reported_at_once() {
    let run = run(SCHEMA, json!({ "retries": "three" }));
    let mut report = FileReport::new(run.source.clone());
    report.push(run.error().clone());
    assert_eq!(report.error_count(), 2);
    let short = report.render_short();
    let lines: Vec<&str> = short.lines().collect();
    assert_eq!(lines.len(), 2, "{short}");
    assert!(
        lines[0].contains("`name` has no value and no default"),
        "{short}"
    );
    assert!(lines[1].contains("`retries` must be int"), "{short}");
}

#[test]
fn null_is_only_accepted_by_nullable_fields() {
    assert_eq!(
        run(SCHEMA, json!({ "name": "n", "note": null })).state()["note"],
        Value::Null
    );
    assert_eq!(
        run(SCHEMA, json!({ "name": null })).code(),
        "flow::invalid-state"
    );
}

// ---- 5 strict guards --------------------------------------------------------------------

fn guard(expr: &str, input: Value) -> Run {
    let text = format!(
        "flow f {{\n  node a\n  node yes\n  node no\n  start -> a\n  a -> yes when {expr}\n  a -> no\n}}\n"
    );
    run(&text, input)
}

#[test]
fn comparing_mismatched_types_in_a_guard_is_an_error() {
    for (expr, input) in [
        ("s > 3", json!({ "s": "x" })),
        ("n < 1", json!({ "n": null })),
        ("s == 3", json!({ "s": "3" })),
        ("l > 1", json!({ "l": [1] })),
        ("b < 1.5", json!({ "b": true })),
        // Literals are not folded to `false` at check time either (a guard made only of
        // them is a check-time error: tests/ui/compile/guard-syntax-mismatch.flow).
        ("n > 3 || \"x\" > 3", json!({ "n": 1 })),
    ] {
        let run = guard(expr, input);
        assert_eq!(run.code(), "flow::guard-error", "{expr}");
        assert!(
            run.rendered().contains("cannot compare"),
            "{expr}: {}",
            run.rendered()
        );
    }
}

#[test]
fn same_type_and_int_float_comparisons_still_work() {
    for (expr, input, expected) in [
        ("n < 3", json!({ "n": 2 }), "yes"),
        ("n >= 3", json!({ "n": 2 }), "no"),
        ("n < 2.5", json!({ "n": 2 }), "yes"),
        ("x > 1", json!({ "x": 1.5 }), "yes"),
        ("s == \"a\"", json!({ "s": "a" }), "yes"),
        ("s < \"b\"", json!({ "s": "a" }), "yes"),
        ("b == true", json!({ "b": true }), "yes"),
        ("v == ()", json!({ "v": null }), "yes"),
        ("v != ()", json!({ "v": 3 }), "yes"),
        ("l == [1, 2]", json!({ "l": [1, 2] }), "yes"),
        (
            "l.len() > 1 && l.contains(2)",
            json!({ "l": [1, 2] }),
            "yes",
        ),
        ("m.k == 1", json!({ "m": { "k": 1 } }), "yes"),
    ] {
        let run = guard(expr, input);
        assert_eq!(run.path()[1], expected, "{expr}");
    }
}

#[test]
fn a_guard_must_give_a_bool() {
    let run = guard("n + 1", json!({ "n": 1 }));
    assert_eq!(run.code(), "flow::guard-error");
    assert!(
        run.rendered().contains("must be true or false"),
        "{}",
        run.rendered()
    );
}

#[test]
fn a_guard_reading_an_unset_name_is_an_error() {
    let run = guard("missing > 1", json!({}));
    assert_eq!(run.code(), "flow::guard-error");
    assert!(
        run.rendered().contains("missing is not set"),
        "{}",
        run.rendered()
    );
}

#[test]
fn a_guard_cannot_change_the_state() {
    let run = guard("l.pop() == 1", json!({ "l": [1] }));
    assert_eq!(run.code(), "flow::guard-error");
    // Pure methods on the same value are fine, and the value is intact afterwards.
    let run = guard("l.len() == 1", json!({ "l": [1] }));
    assert_eq!(run.state()["l"], json!([1]));
}

// ---- 7 the sandbox ----------------------------------------------------------------------

fn limited(text: &str, limits: Limits) -> Run {
    let options = RunOptions {
        limits,
        ..RunOptions::default()
    };
    run_with(
        text,
        json!({ "n": 0 }),
        &test_tools(),
        options,
        &CancelToken::new(),
    )
}

fn script(body: &str) -> String {
    format!("flow f {{\n  node s {{ {body} }}\n  start -> s\n}}\n")
}

#[test]
fn an_endless_script_loop_hits_the_operations_limit() {
    let run = limited(
        &script("loop { n += 1 }"),
        Limits {
            max_operations: 10_000,
            ..Limits::default()
        },
    );
    assert_eq!(run.code(), "flow::script-error");
    assert!(
        run.rendered()
            .contains("`max_operations` (10000 operations)"),
        "{}",
        run.rendered()
    );
}

#[test]
fn deep_recursion_hits_the_call_depth_limit() {
    let run = limited(
        &script("fn down(x) { down(x + 1) } down(0)"),
        Limits::default(),
    );
    assert_eq!(run.code(), "flow::script-error");
    assert!(
        run.rendered().contains("`max_call_levels`"),
        "{}",
        run.rendered()
    );
}

#[test]
fn a_guard_doing_too_much_work_hits_the_operations_limit() {
    let text = "flow f {\n  node a\n  start -> a\n  a -> end when n + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 > 0\n  a -> end\n}\n";
    let run = limited(
        text,
        Limits {
            max_operations: 20,
            ..Limits::default()
        },
    );
    assert_eq!(run.code(), "flow::guard-error");
    assert!(
        run.rendered().contains("`max_operations`"),
        "{}",
        run.rendered()
    );
}

#[test]
fn strings_arrays_and_maps_are_size_limited() {
    let limits = Limits {
        max_string_size: 100,
        max_array_size: 100,
        max_map_size: 100,
        ..Limits::default()
    };
    for (body, limit) in [
        ("let s = \"x\"; loop { s += s }", "max_string_size"),
        ("let a = []; loop { a.push(1) }", "max_array_size"),
        (
            "let m = #{}; let i = 0; loop { let one = #{}; one[`k${i}`] = i; m.mixin(one); i += 1 }",
            "max_map_size",
        ),
        // rhai does not check a map growing by index assignment; the write-back does.
        (
            "let m = #{}; for i in 0..200 { m[`k${i}`] = i }; n = m",
            "max_map_size",
        ),
        (
            "let m = #{}; for i in 0..200 { m[`k${i}`] = i }; #{ big: m }",
            "max_map_size",
        ),
    ] {
        let run = limited(&script(body), limits.clone());
        assert_eq!(run.code(), "flow::script-error", "{body}");
        assert!(
            run.rendered().contains(&format!("`{limit}`")),
            "{body}: {}",
            run.rendered()
        );
    }
}

#[test]
fn a_script_running_too_long_hits_the_wall_time_limit() {
    let limits = Limits {
        max_wall_time_ms: 30,
        max_operations: u64::MAX / 2,
        ..Limits::default()
    };
    let run = limited(&script("loop { n += 1 }"), limits);
    assert_eq!(run.code(), "flow::script-error");
    assert!(
        run.rendered().contains("`max_wall_time_ms` (30ms)"),
        "{}",
        run.rendered()
    );
    assert!(run.elapsed < Duration::from_secs(2));
}

#[test]
fn scripts_cannot_reach_files_processes_or_the_network() {
    for body in [
        "n = open(\"/etc/passwd\")",
        "n = read_file(\"/etc/passwd\")",
        "n = system(\"ls\")",
        "n = exec(\"ls\")",
        "n = http_get(\"http://example.com\")",
        "n = timestamp()",
        "sleep(1)",
    ] {
        let run = run(&script(body), json!({ "n": 0 }));
        assert_eq!(run.code(), "flow::script-error", "{body}");
        assert!(
            run.rendered().contains("no function"),
            "{body}: {}",
            run.rendered()
        );
    }
}

#[test]
fn eval_and_import_do_not_compile() {
    for body in ["eval(\"1\")", "import \"std\" as s;"] {
        let source = SourceFile::new("t.flow", script(body));
        let checked = flowc::check(&source, &ToolRegistry::builtin());
        assert!(checked.program.is_none(), "{body} compiled");
    }
}

// ---- cancellation and embedding ---------------------------------------------------------

#[test]
fn cancelling_from_another_thread_stops_a_running_script() {
    let cancel = CancelToken::new();
    let remote = cancel.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        remote.cancel();
    });
    let limits = Limits {
        max_operations: u64::MAX / 2,
        ..Limits::default()
    };
    let options = RunOptions {
        limits,
        ..RunOptions::default()
    };
    let run = run_with(
        &script("loop { n += 1 }"),
        json!({ "n": 0 }),
        &test_tools(),
        options,
        &cancel,
    );
    canceller.join().unwrap();
    assert_eq!(run.code(), "flow::cancelled");
    assert!(run.elapsed < Duration::from_secs(2));
    assert_eq!(run.trace.last().unwrap()["status"], "cancelled");
}

#[test]
fn cancelling_stops_a_tool_and_a_backoff() {
    for text in [
        "flow f {\n  node wait = test.slow\n  start -> wait\n}\n",
        "flow f {\n  node fetch = test.fail retry 5 backoff 10s\n  start -> fetch\n}\n",
    ] {
        let cancel = CancelToken::new();
        let remote = cancel.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            remote.cancel();
        });
        let run = run_with(
            text,
            json!({}),
            &test_tools(),
            RunOptions::default(),
            &cancel,
        );
        canceller.join().unwrap();
        assert_eq!(run.code(), "flow::cancelled", "{text}");
        assert!(run.elapsed < Duration::from_secs(2));
    }
}

#[test]
fn a_cancelled_token_stops_the_run_before_the_first_step() {
    let cancel = CancelToken::new();
    cancel.cancel();
    let run = run_with(
        "flow f {\n  node a\n  start -> a\n}\n",
        json!({}),
        &test_tools(),
        RunOptions::default(),
        &cancel,
    );
    assert_eq!(run.code(), "flow::cancelled");
    assert!(run.steps().is_empty());
}

#[test]
fn an_embedder_registers_its_own_tool_and_receives_events() {
    struct Greet;
    impl Tool for Greet {
        fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
            let name = call.state["name"].as_str().unwrap_or("nobody");
            let punctuation = call.args["punctuation"].as_str().unwrap_or(".");
            Ok(object(
                json!({ "greeting": format!("hello, {name}{punctuation}") }),
            ))
        }
    }
    let mut tools = ToolRegistry::builtin();
    tools.register(
        ToolSpec::new("app.greet", "Greets `name`.").required(
            "punctuation",
            flowc::tools::ArgType::String,
            "how to end",
        ),
        Greet,
    );
    let text = "flow f {\n  state { name: string }\n  node hi = app.greet(punctuation: \"!\")\n  start -> hi -> end\n}\n";
    let checked = flowc::check(&SourceFile::new("f.flow", text), &tools);
    let interpreter = Interpreter::new(Arc::new(checked.program.unwrap()), RunOptions::default());
    let mut seen = Vec::new();
    let mut sink = |event: &Event| {
        if let Event::Step(step) = event {
            seen.push((step.node.name.to_string(), step.changes.clone()));
        }
    };
    let outcome = interpreter
        .run(
            object(json!({ "name": "Ada" })),
            &mut sink,
            &CancelToken::new(),
        )
        .unwrap();
    assert_eq!(outcome.state["greeting"], "hello, Ada!");
    assert_eq!(
        seen,
        [(
            "hi".to_owned(),
            object(json!({ "greeting": "hello, Ada!" }))
        )]
    );
}

#[test]
fn the_interpreter_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Interpreter>();
    let text = "flow f {\n  state { n: int = 0 }\n  node inc { n += 1 }\n  start -> inc\n  inc -> inc when n < 100\n  inc -> end\n}\n";
    let checked = flowc::check(&SourceFile::new("f.flow", text), &ToolRegistry::builtin());
    let interpreter = Arc::new(Interpreter::new(
        Arc::new(checked.program.unwrap()),
        RunOptions::default(),
    ));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let interpreter = Arc::clone(&interpreter);
            std::thread::spawn(move || {
                interpreter
                    .run(
                        Map::new(),
                        &mut flowc::runtime::NoEvents,
                        &CancelToken::new(),
                    )
                    .unwrap()
                    .state["n"]
                    .clone()
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), 100);
    }
}

/// A `Write` whose bytes a tool can read while the run goes on.
#[derive(Clone, Default)]
struct Shared(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Counts the lines written so far.
struct LinesSoFar(Shared);

impl Tool for LinesSoFar {
    fn call(&self, _call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        let lines = String::from_utf8_lossy(&(self.0).0.lock().unwrap())
            .lines()
            .count();
        Ok(object(json!({ "lines": lines })))
    }
}

#[test]
fn the_log_is_written_as_the_run_goes() {
    let out = Shared::default();
    let mut tools = test_tools();
    tools.register(
        ToolSpec::new("test.lines", "Counts log lines."),
        LinesSoFar(out.clone()),
    );
    let text =
        "flow f {\n  node a\n  node b\n  node count = test.lines\n  start -> a -> b -> count\n}\n";
    let checked = flowc::check(&SourceFile::new("f.flow", text), &tools);
    let interpreter = Interpreter::new(Arc::new(checked.program.unwrap()), RunOptions::default());
    let mut log = JsonLines::new(out.clone());
    let outcome = interpreter
        .run(Map::new(), &mut log, &CancelToken::new())
        .unwrap();
    // run_started, the steps of `a` and `b` and the start of `count` were out before
    // `count` ran.
    assert_eq!(outcome.state["lines"], 4);
}

#[test]
fn each_run_of_one_interpreter_has_its_own_cancel_token_and_output() {
    let text = "flow f {\n  node s { print(\"hi\") }\n  start -> s\n}\n";
    let checked = flowc::check(&SourceFile::new("f.flow", text), &ToolRegistry::builtin());
    let interpreter = Interpreter::new(Arc::new(checked.program.unwrap()), RunOptions::default());
    let outputs = |cancel: &CancelToken| {
        let mut output = Vec::new();
        let mut sink = |event: &Event| {
            if let Event::Step(step) = event {
                output.extend(step.output.iter().cloned());
            }
        };
        let result = interpreter.run(Map::new(), &mut sink, cancel);
        (result.is_ok(), output)
    };
    assert_eq!(outputs(&CancelToken::new()), (true, vec!["hi".to_owned()]));
    let cancelled = CancelToken::new();
    cancelled.cancel();
    assert!(!outputs(&cancelled).0);
    // The engine the cancelled run used serves the next run with the next run's token.
    assert_eq!(outputs(&CancelToken::new()), (true, vec!["hi".to_owned()]));
}

#[test]
fn the_trace_starts_and_finishes_the_run() {
    let run = run(
        "flow f {\n  node a { x = 1 }\n  start -> a\n}\n",
        json!({ "y": 2 }),
    );
    let first = &run.trace[0];
    assert_eq!(first["event"], "run_started");
    assert_eq!(first["seq"], 0);
    assert_eq!(first["flow"], "f");
    assert_eq!(first["state"], json!({ "y": 2 }));
    assert!(first["started_at"].as_str().unwrap().ends_with('Z'));
    let started = &run.trace[1];
    assert_eq!(started["event"], "node_started");
    assert_eq!(started["step"], 1);
    assert_eq!(started["node"], "a");
    assert!(started.get("seq").is_none(), "node_started is not kept");
    let step = &run.trace[2];
    assert_eq!(step["seq"], 1);
    assert_eq!(step["step"], 1);
    assert!(step["duration_us"].is_u64());
    let last = &run.trace[3];
    assert_eq!(last["event"], "run_finished");
    assert_eq!(last["seq"], 2);
    assert_eq!(last["status"], "ok");
    assert_eq!(last["steps"], 1);
    assert_eq!(last["state"], json!({ "y": 2, "x": 1 }));
}

// ---- `flowc run` ------------------------------------------------------------------------

mod cli_run {
    use std::io::Write;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use assert_cmd::prelude::*;
    use serde_json::{Value, json};

    const COUNTER: &str = "flow counter {\n    state { n: int = 0, limit: int = 3 }\n    node inc { n += 1; print(`n=${n}`) }\n    start -> inc\n    inc -> inc when n < limit\n    inc -> end\n}\n";

    struct Output {
        code: i32,
        stdout: String,
        stderr: String,
    }

    fn flowc(dir: &Path) -> Command {
        let mut command = Command::cargo_bin("flowc").unwrap();
        command
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env("COLUMNS", "80");
        command
    }

    fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
        let mut child = flowc(dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn prints_the_final_state_on_stdout_and_a_line_per_step_on_stderr() {
        let dir = dir_with(&[
            ("c.flow", COUNTER),
            ("init.json", r#"{"limit": 2, "keep": "me"}"#),
        ]);
        let out = run(
            dir.path(),
            &[
                "run",
                "c.flow",
                "--state",
                "init.json",
                "--set",
                "tag=\"x\"",
            ],
            "",
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let state: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(
            state,
            json!({ "n": 2, "limit": 2, "keep": "me", "tag": "x" })
        );
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert!(lines[0].starts_with("   1 inc (script, "), "{}", out.stderr);
        assert!(
            lines[0].ends_with(" n=1 -> inc when n < limit"),
            "{}",
            out.stderr
        );
        assert_eq!(lines[1], "     | n=1");
        assert!(lines[2].ends_with(" n=2 -> end"), "{}", out.stderr);
        assert!(
            lines[4].starts_with("finished: 2 steps in "),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn reads_the_state_from_stdin_and_is_quiet_when_asked() {
        let dir = dir_with(&[("c.flow", COUNTER)]);
        let out = run(
            dir.path(),
            &["run", "c.flow", "--state", "-", "--quiet"],
            r#"{"limit": 1}"#,
        );
        assert_eq!(out.code, 0);
        assert_eq!(out.stderr, "");
        assert_eq!(serde_json::from_str::<Value>(&out.stdout).unwrap()["n"], 1);
    }

    #[test]
    fn writes_the_trace_as_json_lines() {
        let dir = dir_with(&[("c.flow", COUNTER)]);
        let out = run(
            dir.path(),
            &["run", "c.flow", "--trace", "trace.jsonl", "-q"],
            "",
        );
        assert_eq!(out.code, 0);
        let trace = std::fs::read_to_string(dir.path().join("trace.jsonl")).unwrap();
        let events: Vec<Value> = trace
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "run_started",
                "node_started",
                "step",
                "node_started",
                "step",
                "node_started",
                "step",
                "run_finished"
            ]
        );
        assert_eq!(events[6]["changes"], json!({ "n": 3 }));
        assert_eq!(events[6]["output"], json!(["n=3"]));
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        let dir = dir_with(&[
            ("c.flow", COUNTER),
            ("broken.flow", "flow b {\n  start -> nowhere\n}\n"),
            ("bad.json", "{ not json"),
            ("list.json", "[1]"),
        ]);
        let cases: [(&[&str], i32); 9] = [
            (&["run", "c.flow"], 0),
            (&["run", "broken.flow"], 1),
            (&["run", "missing.flow"], 2),
            (&["run", "c.flow", "--state", "missing.json"], 2),
            (&["run", "c.flow", "--state", "bad.json"], 2),
            (&["run", "c.flow", "--state", "list.json"], 2),
            (&["run", "c.flow", "--set", "limit=abc"], 2),
            (&["run", "c.flow", "--set", "limit=\"many\""], 3),
            (
                &["run", "c.flow", "--set", "limit=100", "--max-steps", "10"],
                3,
            ),
        ];
        for (args, code) in cases {
            let out = run(dir.path(), args, "");
            assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
            if code != 0 {
                assert_eq!(out.stdout, "", "{args:?}");
            }
        }
        let out = run(
            dir.path(),
            &["run", "c.flow", "--set", "limit=\"many\""],
            "",
        );
        assert!(out.stderr.contains("flow::invalid-state"), "{}", out.stderr);
    }

    #[test]
    fn the_run_timeout_is_a_duration() {
        let dir = dir_with(&[(
            "spin.flow",
            "flow s {\n  node w = exec(cmd: \"sleep 5\")\n  start -> w\n}\n",
        )]);
        let started = Instant::now();
        let out = run(dir.path(), &["run", "spin.flow", "--timeout", "100ms"], "");
        assert_eq!(out.code, 3);
        assert!(out.stderr.contains("flow::timeout"), "{}", out.stderr);
        assert!(started.elapsed() < Duration::from_secs(4));
    }

    #[test]
    fn ctrl_c_cancels_the_run_and_kills_its_children() {
        let dir = dir_with(&[(
            "spin.flow",
            "flow s {\n  node w = exec(cmd: \"sleep 5\")\n  start -> w\n}\n",
        )]);
        let child = flowc(dir.path())
            .args(["run", "spin.flow"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let output = child.wait_with_output().unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(output.status.code(), Some(3));
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains("flow::cancelled"), "{stderr}");
    }
}

// ---- the schema holds on writes ---------------------------------------------------------

/// Returns the same changes on every call.
struct Sets(Value);

impl Tool for Sets {
    fn call(&self, _call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        Ok(object(self.0.clone()))
    }
}

fn setting_tools(changes: Value) -> ToolRegistry {
    let mut tools = test_tools();
    tools.register(
        ToolSpec::new("test.set", "Sets fixed changes."),
        Sets(changes),
    );
    tools
}

#[test]
fn assigning_an_in_place_method_result_fails_the_node_and_changes_nothing() {
    let run = run(
        "flow f {\n  state { name: string, n: int = 0 }\n  node tidy { n = 1; name = name.trim(); }\n  node recover\n  start -> tidy -> end\n  tidy -> recover on error\n}\n",
        json!({ "name": " ada " }),
    );
    let state = run.state();
    assert_eq!(state["name"], " ada ");
    assert_eq!(state["n"], 0, "no write of the failed step is kept");
    assert_eq!(state["error"]["code"], "invalid-write");
    assert_eq!(
        state["error"]["message"],
        "state field `name` must be string, but the node wrote null"
    );
    assert_eq!(run.path(), ["tidy", "recover"]);
}

#[test]
fn the_in_place_help_names_the_method_and_the_statement() {
    let run = run(
        "flow f {\n  state { tags: list }\n  node add {\n    tags = tags.push(\"x\");\n  }\n  start -> add\n}\n",
        json!({ "tags": [] }),
    );
    assert_eq!(run.code(), "flow::invalid-write");
    let rendered = run.rendered();
    assert!(
        rendered.contains("`push` works in place and returns nothing"),
        "{rendered}"
    );
    assert!(
        rendered.contains("`tags` is declared as list here"),
        "{rendered}"
    );
}

#[test]
fn a_wrong_type_from_a_returned_map_is_refused_before_anything_is_written() {
    let text = "flow f {\n  state { total: float = 0.0, count: int = 0 }\n  node price { total = 2.5; #{ count: \"3\" } }\n  start -> price\n}\n";
    let run = run(text, json!({}));
    assert_eq!(run.code(), "flow::invalid-write");
    assert_eq!(
        run.error().to_string(),
        "node `price` failed: state field `count` must be int, but the node wrote string `\"3\"`"
    );
    let handled = run_tools(
        &text.replace(
            "start -> price",
            "node recover\n  start -> price\n  price -> recover on error",
        ),
        json!({}),
        &test_tools(),
    );
    assert_eq!(handled.state()["total"], 0.0);
    assert_eq!(handled.state()["error"]["code"], "invalid-write");
}

#[test]
fn a_returned_map_overrides_the_variable_it_checks() {
    let run = run(
        "flow f {\n  state { name: string }\n  node tidy { name = (); #{ name: \"ada\" } }\n  start -> tidy\n}\n",
        json!({ "name": "x" }),
    );
    assert_eq!(run.state()["name"], "ada");
}

#[test]
fn a_tools_changes_must_fit_the_schema_and_apply_all_or_nothing() {
    let run = run_tools(
        "flow f {\n  state { a: int = 0, count: int = 0 }\n  node fetch = test.set\n  node recover\n  start -> fetch\n  fetch -> recover on error\n}\n",
        json!({}),
        &setting_tools(json!({ "a": 1, "count": "12" })),
    );
    let state = run.state();
    assert_eq!(state["a"], 0);
    assert_eq!(state["count"], 0);
    assert_eq!(state["error"]["code"], "invalid-write");
}

#[test]
fn the_error_field_holds_a_map_or_null() {
    let run = run(
        "flow f {\n  state { n: int = 0 }\n  node clear { error = 5 }\n  start -> clear\n}\n",
        json!({}),
    );
    assert_eq!(run.code(), "flow::invalid-write");
    let run = run_tools(
        "flow f {\n  state { n: int = 0 }\n  node clear { error = () }\n  node fail = test.fail\n  start -> fail -> end\n  fail -> clear on error\n}\n",
        json!({}),
        &test_tools(),
    );
    assert_eq!(run.state()["error"], Value::Null);
}

#[test]
fn writes_that_fit_are_kept_and_fields_outside_the_schema_are_free() {
    let run = run_tools(
        "flow f {\n  state { ratio: float = 0.0, label: string? = \"x\", any_value: any = 0 }\n  node set { ratio = 1; label = (); any_value = [1]; #{ extra: 5 } }\n  node more = test.set\n  start -> set -> more\n}\n",
        json!({}),
        &setting_tools(json!({ "other": "anything", "ratio": 2 })),
    );
    let state = run.state();
    assert_eq!(state["ratio"], 2);
    assert_eq!(state["label"], Value::Null);
    assert_eq!(state["any_value"], json!([1]));
    assert_eq!(state["extra"], 5);
    assert_eq!(state["other"], "anything");
}

#[test]
fn without_a_schema_writes_are_not_checked() {
    let run = run(
        "flow f {\n  node tidy { name = name.trim(); }\n  start -> tidy\n}\n",
        json!({ "name": " ada " }),
    );
    assert_eq!(run.state()["name"], Value::Null);
}

#[test]
fn int_means_64_signed_bits_for_defaults_state_values_and_tool_arguments() {
    let tools = ToolRegistry::builtin();
    let default = flowc::check(
        &SourceFile::new(
            "f.flow",
            "flow f {\n  state { n: int = 18446744073709551615 }\n  node a\n  start -> a\n}\n",
        ),
        &tools,
    );
    assert!(default.program.is_none());
    let rendered = default.report.render_human(false, 80);
    assert!(rendered.contains("flow::bad-default"), "{rendered}");
    assert!(
        rendered.contains("int (too large for a 64-bit int)"),
        "{rendered}"
    );
    let refused = run(
        "flow f {\n  state { n: int }\n  node a\n  start -> a\n}\n",
        json!({ "n": 18_446_744_073_709_551_615_u64 }),
    );
    assert_eq!(refused.code(), "flow::invalid-state");
    let as_float = run(
        "flow f {\n  state { n: float }\n  node a\n  start -> a\n}\n",
        json!({ "n": 18_446_744_073_709_551_615_u64 }),
    );
    assert!(as_float.state()["n"].is_f64());
}

// ---- warnings about the initial state ---------------------------------------------------

const SIGNUP: &str = "flow signup {\n    state {\n        name: string = \"\"\n        count: int = 0\n    }\n    node greet = noop\n    start -> greet\n}\n";

fn input_warnings(input: Value) -> Vec<flowc::runtime::RuntimeWarning> {
    let checked = flowc::check(
        &SourceFile::new("signup.flow", SIGNUP),
        &ToolRegistry::builtin(),
    );
    flowc::runtime::input_warnings(&checked.program.unwrap(), &object(input))
}

#[test]
fn a_key_one_edit_from_a_field_it_leaves_out_is_a_warning() {
    let warnings = input_warnings(json!({ "nmae": "ada", "count": 1, "source": "web" }));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let mut report = FileReport::new(SourceFile::new("signup.flow", SIGNUP));
    report.push(warnings[0].clone());
    assert!(!report.has_errors());
    insta::assert_snapshot!(report.render_human(false, 80));
}

#[test]
fn extra_keys_far_from_every_field_or_beside_it_are_not_warned_about() {
    assert!(input_warnings(json!({ "source": "web", "id": 7 })).is_empty());
    // The field is given too: `counts` is an extra key, not a misspelt `count`.
    assert!(input_warnings(json!({ "counts": [1], "count": 1 })).is_empty());
    // Two edits away.
    assert!(input_warnings(json!({ "nmea": "x" })).is_empty());
}

#[test]
fn flowc_run_shows_input_warnings_on_stderr_unless_quiet() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("signup.flow"), SIGNUP).unwrap();
    let run = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("flowc")
            .unwrap()
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap()
    };
    let output = run(&["run", "signup.flow", "--set", "cuont=2"]);
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("flow::unknown-state-key"), "{stderr}");
    assert!(stderr.contains("did you mean `count`?"), "{stderr}");
    let quiet = run(&["run", "signup.flow", "--set", "cuont=2", "--quiet"]);
    assert_eq!(quiet.status.code(), Some(0));
    assert_eq!(String::from_utf8(quiet.stderr).unwrap(), "");
}

// ---- numbers beyond 64 bits -------------------------------------------------------------

#[cfg(feature = "exact-numbers")]
#[test]
fn flowc_run_passes_numbers_no_code_names_through_with_their_digits() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("big.flow"),
        "flow big {\n  state { n: int = 0 }\n  node inc { n += 1 }\n  start -> inc\n}\n",
    )
    .unwrap();
    let output = assert_cmd::Command::cargo_bin("flowc")
        .unwrap()
        .current_dir(dir.path())
        .args(["run", "big.flow", "--state", "-", "--quiet"])
        .write_stdin(
            r#"{"id": 123456789012345678901234567890, "price": 1.50, "deep": [{"x": -98765432109876543210}]}"#,
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("\"id\": 123456789012345678901234567890"),
        "{stdout}"
    );
    assert!(stdout.contains("\"price\": 1.50"), "{stdout}");
    assert!(stdout.contains("\"x\": -98765432109876543210"), "{stdout}");
    assert!(stdout.contains("\"n\": 1"), "{stdout}");
}

#[cfg(feature = "exact-numbers")]
#[test]
fn a_number_beyond_64_bits_that_code_names_is_its_nearest_float_or_refused_by_int() {
    let big: Value = serde_json::from_str("123456789012345678901234567890").unwrap();
    let read = run(
        "flow f {\n  node copy { copied = id }\n  start -> copy\n}\n",
        json!({ "id": big.clone() }),
    );
    assert_eq!(
        read.state()["copied"].as_f64(),
        Some(1.234_567_890_123_456_8e29)
    );
    let int = run(
        "flow f {\n  state { id: int }\n  node a\n  start -> a\n}\n",
        json!({ "id": big }),
    );
    assert_eq!(int.code(), "flow::invalid-state");
    let huge: Value = serde_json::from_str("1e400").unwrap();
    let float = run(
        "flow f {\n  state { x: float }\n  node a\n  start -> a\n}\n",
        json!({ "x": huge }),
    );
    assert_eq!(float.code(), "flow::invalid-state");
    assert!(
        float
            .error()
            .to_string()
            .contains("number (too large for a float)"),
        "{}",
        float.rendered()
    );
}

#[test]
fn a_constant_guard_that_is_not_a_bool_names_its_type_in_the_flows_words() {
    let checked = flowc::check(
        &SourceFile::new(
            "f.flow",
            "flow f {\n  node a\n  node b\n  start -> a\n  a -> b when 1 + 1\n}\n",
        ),
        &ToolRegistry::builtin(),
    );
    let rendered = checked.report.render_human(false, 200);
    assert!(
        rendered.contains("this one is always int `2`"),
        "{rendered}"
    );
}

// ---- state fields whatever their name ---------------------------------------------------

/// Checks `text` and returns its diagnostics as JSON, and the IR when it compiled.
fn checked(text: &str) -> (Vec<Value>, Option<Value>) {
    let checked = flowc::check(&SourceFile::new("f.flow", text), &ToolRegistry::builtin());
    let diagnostics = checked.report.to_json()["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ir = checked
        .program
        .map(|program| serde_json::to_value(&program).unwrap());
    (diagnostics, ir)
}

#[test]
fn declared_fields_with_names_rhai_reserves_are_read_and_written_as_written() {
    let text = "flow f {\n  state { go: bool, match: int = 0, default: string = \"a\" }\n  \
                node step { match = match + 3; default += \"b\" }\n  \
                node route\n  start -> route\n  route -> step when go == true\n  route -> end\n  step -> end\n}\n";
    let run = run(text, json!({ "go": true }));
    assert_eq!(run.state()["match"], 3);
    assert_eq!(run.state()["default"], "ab");
    assert_eq!(run.path(), ["route", "step"]);
}

#[test]
fn any_key_is_read_and_written_through_state_index_in_guards_and_scripts() {
    let text = "flow f {\n  \
                node step { state[\"user-id\"] = state[\"user-id\"] + 1; state[\"go\"] = \"went\"; state[\"if\"] = 1 }\n  \
                node route\n  start -> route\n  route -> step when state[\"user-id\"] > 40\n  route -> end\n  step -> end\n}\n";
    let run = run(text, json!({ "user-id": 41 }));
    assert_eq!(run.path(), ["route", "step"]);
    assert_eq!(
        Value::Object(run.state().clone()),
        json!({ "user-id": 42, "go": "went", "if": 1 })
    );
}

#[test]
fn the_schema_declares_any_key_quoted_and_the_ir_names_keys() {
    let text = "flow f {\n  state { \"user-id\": int = 1, \"if\": string?, go: bool = true }\n  \
                node step { state[\"user-id\"] *= 10; state[\"if\"] = \"then\" }\n  \
                node route\n  start -> route\n  route -> step when go && state[\"user-id\"] == 1\n  route -> end\n  step -> end\n}\n";
    let run = run(text, json!({}));
    assert_eq!(run.path(), ["route", "step"]);
    assert_eq!(run.state()["user-id"], 10);
    assert_eq!(run.state()["if"], "then");
    let (diagnostics, ir) = checked(text);
    assert_eq!(diagnostics, Vec::<Value>::new());
    let ir = ir.expect("it compiles").to_string();
    assert!(ir.contains(r#""names":["if","user-id"]"#), "{ir}");
    assert!(ir.contains(r#""names":["go","user-id"]"#), "{ir}");
    assert!(!ir.contains("__flow"), "{ir}");
    let bad = run_tools(text, json!({ "user-id": "x" }), &test_tools());
    assert!(bad.rendered().contains("`user-id`"), "{}", bad.rendered());
}

#[test]
fn an_unknown_key_through_state_index_is_reported_with_a_suggestion() {
    let text = "flow f {\n  state { \"user-id\": int = 1 }\n  node route\n  start -> route\n  route -> end when state[\"usr-id\"] > 0\n  route -> end\n}\n";
    let (diagnostics, _) = checked(text);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let unknown = &diagnostics[0];
    assert_eq!(unknown["code"], "flow::unknown-field");
    assert_eq!(unknown["help"], "did you mean `state[\"user-id\"]`?");
    let label = &unknown["labels"][0];
    let at = usize::try_from(label["offset"].as_u64().unwrap()).unwrap();
    let len = usize::try_from(label["length"].as_u64().unwrap()).unwrap();
    assert_eq!(&text[at..at + len], "state[\"usr-id\"]");
}

#[test]
fn without_a_schema_an_absent_key_reads_as_it_does_bare() {
    let text = |read: &str| {
        format!("flow f {{\n  node step {{ seen = {read} == () }}\n  start -> step -> end\n}}\n")
    };
    let bare = run(&text("missing"), json!({}));
    let indexed = run(&text("state[\"missing\"]"), json!({}));
    assert_eq!(bare.state()["seen"], true);
    assert_eq!(indexed.state(), bare.state());
    let guard = |read: &str| {
        format!(
            "flow f {{\n  node route\n  start -> route\n  route -> end when {read} == ()\n  route -> end\n}}\n"
        )
    };
    let bare = run(&guard("missing"), json!({}));
    let indexed = run(&guard("state[\"missing\"]"), json!({}));
    assert_eq!(bare.code(), "flow::guard-error");
    assert_eq!(indexed.code(), bare.code());
    assert!(
        indexed.rendered().contains("`missing` is not defined here"),
        "{}",
        indexed.rendered()
    );
}

#[test]
fn an_error_after_a_rewritten_name_points_at_its_own_column() {
    let text = "flow f {\n  node step { state[\"user-id\"] = 1; let x = state[\"user-id\"] / zero; }\n  start -> step -> end\n}\n";
    let run = run(text, json!({ "zero": 0 }));
    assert_eq!(run.code(), "flow::script-error");
    insta::assert_snapshot!(run.rendered());
}

#[test]
fn a_reserved_word_that_is_not_declared_says_how_to_reach_the_field() {
    let text =
        "flow f {\n  node route\n  start -> route\n  route -> end when go\n  route -> end\n}\n";
    let (diagnostics, _) = checked(text);
    let message = diagnostics[0].to_string();
    assert!(message.contains(r#"state[\"go\"]"#), "{message}");
}

#[test]
fn a_field_called_state_is_read_bare_or_through_state_index() {
    let text = "flow f {\n  state { \"state\": map, retries: int = 0, match: int = 1 }\n  \
                node step { state[\"retries\"] += state.x + state[\"state\"][\"y\"]; state[\"match\"] *= 5 }\n  \
                start -> step -> end\n}\n";
    let run = run(text, json!({ "state": { "x": 1, "y": 2 } }));
    assert_eq!(run.state()["retries"], 3);
    assert_eq!(run.state()["match"], 5);
}

#[test]
fn an_unknown_key_without_a_close_field_is_declared_quoted_in_the_help() {
    let text = "flow f {\n  state { n: int = 1 }\n  node step { state[\"zz-top\"] = 1 }\n  start -> step -> end\n}\n";
    let (diagnostics, _) = checked(text);
    assert_eq!(diagnostics[0]["code"], "flow::unknown-field");
    let help = diagnostics[0]["help"].as_str().unwrap();
    assert!(help.contains(r#"(e.g. `"zz-top": any`)"#), "{help}");
}

#[test]
fn a_quoted_name_is_the_same_field_as_the_bare_one() {
    let text = "flow f {\n  state { go: bool, \"go\": int, \"a\\\"b\": int = 1 }\n  \
                node step { state[\"a\\\"b\"] += 1 }\n  start -> step -> end\n}\n";
    let (diagnostics, _) = checked(text);
    let codes: Vec<&str> = diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["flow::duplicate-field"]);
    let text = text.replace("go: bool, ", "");
    let run = run(&text, json!({ "go": 1 }));
    assert_eq!(run.state()["a\"b"], 2);
}

#[test]
fn a_script_comparing_mismatched_types_fails_like_a_guard() {
    // A data-quality rule on a field that arrived as text: `false` would hide the problem.
    let run = run(
        "flow q {\n  state { age: any, flagged: bool = false }\n  node check { if age > 120 { flagged = true } }\n  start -> check\n}\n",
        json!({ "age": "999" }),
    );
    assert_eq!(run.code(), "flow::script-error");
    let rendered = run.rendered();
    assert!(
        rendered.contains("cannot compare string with int using `>`"),
        "{rendered}"
    );
    assert!(rendered.contains("convert one side"), "{rendered}");
}

fn run_limited(text: &str, input: Value, limits: Limits) -> Run {
    let options = RunOptions {
        limits,
        ..RunOptions::default()
    };
    run_with(text, input, &test_tools(), options, &CancelToken::new())
}

#[test]
fn a_data_job_of_a_million_cells_runs_at_the_default_limits() {
    let rows: Vec<Value> = (0..125_000)
        .map(|i| {
            json!({ "id": i, "name": format!("item {i}"), "price": 0.5, "qty": i % 7,
                    "tag": "t", "ok": true, "city": "Paris", "note": null })
        })
        .collect();
    let text = "flow job {\n  state { rows: list, n: int = 0 }\n  node rewrite {\n    n = rows.len();\n    rows = rows.map(|row| { row.total = row.price * row.qty; row });\n  }\n  start -> rewrite\n}\n";
    let tools = ToolRegistry::builtin();
    let program = flowc::check(&SourceFile::new("job.flow", text), &tools)
        .program
        .unwrap();
    // No log: the test is about the sandbox, not about writing a 15 MB trace.
    let interpreter = Interpreter::new(Arc::new(program), RunOptions::default());
    let outcome = interpreter
        .run(
            object(json!({ "rows": rows })),
            &mut NoEvents,
            &CancelToken::new(),
        )
        .unwrap_or_else(|error| panic!("{}", error.message()));
    let state = &outcome.state;
    assert_eq!(state["n"], 125_000);
    assert_eq!(state["rows"][124_998]["total"], 3.0);
}

#[test]
fn size_limits_are_per_value_not_nested_totals() {
    // 20 rows of 6 fields: 120 map entries in all, 6 in each map.
    let rows: Vec<Value> = (0..20)
        .map(|i| json!({ "a": i, "b": i, "c": i, "d": i, "e": i, "f": i }))
        .collect();
    let limits = Limits {
        max_map_size: 10,
        max_array_size: 30,
        ..Limits::default()
    };
    let text = "flow job {\n  state { rows: list, n: int = 0 }\n  node count { n = rows.len(); rows.push(#{ a: 1 }) }\n  start -> count\n}\n";
    let run = run_limited(text, json!({ "rows": rows }), limits.clone());
    assert_eq!(run.state()["n"], 20);
    // One list longer than `max_array_size` is refused, naming the limit.
    let text = "flow job {\n  state { xs: list = [] }\n  node fill { for i in 0..40 { xs.push(i) } }\n  start -> fill\n}\n";
    let run = run_limited(text, json!({}), limits);
    assert_eq!(run.code(), "flow::script-error");
    assert!(
        run.rendered()
            .contains("exceeded the sandbox limit `max_array_size` (30 elements)"),
        "{}",
        run.rendered()
    );
}

#[test]
fn a_map_filled_by_index_is_stopped_at_max_map_size() {
    // Never stored: only a check as the map grows can stop it.
    let limits = Limits {
        max_map_size: 10,
        ..Limits::default()
    };
    let text = "flow fill {\n  state { n: int = 0 }\n  node fill { let m = #{}; for i in 0..1000 { m[`k${i}`] = i; } n = m.len(); }\n  start -> fill\n}\n";
    let run = run_limited(text, json!({}), limits);
    assert_eq!(run.code(), "flow::script-error");
    assert!(
        run.rendered()
            .contains("exceeded the sandbox limit `max_map_size` (10 entries)"),
        "{}",
        run.rendered()
    );
}

#[test]
fn a_value_over_the_total_size_is_stopped_naming_the_limit() {
    let limits = Limits {
        max_total_size: 50,
        ..Limits::default()
    };
    let text = "flow grow {\n  state { n: int = 0 }\n  node grow { let rows = []; for i in 0..100 { rows.push([i, i]) } n = rows.len(); }\n  start -> grow\n}\n";
    let run = run_limited(text, json!({}), limits);
    assert!(
        run.rendered()
            .contains("exceeded the sandbox limit `max_total_size` (50 list elements"),
        "{}",
        run.rendered()
    );
}

#[test]
fn conversions_to_text_stop_at_max_string_size() {
    let limits = Limits {
        max_string_size: 100,
        ..Limits::default()
    };
    for conversion in ["m.to_json()", "m.to_string()", "`${m}`", "m.to_debug()"] {
        let text = format!(
            "flow show {{\n  state {{ s: string = \"\" }}\n  node show {{ let m = #{{}}; for i in 0..50 {{ m[`k${{i}}`] = i; }} s = {conversion}; }}\n  start -> show\n}}\n"
        );
        let run = run_limited(&text, json!({}), limits.clone());
        assert!(
            run.rendered()
                .contains("exceeded the sandbox limit `max_string_size` (100 bytes)"),
            "{conversion}: {}",
            run.rendered()
        );
    }
}

#[test]
fn print_output_per_step_is_bounded_in_bytes() {
    // 1,000 lines of 10 KB each: 10 MB if every byte were kept.
    let run = run(
        "flow noisy {\n  node noisy { let s = \"\"; s.pad(10000, 'x'); for i in 0..1000 { print(s) } }\n  start -> noisy\n}\n",
        json!({}),
    );
    let steps = run.steps();
    let output = steps[0]["output"].as_array().unwrap();
    let bytes: usize = output.iter().map(|l| l.as_str().unwrap().len()).sum();
    assert!(bytes <= 1024 * 1024 + 1024, "{bytes} bytes kept");
    assert!(
        output
            .last()
            .unwrap()
            .as_str()
            .unwrap()
            .contains("more lines not kept"),
        "{:?}",
        output.last()
    );
}

#[test]
fn a_failure_in_a_loop_names_the_item_being_processed() {
    // The first loop is left by `break`: the failure is in the second one.
    let run = run(
        "flow t {\n  state { rows: list, s: int = 0 }\n  node go { for x in [1, 2] { if x == 2 { break } } for row in rows { for t in row.tags { s += t.len() } } }\n  start -> go\n}\n",
        json!({ "rows": [{ "tags": ["a"] }, { "tags": ["b", 2] }] }),
    );
    assert!(
        run.rendered()
            .contains("no function `len` takes (int) (in the `for t` loop, at index 1)"),
        "{}",
        run.rendered()
    );
}
