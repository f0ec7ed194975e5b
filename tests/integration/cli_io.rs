//! The `flowc` binary at the edges of its input and output: a reader that closes the pipe,
//! a stderr nobody reads, a full disk, inputs without end, a `--trace` that names an
//! input, and every flag given a bad value. None of it may panic (exit 101).

use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use assert_cmd::prelude::*;

fn flowc(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("flowc").unwrap();
    command
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "80")
        .env_remove("FLOWC_MAX_FLOW_SIZE")
        .env_remove("FLOWC_MAX_STATE_SIZE")
        .stdin(Stdio::null());
    command
}

fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    Output {
        code: output.status.code().expect("flowc exits, it is not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A flow of 4,000 nodes, and one with an undeclared, long-named target on each of 4,000
/// edges: a large IR, graph and diagnostics (in every format) to write.
fn large_flows(dir: &Path) {
    let mut clean = String::from("flow big {\n    node n0 = noop\n    start -> n0\n");
    let mut broken = String::from("flow broken {\n    node n0 = noop\n    start -> n0\n");
    for i in 1..4000 {
        let _ = writeln!(clean, "    node n{i} = noop\n    n{} -> n{i}", i - 1);
        // Long names: at most 100 problems per file are shown, and each must be large.
        let _ = writeln!(broken, "    n0 -> missing{i}_{}", "x".repeat(1500));
    }
    clean.push_str("}\n");
    broken.push_str("}\n");
    write(dir, "big.flow", clean.as_bytes());
    write(dir, "broken.flow", broken.as_bytes());
    write(
        dir,
        "ok.flow",
        b"flow ok {\n    node a = noop\n    start -> a\n}\n",
    );
    let rows: Vec<String> = (0..20_000).map(|i| format!("\"row {i:>60}\"")).collect();
    write(
        dir,
        "big.json",
        format!("{{\"rows\": [{}]}}", rows.join(",")).as_bytes(),
    );
}

/// Commands with a lot to write on stdout, and the code each exits with.
const LOUD: [(&[&str], i32); 9] = [
    (&["check", "--emit-ir", "big.flow"], 0),
    (&["check", "--format", "json", "broken.flow"], 1),
    (&["check", "--format", "short", "broken.flow"], 1),
    (&["graph", "big.flow"], 0),
    (&["graph", "--format", "dot", "big.flow"], 0),
    (&["tools"], 0),
    (&["tools", "--json"], 0),
    (&["run", "ok.flow", "--state", "big.json"], 0),
    (&["run", "--help"], 0),
];

#[test]
fn the_large_outputs_are_large() {
    let dir = tempfile::tempdir().unwrap();
    large_flows(dir.path());
    for (args, code) in LOUD {
        let out = run(flowc(dir.path()).args(args));
        assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
        if args[0] != "tools" && args[1] != "--help" {
            // More than a pipe holds (64 KiB on Linux), so the writer is still writing
            // when the reader goes.
            assert!(
                out.stdout.len() > 100_000,
                "{args:?}: {} bytes",
                out.stdout.len()
            );
        }
    }
    // Human diagnostics go to stderr, and fill it too (the closed-stderr case).
    let out = run(flowc(dir.path()).args(["check", "broken.flow", "ok.flow"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.len() > 100_000, "{} bytes", out.stderr.len());
}

#[test]
fn a_closed_stdout_is_a_quiet_exit_with_the_usual_code() {
    let dir = tempfile::tempdir().unwrap();
    large_flows(dir.path());
    for (args, code) in LOUD {
        // The reader is gone before flowc writes anything.
        let mut child = flowc(dir.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");

        // The reader takes one byte, then goes (`| head -c1`).
        let mut child = flowc(dir.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 1];
        let _ = stdout.read(&mut first);
        drop(stdout);
        assert_eq!(child.wait().unwrap().code(), Some(code), "{args:?}");
    }
}

#[test]
fn a_closed_stderr_is_no_panic_either() {
    let dir = tempfile::tempdir().unwrap();
    large_flows(dir.path());
    let cases: [(&[&str], i32); 5] = [
        (&["check", "broken.flow"], 1),
        // Human diagnostics are all on stderr: over 100 KB of them.
        (&["check", "broken.flow", "ok.flow"], 1),
        (&["run", "big.flow"], 0),
        (&["run", "broken.flow"], 1),
        (&["run", "nowhere.flow"], 2),
    ];
    for (args, code) in cases {
        let mut child = flowc(dir.path())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take());
        assert_eq!(child.wait().unwrap().code(), Some(code), "{args:?}");

        // No stderr at all (`2>&-`).
        let closed = format!("'{}' {} 2>&-", env!("CARGO_BIN_EXE_flowc"), args.join(" "));
        let status = Command::new("sh")
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .args(["-c", &closed])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(code), "{closed}");
    }
}

#[test]
fn a_stdout_that_cannot_be_written_is_reported_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    large_flows(dir.path());
    for args in [
        &["check", "--emit-ir", "big.flow"][..],
        &["check", "--format", "json", "broken.flow"],
        &["run", "ok.flow", "-q"],
    ] {
        let full = File::options().write(true).open("/dev/full").unwrap();
        let out = run(flowc(dir.path()).args(args).stdout(full));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("error: cannot write to stdout: No space left on device"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn every_bad_flag_value_is_a_usage_error_that_says_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    large_flows(dir.path());
    let cases: [(&[&str], &str); 16] = [
        (
            &["run", "ok.flow", "--max-steps", "0"],
            "a run needs at least 1 step",
        ),
        (
            &["run", "ok.flow", "--max-steps=-1"],
            "write a whole number of steps",
        ),
        (
            &["run", "ok.flow", "--max-steps", "lots"],
            "write a whole number of steps",
        ),
        (
            &["run", "ok.flow", "--timeout", "0s"],
            "write a duration above 0",
        ),
        (
            &["run", "ok.flow", "--timeout", "0ms"],
            "write a duration above 0",
        ),
        (
            &["run", "ok.flow", "--timeout", "soon"],
            "write e.g. `500ms`",
        ),
        (&["run", "ok.flow", "--set", "n"], "write KEY=JSON"),
        (&["run", "ok.flow", "--set", "=1"], "write KEY=JSON"),
        (
            &["run", "ok.flow", "--set", "n=abc"],
            "the value is not valid JSON",
        ),
        (
            &["run", "ok.flow", "--limit", "max_operations"],
            "write NAME=VALUE",
        ),
        (
            &["run", "ok.flow", "--max-state-size", "0"],
            "at least 1 byte",
        ),
        (
            &["run", "ok.flow", "--max-state-size", "8MB"],
            "write a size such as",
        ),
        (
            &["check", "ok.flow", "--max-flow-size", "big"],
            "write a size such as",
        ),
        (&["check", "ok.flow", "--format", "xml"], "possible values"),
        (
            &["check", "ok.flow", "--color", "sometimes"],
            "possible values",
        ),
        (&["graph", "ok.flow", "--format", "svg"], "possible values"),
    ];
    for (args, says) in cases {
        let out = run(flowc(dir.path()).args(args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(
            out.stderr.starts_with("error: invalid value") && out.stderr.contains(says),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = run(flowc(dir.path())
        .args(["check", "ok.flow"])
        .env("FLOWC_MAX_FLOW_SIZE", "-3"));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("write a size such as"),
        "{}",
        out.stderr
    );
    // The smallest good values run.
    let out = run(flowc(dir.path()).args(["run", "ok.flow", "--max-steps", "1", "-q"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    // 1ms is accepted: the run either finishes or times out, it is not a usage error.
    let out = run(flowc(dir.path()).args(["run", "ok.flow", "--timeout", "1ms", "-q"]));
    assert!(matches!(out.code, 0 | 3), "{}: {}", out.code, out.stderr);
}

#[test]
fn endless_inputs_are_refused_at_their_bound() {
    let dir = tempfile::tempdir().unwrap();
    large_flows(dir.path());
    let cases: [(&[&str], &str); 4] = [
        (
            &["check", "/dev/zero"],
            "`/dev/zero` is larger than 8 MiB; to read it, raise the bound with \
             `--max-flow-size SIZE` (or FLOWC_MAX_FLOW_SIZE)",
        ),
        (&["graph", "/dev/zero"], "`/dev/zero` is larger than 8 MiB"),
        (&["run", "/dev/zero"], "`/dev/zero` is larger than 8 MiB"),
        (
            &["run", "ok.flow", "--state", "/dev/zero"],
            "`/dev/zero` is larger than 16 MiB; to read it, raise the bound with \
             `--max-state-size SIZE` (or FLOWC_MAX_STATE_SIZE)",
        ),
    ];
    for (args, says) in cases {
        let out = run(flowc(dir.path()).args(args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    let out = run(flowc(dir.path())
        .args(["run", "ok.flow", "--state", "-"])
        .stdin(File::open("/dev/zero").unwrap()));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: stdin is larger than 16 MiB"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_input_bounds_are_settings() {
    let dir = tempfile::tempdir().unwrap();
    large_flows(dir.path());
    let size = std::fs::metadata(dir.path().join("ok.flow")).unwrap().len();
    let exact = size.to_string();
    let under = (size - 1).to_string();
    let out = run(flowc(dir.path()).args(["check", "ok.flow", "--max-flow-size", &exact]));
    assert_eq!(
        out.code, 0,
        "a file as large as the bound is read: {}",
        out.stderr
    );
    let out = run(flowc(dir.path()).args(["check", "ok.flow", "--max-flow-size", &under]));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains(&format!("`ok.flow` is larger than {under} bytes")),
        "{}",
        out.stderr
    );
    let out = run(flowc(dir.path())
        .args(["run", "ok.flow", "--state", "big.json"])
        .env("FLOWC_MAX_STATE_SIZE", "1KiB"));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("`big.json` is larger than 1 KiB"),
        "{}",
        out.stderr
    );
    let out = run(flowc(dir.path())
        .args(["run", "ok.flow", "--state", "big.json", "-q"])
        .args(["--max-state-size", "2MiB"])
        .env("FLOWC_MAX_STATE_SIZE", "1KiB"));
    assert_eq!(
        out.code, 0,
        "the flag wins over the variable: {}",
        out.stderr
    );
}

#[test]
fn the_trace_never_overwrites_an_input_of_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let flow = b"flow ok {\n    node a = noop\n    start -> a\n}\n";
    write(dir.path(), "ok.flow", flow);
    write(dir.path(), "state.json", b"{}");
    std::os::unix::fs::symlink("ok.flow", dir.path().join("link.flow")).unwrap();
    std::fs::hard_link(dir.path().join("state.json"), dir.path().join("hard.json")).unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["run", "ok.flow", "--trace", "ok.flow"], "`ok.flow`"),
        (&["run", "ok.flow", "--trace", "./ok.flow"], "`ok.flow`"),
        (&["run", "link.flow", "--trace", "ok.flow"], "`link.flow`"),
        (
            &[
                "run",
                "ok.flow",
                "--state",
                "state.json",
                "--trace",
                "state.json",
            ],
            "`state.json`",
        ),
        (
            &[
                "run",
                "ok.flow",
                "--state",
                "hard.json",
                "--trace",
                "state.json",
            ],
            "`hard.json`",
        ),
    ];
    for (args, input) in cases {
        let out = run(flowc(dir.path()).args(args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        let trace = args.last().unwrap();
        assert_eq!(
            out.stderr,
            format!(
                "error: `--trace {trace}` is the same file as {input}, an input of this run: \
                 writing the trace would destroy it; choose another path\n"
            ),
            "{args:?}"
        );
        assert_eq!(std::fs::read(dir.path().join("ok.flow")).unwrap(), flow);
        assert_eq!(std::fs::read(dir.path().join("state.json")).unwrap(), b"{}");
    }
    let out = run(flowc(dir.path())
        .args(["run", "ok.flow", "--state", "-", "--trace", "state.json"])
        .stdin(File::open(dir.path().join("state.json")).unwrap()));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("is the same file as stdin"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(dir.path().join("state.json")).unwrap(), b"{}");

    // Not inputs: stdin when the state is not read from it, and a device.
    let out = run(flowc(dir.path())
        .args(["run", "ok.flow", "--trace", "state.json", "-q"])
        .stdin(File::open(dir.path().join("state.json")).unwrap()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run(flowc(dir.path()).args(["run", "ok.flow", "--trace", "/dev/null", "-q"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_trace_that_cannot_be_written_stops_the_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "mark.flow",
        b"flow mark {\n    node first = noop\n    node mark = exec(cmd: \"sh -c 'touch marker; echo {}'\")\n    start -> first -> mark\n}\n",
    );
    // Without the broken trace, the second step leaves its marker.
    let out = run(flowc(dir.path()).args(["run", "mark.flow", "-q"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    std::fs::remove_file(dir.path().join("marker")).unwrap();

    let out = run(flowc(dir.path()).args(["run", "mark.flow", "--trace", "/dev/full"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        !dir.path().join("marker").exists(),
        "a step ran after the trace failed: {}",
        out.stderr
    );
    assert_eq!(
        out.stderr,
        "error: cannot write the trace to `/dev/full`: No space left on device (os error 28); \
         the run was stopped\n"
    );
}
