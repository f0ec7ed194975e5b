//! [`RunStore`] on SQLite: opening (pragmas, the identity check), and the writes. Every write
//! that needs the run's owner says so in its `WHERE`, so ownership is checked by the same
//! statement that writes, never by a read before it. Statements are cached per connection,
//! and a commit reads nothing back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde_json::{Map, Value};

use super::reads::{list_events, list_runs, load_run, run_record};
use super::replay::{RunTrack, parse_delta};
use super::rows::{millis, now_millis, status_as_read, stored_count, stored_status};
use super::schema::{self, Found};
use super::{
    Commit, FlowRecord, LEASE, LoadedRun, NewRun, Owner, RunFilter, RunId, RunRecord, RunStatus,
    RunStore, StoreError, StoredEvent,
};

/// How long a statement waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The WAL file is cut back to this after a checkpoint (it only grows otherwise).
const WAL_SIZE_LIMIT: i64 = 32 << 20;

/// A run store in one SQLite file (or in memory). One value is one connection, one writer.
pub struct SqliteStore {
    pub(super) conn: Connection,
    path: PathBuf,
    /// What this writer knows of each run's log since its snapshot (for `wants_snapshot` and
    /// the order of events), so that a commit reads nothing.
    tracks: HashMap<RunId, RunTrack>,
}

impl SqliteStore {
    /// Opens the store at `path` for reading and writing, creating it when missing.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|cause| StoreError::Open {
            path: path.to_path_buf(),
            cause,
        })?;
        let mut store = Self::new(conn, path)?;
        let sqlite = |cause| StoreError::sqlite(path, cause);
        let found = schema::identify(&store.conn, path)?;
        // SQLite opens a file it may not write read-only, without a word; say so here.
        if store.conn.is_readonly("main").map_err(sqlite)? {
            return Err(StoreError::ReadOnly {
                path: path.to_path_buf(),
            });
        }
        // The first write to the file, after it was found to be ours or empty.
        store
            .conn
            .pragma_update_and_check(None, "journal_mode", "wal", |_| Ok(()))
            .map_err(|cause| match cause.sqlite_error_code() {
                // The folder refuses the WAL file.
                Some(rusqlite::ErrorCode::CannotOpen) => StoreError::ReadOnly {
                    path: path.to_path_buf(),
                },
                _ => sqlite(cause),
            })?;
        store
            .conn
            .execute_batch(&format!(
                "PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
            ))
            .map_err(sqlite)?;
        if found == Found::Empty {
            schema::initialise(&mut store.conn, path)?;
        }
        Ok(store)
    }

    /// Opens the store at `path` to list and load runs only; works on a read-only file or
    /// folder.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let open = |flags, name: &str| {
            let conn =
                Connection::open_with_flags(name, flags).map_err(|cause| StoreError::Open {
                    path: path.to_path_buf(),
                    cause,
                })?;
            let store = Self::new(conn, path)?;
            match schema::identify(&store.conn, path)? {
                Found::Ours => Ok(store),
                Found::Empty => Err(StoreError::Empty {
                    path: path.to_path_buf(),
                }),
            }
        };
        match open(flags, &path.to_string_lossy()) {
            // A WAL database needs its shared-memory file; in a folder where it cannot be
            // made, read the file as it is (no writer can be at work there either).
            Err(StoreError::Open { cause, .. } | StoreError::Sqlite { cause, .. })
                if cause.sqlite_error_code() == Some(rusqlite::ErrorCode::CannotOpen)
                    && path.exists() =>
            {
                open(flags | OpenFlags::SQLITE_OPEN_URI, &immutable_uri(path))
            }
            result => result,
        }
    }

    /// A store in memory, for tests and for runs that need not outlive the process.
    pub fn in_memory() -> Result<Self, StoreError> {
        let path = Path::new(":memory:");
        let conn = Connection::open_in_memory().map_err(|cause| StoreError::Open {
            path: path.to_path_buf(),
            cause,
        })?;
        let mut store = Self::new(conn, path)?;
        schema::initialise(&mut store.conn, path)?;
        Ok(store)
    }

    fn new(conn: Connection, path: &Path) -> Result<Self, StoreError> {
        let sqlite = |cause| StoreError::sqlite(path, cause);
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        conn.execute_batch("PRAGMA foreign_keys = ON")
            .map_err(sqlite)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            tracks: HashMap::new(),
        })
    }

    /// Syncs the file at every commit, so a commit survives a power loss too (at the cost of
    /// one fsync per commit; by default only a crash of the process is survived).
    pub fn set_synchronous_full(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA synchronous = FULL")
            .map_err(|cause| self.error(cause))
    }

    /// The file (`:memory:` for a store in memory).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, cause: rusqlite::Error) -> StoreError {
        StoreError::sqlite(&self.path, cause)
    }

    /// Runs an owner-checked `UPDATE` (`?1` the run, `?2` the owner, then `rest`); when it
    /// changes no row, says why: no such run, or another holder.
    fn owned_update(
        &self,
        sql: &str,
        run: RunId,
        owner: &Owner,
        rest: &[&dyn rusqlite::ToSql],
    ) -> Result<(), StoreError> {
        let owner_id = owner.id();
        let mut bound: Vec<&dyn rusqlite::ToSql> = vec![&run, &owner_id];
        bound.extend_from_slice(rest);
        let changed = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute(bound.as_slice()))
            .map_err(|cause| self.error(cause))?;
        if changed == 0 {
            return Err(self.not_ours(run));
        }
        Ok(())
    }

    /// Why an owner-checked write changed nothing.
    fn not_ours(&self, run: RunId) -> StoreError {
        let holder = self
            .conn
            .prepare_cached("SELECT owner FROM runs WHERE id = ?1")
            .and_then(|mut statement| {
                statement
                    .query_row([run], |row| row.get::<_, Option<String>>(0))
                    .optional()
            });
        match holder {
            Ok(Some(holder)) => StoreError::LeaseLost { run, holder },
            Ok(None) => StoreError::NotFound { run },
            Err(cause) => self.error(cause),
        }
    }

    /// The writer's knowledge of `run`'s log: kept from earlier writes, or read once.
    fn track(&mut self, run: RunId) -> Result<RunTrack, StoreError> {
        if let Some(track) = self.tracks.get(&run) {
            return Ok(*track);
        }
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|cause| self.error(cause))?;
        let (_, track) = load_run(&tx, &self.path, run)?;
        drop(tx);
        self.tracks.insert(run, track);
        Ok(track)
    }
}

/// `file:` URI that opens `path` as immutable (no locks, no shared memory).
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    uri
}

fn lease_until() -> i64 {
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
        let sqlite = |cause| StoreError::sqlite(&self.path, cause);
        // A queued run is nobody's until a worker claims it.
        let (owner, lease) = match run.status {
            RunStatus::Running => (Some(owner.id()), Some(lease_until())),
            _ => (None, None),
        };
        let state = json_text(run.state);
        let now = now_millis();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        tx.prepare_cached(
            "INSERT INTO runs (flow_hash, status, input, checkpoint, steps, created_at, \
             updated_at, finished_at, owner, lease_until) \
             VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, CASE WHEN ?7 THEN ?6 END, ?8, ?9)",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                run.flow_hash,
                run.status.as_str(),
                json_text(run.input),
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
        let id = tx.last_insert_rowid();
        tx.prepare_cached("INSERT INTO snapshots (run_id, seq, state) VALUES (?1, 0, ?2)")
            .and_then(|mut statement| statement.execute(params![id, state]))
            .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        self.tracks
            .insert(id, RunTrack::snapshot_at(0, state.len()));
        Ok(id)
    }

    fn commit(&mut self, run: RunId, owner: &Owner, commit: &Commit<'_>) -> Result<(), StoreError> {
        let mut track = self.track(run)?;
        for event in commit.events {
            if event.seq <= track.last_seq {
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
        let sqlite = |cause| StoreError::sqlite(&self.path, cause);

        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        let now = now_millis();
        let changed = tx
            .prepare_cached(
                "UPDATE runs SET checkpoint = ?3, steps = ?4, status = ?5, error = ?6, \
                 updated_at = ?7, lease_until = ?8, \
                 finished_at = CASE WHEN ?9 THEN coalesce(finished_at, ?7) END \
                 WHERE id = ?1 AND owner = ?2",
            )
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
            drop(tx);
            return Err(self.not_ours(run));
        }
        {
            let mut insert = tx
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
        if let Some(state) = &snapshot {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO snapshots (run_id, seq, state) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut statement| {
                statement.execute(params![run, stored_count(track.last_seq), state])
            })
            .map_err(sqlite)?;
            track = RunTrack::snapshot_at(track.last_seq, state.len());
        }
        tx.commit().map_err(sqlite)?;
        self.tracks.insert(run, track);
        Ok(())
    }

    fn wants_snapshot(&self, run: RunId) -> bool {
        // A run this writer has not seen: a snapshot is never wrong.
        self.tracks.get(&run).is_none_or(RunTrack::wants_snapshot)
    }

    fn claim(&mut self, run: RunId, owner: &Owner) -> Result<LoadedRun, StoreError> {
        let sqlite = |cause| StoreError::sqlite(&self.path, cause);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        let (status, holder, lease): (String, Option<String>, Option<i64>) = tx
            .prepare_cached("SELECT status, owner, lease_until FROM runs WHERE id = ?1")
            .and_then(|mut statement| {
                statement
                    .query_row([run], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    .optional()
            })
            .map_err(sqlite)?
            .ok_or(StoreError::NotFound { run })?;
        let stored = stored_status(run, &status)?;
        match status_as_read(stored, holder.as_deref(), lease, now_millis()) {
            status if status.is_final() => return Err(StoreError::Finished { run, status }),
            RunStatus::NeedsAttention => return Err(StoreError::NeedsAttention { run }),
            RunStatus::Running if holder.as_deref() != Some(owner.id()) => {
                return Err(StoreError::OwnedByLiveProcess {
                    run,
                    owner: holder.unwrap_or_default(),
                });
            }
            _ => {}
        }
        tx.prepare_cached(
            "UPDATE runs SET status = 'running', owner = ?2, lease_until = ?3, updated_at = ?4 \
             WHERE id = ?1",
        )
        .and_then(|mut statement| {
            statement.execute(params![run, owner.id(), lease_until(), now_millis()])
        })
        .map_err(sqlite)?;
        let (loaded, track) = load_run(&tx, &self.path, run)?;
        tx.commit().map_err(sqlite)?;
        self.tracks.insert(run, track);
        Ok(loaded)
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
        )
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
