//! Durable runs with the real binary and real SQLite files: `flowc run --db` killed with
//! SIGKILL at many points (between steps, inside a script, inside an `exec`, during a
//! backoff) and finished by `flowc resume` with exactly the final state and the steps of an
//! uninterrupted run; a `wait` resumed from a second process; a `once` node interrupted;
//! stores that are not ours.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn flowc(dir: &Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("flowc"));
    command.current_dir(dir).env("NO_COLOR", "1");
    command
}

fn output(command: &mut Command) -> Output {
    command.stdin(Stdio::null()).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not JSON ({error}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A folder holding `flow` as `f.flow`.
fn flow_dir(flow: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "f.flow", flow);
    dir
}

/// `flowc show RUN --format json`.
fn show(dir: &Path, db: &str, run: u64) -> Value {
    let out = output(flowc(dir).args(["show", &run.to_string(), "--db", db, "--format", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout_json(&out)
}

/// Each stored step as (step number, node, loop iteration).
fn steps(shown: &Value) -> Vec<(u64, String, Option<u64>)> {
    shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["event"] == "step")
        .map(|event| {
            (
                event["step"].as_u64().unwrap(),
                event["node"].as_str().unwrap().to_owned(),
                event["loop"]["iteration"].as_u64(),
            )
        })
        .collect()
}

/// Whether the store exists, is set up and holds `run`.
fn holds_run(dir: &Path, db: &str, run: u64) -> bool {
    let out = output(flowc(dir).args(["runs", "--db", db, "--format", "json"]));
    out.status.success()
        && stdout_json(&out)
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == run)
}

/// The status `flowc runs` gives the run.
fn status(dir: &Path, db: &str, run: u64) -> String {
    let out = output(flowc(dir).args(["runs", "--db", db, "--format", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let runs = stdout_json(&out);
    runs.as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == run)
        .map(|r| r["status"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Runs `flow` with `--db` and kills it with SIGKILL after `delay`; returns whether it was
/// still running then.
fn run_and_kill(dir: &Path, flow: &str, db: &str, extra: &[&str], delay: Duration) -> bool {
    let mut child = flowc(dir)
        .args(["run", flow, "--db", db, "-q"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    running
}

/// Resumes until the run ends (a kill may land before the first commit: then there is no
/// run to resume, and the test runs again).
fn resume(dir: &Path, db: &str, run: u64) -> Output {
    output(flowc(dir).args(["resume", &run.to_string(), "--db", db, "-q"]))
}

/// The uninterrupted run's final state and steps.
fn reference(dir: &Path, flow: &str, extra: &[&str]) -> (Value, Vec<(u64, String, Option<u64>)>) {
    let db = "reference.db";
    let out = output(flowc(dir).args(["run", flow, "--db", db, "-q"]).args(extra));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let state = stdout_json(&out);
    (state, steps(&show(dir, db, 1)))
}

/// Kills the run at each delay and checks that `resume` finishes it as `reference` did.
fn crash_and_resume(flow_text: &str, extra: &[&str], delays: &[u64]) {
    let dir = flow_dir(flow_text);
    let (expected_state, expected_steps) = reference(dir.path(), "f.flow", extra);
    let mut interrupted = 0;
    for (index, &delay) in delays.iter().enumerate() {
        let db = format!("crash-{index}.db");
        let killed = run_and_kill(
            dir.path(),
            "f.flow",
            &db,
            extra,
            Duration::from_millis(delay),
        );
        // A kill that lands before the store is set up or the run is created leaves
        // nothing to resume (on a loaded machine that can take longer than `delay`).
        if !killed || !dir.path().join(&db).exists() || !holds_run(dir.path(), &db, 1) {
            continue;
        }
        let before = status(dir.path(), &db, 1);
        assert_eq!(before, "interrupted", "after SIGKILL at {delay} ms");
        interrupted += 1;
        let out = resume(dir.path(), &db, 1);
        assert_eq!(
            out.status.code(),
            Some(0),
            "resume after a kill at {delay} ms: {}",
            stderr(&out)
        );
        assert_eq!(stdout_json(&out), expected_state, "killed at {delay} ms");
        let shown = show(dir.path(), &db, 1);
        assert_eq!(shown["run"]["status"], "completed");
        assert_eq!(shown["state"], expected_state);
        assert_eq!(steps(&shown), expected_steps, "killed at {delay} ms");
    }
    assert!(
        interrupted * 2 >= delays.len(),
        "only {interrupted} of {} kills interrupted a run",
        delays.len()
    );
}

#[test]
fn a_run_killed_between_steps_is_finished_by_resume() {
    let flow = "flow counter {\n    state { n: int = 0, limit: int, log: list = [] }\n    node inc { n += 1; if n % 100 == 0 { log.push(n) } }\n    start -> inc\n    inc -> inc when n < limit\n    inc -> end\n}\n";
    crash_and_resume(
        flow,
        &["--set", "limit=4000", "--max-steps", "10000"],
        &[40, 80, 130, 200, 300],
    );
}

#[test]
fn a_run_killed_inside_a_script_or_a_loop_is_finished_by_resume() {
    let flow = "flow busy {\n    state { rounds: int = 0, sum: int = 0 }\n    node work { let i = 0; while i < 20000 { i += 1 }; sum += i; rounds += 1 }\n    node tally { sum += 1 }\n    start -> batch\n    loop batch max 50 {\n        work -> tally\n    } until rounds >= 40\n    batch -> end\n}\n";
    crash_and_resume(flow, &[], &[60, 150, 260, 400]);
}

#[test]
fn a_run_killed_inside_an_exec_is_finished_by_resume() {
    let flow = "flow slow {\n    state { n: int = 0 }\n    node wait = exec(cmd: \"sleep 0.15\")\n    node count { n += 1 }\n    start -> wait -> count\n    count -> wait when n < 4\n    count -> end\n}\n";
    crash_and_resume(flow, &[], &[100, 250, 420]);
}

#[test]
fn a_run_killed_during_a_backoff_waits_out_the_rest_and_finishes() {
    // Fails twice (a file counts the attempts), then succeeds: two backoffs of 300 ms+.
    let flow = "flow flaky {\n    state { done: bool = false }\n    node try_it = exec(cmd: \"sh flaky.sh\") retry 3 backoff 300ms\n    start -> try_it\n}\n";
    let dir = flow_dir(flow);
    write(
        dir.path(),
        "flaky.sh",
        "n=$(cat tries 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > tries\n[ $n -ge 3 ] && echo '{\"done\": true}'\n",
    );
    let killed = run_and_kill(
        dir.path(),
        "f.flow",
        "runs.db",
        &[],
        Duration::from_millis(150),
    );
    assert!(killed, "the run was still in its first backoff");
    assert_eq!(status(dir.path(), "runs.db", 1), "interrupted");
    let started = Instant::now();
    let out = resume(dir.path(), "runs.db", 1);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout_json(&out), json!({ "done": true }));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tries"))
            .unwrap()
            .trim(),
        "3"
    );
    // The rest of the first backoff, then the second (600 ms).
    assert!(started.elapsed() >= Duration::from_millis(600));
    let shown = show(dir.path(), "runs.db", 1);
    let step = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["event"] == "step")
        .unwrap()
        .clone();
    assert_eq!(step["attempts"], 3);
}

#[test]
fn a_waiting_run_is_resumed_from_another_process_with_its_input() {
    let flow = "flow refund {\n    state { amount: int, approved: bool = false, paid: bool = false }\n    node approve = wait(prompt: \"Approve the refund?\", timeout: 1h)\n    node pay { paid = approved }\n    start -> approve -> pay\n}\n";
    let dir = flow_dir(flow);
    let out =
        output(flowc(dir.path()).args(["run", "f.flow", "--db", "runs.db", "--set", "amount=30"]));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("waits at `approve`"), "{message}");
    assert!(message.contains("Approve the refund?"), "{message}");
    assert!(
        message.contains("flowc resume 1 --db runs.db --input"),
        "{message}"
    );
    assert_eq!(status(dir.path(), "runs.db", 1), "waiting");
    // Input that does not fit the schema is refused, and the run still waits.
    let out = output(flowc(dir.path()).args([
        "resume",
        "1",
        "--db",
        "runs.db",
        "--input",
        r#"{"approved": "yes"}"#,
    ]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid-write"), "{}", stderr(&out));
    assert_eq!(status(dir.path(), "runs.db", 1), "waiting");
    let out = output(flowc(dir.path()).args([
        "resume",
        "1",
        "--db",
        "runs.db",
        "-q",
        "--input",
        r#"{"approved": true}"#,
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout_json(&out),
        json!({ "amount": 30, "approved": true, "paid": true })
    );
    let shown = show(dir.path(), "runs.db", 1);
    let kinds: Vec<&str> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "run_started",
            "waiting",
            "run_resumed",
            "step",
            "step",
            "run_finished"
        ]
    );
    // The waiting node ran once: its step has the input as its changes.
    assert_eq!(shown["events"][3]["node"], "approve");
    assert_eq!(shown["events"][3]["changes"], json!({ "approved": true }));
    // A finished run is not resumed again.
    let out = resume(dir.path(), "runs.db", 1);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn a_once_node_interrupted_by_sigkill_needs_attention_until_a_person_reruns_it() {
    let flow = "flow pay {\n    state { paid: int = 0 }\n    node charge = exec(cmd: \"sh -c 'echo x >> charges; sleep 2'\") once\n    start -> charge\n}\n";
    let dir = flow_dir(flow);
    let killed = run_and_kill(
        dir.path(),
        "f.flow",
        "runs.db",
        &[],
        Duration::from_millis(400),
    );
    assert!(killed);
    let out = resume(dir.path(), "runs.db", 1);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`charge` runs at most once"),
        "{}",
        stderr(&out)
    );
    assert_eq!(status(dir.path(), "runs.db", 1), "needs-attention");
    let charges = std::fs::read_to_string(dir.path().join("charges")).unwrap();
    assert_eq!(charges.lines().count(), 1, "the side effect happened once");
    let out =
        output(flowc(dir.path()).args(["runs", "--db", "runs.db", "--status", "needs-attention"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("needs-attention"));

    // A person checked: the charge did not go through. `--rerun` runs the node again.
    let rerun = ["resume", "--db", "runs.db", "1", "--rerun", "--quiet"];
    let out = output(flowc(dir.path()).args(rerun));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status(dir.path(), "runs.db", 1), "completed");
    let charges = std::fs::read_to_string(dir.path().join("charges")).unwrap();
    assert_eq!(charges.lines().count(), 2, "run again, once");
    // Only a run that needs attention is settled.
    let out = output(flowc(dir.path()).args(rerun));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is completed, not needs-attention"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("help: it has ended: there is nothing to rerun"),
        "{}",
        stderr(&out)
    );

    // Killed inside the node again; this time the charge went through: cancel the run.
    assert!(run_and_kill(
        dir.path(),
        "f.flow",
        "runs.db",
        &[],
        Duration::from_millis(400),
    ));
    let out = resume(dir.path(), "runs.db", 2);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(status(dir.path(), "runs.db", 2), "needs-attention");
    let out = output(flowc(dir.path()).args(["cancel", "2", "--db", "runs.db"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "run 2 cancelled\n");
    assert_eq!(status(dir.path(), "runs.db", 2), "cancelled");
    let charges = std::fs::read_to_string(dir.path().join("charges")).unwrap();
    assert_eq!(charges.lines().count(), 3, "not run again");
}

#[test]
fn cancel_ends_a_waiting_run_and_leaves_a_finished_one_as_it_is() {
    let flow = "flow ask {\n    state { ok: bool = false }\n    node approve = wait(prompt: \"OK?\")\n    start -> approve\n}\n";
    let dir = flow_dir(flow);
    let out = output(flowc(dir.path()).args(["run", "f.flow", "--db", "runs.db"]));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let cancel = ["cancel", "1", "--db", "runs.db"];
    let out = output(flowc(dir.path()).args(cancel));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status(dir.path(), "runs.db", 1), "cancelled");
    // Again: nothing changes, and it says so.
    let out = output(flowc(dir.path()).args(cancel));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "run 1 cancelled\n");
    // A cancelled run is not resumed.
    let out = resume(dir.path(), "runs.db", 1);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    write(
        dir.path(),
        "g.flow",
        "flow done {\n    node a { #{} }\n    start -> a\n}\n",
    );
    let out = output(flowc(dir.path()).args(["run", "g.flow", "--db", "runs.db", "-q"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = output(flowc(dir.path()).args(["cancel", "2", "--db", "runs.db"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "run 2 had already ended completed: nothing to cancel\n"
    );
    assert_eq!(status(dir.path(), "runs.db", 2), "completed");
    let out = output(flowc(dir.path()).args(["cancel", "9", "--db", "runs.db"]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("no run 9"), "{}", stderr(&out));
    // A mistyped store is reported, not made.
    for command in ["cancel", "resume"] {
        let out = output(flowc(dir.path()).args([command, "1", "--db", "typo.db"]));
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("there is no run store at `typo.db`"));
        assert!(!dir.path().join("typo.db").exists());
    }
}

#[test]
fn stores_that_are_not_ours_are_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "f.flow",
        "flow f {\n    node a = noop\n    start -> a\n}\n",
    );
    write(dir.path(), "garbage.db", &"not a database\n".repeat(200));
    let before = std::fs::read(dir.path().join("garbage.db")).unwrap();
    for args in [
        vec!["run", "f.flow", "--db", "garbage.db"],
        vec!["runs", "--db", "garbage.db"],
        vec!["show", "1", "--db", "garbage.db"],
        vec!["resume", "1", "--db", "garbage.db"],
    ] {
        let out = output(flowc(dir.path()).args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("error: "),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        std::fs::read(dir.path().join("garbage.db")).unwrap(),
        before
    );
    let out = output(flowc(dir.path()).args(["runs", "--db", "missing.db"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !dir.path().join("missing.db").exists(),
        "listing creates no store"
    );
}

#[test]
fn runs_lists_and_filters_stored_runs() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "ok.flow",
        "flow ok {\n    node a = noop\n    start -> a\n}\n",
    );
    write(
        dir.path(),
        "bad.flow",
        "flow bad {\n    node a { throw \"no\" }\n    start -> a\n}\n",
    );
    assert_eq!(
        output(flowc(dir.path()).args(["run", "ok.flow", "--db", "r.db", "-q"]))
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        output(flowc(dir.path()).args(["run", "bad.flow", "--db", "r.db", "-q"]))
            .status
            .code(),
        Some(3)
    );
    let out = output(flowc(dir.path()).args(["runs", "--db", "r.db"]));
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID"), "{table}");
    assert!(
        lines[1].starts_with("2 ") && lines[1].contains("bad") && lines[1].contains("failed"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("1 ") && lines[2].contains("ok") && lines[2].contains("completed"),
        "{table}"
    );
    let out = output(flowc(dir.path()).args([
        "runs", "--db", "r.db", "--status", "failed", "--format", "json",
    ]));
    let runs = stdout_json(&out);
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["error"]["code"], "script-error");
    let out = output(
        flowc(dir.path()).args(["runs", "--db", "r.db", "--flow", "ok", "--format", "json"]),
    );
    assert_eq!(stdout_json(&out)[0]["flow"], "ok");
    let out = output(flowc(dir.path()).args(["show", "2", "--db", "r.db"]));
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        shown.starts_with("run 2 · bad · failed · 1 steps"),
        "{shown}"
    );
    assert!(shown.contains("a (script"), "{shown}");
}

#[test]
fn a_resumed_run_keeps_the_step_limit_it_was_started_with() {
    let flow = "flow f {\n    state { n: int = 0 }\n    node ask = wait(prompt: \"go?\")\n    node inc { n += 1 }\n    start -> ask -> inc\n    inc -> inc when n < 100\n    inc -> end\n}\n";
    let dir = flow_dir(flow);
    let out =
        output(flowc(dir.path()).args(["run", "f.flow", "--db", "runs.db", "--max-steps", "5"]));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let out =
        output(flowc(dir.path()).args(["resume", "1", "--db", "runs.db", "-q", "--input", "{}"]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("limit of 5 steps"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_prompt_reaches_the_terminal_without_its_control_characters() {
    let flow =
        "flow f {\n    node ask = wait(prompt: \"ok?\\u001b[2J\\nrm -rf\")\n    start -> ask\n}\n";
    let dir = flow_dir(flow);
    let out = output(flowc(dir.path()).args(["run", "f.flow", "--db", "runs.db"]));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(!stderr(&out).contains('\u{1b}'), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("waits at `ask`: ok?\\u{1b}[2J\\u{a}rm -rf\n"),
        "{}",
        stderr(&out)
    );
    let out = output(flowc(dir.path()).args(["show", "1", "--db", "runs.db"]));
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\u{1b}'));
}

#[test]
fn a_failure_message_in_a_step_line_has_no_control_characters() {
    let flow = "flow f {\n    node boom { throw \"bad\\u001b[2J\\nnews\" }\n    start -> boom\n}\n";
    let dir = flow_dir(flow);
    for args in [
        vec!["run", "f.flow", "--db", "runs.db"],
        vec!["show", "1", "--db", "runs.db"],
    ] {
        let out = output(flowc(dir.path()).args(&args));
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(!all.contains('\u{1b}'), "{args:?}: {all}");
        assert!(
            all.contains("failed: script-error: bad\\u{1b}[2J\\u{a}news"),
            "{args:?}: {all}"
        );
    }
}
