//! The counter flow the engine benchmarks share (`run`, `durable`), its interpreter and its
//! input, with or without the untouched 10,000-object payload.

use std::sync::Arc;

use flowc::runtime::{Interpreter, RunOptions};
use flowc::tools::ToolRegistry;
use flowc::{SourceFile, check};
use serde_json::{Map, Value, json};

pub(crate) const COUNTER: &str = "flow counter {\n    state { n: int = 0, limit: int }\n    node inc { n += 1 }\n    start -> inc\n    inc -> inc when n < limit\n    inc -> end\n}\n";

/// An interpreter for `text` with no step limit.
pub(crate) fn interpreter(text: &str) -> Interpreter {
    let tools = ToolRegistry::builtin();
    let checked = check(&SourceFile::new("counter.flow", text), &tools);
    let program = checked.program.expect("the benchmark flow compiles");
    let options = RunOptions {
        max_steps: u64::MAX,
        ..RunOptions::default()
    };
    Interpreter::new(Arc::new(program), options)
}

/// `{limit: steps}`, and the payload when asked.
pub(crate) fn input(steps: u64, payload: bool) -> Map<String, Value> {
    let mut input = Map::new();
    input.insert("limit".into(), json!(steps));
    if payload {
        let items: Vec<Value> = (0..10_000)
            .map(|i| json!({ "id": i, "name": format!("item {i}"), "tags": ["a", "b"] }))
            .collect();
        input.insert("payload".into(), Value::Array(items));
    }
    input
}
