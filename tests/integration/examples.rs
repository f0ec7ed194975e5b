//! Every bundled example checks clean; its IR and its Mermaid graph are snapshotted.

use std::path::Path;

use flowc::SourceFile;
use flowc::tools::ToolRegistry;

fn compile_example(path: &Path) -> flowc::Program {
    let text = std::fs::read_to_string(path).unwrap();
    let name = format!("examples/{}", path.file_name().unwrap().to_str().unwrap());
    let checked = flowc::check(&SourceFile::new(name, text), &ToolRegistry::builtin());
    assert!(
        checked.report.problems.is_empty(),
        "{} must check clean:\n{}",
        path.display(),
        checked.report.render_human(false, 100)
    );
    checked.program.unwrap()
}

#[test]
fn examples_check_clean_and_compile_to_the_same_ir() {
    insta::glob!("../../examples", "*.flow", |path| {
        let program = compile_example(path);
        insta::assert_snapshot!(serde_json::to_string_pretty(&program).unwrap());
    });
}

#[test]
fn examples_draw_the_same_mermaid_graph() {
    insta::glob!("../../examples", "*.flow", |path| {
        insta::assert_snapshot!(flowc::graph::mermaid(&compile_example(path)));
    });
}

#[test]
fn there_are_at_least_four_examples_each_with_an_initial_state() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let flows: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "flow"))
        .collect();
    assert!(flows.len() >= 4, "only {} examples", flows.len());
    for flow in flows {
        let init = flow.with_extension("init.json");
        let text = std::fs::read_to_string(&init)
            .unwrap_or_else(|_| panic!("{} has no {}", flow.display(), init.display()));
        let state: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(
            state.is_object(),
            "{} must hold a JSON object",
            init.display()
        );
    }
}
