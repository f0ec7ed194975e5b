//! The engine as a step machine: a run stopped after any step, its checkpoint and state
//! serialized and resumed by another interpreter, ends exactly as an uninterrupted run, with
//! the same steps; retries back off as `Sleeping`; stored records decode to what was logged.

use std::sync::Arc;
use std::time::SystemTime;

use flowc::CancelToken;
use flowc::runtime::{
    Checkpoint, Event, Interpreter, Progress, ResumeError, RunOptions, StoredRecord,
};
use flowc::tools::ToolRegistry;
use flowc::{SourceFile, check};
use serde_json::{Map, Value, json};

fn interpreter(text: &str) -> Interpreter {
    let checked = check(&SourceFile::new("f.flow", text), &ToolRegistry::builtin());
    let program = checked.program.expect("the test flow compiles");
    Interpreter::new(Arc::new(program), RunOptions::default())
}

/// Nested loops, a guard, an error edge: every kind of position a checkpoint can hold.
const NESTED: &str = r#"flow nested {
    state { i: int = 0, j: int = 0, total: int = 0, log: list = [] }
    node reset { j = 0 }
    node add { total += i * j; j += 1 }
    node note { log.push(`${i}:${total}`); i += 1 }
    node fail { throw "odd" }
    node recover
    start -> outer
    loop outer max 5 {
        reset -> inner
        loop inner max 4 {
            add
        } until j >= 3
        inner -> note
    } until i >= 4
    outer -> fail
    fail -> end
    fail -> recover on error
    recover -> end
}
"#;

/// Where a run stopped: its checkpoint and state.
type Stopped = (Checkpoint, Map<String, Value>);

/// The (node, loop iteration) of each step record, and the final state.
fn drive(
    interpreter: &Interpreter,
    mut run: flowc::runtime::Run,
    steps: &mut Vec<(String, Option<u64>)>,
    stop_after: Option<usize>,
) -> Result<Map<String, Value>, Box<Stopped>> {
    let cancel = CancelToken::new();
    let mut taken = 0;
    loop {
        let mut sink = |event: &Event| {
            if let Event::Step(step) = event {
                steps.push((
                    step.node.name.to_string(),
                    step.in_loop.as_ref().map(|position| position.iteration),
                ));
            }
        };
        match interpreter.step(&mut run, &mut sink, &cancel) {
            Progress::Continued => {
                taken += 1;
                if stop_after == Some(taken) {
                    let checkpoint = run.sync_checkpoint().clone();
                    return Err(Box::new((checkpoint, run.state_json())));
                }
            }
            Progress::Finished => return Ok(run.into_outcome().state),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_run_resumed_after_any_step_ends_as_an_uninterrupted_run() {
    let whole = interpreter(NESTED);
    let mut expected_steps = Vec::new();
    let expected = drive(
        &whole,
        whole.start(Map::new()).unwrap(),
        &mut expected_steps,
        None,
    )
    .expect("the whole run finishes");
    assert_eq!(expected["log"], json!(["0:0", "1:3", "2:9", "3:18"]));
    assert!(expected["error"].is_object(), "the error edge was taken");
    for stop in 1..expected_steps.len() {
        let first = interpreter(NESTED);
        let mut steps = Vec::new();
        let (checkpoint, state) = *drive(
            &first,
            first.start(Map::new()).unwrap(),
            &mut steps,
            Some(stop),
        )
        .expect_err("stopped");
        // Through text, as a store keeps it, into an interpreter of its own.
        let checkpoint: Checkpoint =
            serde_json::from_str(&serde_json::to_string(&checkpoint).unwrap()).unwrap();
        let state: Map<String, Value> =
            serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
        let second = interpreter(NESTED);
        let run = second.resume(checkpoint, state).expect("it resumes");
        let end = drive(&second, run, &mut steps, None).expect("the rest finishes");
        assert_eq!(end, expected, "stopped after step {stop}");
        assert_eq!(steps, expected_steps, "stopped after step {stop}");
    }
}

#[test]
fn a_checkpoint_of_another_program_is_refused_naming_both() {
    let first = interpreter("flow f {\n  node a { n = 1 }\n  start -> a\n}\n");
    let run = first.start(Map::new()).unwrap();
    let checkpoint = run.checkpoint().clone();
    let other = interpreter("flow f {\n  node a { n = 2 }\n  start -> a\n}\n");
    match other.resume(checkpoint.clone(), Map::new()) {
        Err(ResumeError::ProgramChanged { stored, current }) => {
            assert_eq!(stored, checkpoint.program);
            assert_eq!(current, other.program().hash);
            assert_ne!(stored, current);
        }
        other => panic!("expected ProgramChanged, got {other:?}"),
    }
}

#[test]
fn a_checkpoint_that_does_not_fit_the_program_is_refused() {
    let interpreter = interpreter(NESTED);
    let mut checkpoint = interpreter.start(Map::new()).unwrap().checkpoint().clone();
    checkpoint.at = Some(999);
    assert!(matches!(
        interpreter.resume(checkpoint.clone(), Map::new()),
        Err(ResumeError::BadCheckpoint { .. })
    ));
    checkpoint.at = Some(0);
    checkpoint.loops = vec![1, 2, 3];
    assert!(matches!(
        interpreter.resume(checkpoint, Map::new()),
        Err(ResumeError::BadCheckpoint { .. })
    ));
}

#[test]
fn a_retry_backs_off_as_sleeping_and_resumes_where_it_left() {
    let interpreter = interpreter(
        "flow f {\n  node flaky { throw \"not yet\" } retry 2 backoff 20ms\n  start -> flaky\n}\n",
    );
    let cancel = CancelToken::new();
    let mut run = interpreter.start(Map::new()).unwrap();
    let mut sleeps = Vec::new();
    let mut attempts = Vec::new();
    loop {
        let mut sink = |event: &Event| match event {
            Event::NodeStarted(started) => attempts.push(started.attempt),
            Event::Step(step) => assert_eq!(step.attempts, 3),
            _ => {}
        };
        match interpreter.step(&mut run, &mut sink, &cancel) {
            Progress::Sleeping { until } => {
                sleeps.push(until);
                // As after a crash: the backoff is in the checkpoint, and the run sleeps on.
                let checkpoint = run.sync_checkpoint().clone();
                assert!(
                    checkpoint
                        .begun
                        .as_ref()
                        .unwrap()
                        .backoff_until_ms
                        .is_some()
                );
                run = interpreter.resume(checkpoint, run.state_json()).unwrap();
                assert!(matches!(
                    interpreter.step(&mut run, &mut flowc::runtime::NoEvents, &cancel),
                    Progress::Sleeping { .. }
                ));
                flowc::runtime::sleep_until(until, &cancel);
            }
            Progress::Failed(error) => {
                assert_eq!(error.short_code(), "script-error");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(attempts, [1, 2, 3]);
    assert_eq!(
        sleeps.len(),
        2,
        "two failed attempts before the last, two backoffs"
    );
    assert!(sleeps[1] > sleeps[0]);
    assert!(sleeps[0] > SystemTime::UNIX_EPOCH);
    assert_eq!(run.steps(), 1, "one step, three attempts");
}

#[test]
fn stored_records_decode_to_the_records_logged() {
    let interpreter = interpreter(NESTED);
    let mut logged = Vec::new();
    let mut sink = |event: &Event| logged.push(event.clone());
    interpreter
        .run(Map::new(), &mut sink, &CancelToken::new())
        .unwrap();
    let mut kept = 0;
    for event in &logged {
        let Some(stored) = StoredRecord::encode(event) else {
            assert!(matches!(event, Event::NodeStarted(_)));
            continue;
        };
        kept += 1;
        let decoded = interpreter
            .decode(
                stored.seq,
                stored.kind,
                &stored.record,
                stored.changes.as_deref(),
                None,
            )
            .unwrap();
        let mut expected = serde_json::to_value(event).unwrap();
        let decoded = serde_json::to_value(&decoded).unwrap();
        if let Event::RunFinished(_) = event {
            // The store keeps the final state apart.
            expected.as_object_mut().unwrap().remove("state");
        }
        // Times are kept to the microsecond, as the trace shows them.
        assert_eq!(decoded, expected);
    }
    assert_eq!(kept, logged.iter().filter(|e| e.seq().is_some()).count());
}

#[test]
fn a_tools_stderr_goes_to_its_step_and_each_action_announces_its_start() {
    let interpreter = interpreter(
        "flow f {\n  node lint = exec(cmd: \"sh -c 'echo checking >&2; echo one warning >&2; echo {}'\")\n  node pass\n  start -> lint -> pass\n}\n",
    );
    let mut logged = Vec::new();
    let mut sink = |event: &Event| logged.push(event.clone());
    interpreter
        .run(Map::new(), &mut sink, &CancelToken::new())
        .unwrap();
    let kinds: Vec<&str> = logged.iter().map(Event::kind).collect();
    // The junction `pass` has no action to announce.
    assert_eq!(
        kinds,
        [
            "run_started",
            "node_started",
            "step",
            "step",
            "run_finished"
        ]
    );
    let Event::Step(step) = &logged[2] else {
        panic!("{:?}", logged[2])
    };
    assert_eq!(step.stderr, ["checking", "one warning"]);
    let Event::RunFinished(finished) = &logged[4] else {
        panic!()
    };
    assert_eq!(finished.state, Some(Map::new()));
}

/// A stored checkpoint is input: whatever a damaged or hand-edited store holds, resuming and
/// stepping never panics — the run is refused or ends with an error.
mod hostile_checkpoints {
    use proptest::prelude::*;

    use super::{CancelToken, Checkpoint, Map, NESTED, Progress, interpreter, json};
    use flowc::runtime::{Begun, NoEvents, WaitRequest};

    fn checkpoints() -> impl Strategy<Value = Checkpoint> {
        let begun = (
            prop_oneof![Just(u64::MAX), any::<u64>()],
            prop_oneof![Just(u32::MAX), 0u32..5],
            proptest::option::of(prop_oneof![Just(u64::MAX), any::<u64>()]),
            any::<bool>(),
            proptest::option::of((0u32..12, proptest::option::of(any::<u64>()))),
        )
            .prop_map(
                |(started_at_us, attempts, backoff, once_started, waiting)| Begun {
                    started_at_us,
                    attempts,
                    backoff_until_ms: backoff,
                    once_started,
                    waiting: waiting.map(|(node, deadline_ms)| WaitRequest {
                        node,
                        name: "x".to_owned(),
                        prompt: "p".to_owned(),
                        deadline_ms,
                    }),
                },
            );
        (
            proptest::option::of(0u32..12),
            proptest::collection::vec(prop_oneof![Just(u64::MAX), any::<u64>()], 0..4),
            prop_oneof![Just(u64::MAX), any::<u64>()],
            prop_oneof![Just(u64::MAX), any::<u64>()],
            prop_oneof![Just(u64::MAX), any::<u64>()],
            proptest::option::of(begun),
        )
            .prop_map(|(at, loops, steps, seq, elapsed_us, begun)| Checkpoint {
                program: String::new(),
                at,
                loops,
                steps,
                seq,
                started_at_us: 0,
                elapsed_us,
                begun,
                ended: None,
                max_steps: Some(steps.saturating_add(3)),
                timeout_ms: None,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn resuming_any_checkpoint_never_panics(mut checkpoint in checkpoints(), n in any::<i64>()) {
            let interpreter = interpreter(NESTED);
            checkpoint.program.clone_from(&interpreter.program().hash);
            let state = Map::from_iter([("i".to_owned(), json!(n)), ("j".to_owned(), json!(n))]);
            if let Ok(mut run) = interpreter.resume(checkpoint, state) {
                let cancel = CancelToken::new();
                for _ in 0..50 {
                    match interpreter.step(&mut run, &mut NoEvents, &cancel) {
                        Progress::Continued => {}
                        _ => break,
                    }
                }
            }
        }
    }
}

#[test]
fn a_resumed_run_keeps_its_own_step_limit() {
    let checked = check(&SourceFile::new("f.flow", NESTED), &ToolRegistry::builtin());
    let program = Arc::new(checked.program.expect("the test flow compiles"));
    let strict = Interpreter::new(
        Arc::clone(&program),
        RunOptions {
            max_steps: 3,
            ..RunOptions::default()
        },
    );
    let cancel = CancelToken::new();
    let mut run = strict.start(Map::new()).unwrap();
    assert!(matches!(
        strict.step(&mut run, &mut flowc::runtime::NoEvents, &cancel),
        Progress::Continued
    ));
    let checkpoint = run.sync_checkpoint().clone();
    assert_eq!(checkpoint.max_steps, Some(3));
    // Another process, with the default limit of 10,000: the run's own 3 still holds.
    let lenient = Interpreter::new(program, RunOptions::default());
    let mut run = lenient.resume(checkpoint, run.state_json()).unwrap();
    let failure = loop {
        match lenient.step(&mut run, &mut flowc::runtime::NoEvents, &cancel) {
            Progress::Continued => {}
            Progress::Failed(error) => break error,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(failure.short_code(), "max-steps");
    assert_eq!(run.steps(), 3);
}
