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
//!   On success stderr is discarded.
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

mod words;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::tools::{CancelToken, FailureKind, Tool, ToolCall, ToolFailure};
use crate::value::{DurationStyle, Kind, format_duration};

/// The most stdout a command may print.
const STDOUT_LIMIT: usize = 16 * 1024 * 1024;
/// How much of the end of stderr is kept while the command runs.
const STDERR_KEPT: usize = 8 * 1024;
/// How much of that tail goes into a failure message.
const STDERR_TAIL_LINES: usize = 20;
const STDERR_TAIL_BYTES: usize = 2 * 1024;
/// How much of bad stdout a failure message quotes.
const STDOUT_HEAD_CHARS: usize = 200;
/// How much of `cmd` a message quotes.
const CMD_SHOWN_CHARS: usize = 80;
/// The longest pause between two checks of the child, the cancel token and the deadline.
const MAX_POLL: Duration = Duration::from_millis(10);
/// How long the output pipes may stay open after the command (and its group) is gone.
const PIPE_GRACE: Duration = Duration::from_secs(1);

/// `exec(cmd: string, timeout?: duration)`; see the module documentation.
pub(crate) struct Exec;

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
        output.changes(&shown)
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

/// What the output threads report when they are done.
enum Event {
    /// All of stdout, at end of file.
    Stdout(io::Result<Vec<u8>>),
    /// Stdout went over [`STDOUT_LIMIT`]; the thread stopped reading.
    StdoutTooLong,
    /// The end of stderr, at end of file.
    Stderr(StderrTail),
}

struct StderrTail {
    bytes: Vec<u8>,
    /// Whether anything before `bytes` was dropped.
    cut: bool,
}

/// The output threads' reports so far.
#[derive(Default)]
struct Reports {
    stdout: Option<io::Result<Vec<u8>>>,
    stdout_too_long: bool,
    stderr: Option<StderrTail>,
}

impl Reports {
    fn take(&mut self, event: Event) {
        match event {
            Event::Stdout(stdout) => self.stdout = Some(stdout),
            Event::StdoutTooLong => self.stdout_too_long = true,
            Event::Stderr(tail) => self.stderr = Some(tail),
        }
    }

    /// Both outputs, once both threads reported them.
    fn finished(&mut self) -> Option<(io::Result<Vec<u8>>, StderrTail)> {
        if self.stdout.is_some() && self.stderr.is_some() {
            self.stdout.take().zip(self.stderr.take())
        } else {
            None
        }
    }
}

/// A started command. Dropping it kills and reaps the command if that has not happened yet, so
/// no path (an early return, a panic) leaves a process or a zombie behind.
struct Running<'a> {
    shown: &'a str,
    child: Child,
    /// How the command ended, once it exited on its own.
    status: Option<ExitStatus>,
    /// Set once the child is reaped: from then on its pid may belong to another process.
    reaped: bool,
    events: Receiver<Event>,
}

/// The collected result of a command that exited on its own.
struct Output {
    status: ExitStatus,
    stdout: Result<Vec<u8>, io::Error>,
    stderr: StderrTail,
}

impl<'a> Running<'a> {
    fn start(
        shown: &'a str,
        program: &str,
        arguments: &[String],
        workdir: &Path,
        input: Vec<u8>,
    ) -> Result<Running<'a>, ToolFailure> {
        let cannot_start = |why: &dyn std::fmt::Display| {
            ToolFailure::failed(format!("cannot start `{program}`: {why}"))
        };
        let workdir = working_directory(workdir).map_err(|error| cannot_start(&error))?;
        if !workdir.is_dir() {
            return Err(cannot_start(&format_args!(
                "its working directory `{}` is not a folder",
                workdir.display()
            )));
        }
        // A relative path with a slash (`./run.sh`, `bin/tool`) means "in the flow's folder".
        // Spelling that out keeps it from depending on whether the platform resolves it before
        // or after changing directory.
        let resolved: PathBuf = if program.contains('/') {
            workdir.join(program)
        } else {
            program.into()
        };
        let mut command = Command::new(&resolved);
        command
            .args(arguments)
            .current_dir(&workdir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group, whose id is its pid: killing the group reaches everything
            // it started (unless that moved itself elsewhere), and the terminal's Ctrl-C goes to
            // the engine, which then cancels the run, rather than straight to the command.
            command.process_group(0).arg0(program);
        }
        let mut child = command.spawn().map_err(|error| cannot_start(&error))?;

        let (sender, events) = mpsc::channel();
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let mut running = Running {
            shown,
            child,
            status: None,
            reaped: false,
            events,
        };
        let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
            unreachable!("all three pipes were requested");
        };
        let threads = spawn_thread("exec-stdin", move || write_stdin(stdin, &input))
            .and_then(|()| {
                let sender = sender.clone();
                spawn_thread("exec-stdout", move || read_stdout(stdout, &sender))
            })
            .and_then(|()| spawn_thread("exec-stderr", move || read_stderr(stderr, &sender)));
        if let Err(error) = threads {
            running.kill();
            return Err(ToolFailure::failed(format!(
                "cannot run `{shown}`: cannot start a thread: {error}"
            )));
        }
        Ok(running)
    }

    /// Waits until the command exits and both output pipes are closed, the run is cancelled,
    /// or the limit passes.
    fn wait(mut self, cancel: &CancelToken, limit: Option<&Limit>) -> Result<Output, ToolFailure> {
        let mut reports = Reports::default();
        let mut exited_at = None;
        // Start with short pauses so that quick commands return quickly, then back off.
        let mut pause = Duration::from_millis(1);
        loop {
            while let Ok(event) = self.events.try_recv() {
                reports.take(event);
            }
            if reports.stdout_too_long {
                self.kill();
                return Err(ToolFailure::failed(format!(
                    "`{}` printed more than {} MiB on stdout and was killed",
                    self.shown,
                    STDOUT_LIMIT / (1024 * 1024)
                )));
            }
            if self.status.is_none() {
                match self.child.try_wait() {
                    Ok(Some(status)) => {
                        self.status = Some(status);
                        self.reaped = true;
                        exited_at = Some(Instant::now());
                        // Whatever it left running in its group (see the module documentation).
                        // The child is reaped, but POSIX keeps its pid from being handed out
                        // again while its group has members, so this reaches exactly them; an
                        // empty group makes it a no-op unless, within these microseconds, the
                        // pids wrapped around and a new process took the id as its group's.
                        kill_group(self.child.id());
                    }
                    Ok(None) => {}
                    Err(error) => {
                        self.kill();
                        return Err(ToolFailure::failed(format!(
                            "cannot wait for `{}`: {error}",
                            self.shown
                        )));
                    }
                }
            }
            if let Some(status) = self.status
                && let Some((stdout, stderr)) = reports.finished()
            {
                return Ok(Output {
                    status,
                    stdout,
                    stderr,
                });
            }
            if cancel.is_cancelled() {
                self.kill();
                return Err(cancelled(self.shown, true));
            }
            let now = Instant::now();
            if let Some(limit) = limit.filter(|limit| now >= limit.at) {
                self.kill();
                let mut failure = limit.timed_out(self.shown, true);
                failure
                    .message
                    .push_str(&self.stderr_after_kill(&mut reports));
                return Err(failure);
            }
            if exited_at.is_some_and(|exited: Instant| now.duration_since(exited) >= PIPE_GRACE) {
                return Err(ToolFailure::failed(format!(
                    "`{}` exited, but its stdout or stderr was still open {} later: a process it \
                     started outside its process group (with `setsid`?) holds them; redirect \
                     that process's output",
                    self.shown,
                    format_duration(PIPE_GRACE, DurationStyle::Literal)
                )));
            }
            let pause_now = limit.map_or(pause, |limit| pause.min(limit.at - now));
            match self.events.recv_timeout(pause_now) {
                Ok(event) => reports.take(event),
                Err(RecvTimeoutError::Timeout) => {}
                // Both output threads are done; only the child is left to wait for.
                Err(RecvTimeoutError::Disconnected) => thread::sleep(pause_now),
            }
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    /// The end of stderr of a command just killed, for its failure message: the killed group
    /// closes the pipe at once, unless a process outside it holds it (then there is none).
    fn stderr_after_kill(&self, reports: &mut Reports) -> String {
        let until = Instant::now() + Duration::from_millis(200);
        while reports.stderr.is_none() {
            let left = until.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => reports.take(event),
                Err(_) => break,
            }
        }
        reports
            .stderr
            .as_ref()
            .map(|tail| stderr_tail(&tail.bytes, tail.cut))
            .filter(|tail| !tail.is_empty())
            .map(|tail| format!("\nits stderr ends with:\n{tail}"))
            .unwrap_or_default()
    }

    /// Kills the command's process group and reaps the command.
    fn kill(&mut self) {
        if self.reaped {
            return;
        }
        // The group goes first, while the unreaped child keeps its id from being reused.
        kill_group(self.child.id());
        // In case `kill` could not run: at least the command itself goes.
        let _ = self.child.kill();
        // An error means there is nothing left to reap.
        let _ = self.child.wait();
        self.reaped = true;
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Output {
    fn changes(self, shown: &str) -> Result<Map<String, Value>, ToolFailure> {
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
        let stdout = self.stdout.map_err(|error| {
            ToolFailure::failed(format!(
                "cannot read the stdout of `{shown}`: {error}{stderr}"
            ))
        })?;
        if stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        let problem = match serde_json::from_slice::<Value>(&stdout) {
            Ok(Value::Object(changes)) => return Ok(changes),
            Ok(other) => format!("printed {} on stdout", Kind::of_json(&other).json_name()),
            Err(error) => format!("printed invalid JSON on stdout ({error})"),
        };
        Err(ToolFailure::failed(format!(
            "`{shown}` {problem}, but it must print one JSON object: the node's changes\n\
             its stdout begins with:\n{}{stderr}",
            head(&stdout)
        )))
    }
}

fn spawn_thread(name: &str, work: impl FnOnce() + Send + 'static) -> io::Result<()> {
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(work)
        .map(drop)
}

/// Feeds the input, then closes stdin. A command that exits without reading it makes the
/// write fail, which is fine; a command that never reads it only blocks this thread.
fn write_stdin(mut stdin: ChildStdin, input: &[u8]) {
    let _ = stdin.write_all(input);
}

fn read_stdout(stdout: ChildStdout, events: &Sender<Event>) {
    let mut buffer = Vec::new();
    // One byte more than allowed tells "too long" from "exactly at the limit". Stopping early
    // closes the pipe, so a command that keeps writing gets `SIGPIPE` even before it is killed.
    let limit = u64::try_from(STDOUT_LIMIT).map_or(u64::MAX, |limit| limit + 1);
    let event = match stdout.take(limit).read_to_end(&mut buffer) {
        Ok(_) if buffer.len() > STDOUT_LIMIT => Event::StdoutTooLong,
        result => Event::Stdout(result.map(|_| buffer)),
    };
    // The receiver is gone only when the call already returned.
    let _ = events.send(event);
}

fn read_stderr(mut stderr: ChildStderr, events: &Sender<Event>) {
    let mut tail = Vec::new();
    let mut cut = false;
    let mut chunk = [0; 8192];
    loop {
        match stderr.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => {
                tail.extend_from_slice(&chunk[..read]);
                if tail.len() > STDERR_KEPT {
                    tail.drain(..tail.len() - STDERR_KEPT);
                    cut = true;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            // Stderr only ever serves a message: what was read is enough.
            Err(_) => break,
        }
    }
    let _ = events.send(Event::Stderr(StderrTail { bytes: tail, cut }));
}

/// Sends `SIGKILL` to the process group `pgid`. std has no API for signalling a group, and
/// `libc` is not a dependency, so this runs `kill(1)`, which every POSIX system has. When it
/// cannot run, the caller still kills the child itself with [`Child::kill`].
#[cfg(unix)]
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(not(unix))]
fn kill_group(_pgid: u32) {}

/// The folder commands run in, made absolute so that relative program paths resolve the same
/// way whatever the engine's own working directory is. An empty path means the current one.
fn working_directory(workdir: &Path) -> io::Result<PathBuf> {
    if workdir.as_os_str().is_empty() {
        std::env::current_dir()
    } else {
        std::path::absolute(workdir)
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
    use crate::tools::{CancelToken, ToolCall};

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
