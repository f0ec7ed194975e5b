//! What `flowc run` shows on stderr while it runs: a readable line per step and, on a
//! terminal, a live status line under them (spinner, step, node, elapsed time), redrawn by a
//! ticker thread that also keeps the trace flushed while a long step runs.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::cancel::CancelToken;
use crate::cli::input::columns;
use crate::compile::ir::{Node, NodeKind, Program, Target};
use crate::runtime::{Event, EventSink, JsonLines, NoEvents, Step, Tee};
use crate::sync::lock;
use crate::value::{DurationStyle, format_duration};

/// The status line's width on a terminal whose size cannot be read and no `COLUMNS`.
const STATUS_FALLBACK_WIDTH: usize = 80;
/// Runs with the trace and the console shared with a ticker thread: the engine reports only
/// after a step, so while one runs the ticker keeps the spinner turning and the trace
/// flushed. When the run returns, the ticker is stopped and the status line erased. The
/// trace's first write error cancels the run: no further step runs (with its side effects)
/// unlogged.
pub(super) fn run_live<W: Write + Send, T: Write + Send, R>(
    cancel: &CancelToken,
    trace: Option<&Mutex<JsonLines<T>>>,
    console: Option<&Mutex<Console<W>>>,
    drive: impl FnOnce(&mut dyn EventSink) -> R,
) -> R {
    let live = console.is_some_and(|console| lock(console).status.is_some());
    STATUS_LINE.store(live, Ordering::Relaxed);
    let result = std::thread::scope(|scope| {
        // Dropping `stop` ends the ticker.
        let (stop, stopped) = mpsc::channel::<()>();
        if live || trace.is_some() {
            scope.spawn(move || tick(&stopped, console.filter(|_| live), trace, cancel));
        }
        let mut trace_sink = trace.map(|log| Logged { log, cancel });
        let mut console_sink = console.map(Shared);
        let (mut no_trace, mut no_lines) = (NoEvents, NoEvents);
        let trace_sink: &mut dyn EventSink = match trace_sink.as_mut() {
            Some(sink) => sink,
            None => &mut no_trace,
        };
        let lines_sink: &mut dyn EventSink = match console_sink.as_mut() {
            Some(sink) => sink,
            None => &mut no_lines,
        };
        let result = drive(&mut Tee(trace_sink, lines_sink));
        drop(stop);
        result
    });
    // The ticker has stopped: nothing draws after this.
    if let Some(console) = console {
        lock(console).finish();
    }
    STATUS_LINE.store(false, Ordering::Relaxed);
    result
}

/// A sink the engine and the ticker share.
struct Shared<'a, S>(&'a Mutex<S>);

impl<S: EventSink> EventSink for Shared<'_, S> {
    fn enabled(&self) -> bool {
        lock(self.0).enabled()
    }
    fn event(&mut self, event: &Event) {
        lock(self.0).event(event);
    }
}

/// The trace, shared with the ticker; cancels the run once a record could not be written.
struct Logged<'a, T: Write> {
    log: &'a Mutex<JsonLines<T>>,
    cancel: &'a CancelToken,
}

impl<T: Write> EventSink for Logged<'_, T> {
    fn event(&mut self, event: &Event) {
        let mut log = lock(self.log);
        log.event(event);
        stop_if_failed(&log, self.cancel);
    }
}

fn stop_if_failed<T: Write>(log: &JsonLines<T>, cancel: &CancelToken) {
    if log.error().is_some() {
        cancel.cancel();
    }
}

/// How often the ticker turns the spinner and flushes the trace.
const TICK: Duration = Duration::from_millis(100);

/// Back to the start of the line, and erase it.
pub(super) const CLEAR_LINE: &str = "\r\x1b[2K";

/// Whether a status line may be on stderr now (read by the Ctrl-C handler).
pub(super) static STATUS_LINE: AtomicBool = AtomicBool::new(false);

/// Until `stop` is dropped: every [`TICK`], flush what the trace holds and redraw the status.
fn tick<W: Write, T: Write>(
    stop: &mpsc::Receiver<()>,
    console: Option<&Mutex<Console<W>>>,
    trace: Option<&Mutex<JsonLines<T>>>,
    cancel: &CancelToken,
) {
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(TICK) {
        tick_once(console, trace, cancel);
    }
}

fn tick_once<W: Write, T: Write>(
    console: Option<&Mutex<Console<W>>>,
    trace: Option<&Mutex<JsonLines<T>>>,
    cancel: &CancelToken,
) {
    if let Some(trace) = trace {
        let mut log = lock(trace);
        log.flush_pending();
        stop_if_failed(&log, cancel);
    }
    if let Some(console) = console {
        lock(console).redraw();
    }
}

/// Human output on stderr: one readable line per step and, on a terminal, the status line
/// below them. Without a status line, exactly the step lines.
pub(super) struct Console<W: Write> {
    pub(super) color: bool,
    pub(super) out: W,
    pub(super) status: Option<Status>,
}

impl<W: Write> Console<W> {
    /// Draws the status line again (the spinner and the clock move).
    fn redraw(&mut self) {
        let mut text = String::new();
        if let Some(status) = &mut self.status {
            status.draw(&mut text, self.color);
        }
        self.write(&text);
    }

    /// Leaves no status line behind.
    fn finish(&mut self) {
        let mut text = String::new();
        if let Some(status) = &mut self.status {
            status.running = None;
            status.clear(&mut text);
        }
        self.write(&text);
    }

    fn write(&mut self, text: &str) {
        // One write per event, so the step line and the status never tear apart; a closed
        // stderr must not stop the run.
        if !text.is_empty() {
            let _ = self.out.write_all(text.as_bytes());
        }
    }
}

impl<W: Write> EventSink for Console<W> {
    fn event(&mut self, event: &Event) {
        let mut text = String::new();
        if let Some(status) = &mut self.status {
            status.clear(&mut text);
            status.update(event);
        }
        if let Event::Step(step) = event {
            text.push_str(&step_line(step, self.color));
        }
        if let Some(status) = &mut self.status {
            status.draw(&mut text, self.color);
        }
        self.write(&text);
    }
}

/// What the status line shows, and whether it is on screen.
pub(super) struct Status {
    started: Instant,
    /// Steps finished.
    steps: u64,
    /// The node running now; `None` once the run is ending.
    running: Option<String>,
    /// By node id: the node a step at it runs (a loop's first node, for a loop).
    entries: Vec<String>,
    /// The status line is on screen (the cursor at its end).
    shown: bool,
    width: usize,
}

impl Status {
    pub(super) fn new(program: &Program) -> Self {
        fn first_node<'p>(program: &'p Program, mut node: &'p Node) -> String {
            while let NodeKind::Loop(body) = &node.kind {
                node = program.node(body.entry);
            }
            node.name.clone()
        }
        Status {
            started: Instant::now(),
            steps: 0,
            running: match program.entry {
                Target::Node(id) => Some(first_node(program, program.node(id))),
                Target::End => None,
            },
            entries: program
                .nodes
                .iter()
                .map(|node| first_node(program, node))
                .collect(),
            shown: false,
            // One column spare: writing the last one wraps on some terminals. A terminal of
            // unknown size is taken as 80 wide, so the line never wraps and always erases.
            width: columns().unwrap_or(STATUS_FALLBACK_WIDTH).saturating_sub(1),
        }
    }

    fn update(&mut self, event: &Event) {
        match event {
            Event::RunStarted(_) | Event::RunResumed(_) => {}
            Event::NodeStarted(started) => self.running = Some(started.node.name.to_string()),
            Event::Step(step) => {
                self.steps = step.step;
                self.running = step
                    .edge
                    .as_ref()
                    .and_then(|edge| edge.target)
                    .and_then(|id| self.entries.get(id.index()).cloned());
            }
            Event::Waiting(_) | Event::RunFinished(_) => self.running = None,
        }
    }

    fn clear(&mut self, text: &mut String) {
        if self.shown {
            text.push_str(CLEAR_LINE);
            self.shown = false;
        }
    }

    /// Replaces the status line with the current one; draws nothing once the run ends.
    fn draw(&mut self, text: &mut String, color: bool) {
        let Some(node) = &self.running else {
            self.clear(text);
            return;
        };
        let line = status_line(self.steps + 1, node, self.started.elapsed(), self.width);
        let (dim, reset) = if color {
            ("\x1b[2m", "\x1b[0m")
        } else {
            ("", "")
        };
        let _ = write!(text, "{CLEAR_LINE}{dim}{line}{reset}");
        self.shown = true;
    }
}

/// The spinner's frames; it turns one frame per [`TICK`].
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// `⠹ step 4 · lint · 2.1s`: the step running, its node and the time since the run
/// started, in at most `width` characters (a line that wraps cannot be redrawn in place).
fn status_line(step: u64, node: &str, elapsed: Duration, width: usize) -> String {
    let ticks = elapsed.as_millis() / TICK.as_millis();
    let frame = SPINNER[usize::try_from(ticks % 10).expect("below 10")];
    let line = format!("{frame} step {step} · {node} · {}", clock(elapsed));
    if line.chars().count() <= width {
        return line;
    }
    let mut cut: String = line.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        cut.push('…');
    }
    cut
}

/// `0.4s`, `59.9s`, `1m05s`, `2h03m`.
fn clock(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    if seconds < 60 {
        format!("{:.1}s", elapsed.as_secs_f64())
    } else if seconds < 3600 {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    } else {
        format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60)
    }
}

/// `   3 inc (script, 4µs) n=3 -> inc when n < 5`, then any printed lines.
pub(super) fn step_line(step: &Step, color: bool) -> String {
    let (bold, red, dim, reset) = if color {
        ("\x1b[1m", "\x1b[31m", "\x1b[2m", "\x1b[0m")
    } else {
        ("", "", "", "")
    };
    let mut line = format!(
        "{:>4} {bold}{}{reset} {dim}({}, {}){reset}",
        step.step,
        step.node.name,
        step.tool,
        format_duration(step.duration, DurationStyle::Measured)
    );
    if let Some(position) = &step.in_loop {
        let _ = write!(line, " [{} #{}]", position.node.name, position.iteration);
    }
    for (name, value) in &step.changes {
        let _ = write!(line, " {name}={}", crate::runtime::show_value(value, 40));
    }
    if let Some(error) = &step.error {
        let _ = write!(
            line,
            " {red}failed: {}: {}{reset}",
            error.code,
            // As the diagnostic writes it: no control character of a message reaches the
            // terminal (a script's `throw` chooses its text).
            crate::diagnostics::escaped_on_one_line(&error.message)
        );
    }
    if let Some(edge) = &step.edge {
        let _ = write!(line, " -> {}", edge.to);
        if let Some(guard) = &edge.guard {
            let _ = write!(line, " when {guard}");
        }
        if edge.on_error {
            line.push_str(" (on error)");
        }
        if let Some(position) = &step.in_loop
            && let Some(until) = position.until
        {
            let _ = write!(line, " (until {until}");
            for outer in &position.outer {
                let _ = write!(line, "; {} until {}", outer.node.name, outer.until);
            }
            line.push(')');
        }
    }
    line.push('\n');
    for printed in &step.output {
        let _ = writeln!(line, "     {dim}|{reset} {printed}");
    }
    line
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::{CLEAR_LINE, Console, Status, clock, run_live, status_line, tick_once};
    use crate::SourceFile;
    use crate::cancel::CancelToken;
    use crate::runtime::{
        Event, EventSink, Interpreter, JsonLines, RunFinished, RunOptions, RunStatus, RuntimeError,
    };
    use crate::sync::lock;
    use crate::tools::ToolRegistry;

    #[test]
    fn the_status_line_shows_spinner_step_node_and_time() {
        assert_eq!(
            status_line(4, "lint", Duration::from_millis(2140), 80),
            "⠙ step 4 · lint · 2.1s"
        );
        assert_eq!(
            status_line(1, "a", Duration::ZERO, 80),
            "⠋ step 1 · a · 0.0s"
        );
        // The spinner turns once per tick.
        assert!(status_line(1, "a", Duration::from_millis(100), 80).starts_with('⠙'));
        assert!(status_line(1, "a", Duration::from_secs(1), 80).starts_with('⠋'));
    }

    #[test]
    fn the_status_line_never_wraps() {
        let line = status_line(12, &"n".repeat(200), Duration::from_secs(3), 40);
        assert_eq!(line.chars().count(), 40);
        assert!(line.starts_with("⠋ step 12 · nnn"), "{line}");
        assert!(line.ends_with('…'), "{line}");
        assert_eq!(status_line(1, "a", Duration::ZERO, 0), "");
    }

    #[test]
    fn the_clock_grows_units() {
        assert_eq!(clock(Duration::from_millis(400)), "0.4s");
        assert_eq!(clock(Duration::from_millis(59_940)), "59.9s");
        assert_eq!(clock(Duration::from_secs(65)), "1m05s");
        assert_eq!(clock(Duration::from_secs(2 * 3600 + 3 * 60 + 9)), "2h03m");
    }

    fn status(text: &str) -> Status {
        let checked = crate::check(&SourceFile::new("t.flow", text), &ToolRegistry::builtin());
        Status::new(&checked.program.expect("the test flow compiles"))
    }

    fn finished() -> Event {
        Event::RunFinished(RunFinished {
            seq: 1,
            run_id: None,
            status: RunStatus::Ok,
            steps: 0,
            duration: Duration::ZERO,
            error: None,
            state: None,
        })
    }

    #[test]
    fn the_status_starts_at_the_first_node_even_through_loops() {
        let status = status(
            "flow f {\n    state { n: int = 0 }\n    node a { n += 1 }\n    node b\n    start -> outer\n    loop outer max 2 {\n        loop inner max 2 {\n            a\n        } until n > 0\n        inner -> b\n    } until true\n}\n",
        );
        assert_eq!(status.running.as_deref(), Some("a"));
        // Node 3 is the loop `outer`: a step entering it runs `a`.
        assert_eq!(status.entries[3], "a");
    }

    #[test]
    fn the_status_is_redrawn_in_place_and_erased_when_the_run_finishes() {
        let mut console = Console {
            color: false,
            out: Vec::new(),
            status: Some(status("flow f {\n    node a = noop\n    start -> a\n}\n")),
        };
        console.redraw();
        console.redraw();
        let drawn = String::from_utf8(std::mem::take(&mut console.out)).unwrap();
        // Each redraw erases the line and draws it again, on the same line (the clock may
        // have moved on a slow machine, so the time is not compared).
        let lines: Vec<&str> = drawn.split(CLEAR_LINE).collect();
        assert_eq!(lines.len(), 3, "{drawn:?}");
        assert_eq!(lines[0], "");
        for line in &lines[1..] {
            assert!(line.contains(" step 1 · a · "), "{drawn:?}");
            assert!(!line.contains(['\n', '\r']), "{drawn:?}");
        }
        console.event(&finished());
        assert_eq!(console.out, CLEAR_LINE.as_bytes());
        console.redraw();
        console.finish();
        assert_eq!(
            console.out,
            CLEAR_LINE.as_bytes(),
            "nothing is drawn or erased after the run finished"
        );
    }

    #[test]
    fn an_unfinished_run_leaves_no_status_line_either() {
        let mut console = Console {
            color: true,
            out: Vec::new(),
            status: Some(status("flow f {\n    node a = noop\n    start -> a\n}\n")),
        };
        console.redraw();
        console.out.clear();
        console.finish();
        assert_eq!(console.out, CLEAR_LINE.as_bytes());
    }

    /// Takes every write; every flush fails, as a full disk does.
    struct FullDisk;

    impl std::io::Write for FullDisk {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::other("no space left"))
        }
    }

    fn interpreter(text: &str) -> Interpreter {
        let registry = ToolRegistry::builtin();
        let checked = crate::check(&SourceFile::new("t.flow", text), &registry);
        let program = checked.program.expect("the test flow compiles");
        Interpreter::new(Arc::new(program), RunOptions::default())
    }

    #[test]
    fn a_trace_that_cannot_be_written_stops_the_run_before_the_next_step() {
        let interpreter = interpreter(
            "flow f {\n    state { n: int = 0 }\n    node a { n += 1 }\n    node b { n += 1 }\n    start -> a -> b\n}\n",
        );
        let trace = Mutex::new(JsonLines::new(FullDisk));
        let cancel = CancelToken::new();
        let result = run_live::<Vec<u8>, _, _>(&cancel, Some(&trace), None, |events| {
            interpreter.run(serde_json::Map::new(), events, &cancel)
        });
        // `run_started` is flushed at once, and fails: not even the first step runs.
        assert!(
            matches!(&result, Err(RuntimeError::Cancelled { node: Some(node), .. }) if node == "a"),
            "{result:?}"
        );
        assert!(cancel.is_cancelled());
    }

    #[test]
    fn the_ticker_stops_the_run_when_a_flush_fails() {
        let interpreter = interpreter("flow f {\n    node a = noop\n    start -> a\n}\n");
        let trace = Mutex::new(JsonLines::new(FullDisk));
        // Only the step goes to the trace: it waits in the buffer for the ticker.
        let mut steps = |event: &Event| {
            if matches!(event, Event::Step(_)) {
                lock(&trace).event(event);
            }
        };
        let run = CancelToken::new();
        assert!(
            interpreter
                .run(serde_json::Map::new(), &mut steps, &run)
                .is_ok()
        );
        let cancel = CancelToken::new();
        tick_once::<Vec<u8>, _>(None, Some(&trace), &cancel);
        assert!(cancel.is_cancelled());
        assert!(lock(&trace).error().is_some());
    }

    #[test]
    fn without_a_status_line_only_steps_are_written() {
        let mut console = Console {
            color: false,
            out: Vec::new(),
            status: None,
        };
        console.event(&finished());
        console.redraw();
        console.finish();
        assert_eq!(console.out, b"");
    }
}
