//! [`RunStore`] for [`SqliteStore`]: the writes, and the reads (in `reads`). Every write that
//! needs the run's owner says so in its `WHERE`, so ownership is checked by the statement
//! that writes, never by a read before it. Statements are cached per connection, and a
//! commit reads nothing back.

use rusqlite::{OptionalExtension, params};
use serde_json::{Map, Value};

use super::claim::Claimable;
use super::reads::{keyed_run, list_events, list_runs, load_run, run_record};
use super::replay::{RunTrack, parse_delta};
use super::rows::{millis, now_millis, stored_count};
use super::{
    Commit, FlowRecord, LEASE, LoadedRun, NewRun, Owner, RunFilter, RunId, RunRecord, RunStatus,
    RunStore, SqliteStore, StoreError, StoredEvent,
};

/// A commit's update of its run (`?5`, the status, is bound either way).
const COMMIT_WITH_STATUS: &str = "UPDATE runs SET checkpoint = ?3, steps = ?4, status = ?5, \
     error = ?6, updated_at = ?7, lease_until = ?8, \
     finished_at = CASE WHEN ?9 THEN coalesce(finished_at, ?7) END \
     WHERE id = ?1 AND owner = ?2";
const COMMIT_KEEPING_STATUS: &str = "UPDATE runs SET checkpoint = ?3, steps = ?4, \
     error = ?6, updated_at = ?7, lease_until = ?8, \
     finished_at = CASE WHEN ?9 THEN coalesce(finished_at, ?7) END \
     WHERE id = ?1 AND owner = ?2 AND ?5 IS NOT NULL";

pub(super) fn lease_until() -> i64 {
    now_millis().saturating_add(stored_count(
        LEASE.as_millis().try_into().unwrap_or(u64::MAX),
    ))
}

fn json_text(map: &Map<String, Value>) -> String {
    serde_json::to_string(map).expect("a JSON object with string keys always serializes")
}

/// `rusqlite`'s error is a broken foreign key (a run of an unsaved flow).
fn is_foreign_key_failure(cause: &rusqlite::Error) -> bool {
    matches!(cause, rusqlite::Error::SqliteFailure(failure, _)
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

impl RunStore for SqliteStore {
    fn save_flow(&mut self, flow: &FlowRecord) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO flows (hash, name, source, path, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (hash) DO NOTHING",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    flow.hash,
                    flow.name,
                    flow.source,
                    flow.path,
                    now_millis()
                ])
            })
            .map_err(|cause| self.error(cause))?;
        Ok(())
    }

    fn flow(&self, hash: &str) -> Result<Option<FlowRecord>, StoreError> {
        self.conn
            .prepare_cached("SELECT hash, name, source, path FROM flows WHERE hash = ?1")
            .and_then(|mut statement| {
                statement
                    .query_row([hash], |row| {
                        Ok(FlowRecord {
                            hash: row.get(0)?,
                            name: row.get(1)?,
                            source: row.get(2)?,
                            path: row.get(3)?,
                        })
                    })
                    .optional()
            })
            .map_err(|cause| self.error(cause))
    }

    fn create_run(&mut self, run: &NewRun<'_>, owner: &Owner) -> Result<RunId, StoreError> {
        // A queued run is nobody's until a worker claims it.
        let (owner, lease) = match run.status {
            RunStatus::Running => (Some(owner.id()), Some(lease_until())),
            _ => (None, None),
        };
        let state = json_text(run.state);
        let now = now_millis();
        let id = self.write_tx(|store| {
            let sqlite = |cause| StoreError::sqlite(&store.path, cause);
            store
                .conn
                .prepare_cached(
                    "INSERT INTO runs (flow_hash, status, checkpoint, steps, created_at, \
                     updated_at, finished_at, owner, lease_until) \
                     VALUES (?1, ?2, ?3, 0, ?4, ?5, CASE WHEN ?6 THEN ?5 END, ?7, ?8)",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        run.flow_hash,
                        run.status.as_str(),
                        run.checkpoint,
                        millis(run.started_at),
                        now,
                        run.status.is_final(),
                        owner,
                        lease
                    ])
                })
                .map_err(|cause| {
                    if is_foreign_key_failure(&cause) {
                        StoreError::FlowNotSaved {
                            hash: run.flow_hash.to_owned(),
                        }
                    } else {
                        sqlite(cause)
                    }
                })?;
            let id = store.conn.last_insert_rowid();
            store
                .conn
                .prepare_cached("INSERT INTO run_inputs (run_id, input) VALUES (?1, ?2)")
                .and_then(|mut statement| statement.execute(params![id, json_text(run.input)]))
                .map_err(sqlite)?;
            store
                .conn
                .prepare_cached("INSERT INTO snapshots (run_id, seq, state) VALUES (?1, 0, ?2)")
                .and_then(|mut statement| statement.execute(params![id, state]))
                .map_err(sqlite)?;
            if let Some(keyed) = run.idempotency {
                store
                    .conn
                    .prepare_cached(
                        "INSERT INTO idempotency_keys (key, digest, run_id) VALUES (?1, ?2, ?3)",
                    )
                    .and_then(|mut statement| {
                        statement.execute(params![keyed.key, keyed.digest, id])
                    })
                    .map_err(sqlite)?;
            }
            Ok(id)
        })?;
        let mut track = RunTrack::snapshot_at(0, state.len());
        track.status = Some(run.status);
        self.tracks.insert(id, track);
        Ok(id)
    }

    fn commit(&mut self, run: RunId, owner: &Owner, commit: &Commit<'_>) -> Result<(), StoreError> {
        let mut track = self.track(run)?;
        for event in commit.events {
            // The first event may be seq 0 (`run_started`: the state it carries is the
            // snapshot at seq 0); every later one comes after the last.
            let first = event.seq == 0 && track.last_seq == 0 && track.events_since_snapshot == 0;
            if event.seq <= track.last_seq && !first {
                return Err(StoreError::EventOutOfOrder {
                    run,
                    seq: event.seq,
                    last: track.last_seq,
                });
            }
            let delta = event.changes.as_deref();
            if let Some(Err(cause)) = delta.map(parse_delta) {
                return Err(StoreError::InvalidDelta {
                    run,
                    seq: event.seq,
                    cause,
                });
            }
            track.add_event(event.seq, delta.map_or(0, str::len));
        }
        let snapshot = commit.snapshot.map(json_text);
        let track = self.write_tx(|store| {
            let sqlite = |cause| StoreError::sqlite(&store.path, cause);
            let now = now_millis();
            let changed = store
                .conn
                // Writing the status rewrites its index entry (a page more per commit), so it
                // is written only when this writer does not know it to be the same.
                .prepare_cached(if track.status == Some(commit.status) {
                    COMMIT_KEEPING_STATUS
                } else {
                    COMMIT_WITH_STATUS
                })
                .and_then(|mut statement| {
                    statement.execute(params![
                        run,
                        owner.id(),
                        commit.checkpoint,
                        stored_count(commit.steps),
                        commit.status.as_str(),
                        commit.error,
                        now,
                        lease_until(),
                        commit.status.is_final()
                    ])
                })
                .map_err(sqlite)?;
            if changed == 0 {
                return Err(store.not_ours(run));
            }
            {
                let mut insert = store
                    .conn
                    .prepare_cached(
                        "INSERT INTO events (run_id, seq, kind, record, changes) \
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .map_err(sqlite)?;
                for StoredEvent {
                    seq,
                    kind,
                    record,
                    changes,
                } in commit.events
                {
                    insert
                        .execute(params![run, stored_count(*seq), kind, record, changes])
                        .map_err(sqlite)?;
                }
            }
            match &snapshot {
                Some(state) => {
                    store
                        .conn
                        .prepare_cached(
                            "INSERT OR REPLACE INTO snapshots (run_id, seq, state) \
                             VALUES (?1, ?2, ?3)",
                        )
                        .and_then(|mut statement| {
                            statement.execute(params![run, stored_count(track.last_seq), state])
                        })
                        .map_err(sqlite)?;
                    Ok(RunTrack::snapshot_at(track.last_seq, state.len()))
                }
                None => Ok(track),
            }
        })?;
        let mut track = track;
        track.status = Some(commit.status);
        self.tracks.insert(run, track);
        Ok(())
    }

    fn wants_snapshot(&self, run: RunId) -> bool {
        // A run this writer has not seen: a snapshot is never wrong.
        self.tracks.get(&run).is_none_or(RunTrack::wants_snapshot)
    }

    fn claim(&mut self, run: RunId, owner: &Owner) -> Result<LoadedRun, StoreError> {
        self.claim_if(run, owner, Claimable::Resumable)
    }

    fn claim_attention(&mut self, run: RunId, owner: &Owner) -> Result<LoadedRun, StoreError> {
        self.claim_if(run, owner, Claimable::NeedsAttention)
    }

    fn cancel_idle(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError> {
        self.cancel_idle_run(run, owner)
    }

    fn set_status(
        &mut self,
        run: RunId,
        owner: &Owner,
        status: RunStatus,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        self.owned_update(
            "UPDATE runs SET status = ?3, updated_at = ?4, lease_until = ?5, \
             finished_at = CASE WHEN ?6 THEN coalesce(finished_at, ?4) END \
             WHERE id = ?1 AND owner = ?2",
            run,
            owner,
            &[&status.as_str(), &now, &lease_until(), &status.is_final()],
        )?;
        if let Some(track) = self.tracks.get_mut(&run) {
            track.status = Some(status);
        }
        Ok(())
    }

    fn renew_lease(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError> {
        self.owned_update(
            "UPDATE runs SET lease_until = ?3 WHERE id = ?1 AND owner = ?2",
            run,
            owner,
            &[&lease_until()],
        )
    }

    fn release(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError> {
        self.owned_update(
            "UPDATE runs SET owner = NULL, lease_until = NULL, updated_at = ?3 \
             WHERE id = ?1 AND owner = ?2",
            run,
            owner,
            &[&now_millis()],
        )?;
        // Whoever takes it next may write events this writer never sees.
        self.tracks.remove(&run);
        Ok(())
    }

    fn run(&self, run: RunId) -> Result<Option<RunRecord>, StoreError> {
        run_record(&self.conn, &self.path, run)
    }

    fn keyed_run(&self, key: &str) -> Result<Option<(RunId, String)>, StoreError> {
        keyed_run(&self.conn, &self.path, key)
    }

    fn load(&self, run: RunId) -> Result<LoadedRun, StoreError> {
        // Its several reads see one commit: without a transaction each would see the latest.
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|cause| self.error(cause))?;
        load_run(&tx, &self.path, run).map(|(loaded, _)| loaded)
    }

    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        list_runs(&self.conn, &self.path, filter)
    }

    fn events(
        &self,
        run: RunId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        list_events(&self.conn, &self.path, run, after, limit)
    }
}
