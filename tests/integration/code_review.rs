//! `code.analyze` against `radon cc -j --show-closures` (radon 6.0.1 on Python 3.11.7): on the
//! bundled sample project (figures written down below) and on modules of the `CPython` standard
//! library copied to tests/corpus/python/ (radon's own output beside them, in
//! radon-6.0.1.json). radon is not needed to run these tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flowc::CancelToken;
use flowc::tools::{FileAccess, ToolCall, ToolLog, ToolRegistry};
use serde_json::{Map, Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn analyze(workdir: &Path, files: &[&str]) -> Map<String, Value> {
    let registry = ToolRegistry::builtin();
    let tool = registry.implementation("code.analyze").expect("built in");
    let args = Map::from_iter([("files".to_owned(), json!(files))]);
    tool.call(&ToolCall {
        node: "analyze",
        args: &args,
        state: &Map::new(),
        cancel: &CancelToken::new(),
        deadline: None,
        workdir,
        files: &FileAccess::within([workdir]),
        log: &ToolLog::default(),
    })
    .expect("analyzed")
}

/// A block as radon lists it: (file, type, class, name, line, complexity).
type RadonRow = (
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    u64,
    u64,
);

/// (file, type, class, name, line) -> complexity, for functions, methods and classes.
type Figures = BTreeMap<(String, String, Option<String>, String, u64), u64>;

fn ours(changes: &Map<String, Value>) -> Figures {
    let mut figures = Figures::new();
    for function in changes["functions"].as_array().unwrap() {
        let key = (
            function["file"].as_str().unwrap().to_owned(),
            function["kind"].as_str().unwrap().to_owned(),
            function["class"].as_str().map(str::to_owned),
            function["name"].as_str().unwrap().to_owned(),
            function["line"].as_u64().unwrap(),
        );
        figures.insert(key, function["complexity"].as_u64().unwrap());
    }
    for class in changes["classes"].as_array().unwrap() {
        let key = (
            class["file"].as_str().unwrap().to_owned(),
            "class".to_owned(),
            None,
            class["name"].as_str().unwrap().to_owned(),
            class["line"].as_u64().unwrap(),
        );
        figures.insert(key, class["complexity"].as_u64().unwrap());
    }
    figures
}

#[test]
fn the_sample_project_agrees_with_radon() {
    let workdir = root().join("examples/data/sample_project");
    let files = ["helpers.py", "inventory.py", "orders.py", "report.py"];
    let changes = analyze(&workdir, &files);
    // radon cc -j --show-closures *.py, as (type, class, name, line, complexity).
    let radon: &[RadonRow] = &[
        ("helpers.py", "function", None, "slugify", 35, 5),
        ("helpers.py", "function", None, "retry", 24, 4),
        ("helpers.py", "method", Some("Registry"), "register", 44, 3),
        ("helpers.py", "class", None, "Registry", 40, 3),
        ("helpers.py", "function", None, "chunks", 17, 2),
        ("helpers.py", "function", None, "load_config", 6, 2),
        ("helpers.py", "method", Some("Registry"), "__init__", 41, 1),
        ("inventory.py", "method", Some("Inventory"), "remove", 33, 4),
        ("inventory.py", "class", None, "Inventory", 21, 4),
        (
            "inventory.py",
            "method",
            Some("Inventory"),
            "low_stock",
            48,
            3,
        ),
        ("inventory.py", "function", None, "restock_plan", 54, 3),
        (
            "inventory.py",
            "method",
            Some("Inventory"),
            "total_value",
            44,
            2,
        ),
        ("inventory.py", "method", Some("Inventory"), "add", 26, 2),
        ("inventory.py", "class", None, "Item", 7, 2),
        ("inventory.py", "method", Some("Item"), "value", 15, 1),
        ("orders.py", "function", None, "price_order", 21, 18),
        ("orders.py", "function", None, "parse_order_line", 8, 5),
        ("orders.py", "function", None, "summarize", 57, 3),
        ("report.py", "function", None, "publish", 46, 4),
        ("report.py", "function", None, "stock_report", 13, 4),
        ("report.py", "function", None, "low_stock_report", 38, 3),
        ("report.py", "function", None, "format_row", 4, 2),
    ];
    let expected: Figures = radon
        .iter()
        .map(|&(file, kind, class, name, line, complexity)| {
            let key = (
                file.into(),
                kind.into(),
                class.map(str::to_owned),
                name.into(),
                line,
            );
            (key, complexity)
        })
        .collect();
    assert_eq!(ours(&changes), expected);
    let price_order = changes["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "price_order")
        .unwrap();
    assert_eq!(price_order["rank"], "C");
}

#[test]
fn a_file_radon_cannot_parse_is_still_reviewed() {
    // radon: {"error": "'(' was never closed (<unknown>, line 15)"}.
    let workdir = root().join("examples/data/sample_project");
    let changes = analyze(&workdir, &["legacy.py"]);
    let names: Vec<_> = changes["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    // tree-sitter recovers the functions before the error; the unclosed `(` swallows the rest.
    assert_eq!(names, ["import_rows"]);
    let syntax: Vec<_> = changes["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "syntax-error")
        .collect();
    assert!(!syntax.is_empty());
    assert!(
        syntax
            .iter()
            .all(|issue| issue["line"].as_u64().unwrap() >= 15)
    );
}

#[test]
fn standard_library_modules_agree_with_radon_on_every_block() {
    let workdir = root().join("tests/corpus/python");
    let radon: Value =
        serde_json::from_str(&std::fs::read_to_string(workdir.join("radon-6.0.1.json")).unwrap())
            .unwrap();
    let mut expected = Figures::new();
    for (file, blocks) in radon.as_object().unwrap() {
        for block in blocks.as_array().unwrap() {
            let key = (
                file.clone(),
                block["type"].as_str().unwrap().to_owned(),
                block
                    .get("classname")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                block["name"].as_str().unwrap().to_owned(),
                block["lineno"].as_u64().unwrap(),
            );
            expected.insert(key, block["complexity"].as_u64().unwrap());
        }
    }
    let files: Vec<&str> = radon
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(files.len(), 3);
    assert!(expected.len() > 30, "{} blocks", expected.len());
    assert_eq!(ours(&analyze(&workdir, &files)), expected);
}
