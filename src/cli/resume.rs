//! `flowc resume RUN --db FILE [--input JSON]`: continues a stored run that was interrupted
//! (its process died) or waits at a `wait` node, from its last committed step, with the
//! flow as it was stored when the run started. Streams its steps like `flowc run`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::cancel::CancelToken;
use crate::cli::durable::{self, Target, store_error};
use crate::cli::exit;
use crate::cli::input::{use_color, width};
use crate::cli::output::{eprint, usage};
use crate::cli::run::{RunSettings, cancel_on_ctrl_c, report, workdir};
use crate::cli::trace;
use crate::durable::Settle;
use crate::runtime::Interpreter;
use crate::store::{Owner, RunId, RunStore, StoreError};
use crate::tools::ToolRegistry;
use crate::value::Kind;

#[derive(Debug, clap::Args)]
pub(super) struct ResumeArgs {
    /// The run's id (as `flowc runs` lists it).
    run: RunId,
    /// The run store.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// For a waiting run: a JSON object merged into the state (checked against the schema).
    #[arg(long, value_name = "JSON", value_parser = parse_input)]
    input: Option<Map<String, Value>>,
    /// For a `needs-attention` run: you have checked that its `once` node's action did not
    /// happen; run the node again.
    #[arg(long)]
    rerun: bool,
    #[command(flatten)]
    settings: RunSettings,
}

fn parse_input(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "the input must be a JSON object, not {}",
            Kind::of_json(&other).json_name()
        )),
        Err(error) => Err(format!("the input is not valid JSON: {error}")),
    }
}

pub(super) fn run(args: &ResumeArgs, registry: &ToolRegistry) -> u8 {
    let settings = &args.settings;
    let color = use_color(settings.color);
    let mut store = match durable::open_existing(&args.db) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let record = match store.run(args.run) {
        Ok(Some(record)) => record,
        Ok(None) => return store_error(&StoreError::NotFound { run: args.run }),
        Err(error) => return store_error(&error),
    };
    let flow = match store.flow(&record.flow_hash) {
        Ok(Some(flow)) => flow,
        Ok(None) => {
            eprint(format_args!(
                "error: run {} names flow {}, which the store does not hold\n",
                args.run, record.flow_hash
            ));
            return exit::RUN_FAILED;
        }
        Err(error) => return store_error(&error),
    };
    let file = PathBuf::from(flow.path.as_deref().unwrap_or(&flow.name));
    let source = crate::SourceFile::new(file.display().to_string(), flow.source);
    let limits = settings.sandbox_limits();
    let checked = crate::check_with_limits(&source, registry, &limits);
    let Some(program) = checked.program else {
        eprint(checked.report.render_human(color, width()));
        eprint(format_args!(
            "error: the stored flow of run {} no longer compiles with this flowc\n",
            args.run
        ));
        return exit::RUN_FAILED;
    };
    let trace = match &settings.trace {
        Some(path) => match trace::create(path, &[]) {
            Ok(trace) => Some(Mutex::new(trace)),
            Err(error) => return usage(error),
        },
        None => None,
    };
    let console = settings.console(&program);
    let options = settings.options(limits, workdir(&file));
    let interpreter = Interpreter::new(Arc::new(program), options);
    let owner = Owner::this_process();
    if args.rerun
        && let Err(error) = crate::durable::settle(&mut store, &owner, args.run, Settle::Rerun)
    {
        return durable::durable_error(error, &source);
    }
    let mut run = match crate::durable::resume(
        &interpreter,
        &mut store,
        &owner,
        args.run,
        args.input.clone(),
    ) {
        Ok(run) => run,
        Err(error) => return durable::durable_error(error, &source),
    };
    // The run keeps the limits it was started with, unless these flags say otherwise.
    if let Some(max_steps) = settings.max_steps {
        run.set_max_steps(max_steps);
    }
    if let Some(timeout) = settings.timeout {
        run.set_timeout(Some(timeout));
    }
    let cancel = CancelToken::new();
    cancel_on_ctrl_c(&cancel);
    let target = Target {
        db: &args.db,
        file: Path::new(&file),
        source: &source,
        interpreter: &interpreter,
        quiet: settings.quiet,
    };
    let ended = durable::drive(
        &target,
        store,
        &owner,
        args.run,
        run,
        &cancel,
        trace.as_ref(),
        console.as_ref(),
    );
    report(
        ended,
        trace,
        settings.trace.as_deref(),
        &source,
        settings.quiet,
        color,
    )
}
