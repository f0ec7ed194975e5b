//! `dq.apply_rules` over a CSV `dataset`: the repaired table is streamed to `output` (the
//! argument, else the state's `output`; written beside it first, then renamed, so `output`
//! may be the dataset itself), tallied as it is written for the detect pass that usually
//! follows ([`super::kept`]): but for the columns no rule changes, whose tallies carry over
//! from the table read when they are kept.

use std::borrow::Cow;
use std::path::Path;

use serde_json::{Map, Value};

use super::apply::Repair;
use super::content_digest::DigestingWriter;
use super::csv_batches::for_each_batch;
use super::dataset::{checkpoint, open_csv};
use super::duplicates::DuplicateRows;
use super::kept::KEPT;
use super::written_tally::{CarriedOver, tallying_written};
use crate::tools::{Access, ToolCall, ToolFailure};

/// Repairs the CSV file at `path` into `output` and records the new `row_count` and
/// `dataset` in `changes`.
pub(super) fn apply_to_csv(
    call: &ToolCall<'_>,
    (path, shown): (&Path, &str),
    columns: &[String],
    repair: &mut Repair<'_>,
    changes: &mut Map<String, Value>,
) -> Result<(), ToolFailure> {
    let output = match call.args.get("output").or_else(|| call.state.get("output")) {
        Some(Value::String(output)) => output.clone(),
        _ => {
            return Err(ToolFailure::failed(
                "dq.apply_rules over a CSV `dataset` needs an `output` path (the argument or a state field)",
            ));
        }
    };
    let target = call
        .path(&output, Access::Write)
        .map_err(|error| ToolFailure::failed(format!("`output` {output}: {error}")))?;
    let staging = target.with_extension("csv.partial");
    let fail = |error: &dyn std::fmt::Display| {
        ToolFailure::failed(format!(
            "`output` {output}: cannot write {}: {error}",
            staging.display()
        ))
    };
    let file = create_staging(&staging).map_err(|error| fail(&error))?;
    let mut writer = csv::WriterBuilder::new()
        .buffer_capacity(1 << 16)
        .from_writer(DigestingWriter::new(file));
    writer.write_record(columns).map_err(|error| fail(&error))?;
    // The tallies of the table read (kept by the detect before, usually) of the columns no
    // rule changes are those of the table written, if they are of the bytes read.
    let (carried_digest, mut carried) = match (
        KEPT.take(path)
            .filter(|(_, table)| table.columns == columns),
        repair.untouched_columns(columns.len()),
    ) {
        (Some((digest, table)), Some(untouched)) => {
            (Some(digest), CarriedOver::from(table, &untouched))
        }
        _ => (None, CarriedOver::nothing(columns.len())),
    };
    // Rows deduplicated by the fingerprint a reader takes: the written file has no equal two.
    if repair.dedupes_written_rows() {
        carried.duplicates = Some(DuplicateRows::default());
    }
    let ((kept, digest, read), table) = tallying_written(columns, carried, |written| {
        let mut cells: Vec<Value> = Vec::with_capacity(columns.len());
        let (mut index, mut kept) = (0usize, 0usize);
        let read = for_each_batch(open_csv(path, shown)?, shown, None, |records, _| {
            for record in records.iter() {
                checkpoint(call, index)?;
                index += 1;
                refill(&mut cells, record);
                if repair.row(&mut cells) {
                    kept += 1;
                    let record = written.push(cells.iter().map(csv_field));
                    writer.write_record(record).map_err(|error| fail(&error))?;
                }
            }
            Ok(())
        })?;
        writer.flush().map_err(|error| fail(&error))?;
        Ok::<_, ToolFailure>((kept, writer.get_ref().digest(), read))
    })?;
    drop(writer);
    std::fs::rename(&staging, &target).map_err(|error| fail(&error))?;
    let carried_holds = carried_digest.is_none_or(|carried| carried == read);
    if let (Some(table), true) = (table, carried_holds) {
        KEPT.keep(target, digest, table);
    }
    changes.insert("row_count".into(), kept.into());
    changes.insert("dataset".into(), output.into());
    Ok(())
}

/// A new file at `staging`: one left by an earlier, interrupted apply (or a link someone put
/// there) is removed first, never written through.
fn create_staging(staging: &Path) -> std::io::Result<std::fs::File> {
    match std::fs::remove_file(staging) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(staging)
}

/// Sets `cells` to the record's texts, refilling the strings the last record left (no
/// allocation per cell once they have grown to the column's widths).
fn refill(cells: &mut Vec<Value>, record: &csv::StringRecord) {
    cells.resize_with(record.len(), || Value::String(String::new()));
    for (cell, text) in cells.iter_mut().zip(record) {
        match cell {
            Value::String(buffer) => {
                buffer.clear();
                buffer.push_str(text);
            }
            other => *other = Value::String(text.to_owned()),
        }
    }
}

/// A repaired cell as a CSV field: a null is empty, a non-string value its JSON text.
pub(super) fn csv_field(cell: &Value) -> Cow<'_, str> {
    match cell {
        Value::String(text) => Cow::Borrowed(text),
        Value::Null => Cow::Borrowed(""),
        other => Cow::Owned(other.to_string()),
    }
}
