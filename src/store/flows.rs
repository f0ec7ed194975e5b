//! The stored flows as a list, and deleting one with its finished runs: what a server that
//! names flows by their hash needs beyond [`RunStore`](super::RunStore)'s save and load.

use rusqlite::{TransactionBehavior, params};

use super::rows::time;
use super::{SqliteStore, StoreError};
use std::time::SystemTime;

/// A stored flow, as listed (without its source).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowSummary {
    pub hash: String,
    pub name: String,
    pub created_at: SystemTime,
}

/// What deleting a flow did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowDeleted {
    /// The flow and its finished runs (this many) are gone.
    Deleted { runs: u64 },
    /// No flow has that hash.
    NotFound,
    /// Some of its runs may still go on (this many): nothing was deleted.
    InUse { runs: u64 },
}

impl SqliteStore {
    /// The stored flows, newest first, at most `limit`.
    pub fn flows(&self, limit: usize) -> Result<Vec<FlowSummary>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(
                "SELECT hash, name, created_at FROM flows ORDER BY created_at DESC, hash LIMIT ?1",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([limit], |row| {
                        Ok(FlowSummary {
                            hash: row.get(0)?,
                            name: row.get(1)?,
                            created_at: time(row.get(2)?),
                        })
                    })?
                    .collect()
            })
            .map_err(|cause| StoreError::sqlite(&self.path, cause))
    }

    /// Deletes a flow and its runs, in one transaction, unless one of them may go on (any
    /// status but completed, failed and cancelled).
    pub fn delete_flow(&mut self, hash: &str) -> Result<FlowDeleted, StoreError> {
        let path = self.path.clone();
        let sqlite = |cause| StoreError::sqlite(&path, cause);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        let exists: i64 = tx
            .query_row(
                "SELECT count(*) FROM flows WHERE hash = ?1",
                [hash],
                |row| row.get(0),
            )
            .map_err(sqlite)?;
        if exists == 0 {
            return Ok(FlowDeleted::NotFound);
        }
        let open: i64 = tx
            .query_row(
                "SELECT count(*) FROM runs WHERE flow_hash = ?1 \
                 AND status NOT IN ('completed', 'failed', 'cancelled')",
                [hash],
                |row| row.get(0),
            )
            .map_err(sqlite)?;
        if open > 0 {
            return Ok(FlowDeleted::InUse {
                runs: u64::try_from(open).unwrap_or(0),
            });
        }
        let ids = "SELECT id FROM runs WHERE flow_hash = ?1";
        tx.execute(
            &format!("DELETE FROM events WHERE run_id IN ({ids})"),
            params![hash],
        )
        .map_err(sqlite)?;
        tx.execute(
            &format!("DELETE FROM snapshots WHERE run_id IN ({ids})"),
            params![hash],
        )
        .map_err(sqlite)?;
        let runs = tx
            .execute("DELETE FROM runs WHERE flow_hash = ?1", params![hash])
            .map_err(sqlite)?;
        tx.execute("DELETE FROM flows WHERE hash = ?1", params![hash])
            .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        // The writer's knowledge of the deleted runs' logs is stale now.
        self.tracks.clear();
        Ok(FlowDeleted::Deleted {
            runs: u64::try_from(runs).unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use serde_json::Map;

    use super::FlowDeleted;
    use crate::store::{FlowRecord, NewRun, Owner, RunStatus, RunStore, SqliteStore};

    fn flow(hash: &str) -> FlowRecord {
        FlowRecord {
            hash: hash.into(),
            name: format!("flow-{hash}"),
            source: "flow f {}".into(),
            path: None,
        }
    }

    #[test]
    fn flows_are_listed_and_a_flow_with_an_open_run_is_kept() {
        let mut store = SqliteStore::in_memory().unwrap();
        store.save_flow(&flow("a")).unwrap();
        store.save_flow(&flow("b")).unwrap();
        let owner = Owner::this_process();
        let run = store
            .create_run(
                &NewRun {
                    flow_hash: "a",
                    input: &Map::new(),
                    state: &Map::new(),
                    checkpoint: "{}",
                    started_at: SystemTime::now(),
                    status: RunStatus::Running,
                    idempotency: None,
                },
                &owner,
            )
            .unwrap();
        let mut names: Vec<_> = store
            .flows(10)
            .unwrap()
            .into_iter()
            .map(|f| f.hash)
            .collect();
        names.sort();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(
            store.delete_flow("a").unwrap(),
            FlowDeleted::InUse { runs: 1 }
        );
        assert_eq!(
            store.delete_flow("b").unwrap(),
            FlowDeleted::Deleted { runs: 0 }
        );
        assert_eq!(store.delete_flow("b").unwrap(), FlowDeleted::NotFound);
        store.set_status(run, &owner, RunStatus::Completed).unwrap();
        assert_eq!(
            store.delete_flow("a").unwrap(),
            FlowDeleted::Deleted { runs: 1 }
        );
        assert!(store.run(run).unwrap().is_none());
        assert!(store.flows(10).unwrap().is_empty());
    }
}
