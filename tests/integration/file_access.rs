//! Tools use files only under the flow's folder and the `--allow-path` folders: a path in the
//! state that leads anywhere else (`..`, an absolute path, a link) fails the node, so a state
//! from elsewhere cannot read or overwrite the machine's files.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const PROFILE: &str = "flow profile {
    state { dataset: string }
    node profile = dq.profile
    start -> profile -> end
}
";

const REPAIR: &str = "flow repair {
    state { dataset: string, output: string }
    node detect = dq.detect_anomalies
    node generate = dq.generate_rules
    node apply = dq.apply_rules
    start -> detect -> generate -> apply -> end
}
";

fn flowc() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("flowc"))
}

/// `flows/` holds the flow files, `data/` (beside it) a CSV and `secret.txt`.
fn layout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("flows")).unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("flows/profile.flow"), PROFILE).unwrap();
    std::fs::write(dir.path().join("flows/repair.flow"), REPAIR).unwrap();
    std::fs::write(dir.path().join("data/in.csv"), "name\n Ann\nann\n").unwrap();
    std::fs::write(dir.path().join("data/secret.txt"), "keep me\n").unwrap();
    dir
}

/// `flowc run FLOW --state STATE ARGS…` (the state written to `state.json`): (exit code, 3 for a failed run, stdout as JSON or null, stderr).
fn run(dir: &Path, flow: &str, state: &str, args: &[&str]) -> (i32, Value, String) {
    std::fs::write(dir.join("state.json"), state).unwrap();
    let output = flowc()
        .args(["run", flow, "--state", "state.json", "--quiet"])
        .args(args)
        .current_dir(dir)
        .env("COLUMNS", "1000")
        .output()
        .unwrap();
    let stdout = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code().unwrap(), stdout, stderr)
}

#[test]
fn a_path_out_of_the_flows_folder_is_refused_unless_allowed() {
    let dir = layout();
    let state = r#"{"dataset": "../data/in.csv"}"#;
    let (code, _, stderr) = run(dir.path(), "flows/profile.flow", state, &[]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("tool-failed"), "{stderr}");
    assert!(
        stderr.contains("is outside the folders tools may use (`flows`)"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-path DIR"), "{stderr}");

    let (code, state, stderr) = run(
        dir.path(),
        "flows/profile.flow",
        r#"{"dataset": "../data/in.csv"}"#,
        &["--allow-path", "data"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(state["profile"]["name"]["count"], 2, "{state}");

    for refused in [
        "/etc/hostname",
        "../../../../../../../../../../etc/hostname",
    ] {
        let state = format!(r#"{{"dataset": "{refused}"}}"#);
        let (code, _, stderr) = run(
            dir.path(),
            "flows/profile.flow",
            &state,
            &["--allow-path", "data"],
        );
        assert_eq!(code, 3, "{refused}: {stderr}");
        assert!(stderr.contains("is outside the folders"), "{stderr}");
    }
}

#[cfg(unix)]
#[test]
fn a_link_out_of_the_folder_is_refused() {
    let dir = layout();
    std::os::unix::fs::symlink(
        dir.path().join("data/in.csv"),
        dir.path().join("flows/in.csv"),
    )
    .unwrap();
    let (code, _, stderr) = run(
        dir.path(),
        "flows/profile.flow",
        r#"{"dataset": "in.csv"}"#,
        &[],
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("is outside the folders"), "{stderr}");
}

#[test]
fn repaired_data_is_written_only_inside_an_allowed_folder() {
    let dir = layout();
    let state = r#"{"dataset": "../data/in.csv", "output": "../data/secret.txt"}"#;
    let (code, _, stderr) = run(dir.path(), "flows/repair.flow", state, &[]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("`dataset` ../data/in.csv"), "{stderr}");
    std::fs::copy(
        dir.path().join("data/in.csv"),
        dir.path().join("flows/in.csv"),
    )
    .unwrap();
    let state = r#"{"dataset": "in.csv", "output": "../data/secret.txt"}"#;
    let (code, _, stderr) = run(dir.path(), "flows/repair.flow", state, &[]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("`output` ../data/secret.txt"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("data/secret.txt")).unwrap(),
        "keep me\n"
    );

    let state = r#"{"dataset": "in.csv", "output": "clean.csv"}"#;
    let (code, state, stderr) = run(dir.path(), "flows/repair.flow", state, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(state["dataset"], "clean.csv");
    assert!(dir.path().join("flows/clean.csv").is_file());
}
