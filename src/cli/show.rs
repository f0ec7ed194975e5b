//! `flowc show RUN --db FILE`: a stored run's status, log and state, as people read it or
//! as JSON (the log records in the `--trace` format). The log is read and printed a page at
//! a time, so a run of a million steps is shown in bounded memory.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::console::step_line;
use crate::cli::durable::{open_to_read, store_error};
use crate::cli::exit;
use crate::cli::input::{ColorChoice, use_color};
use crate::cli::output::{Stdout, eprint};
use crate::cli::runs::{ListFormat, duration, run_json};
use crate::runtime::{Event, Interpreter, RunOptions};
use crate::store::{MAX_PAGE, RunId, RunStore, SqliteStore};
use crate::tools::ToolRegistry;
use crate::value::{DurationStyle, format_duration};

#[derive(Debug, clap::Args)]
pub(super) struct ShowArgs {
    /// The run's id (as `flowc runs` lists it).
    run: RunId,
    /// The run store.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    #[arg(long, value_enum, default_value_t = ListFormat::Human)]
    format: ListFormat,
    /// Colour in the log.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

pub(super) fn run(args: &ShowArgs, registry: &ToolRegistry) -> u8 {
    let store = match open_to_read(&args.db) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let loaded = match store.load(args.run) {
        Ok(loaded) => loaded,
        Err(error) => return store_error(&error),
    };
    let record = &loaded.record;
    let interpreter = match interpreter(&store, &record.flow_hash, registry) {
        Ok(interpreter) => interpreter,
        Err(code) => return code,
    };
    let mut out = Stdout::new();
    let color = use_color(args.color);
    let json = matches!(args.format, ListFormat::Json);
    if json {
        out.print(format_args!(
            "{{\"run\":{},\"state\":{},\"events\":[",
            run_json(record),
            serde_json::Value::Object(loaded.state.clone())
        ));
    } else {
        out.print(format_args!(
            "run {} · {} · {} · {} steps · started {} · {}\n",
            record.id,
            record.flow_name,
            record.status.as_str(),
            record.steps,
            humantime::format_rfc3339_seconds(record.created_at),
            format_duration(duration(record), DurationStyle::Measured),
        ));
    }
    let mut after = None;
    let mut first = true;
    loop {
        let page = match store.events(args.run, after, MAX_PAGE) {
            Ok(page) => page,
            Err(error) => return store_error(&error),
        };
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        for stored in &page {
            let event = match interpreter.decode(
                stored.seq,
                &stored.kind,
                &stored.record,
                stored.changes.as_deref(),
                Some(&record.id.to_string()),
            ) {
                Ok(event) => event,
                Err(error) => {
                    eprint(format_args!("error: run {}: {error}\n", record.id));
                    return exit::RUN_FAILED;
                }
            };
            if json {
                let comma = if first { "" } else { "," };
                out.print(format_args!(
                    "{comma}{}",
                    serde_json::to_string(&event).expect("records serialize")
                ));
            } else if let Some(line) = human_line(&event, color) {
                out.print(format_args!("{line}"));
            }
            first = false;
        }
        if page.len() < MAX_PAGE {
            break;
        }
    }
    if json {
        out.print(format_args!("]}}\n"));
    } else {
        out.print(format_args!(
            "state:\n{}\n",
            serde_json::to_string_pretty(&loaded.state).expect("JSON values serialize")
        ));
    }
    out.finish(exit::OK)
}

/// The program the run's records name nodes of: the stored flow, compiled.
fn interpreter(
    store: &SqliteStore,
    hash: &str,
    registry: &ToolRegistry,
) -> Result<Interpreter, u8> {
    let flow = match store.flow(hash) {
        Ok(Some(flow)) => flow,
        Ok(None) => {
            eprint(format_args!(
                "error: the run names flow {hash}, which the store does not hold\n"
            ));
            return Err(exit::RUN_FAILED);
        }
        Err(error) => return Err(store_error(&error)),
    };
    let source = crate::SourceFile::new(flow.path.unwrap_or(flow.name), flow.source);
    let checked = crate::check(&source, registry);
    let Some(program) = checked.program else {
        eprint(format_args!(
            "error: the stored flow {hash} no longer compiles with this flowc, so its log \
             cannot be read\n"
        ));
        return Err(exit::RUN_FAILED);
    };
    Ok(Interpreter::new(Arc::new(program), RunOptions::default()))
}

/// A log line as `flowc run` prints it; for records other than steps, a line of their own.
fn human_line(event: &Event, color: bool) -> Option<String> {
    match event {
        Event::Step(step) => Some(step_line(step, color)),
        Event::RunResumed(resumed) => Some(format!(
            "     resumed at {}\n",
            humantime::format_rfc3339_seconds(resumed.resumed_at)
        )),
        Event::Waiting(waiting) => Some(format!(
            "     waiting at `{}`: {}\n",
            waiting.node.name,
            crate::diagnostics::escaped_on_one_line(&waiting.prompt)
        )),
        Event::RunFinished(finished) => finished.error.as_ref().map(|error| {
            format!(
                "     {}: {}\n",
                error.code,
                crate::diagnostics::escaped_on_one_line(&error.message)
            )
        }),
        Event::RunStarted(_) | Event::NodeStarted(_) => None,
    }
}
