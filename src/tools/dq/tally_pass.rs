//! One pass over a table that tallies columns ([`ColumnTally`]) and shows each row to a
//! visitor: what `dq.profile` and `dq.detect_anomalies` do. Over a CSV file, the tallies are
//! shared between this thread and a helper, both working on the batches the reader thread
//! parses ([`super::csv_batches`]): a tally is most of a pass's work, and on two cores the
//! three threads keep both busy. Each tally still sees its column's cells in row order, so
//! the figures are those of one thread.

use std::sync::{Arc, mpsc};

use super::cell::Cell;
use super::content_digest::Digest;
use super::csv_batches::{Batch, Recycler};
use super::dataset::{Dataset, for_each_csv_row};
use super::duplicates::{DuplicateRows, fingerprint};
use super::summary::ColumnTally;
use crate::tools::{ToolCall, ToolFailure};

/// Tallies each `(column, tally)` of `tallies` and calls `visit` with each row (its index and
/// every cell), then finishes the tallies; `visits_rows` says whether `visit` does any work,
/// which leaves this thread fewer columns. `duplicates`, if given, sees every row. Over a
/// CSV file, the digest of its bytes as read comes back.
pub(super) fn tally_columns(
    dataset: &Dataset<'_>,
    call: &ToolCall<'_>,
    columns: &[String],
    tallies: &mut [(usize, ColumnTally)],
    mut duplicates: Option<&mut DuplicateRows>,
    visits_rows: bool,
    mut visit: impl FnMut(usize, &[Cell<'_>]) -> Result<(), ToolFailure>,
) -> Result<Option<Digest>, ToolFailure> {
    let Dataset::Csv { path, shown } = dataset else {
        dataset.for_each_row(call, columns, |row, cells| {
            if let Some(duplicates) = duplicates.as_deref_mut() {
                duplicates.observe(row, fingerprint(cells.iter().copied()));
            }
            for (column, tally) in tallies.iter_mut() {
                tally.observe(row, cells.get(*column).copied().unwrap_or(Cell::Null));
            }
            visit(row, cells)
        })?;
        for (_, tally) in tallies.iter_mut() {
            tally.finish();
        }
        return Ok(None);
    };
    // This thread also hands batches over, turns records into cells and, with a visitor,
    // works on whole rows. Measured on the 1,000,000-row benchmark (docs/performance.md):
    // while the reader finds duplicates, a third of the columns here is fastest.
    let keep_every = if visits_rows || duplicates.is_some() {
        3
    } else {
        2
    };
    let (mut mine, theirs): (Vec<_>, Vec<_>) = tallies
        .iter_mut()
        .enumerate()
        .partition(|(position, _)| position % keep_every == 0);
    std::thread::scope(|scope| {
        let (to_helper, batches) = mpsc::sync_channel::<(usize, Batch, Recycler)>(2);
        scope.spawn(move || {
            let mut theirs = theirs;
            for (first, batch, recycler) in batches {
                for (offset, record) in batch.iter().enumerate() {
                    for (_, (column, tally)) in &mut theirs {
                        let text = record.get(*column).map_or(Cell::Null, Cell::from_text);
                        tally.observe(first + offset, text);
                    }
                }
                recycler.give_back(batch);
            }
            for (_, (_, tally)) in &mut theirs {
                tally.finish();
            }
        });
        let result = for_each_csv_row(
            call,
            path,
            shown,
            duplicates,
            // The helper stops early only by panicking, which the scope passes on.
            |first, batch, recycler| {
                let _ = to_helper.send((first, Arc::clone(batch), recycler.clone()));
            },
            |index, cells| {
                for (_, (column, tally)) in &mut mine {
                    tally.observe(index, cells.get(*column).copied().unwrap_or(Cell::Null));
                }
                visit(index, cells)
            },
        );
        // The helper finishes the batches it has, then the scope waits for it.
        drop(to_helper);
        for (_, (_, tally)) in &mut mine {
            tally.finish();
        }
        result.map(Some)
    })
}
