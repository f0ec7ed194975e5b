//! Group commit: many writes in one SQLite transaction. A transaction's fixed cost (taking
//! the write lock, appending the WAL's commit frame, updating its index) is paid once for
//! the group, while each write still lands whole or not at all: it runs in a savepoint of
//! its own, so one write's failure (a lost lease, a run that is gone) undoes that write
//! only. No write of a group is durable before the group's transaction commits, so a caller
//! learns its write landed only after that.

use super::{SqliteStore, StoreError};

impl SqliteStore {
    /// Runs `work` in one transaction; every store write it makes is one savepoint of it
    /// (its own error rolls back that write only, and is returned to `work`). `Err` when the
    /// transaction itself could not begin or commit: then none of the writes landed.
    pub fn batch<T>(&mut self, work: impl FnOnce(&mut Self) -> T) -> Result<T, StoreError> {
        self.run_statement("BEGIN IMMEDIATE")?;
        self.in_batch = true;
        let done = work(self);
        self.in_batch = false;
        match self.run_statement("COMMIT") {
            Ok(()) => Ok(done),
            Err(error) => {
                self.abandon();
                Err(error)
            }
        }
    }

    /// One write's transaction: a savepoint inside a [`Self::batch`], else a transaction of
    /// its own (taken for writing at once, so it never has to upgrade a read lock).
    pub(super) fn write_tx<T>(
        &mut self,
        work: impl FnOnce(&mut Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let (begin, keep, undo) = if self.in_batch {
            (
                "SAVEPOINT one_write",
                "RELEASE one_write",
                "ROLLBACK TO one_write",
            )
        } else {
            ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
        };
        self.run_statement(begin)?;
        let done = work(self).and_then(|value| self.run_statement(keep).map(|()| value));
        if done.is_err() {
            if self.in_batch {
                // The savepoint stays open after a rollback to it: release it too.
                let _ = self.run_statement(undo);
                let _ = self.run_statement(keep);
            } else {
                self.abandon();
            }
        }
        done
    }

    /// Rolls back an open transaction whose writes did not land. What this writer knew of
    /// each run's log may now be ahead of the file: it is read again when next needed.
    fn abandon(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.run_statement("ROLLBACK");
        }
        self.tracks.clear();
    }

    fn run_statement(&self, sql: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute([]))
            .map(drop)
            .map_err(|cause| self.error(cause))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{event, new_run, step, store_with_run};
    use super::super::{Owner, RunStatus, RunStore, SqliteStore, StoreError};

    #[test]
    fn a_failed_write_of_a_group_undoes_only_itself() {
        let (mut store, run, owner) = store_with_run(SqliteStore::in_memory().unwrap());
        let other = new_run(&mut store, &owner, RunStatus::Running);
        let stranger = Owner::new("elsewhere", 1, 7);
        let first = [event(1, Some(json!({ "n": 1 })))];
        let lost = [event(1, Some(json!({ "n": 5 })))];
        let (mine, theirs) = store
            .batch(|store| {
                let mine = store.commit(run, &owner, &step(&first, RunStatus::Completed));
                let theirs = store.commit(other, &stranger, &step(&lost, RunStatus::Completed));
                (mine, theirs)
            })
            .unwrap();
        mine.unwrap();
        assert!(matches!(theirs, Err(StoreError::LeaseLost { run, .. }) if run == other));
        assert_eq!(store.load(run).unwrap().state["n"], json!(1));
        let untouched = store.load(other).unwrap();
        assert_eq!(untouched.state["n"], json!(0));
        assert_eq!(untouched.last_seq, 0);
        assert_eq!(untouched.record.status, RunStatus::Running);
        // The run whose write failed goes on from where it was.
        let next = [event(1, Some(json!({ "n": 2 })))];
        store
            .commit(other, &owner, &step(&next, RunStatus::Completed))
            .unwrap();
        assert_eq!(store.load(other).unwrap().state["n"], json!(2));
    }

    #[test]
    fn a_group_is_seen_by_other_connections_only_once_it_committed() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("runs.db");
        let (mut store, run, owner) = store_with_run(SqliteStore::open(&path).unwrap());
        let reader = SqliteStore::open_read_only(&path).unwrap();
        let events = [event(1, Some(json!({ "n": 1 })))];
        let seen_inside = store
            .batch(|store| {
                store
                    .commit(run, &owner, &step(&events, RunStatus::Completed))
                    .unwrap();
                reader.run(run).unwrap().map(|record| record.status)
            })
            .unwrap();
        assert_eq!(seen_inside, Some(RunStatus::Running));
        let after = reader.load(run).unwrap();
        assert_eq!(after.record.status, RunStatus::Completed);
        assert_eq!(after.state["n"], json!(1));
    }

    #[test]
    fn writes_outside_a_group_each_commit_on_their_own() {
        let (mut store, run, owner) = store_with_run(SqliteStore::in_memory().unwrap());
        let events = [event(1, None), event(2, None)];
        let wrong = [event(1, None)];
        store
            .commit(run, &owner, &step(&events, RunStatus::Running))
            .unwrap();
        // Out of order: refused before anything is written, and the store still takes writes.
        assert!(matches!(
            store.commit(run, &owner, &step(&wrong, RunStatus::Running)),
            Err(StoreError::EventOutOfOrder { .. })
        ));
        assert!(store.conn.is_autocommit());
        store.set_status(run, &owner, RunStatus::Cancelled).unwrap();
        assert_eq!(store.load(run).unwrap().last_seq, 2);
    }
}
