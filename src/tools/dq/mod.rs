//! The data-quality tools: `dq.profile`, `dq.detect_anomalies`, `dq.generate_rules` and
//! `dq.apply_rules`, over `rows` in the state or a CSV file named by `dataset` (see
//! [`dataset`]). docs/tools.md documents them for users.

mod apply;
mod apply_csv;
mod cell;
mod column_anomalies;
mod column_json;
mod content_digest;
mod counted;
mod csv_batches;
mod dataset;
mod detect;
mod duplicates;
mod fast_hash;
mod float_sort;
mod hll;
mod kept;
mod number_text;
mod numeric_stats;
mod pattern;
mod profile;
mod record_bound;
mod rules;
mod summary;
mod tally_pass;
#[cfg(test)]
mod testing;
mod written_tally;

use serde_json::Value;

use super::{ArgType, ToolCall, ToolFailure, ToolRegistry, ToolSpec};

pub(super) fn register(registry: &mut ToolRegistry) {
    registry.register(
        ToolSpec::new(
            "dq.profile",
            "Profiles the table (`rows` in the state, else the CSV file `dataset`): per column its type, count, nulls, distinct values, min/max/mean/stddev/quartiles for numbers and top values otherwise. Sets `profile` and `row_count`.",
        )
        .optional("columns", ArgType::list_of(ArgType::String), "only these columns (default: all)")
        .optional("top", ArgType::Int, "how many top values a text column lists (default 5)"),
        profile::Profile,
    );
    registry.register(
        ToolSpec::new(
            "dq.detect_anomalies",
            "Finds missing values, malformed emails and values not matching `patterns`, numeric outliers, duplicate rows and categories written with different spacing or case. Sets `anomalies` (kind, column, count, examples) and `anomaly_count`.",
        )
        .optional("columns", ArgType::list_of(ArgType::String), "only these columns (default: all)")
        .optional("patterns", ArgType::map_of(ArgType::String), "column → regex every value must match")
        .optional("method", ArgType::one_of(&["zscore", "iqr"]), "how outliers are found (default zscore)")
        .optional("z", ArgType::Float, "zscore: how many standard deviations from the mean is an outlier (default 3.0)")
        .optional("k", ArgType::Float, "iqr: how many IQRs outside the quartiles is an outlier (default 1.5)"),
        detect::Detect,
    );
    registry.register(
        ToolSpec::new(
            "dq.generate_rules",
            "Turns `anomalies` into repair `rules` (plain data a script may edit): fill nulls with the median or mode, trim and lower-case emails, null or drop malformed values, clip outliers, drop duplicate rows, normalise categories.",
        )
        .optional("malformed", ArgType::one_of(&["null", "drop"]), "what to do with a malformed value: null the cell or drop the row (default null)"),
        rules::Generate,
    );
    registry.register(
        ToolSpec::new(
            "dq.apply_rules",
            "Applies `rules` to `rows` (sets the new `rows`) or streams the CSV `dataset` to `output` (and points `dataset` at it). Sets `applied`: per rule, the cells and rows it changed.",
        )
        .optional("output", ArgType::String, "where the repaired CSV goes, relative to the flow's folder (default: the state's `output`)"),
        apply::Apply,
    );
}

/// A whole-number argument that must not be negative.
fn int_arg(call: &ToolCall<'_>, name: &str) -> Result<Option<usize>, ToolFailure> {
    match call.args.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .and_then(|value| usize::try_from(value).ok())
            .map(Some)
            .ok_or_else(|| {
                ToolFailure::failed(format!("`{name}` must be a whole number ≥ 0, not {value}"))
            }),
    }
}

fn float_arg(call: &ToolCall<'_>, name: &str, default: f64) -> Result<f64, ToolFailure> {
    match call.args.get(name) {
        None => Ok(default),
        Some(value) => value.as_f64().filter(|value| *value > 0.0).ok_or_else(|| {
            ToolFailure::failed(format!("`{name}` must be a number > 0, not {value}"))
        }),
    }
}

/// The positions in `columns` of the `columns` argument's names (all columns without it).
fn selected_columns(call: &ToolCall<'_>, columns: &[String]) -> Result<Vec<usize>, ToolFailure> {
    let Some(wanted) = call.args.get("columns") else {
        return Ok((0..columns.len()).collect());
    };
    let Some(wanted) = wanted.as_array() else {
        return Err(ToolFailure::failed(
            "`columns` must be a list of column names",
        ));
    };
    wanted
        .iter()
        .map(|name| {
            let name = name.as_str().unwrap_or_default();
            column_index(columns, name, "`columns`")
        })
        .collect()
}

/// Where `name` is among `columns`; a failure naming `source` (what referred to it, as
/// the message shows it) if absent.
fn column_index(columns: &[String], name: &str, source: &str) -> Result<usize, ToolFailure> {
    columns
        .iter()
        .position(|column| column == name)
        .ok_or_else(|| {
            ToolFailure::failed(format!(
                "{source} names column `{name}`, which the table does not have (it has: {})",
                columns.join(", ")
            ))
        })
}

/// A state field as a list, or a failure naming it.
fn state_list<'a>(call: &ToolCall<'a>, field: &str) -> Result<&'a [Value], ToolFailure> {
    match call.state.get(field) {
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(ToolFailure::failed(format!(
            "`{field}` must be a list, not {}",
            crate::value::Kind::of_json(other).name()
        ))),
        None => Err(ToolFailure::failed(format!("the state has no `{field}`"))),
    }
}
