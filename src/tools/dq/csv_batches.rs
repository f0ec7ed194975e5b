//! Reading a CSV file on a second thread, in batches of records, while the calling thread
//! works on the batch before: parsing (and checking UTF-8) is a third of a pass's work, and
//! the machine has another core. Two batches in flight at most, so memory stays bounded;
//! emptied batches go back to the reader to be refilled. A batch is shared (an [`Arc`]), so
//! that more than one thread may work on it. The reader also finds the duplicate rows when
//! asked: it sees every row in order, and has time to spare.

use std::sync::{Arc, mpsc};

use super::content_digest::Digest;
use super::dataset::csv_failure;
use super::duplicates::{DuplicateRows, record_fingerprint};
use super::record_bound::{CsvReader, read_record};
use crate::tools::ToolFailure;

/// Records per batch: big enough that handing one over costs nothing per record, small
/// enough (some 200 KB) to stay in cache.
pub(super) const BATCH: usize = 2048;

pub(super) type Batch = Arc<Vec<csv::StringRecord>>;

/// Gives a batch back to the thread that fills them once every thread is done with it: each calls
/// [`Recycler::give_back`] with its handle, and the last one's goes through.
#[derive(Clone)]
pub(super) struct Recycler(mpsc::Sender<Vec<csv::StringRecord>>);

impl Recycler {
    /// A recycler, and where the batches it gives back come out.
    pub(super) fn new() -> (Recycler, mpsc::Receiver<Vec<csv::StringRecord>>) {
        let (sender, emptied) = mpsc::channel();
        (Recycler(sender), emptied)
    }

    pub(super) fn give_back(&self, batch: Batch) {
        if let Some(batch) = Arc::into_inner(batch) {
            // The filler may have finished: then the batch is simply dropped.
            let _ = self.0.send(batch);
        }
    }
}

/// Calls `consume` with the file's records in order, a batch at a time; stops at the first
/// error, `consume`'s or the reader's (a CSV error comes after the records before it).
/// `duplicates`, if given, sees every record read. The digest of the file's bytes, as read,
/// comes back.
pub(super) fn for_each_batch(
    reader: CsvReader,
    shown: &str,
    duplicates: Option<&mut DuplicateRows>,
    mut consume: impl FnMut(&Batch, &Recycler) -> Result<(), ToolFailure>,
) -> Result<Digest, ToolFailure> {
    let (full_sender, full) = mpsc::sync_channel::<Result<Vec<csv::StringRecord>, csv::Error>>(1);
    let (recycler, empty) = Recycler::new();
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || read_batches(reader, &full_sender, &empty, duplicates));
        // Returning early drops `full`: the reader's next send fails and it stops.
        for batch in full {
            let batch = Arc::new(batch.map_err(|error| csv_failure(shown, &error))?);
            consume(&batch, &recycler)?;
            recycler.give_back(batch);
        }
        // Every batch came and no error: the reader read to the end.
        Ok(reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

fn read_batches(
    mut reader: CsvReader,
    full: &mpsc::SyncSender<Result<Vec<csv::StringRecord>, csv::Error>>,
    empty: &mpsc::Receiver<Vec<csv::StringRecord>>,
    mut duplicates: Option<&mut DuplicateRows>,
) -> Digest {
    let (mut row, mut scratch) = (0, Vec::new());
    loop {
        let mut batch = empty.try_recv().unwrap_or_default();
        let mut filled = 0;
        let mut error = None;
        while filled < BATCH {
            if filled == batch.len() {
                batch.push(csv::StringRecord::new());
            }
            match read_record(&mut reader, &mut batch[filled]) {
                Ok(true) => filled += 1,
                Ok(false) => break,
                Err(failure) => {
                    error = Some(failure);
                    break;
                }
            }
        }
        batch.truncate(filled);
        if let Some(duplicates) = duplicates.as_deref_mut() {
            for record in &batch {
                duplicates.observe(row, record_fingerprint(record, &mut scratch));
                row += 1;
            }
        }
        let last = filled < BATCH;
        // A digest that comes back when the consumer stopped early, or after an error, is
        // not looked at.
        if filled > 0 && full.send(Ok(batch)).is_err() {
            return reader.get_ref().digest();
        }
        if let Some(error) = error {
            let _ = full.send(Err(error));
        }
        if last {
            return reader.get_ref().digest();
        }
    }
}
