//! A bound on one CSV record's size. The csv crate holds a record whole while it parses it,
//! so a file with one endless line (or an unclosed quote) would be read into memory entire:
//! [`RecordBound`] refuses to hand the parser more than [`MAX_RECORD_BYTES`] past the start of
//! the record being read, and the read fails with [`RecordTooLong`].

use std::fs::File;
use std::io::{self, Read};

use super::content_digest::{Digest, Digester};

/// The longest record read (its bytes, with the parser's read-ahead).
pub(super) const MAX_RECORD_BYTES: u64 = 16 << 20;

/// A CSV reader over a file, each record bounded.
pub(super) type CsvReader = csv::Reader<RecordBound>;

/// The file, and where the record being read began.
pub(super) struct RecordBound {
    file: File,
    /// Of the bytes handed to the parser: a pass's tallies are of these bytes.
    digester: Digester,
    /// Bytes handed to the parser so far.
    handed: u64,
    record_start: u64,
    /// The line it begins on (1 for the first).
    record_line: u64,
}

impl RecordBound {
    pub(super) fn new(file: File) -> Self {
        RecordBound {
            file,
            digester: Digester::default(),
            handed: 0,
            record_start: 0,
            record_line: 1,
        }
    }

    /// The digest of the bytes read so far: the file's, once it has been read to the end.
    pub(super) fn digest(&self) -> Digest {
        self.digester.finish()
    }
}

/// Why a read stopped: the record starting at byte `start`, on line `line`, is longer than
/// the bound.
#[derive(Debug)]
pub(super) struct RecordTooLong {
    pub(super) start: u64,
    pub(super) line: u64,
}

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "the record at line {} (byte {}) is longer than {} MiB",
            self.line,
            self.start,
            MAX_RECORD_BYTES >> 20
        )
    }
}

impl std::error::Error for RecordTooLong {}

impl Read for RecordBound {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let allowed = (self.record_start + MAX_RECORD_BYTES).saturating_sub(self.handed);
        if allowed == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                RecordTooLong {
                    start: self.record_start,
                    line: self.record_line,
                },
            ));
        }
        let most = buffer
            .len()
            .min(usize::try_from(allowed).unwrap_or(usize::MAX));
        let read = self.file.read(&mut buffer[..most])?;
        self.digester.update(&buffer[..read]);
        self.handed += read as u64;
        Ok(read)
    }
}

/// [`csv::Reader::read_record`], then marks where the next record begins (the header, which
/// the first call would read with the first record, is read and marked on its own).
pub(super) fn read_record(
    reader: &mut CsvReader,
    record: &mut csv::StringRecord,
) -> csv::Result<bool> {
    if reader.get_ref().record_start == 0 && reader.has_headers() {
        reader.headers()?;
        mark_next_record(reader);
    }
    let read = reader.read_record(record)?;
    mark_next_record(reader);
    Ok(read)
}

fn mark_next_record(reader: &mut CsvReader) {
    let next = reader.position().clone();
    let bound = reader.get_mut();
    bound.record_start = next.byte();
    bound.record_line = next.line();
}

/// The bound's failure inside a CSV error, if that is what it is.
pub(super) fn too_long(error: &csv::Error) -> Option<&RecordTooLong> {
    match error.kind() {
        csv::ErrorKind::Io(io) => io.get_ref()?.downcast_ref(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::{MAX_RECORD_BYTES, RecordBound, read_record, too_long};

    fn reader(text: &[u8]) -> super::CsvReader {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(text).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        csv::ReaderBuilder::new()
            .buffer_capacity(1 << 16)
            .from_reader(RecordBound::new(file))
    }

    #[test]
    fn a_record_past_the_bound_fails_before_it_is_held() {
        let long = usize::try_from(MAX_RECORD_BYTES).unwrap() + 1;
        let mut text = b"a,b\n1,2\n3,".to_vec();
        text.extend(std::iter::repeat_n(b'x', long));
        text.extend(b"\n5,6\n");
        let mut reader = reader(&text);
        let mut record = csv::StringRecord::new();
        assert!(read_record(&mut reader, &mut record).unwrap());
        assert_eq!(&record[1], "2");
        let error = read_record(&mut reader, &mut record).unwrap_err();
        assert_eq!(too_long(&error).map(|found| found.start), Some(8));
        assert_eq!(too_long(&error).map(|found| found.line), Some(3));
        assert!(record.as_slice().len() <= long);
    }

    #[test]
    fn many_records_add_up_past_the_bound() {
        // 40 MiB of short records: each is bounded, not the file.
        let row = b"0123456789,0123456789\n";
        let rows = usize::try_from(MAX_RECORD_BYTES * 5 / 2).unwrap() / row.len();
        let mut text = b"a,b\n".to_vec();
        for _ in 0..rows {
            text.extend(row);
        }
        let mut reader = reader(&text);
        let mut record = csv::StringRecord::new();
        let mut count = 0;
        while read_record(&mut reader, &mut record).unwrap() {
            count += 1;
        }
        assert_eq!(count, rows);
    }
}
