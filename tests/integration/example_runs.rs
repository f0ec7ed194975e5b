//! Every bundled example that has an initial state runs to the end; its final state and its
//! execution log (times and durations redacted) are snapshotted.

use std::path::Path;
use std::sync::Arc;

use flowc::CancelToken;
use flowc::runtime::{Interpreter, JsonLines, RunOptions};
use flowc::tools::ToolRegistry;
use flowc::{FileReport, SourceFile};
use serde_json::{Map, Value};

fn redact(mut record: Value) -> Value {
    if let Some(object) = record.as_object_mut() {
        for (key, value) in object.iter_mut() {
            match key.as_str() {
                "started_at" => *value = Value::from("[time]"),
                "duration_us" => *value = Value::from("[duration]"),
                _ => {}
            }
        }
    }
    record
}

fn run_example(path: &Path) {
    let init = path.with_extension("init.json");
    if !init.exists() {
        return;
    }
    let text = std::fs::read_to_string(path).unwrap();
    let name = format!("examples/{}", path.file_name().unwrap().to_str().unwrap());
    let source = SourceFile::new(name, text);
    let tools = ToolRegistry::builtin();
    let checked = flowc::check(&source, &tools);
    let program = checked
        .program
        .unwrap_or_else(|| panic!("{} must compile", path.display()));
    let input: Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(&init).unwrap()).unwrap();
    let options = RunOptions {
        workdir: path.parent().unwrap().to_path_buf(),
        ..RunOptions::default()
    };
    let interpreter = Interpreter::new(Arc::new(program), options);
    let mut log = JsonLines::new(Vec::new());
    let result = interpreter.run(input, &mut log, &CancelToken::new());
    let trace = String::from_utf8(log.finish().unwrap()).unwrap();
    let outcome = result.unwrap_or_else(|error| {
        let mut report = FileReport::new(source.clone());
        report.push(error);
        panic!(
            "{} failed:\n{}",
            path.display(),
            report.render_human(false, 100)
        )
    });
    let mut snapshot = String::from("--- final state\n");
    snapshot.push_str(&serde_json::to_string_pretty(&outcome.state).unwrap());
    snapshot.push_str("\n--- trace\n");
    for line in trace.lines() {
        let record = redact(serde_json::from_str(line).unwrap());
        snapshot.push_str(&serde_json::to_string(&record).unwrap());
        snapshot.push('\n');
    }
    insta::assert_snapshot!(snapshot);
}

#[test]
fn every_example_runs_to_the_end() {
    insta::glob!("../../examples", "*.flow", run_example);
}
