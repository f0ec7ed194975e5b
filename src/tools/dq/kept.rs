//! The tallies of a CSV file that a dq tool has just read or written, kept for the passes
//! that usually follow over the same file. `dq.profile` keeps them for the detect after it;
//! `dq.apply_rules` has every row in hand as it writes it, and a core to spare, so it
//! tallies them there (as detect would, from the same field texts) for the loop's evaluate
//! step, which then need not read the file again; detect keeps them in turn for the next
//! apply, which carries over the tallies of every column its rules leave alone.
//!
//! The tallies are of the file's bytes, so they are used only while the file still holds
//! them: the file's [`Digest`] is taken as it is read or written, and checked against the
//! file as it is when detect comes (read at memory speed, some tens of milliseconds a
//! million rows) or against what apply reads of it. One table is kept in the process, the
//! last one, until a pass takes it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::content_digest::{Digest, file_holds};
use super::duplicates::DuplicateRows;
use super::summary::ColumnTally;

/// A table's finished tallies: every column's and its duplicate rows.
#[derive(Debug)]
pub(super) struct TableTally {
    pub(super) columns: Vec<String>,
    /// (column, its tally), for every column in order.
    pub(super) tallies: Vec<(usize, ColumnTally)>,
    pub(super) duplicates: DuplicateRows,
}

#[derive(Debug)]
struct Entry {
    path: PathBuf,
    digest: Digest,
    table: TableTally,
}

/// Where one table's tallies wait for the next pass.
#[derive(Debug, Default)]
pub(super) struct Kept(Mutex<Option<Entry>>);

/// The process's one.
pub(super) static KEPT: Kept = Kept(Mutex::new(None));

impl Kept {
    /// Keeps `table`, the tallies of the file at `path` whose bytes have `digest`, in place
    /// of any table kept before.
    pub(super) fn keep(&self, path: PathBuf, digest: Digest, table: TableTally) {
        let entry = Entry {
            path,
            digest,
            table,
        };
        // The old table is dropped after the lock is let go.
        let _old = self.slot().replace(entry);
    }

    /// The tallies kept for the file at `path` and the digest of the bytes they are of,
    /// taken whether or not the file still holds those bytes: for a pass that reads the
    /// file anyway and can compare the digest of what it read.
    pub(super) fn take(&self, path: &Path) -> Option<(Digest, TableTally)> {
        let mut slot = self.slot();
        if slot.as_ref()?.path != path {
            return None;
        }
        slot.take().map(|entry| (entry.digest, entry.table))
    }

    /// The tallies kept for the file at `path`, taken if it still holds the bytes they are
    /// of (dropped if not, or if `keep_going` says to stop while that is checked).
    pub(super) fn take_current(
        &self,
        path: &Path,
        keep_going: impl Fn() -> bool,
    ) -> Option<(Digest, TableTally)> {
        let (digest, table) = self.take(path)?;
        let unchanged = std::fs::metadata(path).is_ok_and(|meta| meta.len() == digest.len)
            && file_holds(path, digest, keep_going);
        unchanged.then_some((digest, table))
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Entry>> {
        // An entry is replaced whole; a panic elsewhere cannot leave it half written.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{Map, Value, json};

    use super::{Kept, TableTally};
    use crate::tools::Tool;
    use crate::tools::dq::apply::Apply;
    use crate::tools::dq::content_digest::digest_file;
    use crate::tools::dq::detect::Detect;
    use crate::tools::dq::duplicates::DuplicateRows;
    use crate::tools::dq::profile::Profile;
    use crate::tools::dq::rules::Generate;
    use crate::tools::dq::testing::call_in;

    /// Calls `tool` and merges its changes into `state`.
    fn step(tool: &dyn Tool, folder: &Path, args: &Value, state: &mut Map<String, Value>) {
        let changes = call_in(tool, folder, args, &Value::Object(state.clone())).unwrap();
        state.extend(changes);
    }

    /// Detect over a copy of the file at `dataset` (a path no tallies are kept for).
    fn detect_read(folder: &Path, dataset: &str) -> Map<String, Value> {
        std::fs::copy(folder.join(dataset), folder.join("copy.csv")).unwrap();
        let state = json!({ "dataset": "copy.csv" });
        call_in(&Detect, folder, &json!({ "z": 3.0 }), &state).unwrap()
    }

    #[test]
    fn detect_with_kept_tallies_finds_what_it_finds_reading_the_file() {
        let folder = tempfile::tempdir().unwrap();
        let folder = folder.path();
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/customers.csv");
        std::fs::copy(data, folder.join("in.csv")).unwrap();
        let mut state = Map::new();
        state.insert("dataset".into(), json!("in.csv"));
        state.insert("output".into(), json!("out.csv"));
        step(&Profile, folder, &json!({}), &mut state);
        step(&Detect, folder, &json!({ "z": 3.0 }), &mut state);
        let read = detect_read(folder, "in.csv");
        assert_eq!(state["anomalies"], read["anomalies"]);
        for round in 0..3 {
            step(&Generate, folder, &json!({}), &mut state);
            step(&Apply, folder, &json!({}), &mut state);
            step(&Detect, folder, &json!({ "z": 3.0 }), &mut state);
            let read = detect_read(folder, "out.csv");
            assert_eq!(state["anomalies"], read["anomalies"], "round {round}");
            assert_eq!(state["anomaly_count"], read["anomaly_count"]);
        }
        assert!(state["anomaly_count"].as_u64().unwrap() > 0);
    }

    #[test]
    fn tallies_carried_over_by_apply_are_only_those_of_the_bytes_it_read() {
        let folder = tempfile::tempdir().unwrap();
        let folder = folder.path();
        std::fs::write(
            folder.join("t.csv"),
            "age,city\n30,Oslo\n300,Oslo\n40,Bergen\n",
        )
        .unwrap();
        let mut state = Map::new();
        state.insert("dataset".into(), json!("t.csv"));
        state.insert(
            "rules".into(),
            json!([{ "action": "clip", "column": "age", "lower": 0, "upper": 120 }]),
        );
        // Detect keeps the tallies of t.csv; `city` is changed behind its back, to the same
        // length, so apply's carried `city` tally would be stale.
        step(&Detect, folder, &json!({}), &mut state);
        std::fs::write(
            folder.join("t.csv"),
            "age,city\n30,Oslo\n300,oslo\n40,Bergen\n",
        )
        .unwrap();
        step(&Apply, folder, &json!({ "output": "t.csv" }), &mut state);
        step(&Detect, folder, &json!({}), &mut state);
        let read = detect_read(folder, "t.csv");
        assert_eq!(state["anomalies"], read["anomalies"]);
        assert_eq!(
            read["anomalies"][0]["kind"],
            json!("inconsistent_category"),
            "{read:?}"
        );
        // Unchanged, the tallies carry over, to the same figures.
        step(&Apply, folder, &json!({ "output": "t.csv" }), &mut state);
        step(&Detect, folder, &json!({}), &mut state);
        assert_eq!(
            state["anomalies"],
            detect_read(folder, "t.csv")["anomalies"]
        );
    }

    #[test]
    fn a_table_written_with_a_record_too_long_to_read_back_is_read_by_detect() {
        let folder = tempfile::tempdir().unwrap();
        let folder = folder.path();
        let long = "x".repeat(9 << 20);
        std::fs::write(folder.join("t.csv"), format!("a,b\n{long},\n")).unwrap();
        let mut state = Map::new();
        state.insert("dataset".into(), json!("t.csv"));
        let fill = json!([{ "action": "fill_null", "column": "b", "value": long }]);
        state.insert("rules".into(), fill);
        // The repaired record is 18 MiB: past what a reader takes, so detect must fail as
        // reading the file fails, not answer from tallies.
        step(&Apply, folder, &json!({ "output": "t.csv" }), &mut state);
        let failed = call_in(&Detect, folder, &json!({}), &Value::Object(state)).unwrap_err();
        assert!(
            failed.message.contains("longer than 16 MiB"),
            "{}",
            failed.message
        );
    }

    #[test]
    fn a_written_table_is_tallied_as_it_reads_back() {
        // Quotes, separators and line breaks in fields, blanks, booleans, numbers written
        // in other ways, a duplicate row, text that is not UTF-8 ASCII.
        let table = "a,b,c\n\"x, \"\"y\"\"\",1,true\n\"line\nbreak\",  ,FALSE\n\"x, \"\"y\"\"\",1,true\nø,007,\n,1e3,True\n";
        let folder = tempfile::tempdir().unwrap();
        let folder = folder.path();
        std::fs::write(folder.join("in.csv"), table).unwrap();
        let mut state = Map::new();
        state.insert("dataset".into(), json!("in.csv"));
        state.insert("rules".into(), json!([]));
        step(&Apply, folder, &json!({ "output": "out.csv" }), &mut state);
        assert_eq!(
            std::fs::read_to_string(folder.join("out.csv")).unwrap(),
            table
        );
        step(&Detect, folder, &json!({}), &mut state);
        let read = detect_read(folder, "out.csv");
        assert_eq!(state["anomalies"], read["anomalies"]);
        assert_eq!(read["anomaly_count"], json!(4), "{read:?}");
    }

    fn table(columns: &[&str]) -> TableTally {
        TableTally {
            columns: columns.iter().map(|&column| column.to_owned()).collect(),
            tallies: Vec::new(),
            duplicates: DuplicateRows::default(),
        }
    }

    #[test]
    fn the_tallies_of_a_file_are_taken_once_and_only_while_its_bytes_are_unchanged() {
        let folder = tempfile::tempdir().unwrap();
        let (path, other) = (folder.path().join("a.csv"), folder.path().join("b.csv"));
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        std::fs::write(&other, "a,b\n1,2\n").unwrap();
        let kept = Kept::default();
        let digest = digest_file(&path).unwrap();
        kept.keep(path.clone(), digest, table(&["a", "b"]));
        assert!(kept.take_current(&other, || true).is_none(), "another file");
        let (taken, tallies) = kept.take_current(&path, || true).unwrap();
        assert_eq!(
            (taken, tallies.columns),
            (digest, vec!["a".into(), "b".into()])
        );
        assert!(kept.take_current(&path, || true).is_none(), "taken already");

        // Changed in place, to the same length: the tallies are stale, and dropped.
        kept.keep(path.clone(), digest, table(&["a", "b"]));
        std::fs::write(&path, "a,b\n1,3\n").unwrap();
        assert!(kept.take_current(&path, || true).is_none());
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        assert!(
            kept.take_current(&path, || true).is_none(),
            "dropped when found stale"
        );
        // A pass that reads the file anyway takes them as they are, with their digest.
        kept.keep(path.clone(), digest, table(&["a", "b"]));
        std::fs::write(&path, "a,b\n1,3\n").unwrap();
        assert_eq!(kept.take(&path).map(|(taken, _)| taken), Some(digest));

        // Gone: nothing to take.
        kept.keep(path.clone(), digest, table(&["a"]));
        std::fs::remove_file(&path).unwrap();
        assert!(kept.take_current(&path, || true).is_none());
    }
}
