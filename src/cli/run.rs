//! `flowc run FILE`: compile, run from an initial state, print the final state as JSON on
//! stdout and a line per step on stderr; `--trace` streams the execution log as JSON Lines.
//! On a terminal, a live status line (spinner, step, node, elapsed time) sits under the step
//! lines while a step runs. `--limit` sets the sandbox limits. Ctrl-C, SIGTERM, SIGHUP or
//! SIGQUIT cancels the run cleanly (`cancelled`, exit 3); a second signal kills every running
//! command's process group and exits at once.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::FileReport;
use crate::cancel::CancelToken;
use crate::cli::console::{CLEAR_LINE, Console, STATUS_LINE, Status, run_live};
use crate::cli::exit;
use crate::cli::input::{
    Bound, ByteSize, ColorChoice, FlowSize, InputError, describe, live_status, parse_size,
    read_flow, read_input, use_color, width,
};
use crate::cli::limits::{LimitSetting, parse_limit};
use crate::cli::output::{Stdout, eprint, usage};
use crate::cli::trace;
use crate::runtime::{Interpreter, RunOptions, RunOutcome, RuntimeError};
use crate::sandbox::Limits;
use crate::sync::lock;
use crate::tools::{FileAccess, ToolRegistry};
use crate::value::{DurationStyle, Kind, format_duration};

#[derive(Debug, clap::Args)]
pub(super) struct RunArgs {
    /// The `.flow` file to run.
    file: PathBuf,
    /// The initial state: a JSON object in a file, or `-` for stdin (default `{}`).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Sets one field of the initial state, after `--state` (repeatable).
    #[arg(long = "set", value_name = "KEY=JSON", value_parser = parse_assignment)]
    set: Vec<Assignment>,
    #[command(flatten)]
    settings: RunSettings,
    #[command(flatten)]
    size: FlowSize,
    // 16 MiB: parsed and held by the engine, JSON takes 20 times its text for typical
    // records and up to 70 times for a list of small numbers (measured), so the default
    // keeps even the worst case near 1 GB.
    /// The largest initial state read from `--state` (a file or stdin), e.g. `64MiB`, or a
    /// number of bytes; a larger one is refused (exit 2).
    #[arg(
        long,
        value_name = "SIZE",
        env = "FLOWC_MAX_STATE_SIZE",
        default_value = "16MiB",
        value_parser = parse_size
    )]
    max_state_size: ByteSize,
    /// Stores the run in this SQLite file as it goes (created when missing), so that
    /// `flowc resume` continues it after a crash or a `wait`.
    #[cfg(feature = "store")]
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
}

/// How a run (or a resumed one) runs: its limits, its log and what it shows.
#[derive(Debug, clap::Args)]
pub(super) struct RunSettings {
    /// Writes the execution log to FILE as JSON Lines, as the run goes.
    #[arg(long, value_name = "FILE")]
    pub(super) trace: Option<PathBuf>,
    /// Fails the run after this many steps (1 or more; default 10,000; a resumed run keeps
    /// its own unless given).
    #[arg(long, value_name = "N", value_parser = parse_max_steps)]
    pub(super) max_steps: Option<u64>,
    /// Fails the run after this long (`500ms`, `30s`, `2m`; a resumed run keeps its own
    /// unless given).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(super) timeout: Option<Duration>,
    /// Sets a sandbox limit for every guard and script, e.g. `max_operations=5000000`
    /// (repeatable).
    ///
    /// NAME is one of `max_operations`, `max_call_levels`, `max_expr_depth`,
    /// `max_function_expr_depth`, `max_string_size`, `max_array_size`, `max_map_size`,
    /// `max_total_size`, `max_total_string_size`, `max_wall_time_ms`; VALUE is a whole
    /// number. The defaults are in `docs/engine.md`.
    #[arg(long = "limit", value_name = "NAME=VALUE", value_parser = parse_limit)]
    pub(super) limits: Vec<LimitSetting>,
    /// Lets tools read and write files under DIR too (repeatable). Tools may always use the
    /// flow file's folder; paths from the state or arguments that resolve anywhere else are
    /// refused.
    #[arg(long = "allow-path", value_name = "DIR", value_parser = crate::cli::input::parse_folder)]
    pub(super) allow_paths: Vec<PathBuf>,
    /// No step lines and no warnings on stderr (errors are still shown).
    #[arg(long, short)]
    pub(super) quiet: bool,
    /// Colour on stderr.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub(super) color: ColorChoice,
}

impl RunSettings {
    /// The sandbox limits, defaults overridden by each `--limit`.
    pub(super) fn sandbox_limits(&self) -> Limits {
        let mut limits = Limits::default();
        for setting in &self.limits {
            setting.apply(&mut limits);
        }
        limits
    }

    pub(super) fn options(&self, limits: Limits, workdir: PathBuf) -> RunOptions {
        RunOptions {
            max_steps: self.max_steps.unwrap_or(RunOptions::default().max_steps),
            timeout: self.timeout,
            limits,
            files: FileAccess::within(
                std::iter::once(workdir.clone()).chain(self.allow_paths.iter().cloned()),
            ),
            workdir,
        }
    }

    /// The step lines (and status line) on stderr, unless `--quiet`.
    pub(super) fn console(
        &self,
        program: &crate::Program,
    ) -> Option<Mutex<Console<std::io::Stderr>>> {
        (!self.quiet).then(|| {
            Mutex::new(Console {
                color: use_color(self.color),
                out: std::io::stderr(),
                status: live_status().then(|| Status::new(program)),
            })
        })
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|error| format!("{error} (write e.g. `500ms`, `30s`, `2m`)"))?;
    if duration.is_zero() {
        return Err("a run needs some time: write a duration above 0, e.g. `30s`".to_owned());
    }
    Ok(duration)
}

fn parse_max_steps(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("a run needs at least 1 step".to_owned()),
        Ok(steps) => Ok(steps),
        Err(_) => Err(format!(
            "write a whole number of steps, 1 or more, not `{text}`"
        )),
    }
}

/// One `--set KEY=JSON`.
#[derive(Clone, Debug)]
struct Assignment {
    key: String,
    value: Value,
}

fn parse_assignment(text: &str) -> Result<Assignment, String> {
    let Some((key, json)) = text.split_once('=').filter(|(key, _)| !key.is_empty()) else {
        return Err("write KEY=JSON, e.g. `--set n=3` or `--set name='\"text\"'`".to_owned());
    };
    let value = serde_json::from_str(json).map_err(|error| {
        format!("the value is not valid JSON ({error}); quote strings: --set {key}='\"text\"'")
    })?;
    Ok(Assignment {
        key: key.to_owned(),
        value,
    })
}

pub(super) fn run(args: &RunArgs, registry: &ToolRegistry) -> u8 {
    let settings = &args.settings;
    let color = use_color(settings.color);
    let source = match read_flow(&args.file, args.size) {
        Ok(source) => source,
        Err(message) => return usage(message),
    };
    let input = match initial_state(args) {
        Ok(input) => input,
        Err(message) => return usage(message),
    };
    let limits = settings.sandbox_limits();
    let checked = crate::check_with_limits(&source, registry, &limits);
    if checked.report.has_errors() || (!settings.quiet && !checked.report.problems.is_empty()) {
        eprint(checked.report.render_human(color, width()));
    }
    let Some(program) = checked.program else {
        return exit::COMPILE;
    };
    if !settings.quiet {
        warn_about_input(&source, &program, &input, color);
    }

    let trace = match &settings.trace {
        Some(path) => match trace::create(path, &args.inputs()) {
            Ok(trace) => Some(Mutex::new(trace)),
            Err(error) => return usage(error),
        },
        None => None,
    };
    let console = settings.console(&program);
    let options = settings.options(limits, workdir(&args.file));
    let interpreter = Interpreter::new(Arc::new(program), options);
    let cancel = CancelToken::new();
    cancel_on_ctrl_c(&cancel);
    let ended = match args.stored() {
        #[cfg(feature = "store")]
        Some(db) => crate::cli::durable::start(
            &crate::cli::durable::Target {
                db,
                file: &args.file,
                source: &source,
                interpreter: &interpreter,
                quiet: settings.quiet,
            },
            &input,
            &cancel,
            trace.as_ref(),
            console.as_ref(),
        ),
        _ => match run_live(&cancel, trace.as_ref(), console.as_ref(), |events| {
            interpreter.run(input, events, &cancel)
        }) {
            Ok(outcome) => Ended::Finished(outcome),
            Err(error) => Ended::Failed(Box::new(error)),
        },
    };
    report(
        ended,
        trace,
        settings.trace.as_deref(),
        &source,
        settings.quiet,
        color,
    )
}

/// How a run (or a resumed one) ended, for [`report`].
pub(super) enum Ended {
    Finished(RunOutcome),
    Failed(Box<RuntimeError>),
    /// At a `wait` node; the message says how to resume.
    Waiting(String),
    /// Refused before it ran (its message was printed), with the exit code.
    Refused(u8),
}

/// Prints the final state (stdout) or the error (stderr), and the trace's error if any;
/// returns the exit code.
pub(super) fn report(
    ended: Ended,
    trace: Option<Mutex<trace::Trace>>,
    trace_path: Option<&Path>,
    source: &crate::SourceFile,
    quiet: bool,
    color: bool,
) -> u8 {
    // A trace that failed has cancelled the run (see `run_live`): its error is the reason
    // to give, not `cancelled`.
    let trace_error = trace.and_then(|trace| {
        trace
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .finish()
            .err()
    });
    let cancelled =
        matches!(&ended, Ended::Failed(error) if matches!(**error, RuntimeError::Cancelled { .. }));
    if let (Some(error), Some(path)) = (&trace_error, trace_path) {
        let stopped = if cancelled {
            "; the run was stopped"
        } else {
            ""
        };
        eprint(format_args!(
            "error: cannot write the trace to `{}`: {error}{stopped}\n",
            path.display()
        ));
    }
    let code = if trace_error.is_some() {
        exit::RUN_FAILED
    } else {
        exit::OK
    };
    match ended {
        Ended::Finished(outcome) => {
            let mut out = Stdout::new();
            out.print(format_args!(
                "{}\n",
                serde_json::to_string_pretty(&outcome.state).expect("JSON values serialize")
            ));
            if !quiet {
                eprint(format_args!(
                    "finished: {} steps in {}\n",
                    outcome.steps,
                    format_duration(outcome.duration, DurationStyle::Measured)
                ));
            }
            out.finish(code)
        }
        Ended::Failed(_) if cancelled && trace_error.is_some() => exit::RUN_FAILED,
        Ended::Failed(error) => {
            let mut report = FileReport::new(source.clone());
            report.push(*error);
            eprint(report.render_human(color, width()));
            exit::RUN_FAILED
        }
        Ended::Waiting(message) => {
            eprint(message);
            if trace_error.is_some() {
                exit::RUN_FAILED
            } else {
                exit::WAITING
            }
        }
        Ended::Refused(code) => code,
    }
}

impl RunArgs {
    /// The run store, with `--db`.
    fn stored(&self) -> Option<&Path> {
        #[cfg(feature = "store")]
        return self.db.as_deref();
        #[cfg(not(feature = "store"))]
        None
    }

    /// The files the run reads (`None` is stdin).
    fn inputs(&self) -> Vec<Option<&Path>> {
        let mut inputs = vec![Some(self.file.as_path())];
        if self.state.is_some() {
            inputs.push(self.state_path());
        }
        inputs
    }

    /// The state file, or `None` for stdin (`--state -`) and without `--state`.
    fn state_path(&self) -> Option<&Path> {
        self.state.as_deref().filter(|path| path.as_os_str() != "-")
    }
}

/// Initial-state keys that look like misspelt fields.
fn warn_about_input(
    source: &crate::SourceFile,
    program: &crate::Program,
    input: &Map<String, Value>,
    color: bool,
) {
    let mut report = FileReport::new(source.clone());
    for warning in crate::runtime::input_warnings(program, input) {
        report.push(warning);
    }
    if !report.problems.is_empty() {
        eprint(report.render_human(color, width()));
    }
}

/// Tools run in the flow file's folder.
pub(super) fn workdir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Why `--state` gave no initial state.
#[derive(Debug, thiserror::Error)]
enum StateError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{input} is not valid JSON: {error}")]
    NotJson {
        input: String,
        error: serde_json::Error,
    },
    #[error("{input} must hold a JSON object, not {kind}")]
    NotAnObject { input: String, kind: &'static str },
}

/// `--state` (a file or stdin) with each `--set` applied.
fn initial_state(args: &RunArgs) -> Result<Map<String, Value>, StateError> {
    let mut state = Map::new();
    if args.state.is_some() {
        let path = args.state_path();
        let bytes = read_input(path, Bound::State, args.max_state_size)?;
        state = match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err(StateError::NotAnObject {
                    input: describe(path),
                    kind: Kind::of_json(&other).json_name(),
                });
            }
            Err(error) => {
                return Err(StateError::NotJson {
                    input: describe(path),
                    error,
                });
            }
        };
    }
    for Assignment { key, value } in &args.set {
        state.insert(key.clone(), value.clone());
    }
    Ok(state)
}

/// The token a signal cancels: `SIGINT` (Ctrl-C), `SIGTERM`, `SIGHUP` or `SIGQUIT`, all
/// alike. The handler is installed once per process. A second signal while a run is stopping
/// kills every running command's process group and exits at once, with 128 + the signal's
/// number (130 for Ctrl-C). Elsewhere than on Unix no signal is handled.
#[cfg(unix)]
pub(super) fn cancel_on_ctrl_c(cancel: &CancelToken) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    use signal_hook::iterator::Signals;
    static CURRENT: Mutex<Option<CancelToken>> = Mutex::new(None);
    static INSTALL: Once = Once::new();
    *lock(&CURRENT) = Some(cancel.clone());
    INSTALL.call_once(|| {
        // The signals are handled on a thread of their own, where locking and printing are
        // safe, rather than in a signal handler.
        let installed = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT]).and_then(|mut signals| {
            std::thread::Builder::new()
                .name("signals".to_owned())
                .spawn(move || {
                    for signal in signals.forever() {
                        on_signal(lock(&CURRENT).as_ref(), signal);
                    }
                })
                .map(drop)
        });
        if let Err(error) = installed {
            eprint(format_args!(
                "warning: Ctrl-C will not cancel the run cleanly: {error}\n"
            ));
        }
    });
}

#[cfg(not(unix))]
pub(super) fn cancel_on_ctrl_c(_cancel: &CancelToken) {}

/// The first signal cancels the run; any signal after that ends the process.
#[cfg(unix)]
fn on_signal(current: Option<&CancelToken>, signal: i32) {
    // Over a status line, erase it (and the `^C` the terminal echoed after it);
    // the ticker draws it again below.
    let live = STATUS_LINE.load(Ordering::Relaxed);
    match current {
        Some(token) if !token.is_cancelled() => {
            let lead = if live { CLEAR_LINE } else { "\n" };
            eprint(format_args!(
                "{lead}cancelling… (Ctrl-C again to quit at once)\n"
            ));
            token.cancel();
        }
        _ => {
            // Holding stderr, so that no redraw comes after the erase.
            let mut stderr = std::io::stderr().lock();
            if live {
                let _ = stderr.write_all(CLEAR_LINE.as_bytes());
            }
            crate::tools::kill_all_and_exit(128 + signal)
        }
    }
}
