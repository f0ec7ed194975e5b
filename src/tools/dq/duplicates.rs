//! Duplicate rows: a row is a duplicate when every cell equals the cell of an earlier row
//! (as [`Cell`]s: a blank text is a null). Rows are told apart by a 64-bit fingerprint of
//! their cells: two distinct rows collide with a probability of about n²/2^65 (3·10^-8 for
//! a million rows).

use std::collections::HashMap;
use std::hash::Hasher;

use super::cell::Cell;
use super::counted::Counted;
use super::fast_hash::{FastBuild, FastHasher};

/// The fingerprint of a row's cells, in column order.
pub(super) fn fingerprint<'a>(cells: impl IntoIterator<Item = Cell<'a>>) -> u64 {
    let mut hasher = FastHasher::default();
    for cell in cells {
        cell.hash_into(&mut hasher);
    }
    hasher.finish()
}

/// The fingerprint of a CSV record, a function of its cells ([`Cell::from_text`]) as
/// [`fingerprint`] is (though not the same one): the fields' bytes hashed in one run, then
/// their lengths. A blank field is the null cell, the empty field: such a record's other
/// fields are copied into `scratch` first. The same as [`fields_fingerprint`] of its fields.
pub(super) fn record_fingerprint(record: &csv::StringRecord, scratch: &mut Vec<u8>) -> u64 {
    if record
        .iter()
        .any(|field| !field.is_empty() && is_null(field))
    {
        return fields_fingerprint(record.iter(), scratch);
    }
    let mut hasher = FastHasher::default();
    hasher.write(record.as_slice().as_bytes());
    for field in record {
        hasher.write_usize(field.len());
    }
    hasher.finish()
}

/// [`record_fingerprint`] of a record of these fields, which need not be one yet.
pub(super) fn fields_fingerprint<F: AsRef<str>>(
    fields: impl Iterator<Item = F> + Clone,
    scratch: &mut Vec<u8>,
) -> u64 {
    scratch.clear();
    for field in fields.clone() {
        if !is_null(field.as_ref()) {
            scratch.extend_from_slice(field.as_ref().as_bytes());
        }
    }
    let mut hasher = FastHasher::default();
    hasher.write(scratch);
    for field in fields {
        let field = field.as_ref();
        hasher.write_usize(if is_null(field) { 0 } else { field.len() });
    }
    hasher.finish()
}

fn is_null(field: &str) -> bool {
    matches!(Cell::from_text(field), Cell::Null)
}

/// The duplicates among rows seen in order.
#[derive(Debug, Default)]
pub(super) struct DuplicateRows {
    first_rows: HashMap<u64, usize, FastBuild>,
    /// The duplicates: (row, the earlier row it repeats).
    pub(super) found: Counted<(usize, usize)>,
}

impl DuplicateRows {
    /// Sees row `row`, whose [`fingerprint`] is `fingerprint`.
    pub(super) fn observe(&mut self, row: usize, fingerprint: u64) {
        let first = *self.first_rows.entry(fingerprint).or_insert(row);
        if first != row {
            self.found.push((row, first));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{DuplicateRows, fields_fingerprint, fingerprint, record_fingerprint};
    use crate::tools::dq::cell::Cell;

    #[test]
    fn rows_equal_cell_by_cell_are_duplicates_of_the_first() {
        let rows = [
            ["a", "1"],
            ["a", " "],
            ["a", "1"],
            ["a", ""],
            ["b", "1"],
            ["a", "1"],
        ];
        let mut duplicates = DuplicateRows::default();
        for (row, cells) in rows.iter().enumerate() {
            duplicates.observe(
                row,
                fingerprint(cells.iter().map(|text| Cell::from_text(text))),
            );
        }
        // A blank cell is a null, as an empty one is.
        assert_eq!(duplicates.found.count, 3);
        assert_eq!(duplicates.found.examples, vec![(2, 0), (3, 1), (5, 0)]);
    }

    #[test]
    fn a_csv_record_is_fingerprinted_by_its_cells() {
        let record = |fields: &[&str]| csv::StringRecord::from(fields.to_vec());
        let mut scratch = Vec::new();
        let mut of = |fields: &[&str]| record_fingerprint(&record(fields), &mut scratch);
        assert_eq!(of(&["a", " ", "b"]), of(&["a", "", "b"]));
        assert_eq!(of(&["a", "\t", "b"]), of(&["a", "  ", "b"]));
        assert_ne!(of(&["ab", ""]), of(&["a", "b"]));
        assert_ne!(of(&["a", " b"]), of(&["a", "b"]));
        assert_ne!(of(&["a", "b"]), of(&["b", "a"]));
        assert_eq!(of(&["x", "1"]), of(&["x", "1"]));
        // A record's fingerprint is its fields', with blanks or without.
        for fields in [
            &["a", " ", "b"][..],
            &["a", "", "b"],
            &["ab", "c"],
            &[" "],
            &[],
        ] {
            let mut spare = Vec::new();
            assert_eq!(
                record_fingerprint(&record(fields), &mut spare),
                fields_fingerprint(fields.iter(), &mut spare),
                "{fields:?}"
            );
        }
    }
}
