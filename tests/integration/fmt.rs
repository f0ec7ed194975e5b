//! `flowc fmt`: formatting never changes what a flow means (the IR of the formatted file is
//! the original's, spans aside), is idempotent, loses no comment, and its CLI exits as
//! documented.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use flowc::SourceFile;
use flowc::fmt::{FormatError, format};
use flowc::tools::ToolRegistry;
use proptest::prelude::*;
use serde_json::Value;

/// The IR as JSON without what formatting may change: spans, the hash over the source
/// text, and the indentation of code lines.
fn meaning(text: &str) -> Result<Value, Vec<String>> {
    let checked = flowc::check(&SourceFile::new("t.flow", text), &ToolRegistry::builtin());
    let Some(program) = checked.program else {
        let mut codes: Vec<String> = checked
            .report
            .problems
            .iter()
            .map(|problem| {
                problem
                    .code()
                    .map(|code| code.to_string())
                    .unwrap_or_default()
            })
            .collect();
        codes.sort();
        return Err(codes);
    };
    let mut ir = serde_json::to_value(&program).unwrap();
    strip(&mut ir);
    Ok(ir)
}

fn strip(value: &mut Value) {
    match value {
        Value::Object(entries) => {
            entries.retain(|key, _| !key.ends_with("span") && key != "hash" && key != "header");
            entries.values_mut().for_each(strip);
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        Value::String(text) if text.contains('\n') => {
            *text = text
                .trim()
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("\n");
        }
        _ => {}
    }
}

fn comments(text: &str) -> usize {
    text.matches("//").count() + text.matches("/*").count()
}

/// Formats `text` and checks every guarantee; the formatted text.
fn assert_formats_faithfully(name: &str, text: &str) -> Option<String> {
    let formatted = match format(&SourceFile::new(name, text)) {
        Ok(formatted) => formatted,
        Err(FormatError::Syntax(_)) => return None,
        Err(error) => panic!("{name}: {error}"),
    };
    assert_eq!(
        meaning(&formatted),
        meaning(text),
        "{name}: the formatted file means something else:\n{formatted}"
    );
    assert_eq!(
        comments(&formatted),
        comments(text),
        "{name}: a comment was lost"
    );
    let again = format(&SourceFile::new(name, formatted.as_str())).unwrap();
    assert_eq!(
        again, formatted,
        "{name}: formatting twice changed it again"
    );
    Some(formatted)
}

fn flow_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            flow_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "flow") {
            found.push(path);
        }
    }
}

#[test]
fn meaning_tells_flows_apart_but_not_their_layout() {
    let flow = "flow f { node a { x = 1 }; start -> a }";
    assert_eq!(
        meaning(flow),
        meaning("flow f {\n  node a {\n      x = 1\n  }\n  start -> a\n}")
    );
    assert_ne!(
        meaning(flow),
        meaning("flow f { node a { x = 2 }; start -> a }")
    );
    assert_ne!(meaning(flow), meaning("flow f { node a; start -> a }"));
}

#[test]
fn every_example_and_ui_case_formats_to_the_same_meaning() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    flow_files(&root.join("examples"), &mut files);
    flow_files(&root.join("tests/ui"), &mut files);
    let mut formatted = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        formatted +=
            usize::from(assert_formats_faithfully(&path.display().to_string(), &text).is_some());
    }
    assert!(
        formatted > 60,
        "only {formatted} of {} files parsed",
        files.len()
    );
}

#[test]
fn the_bundled_examples_are_formatted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Command::cargo_bin("flowc")
        .unwrap()
        .args(["fmt", "--check"])
        .arg(root.join("examples"))
        .assert()
        .success();
}

/// Pieces of flows, with the spacing, comments and separators a person might write.
fn arbitrary_flow() -> impl Strategy<Value = String> {
    let blank = prop_oneof![Just(" "), Just("  "), Just("\t")];
    let gap = prop_oneof![
        Just("\n"),
        Just("\n\n"),
        Just(" ; "),
        Just(" // note\n"),
        Just("\n/* block */ "),
        Just("\n  /// doc\n"),
    ];
    let node = prop_oneof![
        Just("node n{i} = noop".to_owned()),
        Just("node n{i} = exec(cmd: \"true\",timeout:5s) retry 2  backoff 10ms".to_owned()),
        Just("node n{i} {  x += 1  }".to_owned()),
        Just("node n{i} {\n      let y = x;\n        x = y + 1; // keep\n   }".to_owned()),
        Just("node n{i}".to_owned()),
        Just("node n{i} = wait(prompt: \"ok?\")".to_owned()),
    ];
    (
        proptest::collection::vec((node, gap.clone(), blank), 1..6),
        gap,
        any::<bool>(),
    )
        .prop_map(|(nodes, gap, with_loop)| {
            let mut text = String::from("flow generated{state{x:int=0, tags: list = [\n1,\n2]}");
            text.push_str(gap);
            for (i, (node, gap, blank)) in nodes.iter().enumerate() {
                text.push_str(&node.replace("{i}", &i.to_string()).replace(' ', blank));
                text.push_str(gap);
            }
            text.push_str("start->n0");
            for i in 1..nodes.len() {
                write!(text, " -> n{i}").unwrap();
            }
            text.push('\n');
            if with_loop {
                writeln!(
                    text,
                    "n{} -> again when x < 3\nloop again max 3 {{ n0 }} until x >= 3 // stop",
                    nodes.len() - 1
                )
                .unwrap();
            }
            text.push('}');
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn generated_flows_format_to_the_same_meaning(text in arbitrary_flow()) {
        assert_formats_faithfully("generated.flow", &text);
    }
}

fn flowc_fmt(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("flowc").unwrap();
    command.current_dir(dir).arg("fmt");
    command
}

#[test]
fn check_lists_what_would_change_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let messy = "flow f {\nstart ->  a\nnode a\n}\n";
    std::fs::write(dir.path().join("messy.flow"), messy).unwrap();
    std::fs::write(dir.path().join("tidy.flow"), "flow f {\n    node a\n}\n").unwrap();
    flowc_fmt(dir.path())
        .args(["--check", "."])
        .assert()
        .code(1)
        .stdout("./messy.flow\n")
        .stderr("1 file is not formatted: run `flowc fmt` on it\n");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("messy.flow")).unwrap(),
        messy
    );

    flowc_fmt(dir.path())
        .arg("messy.flow")
        .assert()
        .success()
        .stdout("");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("messy.flow")).unwrap(),
        "flow f {\n    start -> a\n    node a\n}\n"
    );
    flowc_fmt(dir.path())
        .args(["--check", "."])
        .assert()
        .success();
}

#[test]
fn stdin_is_formatted_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    flowc_fmt(dir.path())
        .arg("-")
        .write_stdin("flow f{node a;start->a}")
        .assert()
        .success()
        .stdout("flow f {\n    node a\n    start -> a\n}\n");
}

#[test]
fn a_file_that_does_not_parse_is_left_untouched_with_its_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let broken = "flow f {\n  start -> \n";
    std::fs::write(dir.path().join("broken.flow"), broken).unwrap();
    let assert = flowc_fmt(dir.path())
        .arg("broken.flow")
        .assert()
        .code(1)
        .stdout("");
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("flow::syntax"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("broken.flow")).unwrap(),
        broken
    );
    flowc_fmt(dir.path()).arg("missing.flow").assert().code(2);
}

#[test]
fn every_flow_snippet_in_the_docs_is_formatted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        pages.push(entry.unwrap().path());
    }
    let mut checked = 0;
    for page in pages
        .iter()
        .filter(|page| page.extension().is_some_and(|ext| ext == "md"))
    {
        let text = std::fs::read_to_string(page).unwrap();
        for (index, snippet) in text.split("```flow\n").skip(1).enumerate() {
            let snippet = snippet.split("```").next().unwrap();
            // Snippets that show a syntax error cannot be formatted, by design.
            if let Some(formatted) = assert_formats_faithfully("snippet.flow", snippet) {
                assert_eq!(
                    formatted,
                    snippet,
                    "snippet {index} of {} is not formatted (`flowc fmt -` gives the text on the left)",
                    page.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} snippets parsed");
}
