//! The `flowc` binary as a user runs it: exit codes, output formats, unreadable input, the
//! trace streamed while a run goes, sandbox limits from the command line.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::prelude::*;

fn flowc() -> Command {
    let mut command = Command::cargo_bin("flowc").unwrap();
    command.env_remove("NO_COLOR").env("COLUMNS", "80");
    command
}

fn write(dir: &Path, name: &str, text: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const CLEAN: &str = "flow ok {\n    node a = noop\n    start -> a\n}\n";
const WARNS: &str = "flow warns {\n    node a = noop\n    node b = noop\n    start -> a\n}\n";
const BROKEN: &str = "flow broken {\n    node a = noop\n    start -> a -> b\n}\n";

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let output = flowc().current_dir(dir).args(args).output().unwrap();
    Output {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

#[test]
fn clean_file_exits_0_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ok.flow", CLEAN.as_bytes());
    let out = run(dir.path(), &["check", "ok.flow"]);
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "checked 1 file: no problems\n");
}

#[test]
fn errors_exit_1_and_every_format_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "broken.flow", BROKEN.as_bytes());
    let human = run(dir.path(), &["check", "broken.flow", "--color", "never"]);
    assert_eq!(human.code, 1);
    insta::assert_snapshot!("human", human.stderr);

    let short = run(dir.path(), &["check", "broken.flow", "--format", "short"]);
    assert_eq!(short.code, 1);
    assert_eq!(
        short.stdout,
        "broken.flow:3:19: error[flow::undefined-node]: `b` is not declared\n"
    );

    let json = run(dir.path(), &["check", "broken.flow", "--format", "json"]);
    assert_eq!(json.code, 1);
    let document: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    insta::assert_snapshot!("json", serde_json::to_string_pretty(&document).unwrap());
}

#[test]
fn warnings_pass_unless_denied() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "warns.flow", WARNS.as_bytes());
    let allowed = run(dir.path(), &["check", "warns.flow", "--format", "short"]);
    assert_eq!(allowed.code, 0);
    assert!(
        allowed.stdout.contains("warning[flow::unused-node]"),
        "{}",
        allowed.stdout
    );
    let denied = run(
        dir.path(),
        &[
            "check",
            "warns.flow",
            "--format",
            "short",
            "--deny-warnings",
        ],
    );
    assert_eq!(denied.code, 1);
}

#[test]
fn several_files_are_checked_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ok.flow", CLEAN.as_bytes());
    write(dir.path(), "broken.flow", BROKEN.as_bytes());
    write(dir.path(), "warns.flow", WARNS.as_bytes());
    let out = run(
        dir.path(),
        &[
            "check",
            "ok.flow",
            "broken.flow",
            "warns.flow",
            "--format",
            "short",
        ],
    );
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);
    let json = run(
        dir.path(),
        &[
            "check",
            "ok.flow",
            "broken.flow",
            "warns.flow",
            "--format",
            "json",
        ],
    );
    let document: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(document["files"].as_array().unwrap().len(), 3);
    assert_eq!(document["errors"], 1);
    assert_eq!(document["warnings"], 1);
}

#[test]
fn a_missing_file_exits_2_and_the_others_are_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "broken.flow", BROKEN.as_bytes());
    let out = run(
        dir.path(),
        &["check", "nowhere.flow", "broken.flow", "--format", "short"],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stdout
            .starts_with("nowhere.flow:1:1: error[flow::unreadable]: cannot read `nowhere.flow`"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("broken.flow:3:19: error[flow::undefined-node]"),
        "{}",
        out.stdout
    );
    let human = run(dir.path(), &["check", "nowhere.flow"]);
    assert_eq!(human.code, 2);
    assert!(
        human
            .stderr
            .starts_with("error: cannot read `nowhere.flow`:"),
        "{}",
        human.stderr
    );
}

#[test]
fn a_non_utf8_file_exits_2_naming_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "latin1.flow", b"flow caf\xe9 {\n}\n");
    let out = run(dir.path(), &["check", "latin1.flow", "--format", "json"]);
    assert_eq!(out.code, 2);
    let document: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        document["files"][0]["error"],
        "`latin1.flow` is not valid UTF-8 (first invalid byte at offset 8)"
    );
}

#[test]
fn an_empty_file_is_a_syntax_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "empty.flow", b"");
    let out = run(dir.path(), &["check", "empty.flow", "--format", "short"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stdout,
        "empty.flow:1:1: error[flow::syntax]: the file is empty\n"
    );
}

#[test]
fn bad_command_lines_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["check"]).code, 2);
    assert_eq!(
        run(dir.path(), &["check", "a.flow", "--format", "xml"]).code,
        2
    );
    assert_eq!(run(dir.path(), &["frobnicate"]).code, 2);
    write(dir.path(), "ok.flow", CLEAN.as_bytes());
    write(dir.path(), "ok2.flow", CLEAN.as_bytes());
    assert_eq!(
        run(dir.path(), &["check", "ok.flow", "ok2.flow", "--emit-ir"]).code,
        2
    );
}

#[test]
fn colour_follows_the_flag_and_no_color_wins() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "broken.flow", BROKEN.as_bytes());
    let coloured = run(dir.path(), &["check", "broken.flow", "--color", "always"]);
    assert!(coloured.stderr.contains('\u{1b}'), "expected ANSI colour");
    let piped = run(dir.path(), &["check", "broken.flow"]);
    assert!(
        !piped.stderr.contains('\u{1b}'),
        "no colour when stderr is not a terminal"
    );
    let output = flowc()
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .args(["check", "broken.flow", "--color", "always"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8(output.stderr).unwrap().contains('\u{1b}'),
        "NO_COLOR must win"
    );
}

#[test]
fn human_output_takes_the_terminals_width_before_columns() {
    let dir = tempfile::tempdir().unwrap();
    let name = "b".repeat(70);
    write(
        dir.path(),
        "long.flow",
        format!("flow long {{\n    node a = noop\n    start -> a -> {name}\n}}\n").as_bytes(),
    );
    let message = |stderr: &str| -> Vec<String> {
        stderr
            .lines()
            .skip_while(|line| !line.contains('×'))
            .take(2)
            .map(|line| line.trim_end().to_owned())
            .collect()
    };
    // A pipe has no width: `COLUMNS` gives it, and the message fits on one line.
    let piped = flowc()
        .current_dir(dir.path())
        .env("COLUMNS", "200")
        .args(["check", "long.flow", "--color", "never"])
        .output()
        .unwrap();
    let piped = message(&String::from_utf8(piped.stderr).unwrap());
    assert!(piped[0].ends_with("is not declared"), "{piped:?}");
    // On a 50-column terminal (a pseudo-terminal from `script`), the terminal wins. (`env`:
    // the shell would set `COLUMNS` to the new width after `stty`.)
    let command = format!(
        "stty cols 50 rows 20; env COLUMNS=200 '{}' check long.flow --color never",
        env!("CARGO_BIN_EXE_flowc")
    );
    let terminal = Command::new("script")
        .current_dir(dir.path())
        .env_remove("NO_COLOR")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let terminal = message(&String::from_utf8(terminal.stdout).unwrap());
    assert!(
        terminal.iter().all(|line| line.chars().count() <= 50),
        "{terminal:?}"
    );
    assert!(!terminal[0].ends_with("is not declared"), "{terminal:?}");
}

#[test]
fn emit_ir_prints_the_program_as_json() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ok.flow", CLEAN.as_bytes());
    let out = run(dir.path(), &["check", "ok.flow", "--emit-ir"]);
    assert_eq!(out.code, 0);
    let ir: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(ir["ir_version"], flowc::compile::ir::IR_VERSION);
    assert!(ir["hash"].as_str().unwrap().starts_with("sha256:"), "{ir}");
    assert_eq!(ir["nodes"][0]["name"], "a");
    assert_eq!(ir["entry"], serde_json::json!({ "node": 0 }));
}

#[test]
fn tools_lists_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["tools"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains("exec(cmd: string, timeout?: duration)"),
        "{}",
        out.stdout
    );
    let json = run(dir.path(), &["tools", "--json"]);
    let tools: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        tools
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "noop")
    );
}

/// The `event` of each complete line in the trace so far.
fn trace_events(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|record| record["event"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_trace_can_be_followed_while_a_step_is_still_running() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "slow.flow",
        b"flow slow {\n    node first = noop\n    node slow = exec(cmd: \"sleep 5\")\n    start -> first -> slow\n}\n",
    );
    let mut child = flowc()
        .current_dir(dir.path())
        .args(["run", "slow.flow", "--trace", "trace.jsonl", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let trace = dir.path().join("trace.jsonl");
    let waited = Instant::now();
    let mut events = trace_events(&trace);
    while events.len() < 4 && waited.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
        events = trace_events(&trace);
    }
    let running = child.try_wait().unwrap().is_none();
    // Ctrl-C, so that flowc stops `sleep` too and finishes its trace.
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(running, "the run ended before the slow step was done");
    assert_eq!(
        events,
        ["run_started", "node_started", "step", "node_started"],
        "read after {:?}",
        waited.elapsed()
    );
    assert!(interrupted.success());
    assert_eq!(status.code(), Some(3));
    assert_eq!(
        trace_events(&trace),
        [
            "run_started",
            "node_started",
            "step",
            "node_started",
            "step",
            "run_finished"
        ]
    );
}

/// About 2,000,000 rhai operations: twice the default `max_operations`.
const BUSY: &str = "flow busy {\n    node work { let i = 0; while i < 400000 { i += 1 } n = i }\n    start -> work\n}\n";

#[test]
fn limit_raises_a_sandbox_limit_for_the_run() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "busy.flow", BUSY.as_bytes());
    let lowered = run(
        dir.path(),
        &[
            "run",
            "busy.flow",
            "--quiet",
            "--limit",
            "max_operations=100000",
        ],
    );
    assert_eq!(lowered.code, 3);
    assert!(
        lowered
            .stderr
            .contains("exceeded the sandbox limit `max_operations` (100000 operations)"),
        "{}",
        lowered.stderr
    );
    let raised = run(
        dir.path(),
        &[
            "run",
            "busy.flow",
            "--quiet",
            "--limit",
            "max_operations=100000000",
        ],
    );
    assert_eq!(raised.code, 0, "{}", raised.stderr);
    let state: serde_json::Value = serde_json::from_str(&raised.stdout).unwrap();
    assert_eq!(state["n"], 400_000);
}

#[test]
fn limits_also_apply_when_the_run_compiles_the_flow() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "deep.flow",
        b"flow deep {\n    node a { n = ((((((((((1)))))))))) }\n    start -> a\n}\n",
    );
    assert_eq!(run(dir.path(), &["run", "deep.flow", "-q"]).code, 0);
    let shallow = run(
        dir.path(),
        &[
            "run",
            "deep.flow",
            "--limit",
            "max_expr_depth=5",
            "--color",
            "never",
        ],
    );
    assert_eq!(shallow.code, 1, "{}", shallow.stderr);
    assert!(
        shallow.stderr.contains("flow::script-syntax"),
        "{}",
        shallow.stderr
    );
}

#[test]
fn an_unknown_limit_is_a_usage_error_that_suggests_the_name() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ok.flow", CLEAN.as_bytes());
    let out = run(
        dir.path(),
        &["run", "ok.flow", "--limit", "max_operatons=5000000"],
    );
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    insta::assert_snapshot!("unknown_limit", out.stderr);
    for bad in ["max_operations=-1", "max_operations=lots", "max_operations"] {
        let out = run(dir.path(), &["run", "ok.flow", "--limit", bad]);
        assert_eq!(out.code, 2, "{bad}: {}", out.stderr);
        assert!(
            out.stderr.contains("--limit <NAME=VALUE>"),
            "{bad}: {}",
            out.stderr
        );
    }
}
