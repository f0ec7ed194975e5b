//! Tallying the rows of a CSV file as they are written, on two helper threads: the tallies
//! a detect pass over the written file would take ([`super::kept`]). The helpers see each
//! record as the writer is given it, the field texts a reader of the file gets back, and
//! tallies them as [`super::tally_pass`] tallies a read file's (every column, and the
//! duplicate rows, by the same fingerprint the reader takes), so every figure is the same.

use std::sync::{Arc, mpsc};

use super::cell::Cell;
use super::csv_batches::{BATCH, Batch, Recycler};
use super::duplicates::{DuplicateRows, record_fingerprint};
use super::kept::TableTally;
use super::record_bound::MAX_RECORD_BYTES;
use super::summary::ColumnTally;

/// A written record longer than this might not be read back (the reader's bound counts its
/// read-ahead too): the file's tallies are then not kept, and a pass reads the file.
const LONGEST_KEPT_RECORD: u64 = MAX_RECORD_BYTES / 2;

/// The threads that tally: with the reader's and the repairer's, enough to keep two cores
/// busy.
const HELPERS: usize = 2;

/// The records being written, handed to the helpers a batch at a time.
pub(super) struct WrittenRows {
    to_helpers: Vec<mpsc::SyncSender<Batch>>,
    emptied: mpsc::Receiver<Vec<csv::StringRecord>>,
    batch: Vec<csv::StringRecord>,
    filled: usize,
}

impl WrittenRows {
    /// The next record, filled with `fields`, to be written.
    pub(super) fn push(
        &mut self,
        fields: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> &csv::StringRecord {
        if self.filled == BATCH {
            self.hand_over();
        }
        if self.filled == self.batch.len() {
            self.batch.push(csv::StringRecord::new());
        }
        let record = &mut self.batch[self.filled];
        record.clear();
        for field in fields {
            record.push_field(field.as_ref());
        }
        self.filled += 1;
        &self.batch[self.filled - 1]
    }

    fn hand_over(&mut self) {
        let mut batch = self.emptied.try_recv().unwrap_or_default();
        std::mem::swap(&mut batch, &mut self.batch);
        batch.truncate(self.filled);
        self.filled = 0;
        let batch = Arc::new(batch);
        for to_helper in &self.to_helpers {
            // A helper stops early only by panicking, which the scope passes on.
            let _ = to_helper.send(Arc::clone(&batch));
        }
    }
}

/// The tallies of the table read that hold for the table written: a column's, when it is
/// written as it was read (same cells, same rows); and the duplicate rows, when every
/// column is, or none when such a column's cells all differ (then no two rows are equal:
/// [`ColumnTally::cells_all_differ`], as detect has it).
pub(super) struct CarriedOver {
    pub(super) tallies: Vec<Option<ColumnTally>>,
    pub(super) duplicates: Option<DuplicateRows>,
}

impl CarriedOver {
    pub(super) fn nothing(columns: usize) -> Self {
        CarriedOver {
            tallies: (0..columns).map(|_| None).collect(),
            duplicates: None,
        }
    }

    /// What of `table` holds for a table whose `untouched` columns are as they were.
    pub(super) fn from(table: TableTally, untouched: &[bool]) -> Self {
        let all = untouched.iter().all(|&untouched| untouched);
        let distinct_rows = (table.tallies.iter())
            .any(|(column, tally)| untouched[*column] && tally.cells_all_differ());
        let duplicates = if all {
            Some(table.duplicates)
        } else {
            distinct_rows.then(DuplicateRows::default)
        };
        CarriedOver {
            tallies: (table.tallies.into_iter())
                .map(|(column, tally)| untouched[column].then_some(tally))
                .collect(),
            duplicates,
        }
    }
}

/// Runs `write` with a [`WrittenRows`] it pushes each record through before writing it, and
/// tallies them meanwhile, but for what is `carried` over; the tallies come back with
/// `write`'s result when it succeeded. None when a record was too long to be sure of
/// reading back.
pub(super) fn tallying_written<R, E>(
    columns: &[String],
    carried: CarriedOver,
    write: impl FnOnce(&mut WrittenRows) -> Result<R, E>,
) -> Result<(R, Option<TableTally>), E> {
    let to_tally: Vec<usize> = (0..columns.len())
        .filter(|&column| carried.tallies[column].is_none())
        .collect();
    std::thread::scope(|scope| {
        let (recycler, emptied) = Recycler::new();
        let mut to_helpers = Vec::new();
        let mut helpers = Vec::new();
        for helper in 0..HELPERS {
            let (to_helper, batches) = mpsc::sync_channel::<Batch>(2);
            let recycler = recycler.clone();
            // The first's columns are fewer: the duplicate rows are worth about two.
            let mine: Vec<usize> = (to_tally.iter().enumerate())
                .filter(|(position, _)| (position + 2) % HELPERS == helper)
                .map(|(_, &column)| column)
                .collect();
            // The first also finds the duplicate rows, unless they are known, and checks that
            // every record can be read back.
            let share = Share {
                columns: mine,
                duplicates: (helper == 0 && carried.duplicates.is_none())
                    .then(DuplicateRows::default),
                checks_lengths: helper == 0,
            };
            to_helpers.push(to_helper);
            helpers.push(scope.spawn(move || tally_batches(share, &batches, &recycler)));
        }
        let mut rows = WrittenRows {
            to_helpers,
            emptied,
            batch: Vec::new(),
            filled: 0,
        };
        let written = write(&mut rows);
        if written.is_ok() {
            rows.hand_over();
        }
        // The helpers finish the batches they have, then stop.
        rows.to_helpers.clear();
        let mut tallies: Vec<(usize, ColumnTally)> = (carried.tallies.into_iter().enumerate())
            .filter_map(|(column, tally)| Some((column, tally?)))
            .collect();
        let (mut duplicates, mut readable) = (carried.duplicates, true);
        for helper in helpers {
            let part = helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            readable &= part.readable;
            tallies.extend(part.tallies);
            duplicates = duplicates.or(part.duplicates);
        }
        let written = written?;
        tallies.sort_by_key(|(column, _)| *column);
        let table = readable.then(|| TableTally {
            columns: columns.to_vec(),
            tallies,
            duplicates: duplicates.unwrap_or_default(),
        });
        Ok((written, table))
    })
}

/// What one helper tallied.
struct Tallied {
    tallies: Vec<(usize, ColumnTally)>,
    duplicates: Option<DuplicateRows>,
    /// Whether every record can be read back.
    readable: bool,
}

/// What one helper does.
struct Share {
    columns: Vec<usize>,
    duplicates: Option<DuplicateRows>,
    checks_lengths: bool,
}

fn tally_batches(share: Share, batches: &mpsc::Receiver<Batch>, recycler: &Recycler) -> Tallied {
    let mut tallies: Vec<(usize, ColumnTally)> = (share.columns.iter())
        .map(|&column| (column, ColumnTally::default()))
        .collect();
    let mut duplicates = share.duplicates;
    let (mut row, mut scratch, mut readable) = (0, Vec::new(), true);
    for batch in batches {
        for record in batch.iter() {
            if share.checks_lengths {
                // Quoted, every byte might be doubled, and each field gets two quotes.
                let written = 2 * (record.as_slice().len() + record.len()) as u64 + 1;
                readable &= written <= LONGEST_KEPT_RECORD;
            }
            if let Some(duplicates) = &mut duplicates {
                duplicates.observe(row, record_fingerprint(record, &mut scratch));
            }
            for (column, tally) in &mut tallies {
                let text = record.get(*column).map_or(Cell::Null, Cell::from_text);
                tally.observe(row, text);
            }
            row += 1;
        }
        recycler.give_back(batch);
    }
    for (_, tally) in &mut tallies {
        tally.finish();
    }
    Tallied {
        tallies,
        duplicates,
        readable,
    }
}
