//! The `exec` tool: runs a command as a child process and takes the JSON object it prints as
//! the node's changes. It splits `cmd` into words itself (see [`words`]) and never starts a
//! shell unless the command names one.
//!
//! The protocol, as a command sees it:
//! - it runs in the flow file's folder, with the engine's environment, in a process group of
//!   its own;
//! - its stdin is `{"state": …, "args": …, "node": "…"}` as one JSON document, then end of file;
//! - it prints the node's changes on stdout as one JSON object. Empty (or whitespace-only)
//!   stdout means "no changes", so a command that only has side effects can stay silent;
//! - it exits with status 0. Anything else (a non-zero status, a signal, stdout that is not one
//!   JSON object) fails the node with `tool-failed`; the message gives the exit status and the
//!   end of stderr (at most 20 lines and 2 KiB), and for bad stdout its start and the parse error.
//!   On success the end of stderr goes to the step's log record (`stderr`).
//!
//! Limits: stdout is capped at 16 MiB (more kills the command and fails the node); only the
//! last 8 KiB of stderr is kept. The deadline is the earlier of the node's deadline and
//! `timeout`; when it passes or the run is cancelled (`cancelled`), the command's whole
//! process group is killed with `SIGKILL` and reaped before the call returns. The `timeout`
//! argument passing fails the node with `tool-failed` (with the end of stderr), like any other
//! failure of the command; the node's or the run's deadline passing is `timeout`.
//!
//! When the command exits, whatever it left running in its process group (`cmd &` without
//! `wait`) is killed too, so no node leaves processes behind and no background process can
//! hold the output pipes open. A process that moved itself to another group or session
//! (`setsid`, `setpgid`) escapes that; if it still holds stdout or stderr one second after the
//! command exited, the node fails rather than wait for it.
//!
//! The group dies with the engine too: on its second signal `flowc run` kills every group in
//! the registry of live groups ([`groups`]), and when the `flowc` binary is killed outright
//! each group's watchdog kills it ([`watchdog`]).

mod groups;
mod running;
mod watchdog;
mod words;

pub(crate) use groups::kill_all_and_exit;
pub use watchdog::serve as serve_watchdog;

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

use self::running::{Output, Running};
use crate::tools::{ArgType, FailureKind, Tool, ToolCall, ToolFailure, ToolRegistry, ToolSpec};
use crate::value::{DurationStyle, Kind, format_duration};

/// How much of that tail goes into a failure message.
const STDERR_TAIL_LINES: usize = 20;
const STDERR_TAIL_BYTES: usize = 2 * 1024;
/// How much of bad stdout a failure message quotes.
const STDOUT_HEAD_CHARS: usize = 200;
/// How much of `cmd` a message quotes.
const CMD_SHOWN_CHARS: usize = 80;

pub(super) fn register(registry: &mut ToolRegistry) {
    registry.register(
        ToolSpec::new(
            "exec",
            "Runs a command (no shell unless it names one). It gets {\"state\", \"args\", \"node\"} as JSON on stdin and prints a JSON object of changes on stdout.",
        )
        .required("cmd", ArgType::String, "the command line, split into words as a shell would")
        .optional("timeout", ArgType::Duration, "kill the command after this long"),
        Exec,
    );
}

/// `exec(cmd: string, timeout?: duration)`; see the module documentation.
struct Exec;

impl Tool for Exec {
    fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        let Some(Value::String(cmd)) = call.args.get("cmd") else {
            return Err(ToolFailure::failed("exec needs a `cmd` string argument"));
        };
        let shown = shown(cmd);
        let words = command_words(cmd).map_err(ToolFailure::failed)?;
        let (program, arguments) = words.split_first().expect("command_words is not empty");
        let limit = Limit::of(call, Instant::now())?;
        if call.cancel.is_cancelled() {
            return Err(cancelled(&shown, false));
        }
        if let Some(limit) = limit.as_ref().filter(|limit| Instant::now() >= limit.at) {
            return Err(limit.timed_out(&shown, false));
        }
        let input = serde_json::to_vec(&Input {
            state: call.state,
            args: call.args,
            node: call.node,
        })
        .map_err(|error| {
            ToolFailure::failed(format!("cannot encode the input of `{shown}`: {error}"))
        })?;
        let running = Running::start(&shown, program, arguments, call.workdir, input)?;
        let output = running.wait(call.cancel, limit.as_ref())?;
        let changes = output.changes(&shown)?;
        // On success the end of stderr goes to the step's log record.
        for line in String::from_utf8_lossy(&output.stderr.bytes).lines() {
            call.log.line(line);
        }
        Ok(changes)
    }

    /// `cmd` is checked with the flow: one that is empty or cannot be split into words
    /// would fail every run.
    fn check_arg(&self, name: &str, value: &Value) -> Result<(), String> {
        match (name, value) {
            ("cmd", Value::String(cmd)) => command_words(cmd).map(drop),
            _ => Ok(()),
        }
    }
}

/// `cmd` as words: a command line that cannot be split, or has no words, is refused.
fn command_words(cmd: &str) -> Result<Vec<String>, String> {
    let words = words::split(cmd)
        .map_err(|error| format!("cannot split `{}` into words: {error}", shown(cmd)))?;
    if words.is_empty() {
        return Err("the command is empty: there is nothing to run".to_owned());
    }
    Ok(words)
}

/// What the command reads on stdin.
#[derive(Serialize)]
struct Input<'a> {
    state: &'a Map<String, Value>,
    args: &'a Map<String, Value>,
    node: &'a str,
}

/// When the command must be done, and which setting said so (for the message).
struct Limit {
    at: Instant,
    /// `Some` when the `timeout` argument set the limit; `None` for the node's deadline.
    timeout: Option<Duration>,
    /// From the start of the call to `at`.
    budget: Duration,
}

impl Limit {
    fn of(call: &ToolCall<'_>, now: Instant) -> Result<Option<Limit>, ToolFailure> {
        let timeout = match call.args.get("timeout") {
            None | Some(Value::Null) => None,
            Some(value) => {
                let millis = value.as_u64().ok_or_else(|| {
                    ToolFailure::failed(format!(
                        "`timeout` must be a duration (whole milliseconds), not {value}"
                    ))
                })?;
                let timeout = Duration::from_millis(millis);
                // A timeout too far away to represent is no limit at all.
                now.checked_add(timeout).map(|at| Limit {
                    at,
                    timeout: Some(timeout),
                    budget: timeout,
                })
            }
        };
        let deadline = call.deadline.map(|at| Limit {
            at,
            timeout: None,
            budget: at.saturating_duration_since(now),
        });
        Ok(match (timeout, deadline) {
            (Some(timeout), Some(deadline)) if deadline.at < timeout.at => Some(deadline),
            (Some(timeout), _) => Some(timeout),
            (None, deadline) => deadline,
        })
    }

    /// The failure once the limit has passed, `started` or not.
    fn timed_out(&self, shown: &str, started: bool) -> ToolFailure {
        let message = match (self.timeout, started) {
            (Some(timeout), true) => format!(
                "`{shown}` did not finish within its {} `timeout` and was killed",
                format_duration(timeout, DurationStyle::Literal)
            ),
            (Some(timeout), false) => {
                format!(
                    "`{shown}` did not start: its {} `timeout` left no time",
                    format_duration(timeout, DurationStyle::Literal)
                )
            }
            (None, true) => format!(
                "`{shown}` was still running at its deadline (set by the node's or the run's \
                 `timeout`, {} after the call began) and was killed",
                format_duration(self.budget, DurationStyle::Literal)
            ),
            (None, false) => {
                format!("`{shown}` did not start: the node's deadline had already passed")
            }
        };
        // The `timeout` argument is the tool's own setting, so its expiry is the tool failing
        // (`tool-failed`, which `retry` and `on error` handle); a deadline is the node's or
        // the run's `timeout` passing.
        let kind = if self.timeout.is_some() {
            FailureKind::Failed
        } else {
            FailureKind::TimedOut
        };
        ToolFailure { kind, message }
    }
}

fn cancelled(shown: &str, started: bool) -> ToolFailure {
    let message = if started {
        format!("the run was cancelled while `{shown}` was running; it was killed")
    } else {
        format!("the run was cancelled before `{shown}` started")
    };
    ToolFailure {
        kind: FailureKind::Cancelled,
        message,
    }
}

impl Output {
    fn changes(&self, shown: &str) -> Result<Map<String, Value>, ToolFailure> {
        let stderr = stderr_tail(&self.stderr.bytes, self.stderr.cut);
        let stderr = if stderr.is_empty() {
            String::new()
        } else {
            format!("\nits stderr ends with:\n{stderr}")
        };
        if !self.status.success() {
            let status = self.status;
            return Err(ToolFailure::failed(format!(
                "`{shown}` failed ({status}){stderr}"
            )));
        }
        let stdout = self.stdout.as_ref().map_err(|error| {
            ToolFailure::failed(format!(
                "cannot read the stdout of `{shown}`: {error}{stderr}"
            ))
        })?;
        if stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        let problem = match serde_json::from_slice::<Value>(stdout) {
            Ok(Value::Object(changes)) => return Ok(changes),
            Ok(other) => format!("printed {} on stdout", Kind::of_json(&other).json_name()),
            Err(error) => format!("printed invalid JSON on stdout ({error})"),
        };
        Err(ToolFailure::failed(format!(
            "`{shown}` {problem}, but it must print one JSON object: the node's changes\n\
             its stdout begins with:\n{}{stderr}",
            head(stdout)
        )))
    }
}

/// `cmd` as messages quote it: shortened when long.
fn shown(cmd: &str) -> String {
    let cmd = cmd.trim();
    match cmd.char_indices().nth(CMD_SHOWN_CHARS) {
        Some((end, _)) => format!("{}…", &cmd[..end]),
        None => cmd.to_owned(),
    }
}

/// The start of bad stdout, indented, for a message.
fn head(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout);
    let text = text.trim();
    let text = match text.char_indices().nth(STDOUT_HEAD_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    };
    indent(&text)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The last lines of stderr (within both limits), indented, after a `…` line when anything
/// before them was left out. Empty when stderr was.
fn stderr_tail(stderr: &[u8], already_cut: bool) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let mut kept = 0;
    let mut bytes = 0;
    for line in lines.iter().rev() {
        bytes += line.len() + 1;
        if kept == STDERR_TAIL_LINES || bytes > STDERR_TAIL_BYTES {
            break;
        }
        kept += 1;
    }
    let mut shown: Vec<&str> = lines[lines.len() - kept..].to_vec();
    if let (0, Some(last)) = (kept, lines.last()) {
        // A last line longer than the byte limit on its own: keep its end.
        let mut start = last.len() - STDERR_TAIL_BYTES;
        while !last.is_char_boundary(start) {
            start += 1;
        }
        shown.push(&last[start..]);
    }
    let mut tail = String::new();
    if already_cut || shown.len() < lines.len() || kept < shown.len() {
        tail.push_str("  …");
    }
    for line in shown {
        if !tail.is_empty() {
            tail.push('\n');
        }
        tail.push_str("  ");
        tail.push_str(line);
    }
    tail
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use serde_json::{Map, json};

    use super::{Limit, STDERR_TAIL_BYTES, head, shown, stderr_tail};
    use crate::cancel::CancelToken;
    use crate::tools::ToolCall;

    fn limit(timeout: Option<u64>, deadline: Option<Instant>, now: Instant) -> Option<Limit> {
        let mut args = Map::new();
        args.insert("cmd".into(), json!("true"));
        if let Some(millis) = timeout {
            args.insert("timeout".into(), json!(millis));
        }
        let (state, cancel) = (Map::new(), CancelToken::new());
        let call = ToolCall {
            node: "n",
            args: &args,
            state: &state,
            cancel: &cancel,
            deadline,
            workdir: Path::new("."),
            files: &crate::tools::FileAccess::nowhere(),
            log: &crate::tools::ToolLog::default(),
        };
        Limit::of(&call, now).expect("a valid timeout")
    }

    #[test]
    fn the_earlier_of_timeout_and_deadline_is_the_limit() {
        let now = Instant::now();
        let soon = now + Duration::from_millis(100);
        let later = now + Duration::from_secs(10);
        assert!(limit(None, None, now).is_none());
        let by_timeout = limit(Some(50), Some(later), now).expect("a limit");
        assert_eq!(
            (by_timeout.at, by_timeout.timeout),
            (
                now + Duration::from_millis(50),
                Some(Duration::from_millis(50))
            )
        );
        let by_deadline = limit(Some(5_000), Some(soon), now).expect("a limit");
        assert_eq!((by_deadline.at, by_deadline.timeout), (soon, None));
        assert_eq!(
            limit(None, Some(soon), now).expect("a limit").budget,
            Duration::from_millis(100)
        );
        // Absurdly far away: a limit (or, where an `Instant` cannot hold it, none), not a panic.
        let _ = limit(Some(u64::MAX), None, now);
    }

    #[test]
    fn stderr_tail_keeps_the_last_twenty_lines() {
        let stderr = (1..=30)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n");
        let tail = stderr_tail(stderr.as_bytes(), false);
        let lines: Vec<&str> = tail.lines().collect();
        assert_eq!(lines.len(), 21);
        assert_eq!(
            (lines[0], lines[1], lines[20]),
            ("  …", "  line 11", "  line 30")
        );
    }

    #[test]
    fn stderr_tail_keeps_at_most_two_kilobytes() {
        let stderr = format!("{}\n{}\nlast\n", "a".repeat(1500), "b".repeat(1000));
        assert_eq!(
            stderr_tail(stderr.as_bytes(), false),
            format!("  …\n  {}\n  last", "b".repeat(1000))
        );
        let one_long_line = format!("start{}é", "x".repeat(3000));
        let tail = stderr_tail(one_long_line.as_bytes(), false);
        assert!(
            tail.starts_with("  …\n  xxx") && tail.ends_with("xxxé"),
            "{tail}"
        );
        assert!(tail.len() <= STDERR_TAIL_BYTES + 10);
    }

    #[test]
    fn stderr_tail_is_empty_for_empty_stderr_and_marks_earlier_cuts() {
        assert_eq!(stderr_tail(b"", false), "");
        assert_eq!(stderr_tail(b" \n\n", false), "");
        assert_eq!(stderr_tail(b"only\n", false), "  only");
        assert_eq!(stderr_tail(b"only\n", true), "  …\n  only");
    }

    #[test]
    fn long_commands_and_outputs_are_shortened_in_messages() {
        let long = "x".repeat(500);
        assert_eq!(shown(&long).chars().count(), 81);
        assert_eq!(shown("  echo hi "), "echo hi");
        assert_eq!(head(long.as_bytes()).chars().count(), 2 + 200 + 1);
        assert_eq!(head(b"one\ntwo\n"), "  one\n  two");
    }
}
