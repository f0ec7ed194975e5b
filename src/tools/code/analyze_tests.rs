//! `code.analyze` on small files: figures, each issue kind, and bad input.

use serde_json::{Value, json};

use crate::tools::code::testing::{call, failure, folder};

const SOURCE: &str = r#""""A module."""


def load(path, cache={}, seen=list()):
    """Loads."""
    try:
        return open(path).read()
    except:
        return None


def many(a, b, c, d, e, f):
    # TODO: fewer parameters
    return a if b else c


class Store:
    def put(self, a, b, c, d, e):
        """Puts."""
        if a and b:
            return c


class _Private:
    pass
"#;

fn analyze(args: &Value, state: &Value, files: &[(&str, &str)]) -> serde_json::Map<String, Value> {
    let dir = folder(files);
    call("code.analyze", dir.path(), args, state).expect("analyzed")
}

fn kinds_and_lines(changes: &serde_json::Map<String, Value>) -> Vec<(String, u64, Value)> {
    changes["issues"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|issue| {
            (
                issue["kind"].as_str().expect("a kind").to_owned(),
                issue["line"].as_u64().expect("a line"),
                issue["function"].clone(),
            )
        })
        .collect()
}

#[test]
fn reports_complexity_and_rank_of_every_block() {
    let changes = analyze(&json!({}), &json!({"file": "m.py"}), &[("m.py", SOURCE)]);
    let functions: Vec<_> = changes["functions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|f| {
            (
                f["name"].clone(),
                f["kind"].clone(),
                f["complexity"].clone(),
                f["rank"].clone(),
            )
        })
        .collect();
    assert_eq!(
        functions,
        [
            (json!("load"), json!("function"), json!(2), json!("A")),
            (json!("many"), json!("function"), json!(2), json!("A")),
            (json!("put"), json!("method"), json!(3), json!("A")),
        ]
    );
    let classes: Vec<_> = changes["classes"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| (c["name"].clone(), c["complexity"].clone()))
        .collect();
    assert_eq!(
        classes,
        [(json!("Store"), json!(4)), (json!("_Private"), json!(1))]
    );
}

#[test]
fn finds_each_kind_of_issue_at_its_line() {
    let changes = analyze(&json!({}), &json!({"file": "m.py"}), &[("m.py", SOURCE)]);
    let f = |name: &str| json!(name);
    assert_eq!(
        kinds_and_lines(&changes),
        [
            ("mutable-default".into(), 4, f("load")),
            ("mutable-default".into(), 4, f("load")),
            ("bare-except".into(), 8, f("load")),
            ("too-many-parameters".into(), 12, f("many")),
            ("missing-docstring".into(), 12, f("many")),
            ("todo".into(), 13, f("many")),
            ("missing-docstring".into(), 17, Value::Null),
        ]
    );
    let mutable = &changes["issues"][1];
    assert_eq!(
        (&mutable["parameter"], &mutable["default"]),
        (&json!("seen"), &json!("list()"))
    );
    assert_eq!(changes["issues"][3]["measure"], json!(6));
}

#[test]
fn limits_are_arguments() {
    let args = json!({"max_parameters": 4, "max_function_lines": 3});
    let changes = analyze(&args, &json!({"file": "m.py"}), &[("m.py", SOURCE)]);
    let kinds: Vec<_> = kinds_and_lines(&changes)
        .into_iter()
        .filter(|(kind, ..)| kind == "too-many-parameters" || kind == "long-function")
        .map(|(kind, line, _)| (kind, line))
        .collect();
    assert_eq!(
        kinds,
        [
            ("long-function".to_owned(), 4),
            ("too-many-parameters".to_owned(), 12),
            ("long-function".to_owned(), 18),
            ("too-many-parameters".to_owned(), 18),
        ]
    );
}

#[test]
fn a_file_with_syntax_errors_is_still_analyzed() {
    let broken = "def good(a):\n    if a:\n        return 1\n\ndef bad(:\n    return 2\n";
    let changes = analyze(&json!({}), &json!({"file": "b.py"}), &[("b.py", broken)]);
    assert_eq!(changes["functions"][0]["name"], json!("good"));
    assert_eq!(changes["functions"][0]["complexity"], json!(2));
    let syntax: Vec<_> = kinds_and_lines(&changes)
        .into_iter()
        .filter(|(kind, ..)| kind == "syntax-error")
        .map(|(_, line, _)| line)
        .collect();
    assert_eq!(syntax, [5]);
}

#[test]
fn many_files_are_aggregated_from_the_state_or_the_argument() {
    let files = [
        ("a.py", "def a():\n    pass\n"),
        ("b.py", "def b(x):\n    return x or 1\n"),
    ];
    let state = json!({"file": "a.py", "files": ["a.py", "b.py"]});
    let names = |changes: &serde_json::Map<String, Value>| -> Vec<(Value, Value)> {
        changes["functions"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|f| (f["file"].clone(), f["complexity"].clone()))
            .collect()
    };
    let one = analyze(&json!({}), &state, &files);
    assert_eq!(names(&one), [(json!("a.py"), json!(1))]);
    let all = analyze(&json!({"input": "files"}), &state, &files);
    assert_eq!(
        names(&all),
        [(json!("a.py"), json!(1)), (json!("b.py"), json!(2))]
    );
    let given = analyze(&json!({"files": ["b.py"]}), &state, &files);
    assert_eq!(names(&given), [(json!("b.py"), json!(2))]);
}

/// Files are analyzed on every core; the figures still come in input order, and the failure
/// is the first unreadable file's, however the threads were scheduled.
#[test]
fn many_files_keep_their_order_and_the_first_failure_wins() {
    let names: Vec<String> = (0..40).map(|index| format!("m{index:02}.py")).collect();
    let sources: Vec<String> = (0..40)
        .map(|index| format!("def f{index}(x):\n    return x or {index}\n"))
        .collect();
    let files: Vec<(&str, &str)> = names
        .iter()
        .map(String::as_str)
        .zip(sources.iter().map(String::as_str))
        .collect();
    let all = analyze(&json!({"files": names}), &json!({}), &files);
    let found: Vec<&str> = all["functions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|function| function["file"].as_str().expect("a path"))
        .collect();
    assert_eq!(found, names);
    let dir = folder(&files);
    let mut listed = names.clone();
    listed.insert(30, "gone-b.py".into());
    listed.insert(7, "gone-a.py".into());
    let message = failure(call(
        "code.analyze",
        dir.path(),
        &json!({"files": listed}),
        &json!({}),
    ));
    assert!(message.contains("`gone-a.py`"), "{message}");
}

#[test]
fn bad_inputs_fail_naming_the_field() {
    let dir = folder(&[("a.py", "")]);
    let run = |args: Value, state: Value| failure(call("code.analyze", dir.path(), &args, &state));
    assert_eq!(
        run(json!({}), json!({"files": ["a.py", 7]})),
        "state field `files` item 1 must be a path (a string), not a number"
    );
    assert_eq!(
        run(json!({}), json!({"files": "a.py"})),
        "state field `files` must be a list of paths, not a string"
    );
    assert_eq!(
        run(json!({"input": "file"}), json!({"files": []})),
        "code.analyze has `input: \"file\"` but the state field `file` is not set"
    );
    assert_eq!(
        run(json!({"max_parameters": -1}), json!({"file": "a.py"})),
        "argument `max_parameters` must be a whole number at least 0, not -1"
    );
    assert!(
        run(json!({}), json!({})).starts_with("code.analyze needs files"),
        "no input at all"
    );
}
