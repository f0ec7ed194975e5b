//! The README shows what the bundled files really produce: every `cargo run --release -- …`
//! command it gives, followed by a `text` block, is run, and the block must be found in the
//! output. A line that is only `…` stands for any number of lines; every other line must
//! match exactly (with durations, which vary run to run, read as one placeholder), and the
//! lines between two `…` must be consecutive in the output.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::Command;

use assert_cmd::prelude::*;

const COMMAND_PREFIX: &str = "cargo run --release -- ";

/// `(arguments, expected text)` for each command the README follows with its output.
fn shown_commands(readme: &str) -> Vec<(String, String)> {
    let mut shown = Vec::new();
    let mut lines = readme.lines().peekable();
    while let Some(line) = lines.next() {
        if line != "```sh" {
            continue;
        }
        let command: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let [command] = command.as_slice() else {
            continue;
        };
        let Some(arguments) = command.strip_prefix(COMMAND_PREFIX) else {
            continue;
        };
        while lines.peek() == Some(&"") {
            lines.next();
        }
        if lines.peek() != Some(&"```text") {
            continue;
        }
        lines.next();
        let text: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        shown.push((arguments.to_owned(), text.join("\n")));
    }
    shown
}

/// Replaces every duration (`702µs`, `1.5ms`, `2s`) by `<t>`.
fn without_durations(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_number =
            chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric());
        if starts_number {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            let rest: String = chars[j..].iter().take(2).collect();
            let unit = ["µs", "ms", "ns"]
                .into_iter()
                .find(|unit| rest.starts_with(unit))
                .map(|unit| unit.chars().count())
                .or_else(|| {
                    let after = chars.get(j + 1);
                    (chars.get(j) == Some(&'s') && after.is_none_or(|c| !c.is_alphanumeric()))
                        .then_some(1)
                });
            if let Some(unit) = unit {
                out.push_str("<t>");
                i = j + unit;
                continue;
            }
            out.extend(&chars[i..j]);
            i = j;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Whether `expected` (with `…` lines as gaps) is found in `actual`.
fn shows(expected: &str, actual: &str) -> Result<(), String> {
    let actual: Vec<String> = actual.lines().map(without_durations).collect();
    let mut from = 0;
    let mut anchored = false;
    let mut segment: Vec<String> = Vec::new();
    let mut segments = Vec::new();
    for line in expected.lines() {
        if line.trim() == "…" {
            segments.push(std::mem::take(&mut segment));
        } else {
            segment.push(without_durations(line));
        }
    }
    segments.push(segment);
    for (index, segment) in segments.iter().enumerate() {
        if segment.is_empty() {
            anchored = false;
            continue;
        }
        // The first segment starts the output unless a gap comes first.
        if index == 0 {
            anchored = true;
        }
        let found = (from..=actual.len().saturating_sub(segment.len()))
            .filter(|&start| !anchored || start == from)
            .find(|&start| actual[start..start + segment.len()] == segment[..]);
        let Some(start) = found else {
            return Err(format!(
                "not found in the output (after line {from}):\n{}",
                segment.join("\n")
            ));
        };
        from = start + segment.len();
        anchored = false;
    }
    Ok(())
}

#[test]
fn readme_outputs_are_what_the_bundled_files_produce() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let shown = shown_commands(&readme);
    assert!(
        shown.len() >= 2,
        "the README shows the output of its run and check commands"
    );
    // The commands run one after the other, as a reader would, in a folder of their own
    // holding the bundled examples (so `--db runs.db` starts from no runs).
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root.join("examples"), &dir.path().join("examples"));
    for (arguments, expected) in shown {
        // One file for stdout and stderr, so the lines come in the order a terminal shows.
        let log = tempfile::tempfile().unwrap();
        let words = shlex::split(&arguments).expect("README commands are shell words");
        let status = Command::cargo_bin("flowc")
            .unwrap()
            .current_dir(dir.path())
            .args(words)
            .env_remove("NO_COLOR")
            .env("COLUMNS", "100")
            .stdout(log.try_clone().unwrap())
            .stderr(log.try_clone().unwrap())
            .status()
            .unwrap();
        assert_ne!(status.code(), Some(101), "`flowc {arguments}` panicked");
        let mut log = log;
        log.seek(SeekFrom::Start(0)).unwrap();
        let mut actual = String::new();
        log.read_to_string(&mut actual).unwrap();
        if let Err(problem) = shows(&expected, &actual) {
            panic!("README: `flowc {arguments}`: {problem}\n--- output ---\n{actual}");
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn gaps_and_durations_are_matched_and_nothing_else() {
    let actual = "a (1.5ms) x\nb\nc\nd\n";
    assert_eq!(shows("a (702µs) x\nb", actual), Ok(()));
    assert_eq!(shows("…\nc\nd", actual), Ok(()));
    assert_eq!(shows("a (2s) x\n…\nd", actual), Ok(()));
    assert!(shows("b\nc", actual).is_err(), "not anchored at the start");
    assert!(
        shows("a (1ms) x\nc", actual).is_err(),
        "b is skipped without a gap"
    );
    assert!(shows("…\nd\nc", actual).is_err());
    assert_eq!(
        without_durations("step 12 took 3s, v2s"),
        "step 12 took <t>, v2s"
    );
}
