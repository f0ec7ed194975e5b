//! `code.extract(file?)`: the functions and methods of one Python file, in source order.
//! Reads the argument `file`, else the state field `file` (see [`super::inputs`]). Sets
//! `functions`: one map per `def` (closures and methods of nested classes included) with
//! `name`, `qualname`, `class`, `line`, `end_line`, `lines`, `parameters` (each with `name`,
//! `kind`, `default` and `annotation` as written), `async`, `decorators`, `depth` and
//! `docstring`.

use serde_json::{Map, Value};

use super::definitions::definitions;
use super::inputs::one_file;
use super::source::PythonParser;
use super::to_json;
use crate::tools::{ArgType, Tool, ToolCall, ToolFailure, ToolRegistry, ToolSpec};

pub(super) fn register(registry: &mut ToolRegistry) {
    registry.register(
        ToolSpec::new(
            "code.extract",
            "Lists the functions and methods of a Python file (the argument `file`, else the state field `file`): name, class, line span, parameters, async, decorators, nesting depth; sets `functions`.",
        )
        .optional("file", ArgType::String, "the Python file, relative to the flow's folder (default: the state field `file`)"),
        Extract,
    );
}

struct Extract;

impl Tool for Extract {
    fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        let input = one_file(call, "code.extract")?;
        let file = PythonParser::new()?.read(call, &input.path, &input.field)?;
        let found = definitions(&file);
        Ok(Map::from_iter([(
            "functions".to_owned(),
            to_json(&found.functions),
        )]))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::tools::code::testing::{call, failure, folder};

    const SOURCE: &str = r#"import functools

@functools.cache
async def fetch(url: str, retries=3, *args, timeout: float = 1.0, **kwargs) -> bytes:
    """Fetches."""
    def inner(x, /, y, *, z):
        return x

class Outer:
    class Inner:
        def method(self):
            pass
"#;

    #[test]
    fn lists_functions_with_their_parameters_decorators_and_nesting() {
        let dir = folder(&[("m.py", SOURCE)]);
        let changes = call(
            "code.extract",
            dir.path(),
            &json!({}),
            &json!({"file": "m.py"}),
        )
        .expect("extracted");
        let functions = changes["functions"].as_array().expect("a list");
        assert_eq!(functions.len(), 3);
        assert_eq!(
            functions[0],
            json!({
                "name": "fetch", "qualname": "fetch", "class": null,
                "line": 4, "end_line": 7, "lines": 4,
                "parameters": [
                    {"name": "url", "kind": "positional", "default": null, "annotation": "str"},
                    {"name": "retries", "kind": "positional", "default": "3", "annotation": null},
                    {"name": "args", "kind": "var_positional", "default": null, "annotation": null},
                    {"name": "timeout", "kind": "keyword_only", "default": "1.0", "annotation": "float"},
                    {"name": "kwargs", "kind": "var_keyword", "default": null, "annotation": null},
                ],
                "async": true, "decorators": ["functools.cache"], "depth": 0, "docstring": true,
            })
        );
        let inner = &functions[1];
        assert_eq!(
            (&inner["qualname"], &inner["depth"]),
            (&json!("fetch.inner"), &json!(1))
        );
        let kinds: Vec<_> = inner["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .map(|p| p["kind"].as_str().expect("a kind"))
            .collect();
        assert_eq!(kinds, ["positional", "positional", "keyword_only"]);
        let method = &functions[2];
        assert_eq!(
            (&method["qualname"], &method["class"], &method["depth"]),
            (
                &json!("Outer.Inner.method"),
                &json!("Outer.Inner"),
                &json!(2)
            )
        );
    }

    #[test]
    fn the_argument_wins_over_the_state() {
        let dir = folder(&[
            ("a.py", "def a():\n    pass\n"),
            ("b.py", "def b():\n    pass\n"),
        ]);
        let changes = call(
            "code.extract",
            dir.path(),
            &json!({"file": "b.py"}),
            &json!({"file": "a.py"}),
        )
        .expect("extracted");
        assert_eq!(changes["functions"][0]["name"], json!("b"));
    }

    #[test]
    fn bad_inputs_fail_naming_the_field() {
        let dir = folder(&[("latin1.py", "")]);
        std::fs::write(dir.path().join("latin1.py"), b"# caf\xe9\n").expect("written");
        let run = |state| failure(call("code.extract", dir.path(), &json!({}), &state));
        assert_eq!(
            run(json!({})),
            "code.extract needs a file: give the argument `file` or set the state field `file`"
        );
        assert_eq!(
            run(json!({"file": 3})),
            "state field `file` must be a path (a string), not a number"
        );
        assert_eq!(
            run(json!({"file": "latin1.py"})),
            "state field `file`: `latin1.py` is not UTF-8 text (invalid byte at offset 5)"
        );
        let missing = run(json!({"file": "gone.py"}));
        assert!(
            missing.starts_with("state field `file`: cannot read `gone.py`"),
            "{missing}"
        );
        // Not a regular file (a device, which may never end): refused before reading.
        std::fs::create_dir(dir.path().join("folder.py")).expect("created");
        assert_eq!(
            run(json!({"file": "folder.py"})),
            "state field `file`: `folder.py` is not a regular file"
        );
        let outside = run(json!({"file": "/dev/zero"}));
        assert!(
            outside.starts_with(
                "state field `file`: `/dev/zero`: /dev/zero is outside the folders tools may use ("
            ),
            "{outside}"
        );
        let big = dir.path().join("big.py");
        let file = std::fs::File::create(&big).expect("created");
        file.set_len(super::super::source::MAX_SOURCE_BYTES + 1)
            .expect("sized");
        assert_eq!(
            run(json!({"file": "big.py"})),
            "state field `file`: `big.py` is larger than 16 MiB, the most a file may be to be reviewed"
        );
    }
}
