//! The `exec` tool with real child processes: the stdin/stdout protocol, failures, timeouts
//! and cancellation, and that no process outlives the call.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use std::{fs, thread};

use flowc::CancelToken;
use flowc::tools::{FailureKind, ToolCall, ToolFailure, ToolRegistry};
use serde_json::{Map, Value, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/exec")
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Calls `exec` as the engine would: node `step`, the fixtures folder as working directory.
fn exec_with(
    args: Value,
    state: Value,
    cancel: &CancelToken,
    deadline: Option<Instant>,
) -> Result<Map<String, Value>, ToolFailure> {
    let registry = ToolRegistry::builtin();
    let exec = registry.implementation("exec").expect("exec is built in");
    let (args, state, workdir) = (object(args), object(state), fixtures());
    exec.call(&ToolCall {
        node: "step",
        args: &args,
        state: &state,
        cancel,
        deadline,
        workdir: &workdir,
        files: &flowc::tools::FileAccess::nowhere(),
        log: &flowc::tools::ToolLog::default(),
    })
}

fn exec(cmd: &str) -> Result<Map<String, Value>, ToolFailure> {
    exec_with(
        json!({ "cmd": cmd }),
        json!({ "n": 1 }),
        &CancelToken::new(),
        None,
    )
}

fn exec_failure(cmd: &str) -> ToolFailure {
    exec(cmd).expect_err("the call fails")
}

/// A file for a command to write process ids into, as one sh word.
fn pid_file(dir: &tempfile::TempDir) -> (PathBuf, String) {
    let path = dir.path().join("pids");
    let word = format!("'{}'", path.display());
    (path, word)
}

fn read_pids(path: &Path, expected: usize) -> Vec<u32> {
    let text = fs::read_to_string(path).expect("the command wrote its pids");
    let pids: Vec<u32> = text
        .lines()
        .map(|line| line.trim().parse().expect("a pid"))
        .collect();
    assert_eq!(pids.len(), expected, "pids written: {text:?}");
    pids
}

/// Gone, or a zombie: killed, and only waiting for a parent that is gone too to be reaped.
fn is_gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

fn assert_all_gone(pids: &[u32]) {
    // SIGKILL is delivered at once, but leaving the process table can take a moment.
    let until = Instant::now() + Duration::from_secs(2);
    for &pid in pids {
        while !is_gone(pid) {
            assert!(Instant::now() < until, "process {pid} is still running");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn the_command_gets_state_args_and_node_on_stdin_and_runs_in_the_workdir() {
    let changes = exec_with(
        json!({ "cmd": "./echo_input.sh", "extra": [1, 2] }),
        json!({ "n": 1, "name": "flow" }),
        &CancelToken::new(),
        None,
    )
    .expect("the command succeeds");
    assert_eq!(
        changes["input"],
        json!({
            "state": { "n": 1, "name": "flow" },
            "args": { "cmd": "./echo_input.sh", "extra": [1, 2] },
            "node": "step",
        })
    );
    let workdir = fs::canonicalize(fixtures()).expect("the fixtures exist");
    assert_eq!(
        changes["cwd"],
        json!(workdir.to_str().expect("a UTF-8 path"))
    );
}

#[test]
fn a_relative_workdir_and_program_path_resolve_from_the_engines_directory() {
    // `cargo test` runs this binary in the package root.
    let (args, state) = (object(json!({ "cmd": "./echo_input.sh" })), Map::new());
    let call = ToolCall {
        node: "step",
        args: &args,
        state: &state,
        cancel: &CancelToken::new(),
        deadline: None,
        workdir: Path::new("tests/fixtures/exec"),
        files: &flowc::tools::FileAccess::nowhere(),
        log: &flowc::tools::ToolLog::default(),
    };
    let registry = ToolRegistry::builtin();
    let changes = registry
        .implementation("exec")
        .expect("exec is built in")
        .call(&call);
    let workdir = fs::canonicalize(fixtures()).expect("the fixtures exist");
    assert_eq!(
        changes.expect("it succeeds")["cwd"],
        json!(workdir.to_str().expect("UTF-8"))
    );
}

#[test]
fn the_printed_object_is_the_nodes_changes() {
    let changes =
        exec(r#"sh -c 'echo "{\"count\": 3, \"tags\": [\"a b\"]}"'"#).expect("it succeeds");
    assert_eq!(
        Value::Object(changes),
        json!({ "count": 3, "tags": ["a b"] })
    );
}

#[test]
fn words_are_split_without_a_shell() {
    // No shell: `$HOME` and `*` reach the program as written.
    let changes = exec(r#"printf '{"a": "%s", "b": "%s"}' $HOME *"#).expect("it succeeds");
    assert_eq!(Value::Object(changes), json!({ "a": "$HOME", "b": "*" }));
}

#[test]
fn empty_or_blank_stdout_means_no_changes() {
    assert_eq!(exec("true"), Ok(Map::new()));
    assert_eq!(exec(r"printf ' \n\t\n'"), Ok(Map::new()));
}

#[test]
fn a_large_state_cannot_deadlock_the_pipes() {
    // Far more than a pipe holds, both into a command that never reads stdin and through
    // `cat`, which writes its stdout while its stdin is still being fed.
    let big = "x".repeat(4 * 1024 * 1024);
    let state = json!({ "big": big });
    let cancel = CancelToken::new();
    let ignored = exec_with(
        json!({ "cmd": "echo {}", "timeout": 10_000 }),
        state.clone(),
        &cancel,
        None,
    );
    assert_eq!(ignored, Ok(Map::new()));
    let echoed = exec_with(
        json!({ "cmd": "cat", "timeout": 10_000 }),
        state,
        &cancel,
        None,
    )
    .expect("cat succeeds");
    assert_eq!(
        echoed["state"]["big"].as_str().map(str::len),
        Some(big.len())
    );
    assert_eq!(echoed["node"], "step");
}

#[test]
fn a_non_zero_exit_fails_with_the_status_and_the_end_of_stderr() {
    let failure = exec_failure("sh -c 'for i in $(seq 1 50); do echo line $i >&2; done; exit 3'");
    assert_eq!(failure.kind, FailureKind::Failed);
    let message = &failure.message;
    assert!(message.contains("exit status: 3"), "{message}");
    let lines: Vec<&str> = message.lines().map(str::trim).collect();
    assert!(
        lines.contains(&"line 50") && lines.contains(&"line 31"),
        "{message}"
    );
    assert!(
        !lines.contains(&"line 30"),
        "only the last 20 lines: {message}"
    );
    assert!(
        lines.contains(&"…"),
        "says that lines were left out: {message}"
    );
}

#[test]
fn a_command_killed_by_a_signal_fails() {
    let failure = exec_failure("sh -c 'echo dying >&2; kill -KILL $$'");
    assert_eq!(failure.kind, FailureKind::Failed);
    assert!(failure.message.contains("SIGKILL"), "{}", failure.message);
    assert!(failure.message.contains("dying"), "{}", failure.message);
}

#[test]
fn invalid_json_fails_with_the_start_of_stdout_and_the_parse_error() {
    let failure = exec_failure("sh -c 'echo not json; echo complaint >&2'");
    assert_eq!(failure.kind, FailureKind::Failed);
    let message = &failure.message;
    assert!(message.contains("invalid JSON"), "{message}");
    assert!(message.contains("expected"), "the parse error: {message}");
    assert!(
        message.contains("not json"),
        "the start of stdout: {message}"
    );
    assert!(
        message.contains("complaint"),
        "the end of stderr: {message}"
    );
}

#[test]
fn more_than_one_json_document_is_invalid() {
    let failure = exec_failure(r#"echo '{"a": 1} {"b": 2}'"#);
    assert!(
        failure.message.contains("trailing characters"),
        "{}",
        failure.message
    );
}

#[test]
fn json_that_is_not_an_object_fails() {
    let failure = exec_failure("echo '[1, 2]'");
    assert_eq!(failure.kind, FailureKind::Failed);
    assert!(failure.message.contains("an array"), "{}", failure.message);
    assert!(failure.message.contains("[1, 2]"), "{}", failure.message);
}

#[test]
fn a_missing_command_cannot_start() {
    let failure = exec_failure("flowc-no-such-command --flag");
    assert_eq!(failure.kind, FailureKind::Failed);
    assert!(
        failure
            .message
            .starts_with("cannot start `flowc-no-such-command`: "),
        "{}",
        failure.message
    );
}

#[test]
fn a_file_that_is_not_executable_cannot_start() {
    let failure = exec_failure("./not_executable.sh");
    assert!(
        failure
            .message
            .starts_with("cannot start `./not_executable.sh`: "),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("ermission denied"),
        "{}",
        failure.message
    );
}

#[test]
fn an_unterminated_quote_fails_before_anything_runs() {
    let failure = exec_failure("echo 'oops");
    assert_eq!(failure.kind, FailureKind::Failed);
    assert!(
        failure.message.contains("never closed"),
        "{}",
        failure.message
    );
    let failure = exec_failure("   ");
    assert!(failure.message.contains("empty"), "{}", failure.message);
}

#[test]
fn a_timeout_kills_the_command_and_everything_it_started() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (path, file) = pid_file(&dir);
    let cmd = format!(
        r#"sh -c 'echo warming up >&2; sleep 30 & echo $! > "$0"; sleep 30 & echo $! >> "$0"; echo $$ >> "$0"; wait' {file}"#
    );
    let started = Instant::now();
    let failure = exec_with(
        json!({ "cmd": cmd, "timeout": 300 }),
        json!({}),
        &CancelToken::new(),
        None,
    )
    .expect_err("it times out");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    // The tool's own `timeout` is the tool failing (`tool-failed`), with the end of stderr.
    assert_eq!(failure.kind, FailureKind::Failed);
    assert!(
        failure.message.contains("300ms `timeout`")
            && failure.message.contains("stderr ends with:\n  warming up"),
        "{}",
        failure.message
    );
    assert_all_gone(&read_pids(&path, 3));
}

#[test]
fn the_nodes_deadline_also_stops_the_command() {
    let deadline = Instant::now() + Duration::from_millis(200);
    let failure = exec_with(
        json!({ "cmd": "sleep 30", "timeout": 60_000 }),
        json!({}),
        &CancelToken::new(),
        Some(deadline),
    )
    .expect_err("it times out");
    assert_eq!(failure.kind, FailureKind::TimedOut);
    assert!(failure.message.contains("deadline"), "{}", failure.message);
    assert!(Instant::now() < deadline + Duration::from_secs(2));
}

#[test]
fn a_deadline_that_already_passed_runs_nothing() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (path, file) = pid_file(&dir);
    let failure = exec_with(
        json!({ "cmd": format!("sh -c 'echo $$ > \"$0\"' {file}"), "timeout": 0 }),
        json!({}),
        &CancelToken::new(),
        None,
    )
    .expect_err("it times out");
    assert_eq!(failure.kind, FailureKind::Failed);
    assert!(!path.exists(), "the command ran");
}

#[test]
fn cancelling_from_another_thread_kills_the_command() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (path, file) = pid_file(&dir);
    let cancel = CancelToken::new();
    let canceller = {
        let cancel = cancel.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(150));
            cancel.cancel();
        })
    };
    let started = Instant::now();
    let cmd = format!(r#"sh -c 'sleep 30 & echo $! > "$0"; echo $$ >> "$0"; wait' {file}"#);
    let failure =
        exec_with(json!({ "cmd": cmd }), json!({}), &cancel, None).expect_err("cancelled");
    canceller.join().expect("the canceller finishes");
    assert_eq!(failure.kind, FailureKind::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_all_gone(&read_pids(&path, 2));
}

#[test]
fn a_cancelled_run_starts_nothing() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (path, file) = pid_file(&dir);
    let cancel = CancelToken::new();
    cancel.cancel();
    let failure = exec_with(
        json!({ "cmd": format!("sh -c 'echo $$ > \"$0\"' {file}") }),
        json!({}),
        &cancel,
        None,
    )
    .expect_err("cancelled");
    assert_eq!(failure.kind, FailureKind::Cancelled);
    assert!(!path.exists(), "the command ran");
}

#[test]
fn background_processes_are_killed_when_the_command_exits() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (path, file) = pid_file(&dir);
    // One keeps the stdout pipe open, one does not; neither may delay the result or survive it.
    let cmd = format!(
        r#"sh -c 'sleep 30 & echo $! > "$0"; sleep 30 > /dev/null 2>&1 & echo $! >> "$0"; echo "{{}}"' {file}"#
    );
    let started = Instant::now();
    assert_eq!(exec(&cmd), Ok(Map::new()));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert_all_gone(&read_pids(&path, 2));
}

#[test]
fn a_process_that_leaves_the_group_cannot_hold_the_call_open() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (path, file) = pid_file(&dir);
    // `setsid` moves the inner `sh` (then `sleep`) into a session of its own, out of reach of
    // the group kill, with the stdout pipe still open. The outer `sh` waits until it has moved.
    let cmd = format!(
        r#"sh -c 'setsid sh -c "echo \$\$ > \"\$0\"; exec sleep 10" "$0" & while [ ! -s "$0" ]; do sleep 0.01; done; echo "{{}}"' {file}"#
    );
    let started = Instant::now();
    let result = exec(&cmd);
    let escaped = read_pids(&path, 1);
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &escaped[0].to_string()])
        .status();
    let failure = result.expect_err("the call fails");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(failure.kind, FailureKind::Failed);
    assert!(failure.message.contains("setsid"), "{}", failure.message);
    assert_all_gone(&escaped);
}

#[test]
fn too_much_stdout_kills_the_command() {
    let started = Instant::now();
    let failure = exec_with(
        json!({ "cmd": "yes", "timeout": 20_000 }),
        json!({}),
        &CancelToken::new(),
        None,
    )
    .expect_err("it fails");
    assert_eq!(failure.kind, FailureKind::Failed);
    assert!(
        failure.message.contains("more than 16 MiB"),
        "{}",
        failure.message
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}
