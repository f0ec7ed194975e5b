//! `flowc runs --db FILE`: the stored runs, newest first, as a table or JSON.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::cli::durable::{open_to_read, store_error};
use crate::cli::exit;
use crate::cli::output::Stdout;
use crate::store::{RunFilter, RunRecord, RunStatus, RunStore};
use crate::value::{DurationStyle, format_duration};

#[derive(Debug, clap::Args)]
pub(super) struct RunsArgs {
    /// The run store.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// Only runs with this status (`running`, `waiting`, `completed`, `failed`,
    /// `cancelled`, `interrupted`, `needs-attention`).
    #[arg(long, value_name = "STATUS", value_parser = parse_status)]
    status: Option<RunStatus>,
    /// Only runs of the flow with this name.
    #[arg(long, value_name = "NAME")]
    flow: Option<String>,
    /// At most this many runs.
    #[arg(long, value_name = "N", default_value_t = 20)]
    limit: usize,
    #[arg(long, value_enum, default_value_t = ListFormat::Human)]
    format: ListFormat,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(super) enum ListFormat {
    Human,
    Json,
}

fn parse_status(text: &str) -> Result<RunStatus, String> {
    text.parse::<RunStatus>().map_err(|_| {
        format!(
            "`{text}` is not a status: write one of running, waiting, completed, failed, \
             cancelled, interrupted, needs-attention"
        )
    })
}

pub(super) fn run(args: &RunsArgs) -> u8 {
    let store = match open_to_read(&args.db) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let filter = RunFilter {
        status: args.status,
        flow: args.flow.clone(),
        limit: args.limit,
        before: None,
    };
    let runs = match store.runs(&filter) {
        Ok(runs) => runs,
        Err(error) => return store_error(&error),
    };
    let mut out = Stdout::new();
    match args.format {
        ListFormat::Json => {
            let rows: Vec<serde_json::Value> = runs.iter().map(run_json).collect();
            out.print(format_args!(
                "{}\n",
                serde_json::to_string_pretty(&rows).expect("JSON values serialize")
            ));
        }
        ListFormat::Human => out.print(format_args!("{}", table(&runs))),
    }
    out.finish(exit::OK)
}

/// A run as `flowc runs --format json` and `flowc show --format json` give it.
pub(super) fn run_json(run: &RunRecord) -> serde_json::Value {
    serde_json::json!({
        "id": run.id,
        "flow": run.flow_name,
        "program": run.flow_hash,
        "status": run.status.as_str(),
        "steps": run.steps,
        "started_at": rfc3339(run.created_at),
        "updated_at": rfc3339(run.updated_at),
        "finished_at": run.finished_at.map(rfc3339),
        "duration_us": u64::try_from(duration(run).as_micros()).unwrap_or(u64::MAX),
        "error": run.error.as_deref().and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok()),
    })
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// From the start to the end (or to the last commit, for a run that has not ended).
pub(super) fn duration(run: &RunRecord) -> std::time::Duration {
    run.finished_at
        .unwrap_or(run.updated_at)
        .duration_since(run.created_at)
        .unwrap_or_default()
}

/// `ID  FLOW  STATUS  STEPS  STARTED  DURATION`, columns as wide as their widest cell.
fn table(runs: &[RunRecord]) -> String {
    if runs.is_empty() {
        return "no runs\n".to_owned();
    }
    let mut rows = vec![[
        "ID".to_owned(),
        "FLOW".to_owned(),
        "STATUS".to_owned(),
        "STEPS".to_owned(),
        "STARTED".to_owned(),
        "DURATION".to_owned(),
    ]];
    for run in runs {
        rows.push([
            run.id.to_string(),
            run.flow_name.clone(),
            run.status.as_str().to_owned(),
            run.steps.to_string(),
            rfc3339(run.created_at),
            format_duration(duration(run), DurationStyle::Measured),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in &rows {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[column]);
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}
