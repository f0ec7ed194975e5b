//! `flowc run FILE`: compile, run from an initial state, print the final state as JSON on
//! stdout and a line per step on stderr; `--trace` streams the execution log as JSON Lines.
//! On a terminal, a live status line (spinner, step, node, elapsed time) sits under the step
//! lines while a step runs. `--limit` sets the sandbox limits. Ctrl-C (and SIGTERM) cancels
//! the run cleanly: `cancelled`, exit 3.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::FileReport;
use crate::cli::console::{CLEAR_LINE, Console, STATUS_LINE, Status, run_live, short_duration};
use crate::cli::exit;
use crate::cli::input::{ColorChoice, live_status, read_flow, use_color, width};
use crate::cli::limits::{LimitSetting, parse_limit};
use crate::runtime::{Interpreter, JsonLines, RunOptions};
use crate::sandbox::Limits;
use crate::sync::lock;
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
    /// Sets a sandbox limit for every guard and script, e.g. `max_operations=5000000`
    /// (repeatable).
    ///
    /// NAME is one of `max_operations`, `max_call_levels`, `max_expr_depth`,
    /// `max_function_expr_depth`, `max_string_size`, `max_array_size`, `max_map_size`,
    /// `max_total_size`, `max_total_string_size`, `max_wall_time_ms`; VALUE is a whole
    /// number. The defaults are in `docs/engine.md`.
    #[arg(long = "limit", value_name = "NAME=VALUE", value_parser = parse_limit)]
    limits: Vec<LimitSetting>,
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
    let mut limits = Limits::default();
    for setting in &args.limits {
        setting.apply(&mut limits);
    }
    let checked = crate::check_with_limits(&source, registry, &limits);
    if checked.report.has_errors() || (!args.quiet && !checked.report.problems.is_empty()) {
        eprint!("{}", checked.report.render_human(color, width()));
    }
    let Some(program) = checked.program else {
        return exit::COMPILE;
    };

    let trace = match &args.trace {
        Some(path) => match File::create(path) {
            Ok(file) => Some(Mutex::new(JsonLines::new(BufWriter::new(file)))),
            Err(error) => {
                return usage(&format!(
                    "cannot write the trace to `{}`: {error}",
                    path.display()
                ));
            }
        },
        None => None,
    };
    let console = (!args.quiet).then(|| {
        Mutex::new(Console {
            color,
            out: std::io::stderr(),
            status: live_status().then(|| Status::new(&program)),
        })
    });

    let options = RunOptions {
        max_steps: args.max_steps,
        timeout: args.timeout,
        limits,
        workdir: workdir(&args.file),
    };
    let interpreter = Interpreter::new(Arc::new(program), registry.clone(), options);
    let cancel = CancelToken::new();
    cancel_on_ctrl_c(&cancel);
    let result = run_live(
        &interpreter,
        input,
        &cancel,
        trace.as_ref(),
        console.as_ref(),
    );

    let mut code = exit::OK;
    if let Some(trace) = trace
        && let Err(error) = trace
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .finish()
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
    *lock(&CURRENT) = Some(cancel.clone());
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            let current = lock(&CURRENT);
            // Over a status line, erase it (and the `^C` the terminal echoed after it);
            // the ticker draws it again below.
            let live = STATUS_LINE.load(Ordering::Relaxed);
            match current.as_ref() {
                Some(token) if !token.is_cancelled() => {
                    let lead = if live { CLEAR_LINE } else { "\n" };
                    eprintln!("{lead}cancelling… (Ctrl-C again to quit at once)");
                    token.cancel();
                }
                _ => {
                    // Holding stderr, so that no redraw comes after the erase.
                    let mut stderr = std::io::stderr().lock();
                    if live {
                        let _ = stderr.write_all(CLEAR_LINE.as_bytes());
                    }
                    std::process::exit(130)
                }
            }
        });
        if let Err(error) = installed {
            eprintln!("warning: Ctrl-C will not cancel the run cleanly: {error}");
        }
    });
}
