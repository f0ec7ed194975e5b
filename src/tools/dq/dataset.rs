//! Where a dq tool's table comes from, and reading it row by row.
//!
//! `rows` in the state (a list of objects) wins over a `dataset` field (a CSV file's path,
//! relative to the flow file's folder): rows in the state are the data the flow has just
//! built, and `dataset` may be left over from an earlier stage.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::cell::Cell;
use super::content_digest::Digest;
use super::csv_batches::{Batch, Recycler, for_each_batch};
use super::duplicates::DuplicateRows;
use super::record_bound::{CsvReader, RecordBound, too_long};
use crate::tools::{Access, FailureKind, ToolCall, ToolFailure};
use crate::value::Kind;

/// How many rows pass between two looks at the cancel token and the deadline.
const CHECK_EVERY: usize = 4096;

pub(super) enum Dataset<'a> {
    Rows(&'a [Value]),
    Csv {
        path: PathBuf,
        /// The path as the state gives it, for messages.
        shown: String,
    },
}

impl<'a> Dataset<'a> {
    pub(super) fn from_state(call: &ToolCall<'a>) -> Result<Self, ToolFailure> {
        match call.state.get("rows") {
            Some(Value::Array(rows)) => return Ok(Dataset::Rows(rows)),
            Some(Value::Null) | None => {}
            Some(other) => {
                return Err(ToolFailure::failed(format!(
                    "`rows` must be a list of objects, not {}",
                    Kind::of_json(other).name()
                )));
            }
        }
        match call.state.get("dataset") {
            Some(Value::String(shown)) => Ok(Dataset::Csv {
                path: call
                    .path(shown, Access::Read)
                    .map_err(|error| ToolFailure::failed(format!("`dataset` {shown}: {error}")))?,
                shown: shown.clone(),
            }),
            Some(other) => Err(ToolFailure::failed(format!(
                "`dataset` must be a CSV file's path (a string), not {}",
                Kind::of_json(other).name()
            ))),
            None => Err(ToolFailure::failed(
                "the state has neither `rows` (a list of objects) nor `dataset` (a CSV file's path)",
            )),
        }
    }

    /// The columns: the CSV header, or every key of every row in order of first appearance.
    pub(super) fn columns(&self) -> Result<Vec<String>, ToolFailure> {
        match self {
            Dataset::Rows(rows) => {
                let mut columns: Vec<String> = Vec::new();
                for (index, row) in rows.iter().enumerate() {
                    for key in row_object(index, row)?.keys() {
                        if !columns.contains(key) {
                            columns.push(key.clone());
                        }
                    }
                }
                Ok(columns)
            }
            Dataset::Csv { path, shown } => {
                let mut reader = open_csv(path, shown)?;
                let header = reader
                    .headers()
                    .map_err(|error| csv_failure(shown, &error))?;
                Ok(header.iter().map(str::to_owned).collect())
            }
        }
    }

    /// Calls `visit` with each row's index (from 0, header not counted) and its cells in
    /// the order of `columns`.
    pub(super) fn for_each_row(
        &self,
        call: &ToolCall<'_>,
        columns: &[String],
        mut visit: impl FnMut(usize, &[Cell<'_>]) -> Result<(), ToolFailure>,
    ) -> Result<(), ToolFailure> {
        match self {
            Dataset::Rows(rows) => {
                let mut cells: Vec<Cell<'_>> = Vec::with_capacity(columns.len());
                for (index, row) in rows.iter().enumerate() {
                    checkpoint(call, index)?;
                    let object = row_object(index, row)?;
                    cells.clear();
                    cells.extend(
                        columns
                            .iter()
                            .map(|column| Cell::from_json(object.get(column))),
                    );
                    visit(index, &cells)?;
                }
            }
            Dataset::Csv { path, shown } => {
                for_each_csv_row(call, path, shown, None, |_, _, _| {}, visit)?;
            }
        }
        Ok(())
    }
}

/// Calls `visit` with each record of the CSV file (its index and cells), in order, checking
/// for a cancel or the deadline between records; `batch` first sees each batch of records
/// and the index of its first, to hand it to another thread as well. `duplicates`, if
/// given, sees every record (on the reader's thread). The digest of the file's bytes, as
/// read, comes back.
pub(super) fn for_each_csv_row(
    call: &ToolCall<'_>,
    path: &std::path::Path,
    shown: &str,
    duplicates: Option<&mut DuplicateRows>,
    mut batch: impl FnMut(usize, &Batch, &Recycler),
    mut visit: impl FnMut(usize, &[Cell<'_>]) -> Result<(), ToolFailure>,
) -> Result<Digest, ToolFailure> {
    let mut index = 0;
    let mut spare: Vec<Cell<'static>> = Vec::new();
    for_each_batch(
        open_csv(path, shown)?,
        shown,
        duplicates,
        |records, recycler| {
            batch(index, records, recycler);
            for record in records.iter() {
                checkpoint(call, index)?;
                let mut cells = recycle(std::mem::take(&mut spare));
                cells.extend(record.iter().map(Cell::from_text));
                visit(index, &cells)?;
                spare = recycle(cells);
                index += 1;
            }
            Ok(())
        },
    )
}

/// The vector emptied, for cells that borrow another record: one allocation for the whole
/// file, not one per record (collecting an emptied `into_iter` keeps its buffer).
fn recycle<'b>(mut cells: Vec<Cell<'_>>) -> Vec<Cell<'b>> {
    cells.clear();
    cells.into_iter().map(|_| Cell::Null).collect()
}

pub(super) fn row_object(index: usize, row: &Value) -> Result<&Map<String, Value>, ToolFailure> {
    row.as_object().ok_or_else(|| {
        ToolFailure::failed(format!(
            "`rows` must be a list of objects: item {index} is {}",
            Kind::of_json(row).name()
        ))
    })
}

pub(super) fn open_csv(path: &std::path::Path, shown: &str) -> Result<CsvReader, ToolFailure> {
    let cannot_open = |error: std::io::Error| {
        ToolFailure::failed(format!(
            "`dataset` {shown}: cannot open {}: {error}",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(cannot_open)?;
    // Streaming keeps memory bounded only for a file that ends: not `/dev/zero` or a pipe.
    if !file.metadata().map_err(cannot_open)?.is_file() {
        return Err(ToolFailure::failed(format!(
            "`dataset` {shown}: {} is not a regular file",
            path.display()
        )));
    }
    Ok(csv::ReaderBuilder::new()
        .buffer_capacity(1 << 16)
        .from_reader(RecordBound::new(file)))
}

/// A CSV error said with the file and the line (a ragged row names its line and widths).
pub(super) fn csv_failure(shown: &str, error: &csv::Error) -> ToolFailure {
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => {
            let line = pos.as_ref().map_or(0, csv::Position::line);
            format!(
                "`dataset` {shown}: line {line} has {len} fields, the header has {expected_len}"
            )
        }
        csv::ErrorKind::Utf8 { pos, .. } => {
            let line = pos.as_ref().map_or(0, csv::Position::line);
            format!("`dataset` {shown}: line {line} is not valid UTF-8")
        }
        _ => match too_long(error) {
            Some(too_long) => format!("`dataset` {shown}: {too_long} (is a quote left open?)"),
            None => format!("`dataset` {shown}: {error}"),
        },
    };
    ToolFailure::failed(message)
}

/// Every [`CHECK_EVERY`] rows: stop if the run is cancelled or the deadline has passed.
pub(super) fn checkpoint(call: &ToolCall<'_>, index: usize) -> Result<(), ToolFailure> {
    if !index.is_multiple_of(CHECK_EVERY) {
        return Ok(());
    }
    match call.interruption() {
        None => Ok(()),
        Some(kind) => Err(ToolFailure {
            kind,
            message: match kind {
                FailureKind::Cancelled => format!("cancelled at row {index}"),
                _ => format!("timed out at row {index}"),
            },
        }),
    }
}
