//! Running one command: spawning it in its own process group, feeding stdin, collecting stdout
//! and the end of stderr on threads, and killing and reaping it (and its group) on every path.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use super::{Limit, cancelled, stderr_tail};
use super::{groups, watchdog};
use crate::cancel::CancelToken;
use crate::tools::ToolFailure;
use crate::value::{DurationStyle, format_duration};

/// The most stdout a command may print.
const STDOUT_LIMIT: usize = 16 * 1024 * 1024;
/// How much of the end of stderr is kept while the command runs.
const STDERR_KEPT: usize = 8 * 1024;
/// The longest pause between two checks of the child, the cancel token and the deadline.
const MAX_POLL: Duration = Duration::from_millis(10);
/// How long the output pipes may stay open after the command (and its group) is gone.
const PIPE_GRACE: Duration = Duration::from_secs(1);

/// What the output threads report when they are done.
enum Event {
    /// All of stdout, at end of file.
    Stdout(io::Result<Vec<u8>>),
    /// Stdout went over [`STDOUT_LIMIT`]; the thread stopped reading.
    StdoutTooLong,
    /// The end of stderr, at end of file.
    Stderr(StderrTail),
}

pub(super) struct StderrTail {
    pub(super) bytes: Vec<u8>,
    /// Whether anything before `bytes` was dropped.
    pub(super) cut: bool,
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
pub(super) struct Running<'a> {
    shown: &'a str,
    child: Child,
    /// The command's process group, in the registry of live groups until it is killed.
    pgid: u32,
    /// The group's watchdog, until the group is killed.
    watchdog: Option<Child>,
    /// How the command ended, once it exited on its own.
    status: Option<ExitStatus>,
    /// Set once the child is reaped: from then on its pid may belong to another process.
    reaped: bool,
    events: Receiver<Event>,
}

/// The collected result of a command that exited on its own.
pub(super) struct Output {
    pub(super) status: ExitStatus,
    pub(super) stdout: Result<Vec<u8>, io::Error>,
    pub(super) stderr: StderrTail,
}

impl<'a> Running<'a> {
    pub(super) fn start(
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
        let mut live = groups::live();
        // The group's first member, when this executable can be one (see `watchdog`).
        let mut watchdog = watchdog::start()
            .map_err(|error| cannot_start(&format_args!("cannot start its watchdog: {error}")))?;
        let pgid = watchdog.as_ref().map(Child::id);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // A process group of its own (the watchdog's, else a new one whose id is its pid):
            // killing the group reaches everything it started (unless that moved itself
            // elsewhere), and the terminal's Ctrl-C goes to the engine, which then cancels the
            // run, rather than straight to the command.
            let group = pgid.and_then(|pgid| i32::try_from(pgid).ok()).unwrap_or(0);
            command.process_group(group).arg0(program);
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                if let Some(watchdog) = watchdog.as_mut() {
                    let _ = watchdog.kill();
                    let _ = watchdog.wait();
                }
                return Err(cannot_start(&error));
            }
        };
        let pgid = pgid.unwrap_or_else(|| child.id());
        live.add(pgid);
        drop(live);

        let (sender, events) = mpsc::channel();
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let mut running = Running {
            shown,
            child,
            pgid,
            watchdog,
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
    pub(super) fn wait(
        mut self,
        cancel: &CancelToken,
        limit: Option<&Limit>,
    ) -> Result<Output, ToolFailure> {
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
                        // The child is reaped, but the unreaped watchdog keeps the group's id
                        // from being handed out again. Without one, POSIX keeps it while the
                        // group has members, so this reaches exactly them; an empty group makes
                        // it a no-op unless, within these microseconds, the pids wrapped around
                        // and a new process took the id as its group's.
                        self.end_group();
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
        self.end_group();
        // In case the group could not be signalled: at least the command itself goes.
        let _ = self.child.kill();
        // An error means there is nothing left to reap.
        let _ = self.child.wait();
        self.reaped = true;
    }

    /// Kills the process group (the command, what it left there, the watchdog) and reaps the
    /// watchdog.
    fn end_group(&mut self) {
        groups::end(self.pgid);
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.kill();
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

/// The folder commands run in, made absolute so that relative program paths resolve the same
/// way whatever the engine's own working directory is. An empty path means the current one.
fn working_directory(workdir: &Path) -> io::Result<PathBuf> {
    if workdir.as_os_str().is_empty() {
        std::env::current_dir()
    } else {
        std::path::absolute(workdir)
    }
}
