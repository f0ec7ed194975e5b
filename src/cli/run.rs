//! `flowc run FILE`: compile, run from an initial state, print the final state as JSON on
//! stdout and a line per step on stderr; `--trace` streams the execution log as JSON Lines.
//! Ctrl-C (and SIGTERM) cancels the run cleanly: `cancelled`, exit 3.

use std::fmt::Write as _;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::FileReport;
use crate::cli::exit;
use crate::cli::input::{ColorChoice, read_flow, use_color, width};
use crate::runtime::{Event, EventSink, Interpreter, JsonLines, NoEvents, RunOptions, Step, Tee};
use crate::tools::{CancelToken, ToolRegistry};

#[derive(Debug, clap::Args)]
pub(super) struct RunArgs {
    /// The `.flow` file to run.
    file: PathBuf,
    /// The initial state: a JSON object in a file, or `-` for stdin (default `{}`).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Sets one field of the initial state, after `--state` (repeatable).
    #[arg(long = "set", value_name = "KEY=JSON")]
    set: Vec<String>,
    /// Writes the execution log to FILE as JSON Lines, as the run goes.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Fails the run after this many steps.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_steps: u64,
    /// Fails the run after this long (`500ms`, `30s`, `2m`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// No step lines and no warnings on stderr (errors are still shown).
    #[arg(long, short)]
    quiet: bool,
    /// Colour on stderr.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|error| format!("{error} (write e.g. `500ms`, `30s`, `2m`)"))
}

pub(super) fn run(args: &RunArgs, registry: &ToolRegistry) -> u8 {
    let color = use_color(args.color);
    let source = match read_flow(&args.file) {
        Ok(source) => source,
        Err(message) => return usage(&message),
    };
    let input = match initial_state(args) {
        Ok(input) => input,
        Err(message) => return usage(&message),
    };
    let checked = crate::check(&source, registry);
    if checked.report.has_errors() || (!args.quiet && !checked.report.problems.is_empty()) {
        eprint!("{}", checked.report.render_human(color, width()));
    }
    let Some(program) = checked.program else {
        return exit::COMPILE;
    };

    let options = RunOptions {
        max_steps: args.max_steps,
        timeout: args.timeout,
        workdir: workdir(&args.file),
        ..RunOptions::default()
    };
    let interpreter = Interpreter::new(Arc::new(program), registry.clone(), options);
    let cancel = CancelToken::new();
    cancel_on_ctrl_c(&cancel);

    let mut trace = match &args.trace {
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => Some(JsonLines::new(BufWriter::new(file))),
            Err(error) => {
                return usage(&format!(
                    "cannot write the trace to `{}`: {error}",
                    path.display()
                ));
            }
        },
        None => None,
    };
    let mut lines = StepLines {
        color,
        out: std::io::stderr(),
    };
    let mut no_trace = NoEvents;
    let mut no_lines = NoEvents;
    let trace_sink: &mut dyn EventSink = match trace.as_mut() {
        Some(trace) => trace,
        None => &mut no_trace,
    };
    let lines_sink: &mut dyn EventSink = if args.quiet {
        &mut no_lines
    } else {
        &mut lines
    };
    let result = interpreter.run(input, &mut Tee(trace_sink, lines_sink), &cancel);

    let mut code = exit::OK;
    if let Some(trace) = trace
        && let Err(error) = trace.finish()
    {
        eprintln!("error: writing the trace: {error}");
        code = exit::RUN_FAILED;
    }
    match result {
        Ok(outcome) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&outcome.state).expect("JSON values serialize")
            );
            if !args.quiet {
                eprintln!(
                    "finished: {} steps in {}",
                    outcome.steps,
                    short_duration(outcome.duration)
                );
            }
            code
        }
        Err(error) => {
            let mut report = FileReport::new(source);
            report.push(error);
            eprint!("{}", report.render_human(color, width()));
            exit::RUN_FAILED
        }
    }
}

fn usage(message: &str) -> u8 {
    eprintln!("error: {message}");
    exit::USAGE
}

/// Tools run in the flow file's folder.
fn workdir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `--state` (a file or stdin) with each `--set` applied.
fn initial_state(args: &RunArgs) -> Result<Map<String, Value>, String> {
    let mut state = match &args.state {
        None => Map::new(),
        Some(path) => {
            let (name, text) = if path.as_os_str() == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|error| format!("cannot read stdin: {error}"))?;
                ("stdin".to_owned(), text)
            } else {
                let text = std::fs::read_to_string(path)
                    .map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
                (format!("`{}`", path.display()), text)
            };
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => map,
                Ok(other) => {
                    return Err(format!(
                        "{name} must hold a JSON object, not {}",
                        json_kind(&other)
                    ));
                }
                Err(error) => return Err(format!("{name} is not valid JSON: {error}")),
            }
        }
    };
    for assignment in &args.set {
        let Some((key, json)) = assignment
            .split_once('=')
            .filter(|(key, _)| !key.is_empty())
        else {
            return Err(format!("`--set {assignment}`: write `--set key=JSON`"));
        };
        let value: Value = serde_json::from_str(json).map_err(|error| {
            format!("`--set {assignment}`: the value is not valid JSON ({error}); quote strings: --set {key}='\"text\"'")
        })?;
        state.insert(key.to_owned(), value);
    }
    Ok(state)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The token Ctrl-C cancels. The handler is installed once per process; a second Ctrl-C
/// while a run is stopping exits at once (code 130).
fn cancel_on_ctrl_c(cancel: &CancelToken) {
    static CURRENT: Mutex<Option<CancelToken>> = Mutex::new(None);
    static INSTALL: Once = Once::new();
    *CURRENT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cancel.clone());
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            let current = CURRENT
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match current.as_ref() {
                Some(token) if !token.is_cancelled() => {
                    eprintln!("\ncancelling… (Ctrl-C again to quit at once)");
                    token.cancel();
                }
                _ => std::process::exit(130),
            }
        });
        if let Err(error) = installed {
            eprintln!("warning: Ctrl-C will not cancel the run cleanly: {error}");
        }
    });
}

/// One readable line per step on stderr.
struct StepLines<W: Write> {
    color: bool,
    out: W,
}

impl<W: Write> EventSink for StepLines<W> {
    fn event(&mut self, event: &Event<'_>) {
        if let Event::Step(step) = event {
            let line = step_line(step, self.color);
            // A closed stderr must not stop the run.
            let _ = self.out.write_all(line.as_bytes());
        }
    }
}

/// `   3 inc (script, 4µs) n=3 -> inc when n < 5`, then any printed lines.
fn step_line(step: &Step<'_>, color: bool) -> String {
    let (bold, red, dim, reset) = if color {
        ("\x1b[1m", "\x1b[31m", "\x1b[2m", "\x1b[0m")
    } else {
        ("", "", "", "")
    };
    let mut line = format!(
        "{:>4} {bold}{}{reset} {dim}({}, {}){reset}",
        step.seq,
        step.node,
        step.tool,
        short_duration(step.duration)
    );
    if let Some(position) = &step.in_loop {
        let _ = write!(line, " [{} #{}]", position.name, position.iteration);
    }
    for (name, value) in step.changes.iter() {
        let _ = write!(line, " {name}={}", crate::runtime::show_value(&value, 40));
    }
    if let Some(error) = &step.error {
        let _ = write!(
            line,
            " {red}failed: {}: {}{reset}",
            error.code, error.message
        );
    }
    if let Some(edge) = &step.edge {
        let _ = write!(line, " -> {}", edge.to);
        if let Some(guard) = edge.guard {
            let _ = write!(line, " when {guard}");
        }
        if edge.on_error {
            line.push_str(" (on error)");
        }
        if let Some(until) = step.in_loop.and_then(|position| position.until) {
            let _ = write!(line, " (until {until})");
        }
    }
    line.push('\n');
    for printed in step.output {
        let _ = writeln!(line, "     {dim}|{reset} {printed}");
    }
    line
}

fn short_duration(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros < 1000 {
        format!("{micros}µs")
    } else if micros < 1_000_000 {
        format!("{:.1}ms", duration.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2}s", duration.as_secs_f64())
    }
}
