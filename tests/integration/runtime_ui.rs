//! The run-time diagnostics corpus: `tests/ui/runtime/<code>.flow`, each run from its sibling
//! `<code>.init.json`, must fail with the code its first line names
//! (`// expect: flow::<code>`); a second line `// run timeout: DURATION` sets the run's time
//! limit. The human rendering (no colour, width 80) is snapshotted.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use flowc::CancelToken;
use flowc::runtime::{Interpreter, NoEvents, RunOptions};
use flowc::sandbox::Limits;
use flowc::tools::{FailureKind, Tool, ToolCall, ToolFailure, ToolRegistry, ToolSpec};
use flowc::{FileReport, SourceFile};

use crate::ui::{assert_has_snapshot, expected_code};
use miette::Diagnostic;
use serde_json::{Map, Value};

/// Always fails with the same message.
struct Fail;

impl Tool for Fail {
    fn call(&self, _call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        Err(ToolFailure::failed(
            "the payment service answered 503 Service Unavailable",
        ))
    }
}

/// Cancels the run it is part of, as an operator pressing Ctrl-C would.
struct CancelRun;

impl Tool for CancelRun {
    fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        call.cancel.cancel();
        Err(ToolFailure {
            kind: FailureKind::Cancelled,
            message: "cancelled".into(),
        })
    }
}

fn tools() -> ToolRegistry {
    let mut tools = ToolRegistry::builtin();
    tools.register(ToolSpec::new("test.fail", "Always fails."), Fail);
    tools.register(ToolSpec::new("test.cancel", "Cancels the run."), CancelRun);
    tools
}

fn run_case(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let expected = expected_code(&text, path);
    let init = path.with_extension("init.json");
    let input: Map<String, Value> = serde_json::from_str(&std::fs::read_to_string(&init).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", init.display()));
    let name = format!("runtime/{}", path.file_name().unwrap().to_str().unwrap());
    let source = SourceFile::new(name, text.clone());
    let tools = tools();
    let checked = flowc::check(&source, &tools);
    let program = checked.program.unwrap_or_else(|| {
        panic!(
            "{} must compile:\n{}",
            path.display(),
            checked.report.render_human(false, 80)
        )
    });
    let timeout = text
        .lines()
        .nth(1)
        .and_then(|line| line.strip_prefix("// run timeout: "))
        .map(|ms| Duration::from_millis(ms.trim_end_matches("ms").parse().unwrap()));
    let options = RunOptions {
        timeout,
        // So that a time limit, not the operation budget, ends the busy loops of the
        // timeout cases, however fast the machine.
        limits: Limits {
            max_operations: 1_000_000_000,
            ..Limits::default()
        },
        ..RunOptions::default()
    };
    let interpreter = Interpreter::new(Arc::new(program), options);
    let error = interpreter
        .run(input, &mut NoEvents, &CancelToken::new())
        .expect_err("runtime cases must fail");
    let code = error.code().map(|c| c.to_string()).unwrap_or_default();
    assert_eq!(
        code,
        expected,
        "{} reports {code}, not {expected}",
        path.display()
    );
    let mut report = FileReport::new(source);
    report.push(error);
    insta::assert_snapshot!(report.render_human(false, 80));
}

#[test]
fn runtime_case() {
    insta::glob!("../ui", "runtime/*.flow", run_case);
}

#[test]
fn every_runtime_case_has_a_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(root.join("tests/ui/runtime")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "flow") {
            assert_has_snapshot(
                &path,
                &format!(
                    "integration__runtime_ui__run_case@{}.snap",
                    path.file_name().unwrap().to_str().unwrap()
                ),
            );
        }
    }
}

#[test]
fn every_runtime_code_has_a_corpus_case() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("src/runtime/error.rs")).unwrap();
    let mut declared: Vec<String> = text
        .split("code(\"flow::")
        .skip(1)
        .map(|part| part.split('"').next().unwrap().to_owned())
        .collect();
    declared.sort();
    declared.dedup();
    for code in declared {
        let case = root.join("tests/ui/runtime").join(format!("{code}.flow"));
        assert!(case.exists(), "flow::{code} has no case {}", case.display());
    }
}
