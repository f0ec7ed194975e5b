//! The UI corpus: `tests/ui/{syntax,compile}/*.flow`, each a broken (or warned-about) flow
//! whose first line names the code it must report (`// expect: flow::<code>`). Each is
//! snapshotted as the CLI renders it: human (no colour, width 80) and short.

use std::path::Path;

use flowc::SourceFile;
use flowc::tools::ToolRegistry;

const CHECK_TIME_DIRS: [&str; 2] = ["syntax", "compile"];

/// The code a corpus file's first line names (`// expect: flow::<code>`).
pub(crate) fn expected_code(text: &str, path: &Path) -> String {
    let first = text.lines().next().unwrap_or_default();
    first
        .strip_prefix("// expect: ")
        .unwrap_or_else(|| {
            panic!(
                "{} must start with `// expect: flow::<code>`",
                path.display()
            )
        })
        .trim()
        .to_owned()
}

/// Fails, naming the file, when corpus case `path` has no committed snapshot `name` (insta
/// fails on a missing snapshot under CI too, but names only the test).
pub(crate) fn assert_has_snapshot(path: &Path, name: &str) {
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/integration/snapshots")
        .join(name);
    assert!(
        snapshot.exists(),
        "{} has no snapshot {}",
        path.display(),
        snapshot.display()
    );
}

fn check_case(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let expected = expected_code(&text, path);
    let dir = path
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let name = format!("{dir}/{}", path.file_name().unwrap().to_str().unwrap());
    let checked = flowc::check(&SourceFile::new(name, text), &ToolRegistry::builtin());
    let report = &checked.report;
    let codes: Vec<String> = report.to_json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        codes.contains(&expected),
        "{} no longer reports {expected}; it reports {codes:?}",
        path.display()
    );
    let rendered = format!(
        "{}\n---- short ----\n{}",
        report.render_human(false, 80),
        report.render_short()
    );
    insta::assert_snapshot!(rendered);
}

#[test]
fn ui() {
    insta::glob!("../ui", "{syntax,compile}/*.flow", check_case);
}

/// Every check-time code in the sources has a corpus case, and every corpus file has a
/// snapshot (insta fails on a missing snapshot under CI, this names the file).
#[test]
fn every_check_time_code_has_a_corpus_case() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut declared = Vec::new();
    for file in ["src/compile/error.rs", "src/syntax/error.rs"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for part in text.split("code(\"flow::").skip(1) {
            declared.push(part.split('"').next().unwrap().to_owned());
        }
    }
    declared.sort();
    declared.dedup();
    let mut covered = Vec::new();
    for dir in CHECK_TIME_DIRS {
        for entry in std::fs::read_dir(root.join("tests/ui").join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "flow") {
                let text = std::fs::read_to_string(&path).unwrap();
                covered.push(
                    expected_code(&text, &path)
                        .trim_start_matches("flow::")
                        .to_owned(),
                );
                assert_has_snapshot(
                    &path,
                    &format!(
                        "integration__ui__check_case@{dir}__{}.snap",
                        path.file_name().unwrap().to_str().unwrap()
                    ),
                );
            }
        }
    }
    let missing: Vec<_> = declared
        .iter()
        .filter(|code| !covered.contains(code))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a tests/ui case: {missing:?}"
    );
}
