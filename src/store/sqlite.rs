//! The SQLite connection of a [`RunStore`](super::RunStore): opening (the identity check
//! before any write, then the pragmas), and the helpers the writes share.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::reads::load_run;
use super::replay::RunTrack;
use super::schema::{self, Found};
use super::{Owner, RunId, StoreError};

/// How long a statement waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;

/// The page size of a new store. A commit writes each page it changes whole to the WAL
/// (the run's row, the event's leaf, at times an index page): small pages keep a commit of
/// one small event near 3 KiB instead of 12 (measured: ~25 µs per commit instead of ~40).
const PAGE_SIZE: u32 = 1024;

/// The WAL file is cut back to this after a checkpoint (it only grows otherwise).
const WAL_SIZE_LIMIT: i64 = 8 << 20;

/// The WAL is copied into the database (a checkpoint: two fsyncs) once it holds this many
/// pages (8 MiB at this store's page size). SQLite's default, 1,000, made the fsyncs of the
/// checkpoints about half the time of a run of small steps (a step commits two pages);
/// larger, each page a step rewrites (its run's row, the events' last leaf) is also copied
/// back once per checkpoint instead of many times. What a commit survives is unchanged.
const WAL_CHECKPOINT_PAGES: i64 = 8_192;

/// A run store in one SQLite file (or in memory). One value is one connection, one writer.
pub struct SqliteStore {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
    /// What this writer knows of each run's log since its snapshot (for `wants_snapshot` and
    /// the order of events), so that a commit reads nothing.
    pub(super) tracks: HashMap<RunId, RunTrack>,
    /// Inside [`Self::batch`]: each write is a savepoint of the batch's transaction.
    pub(super) in_batch: bool,
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
        // (The page size of a WAL database is fixed once it is set up, so it goes first.)
        if found == Found::Empty {
            store
                .conn
                .execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE}"))
                .map_err(sqlite)?;
        }
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
                "PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}; \
                 PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES};"
            ))
            .map_err(sqlite)?;
        if found != Found::Ours {
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
                Found::Older(found) => Err(StoreError::OlderSchema {
                    path: path.to_path_buf(),
                    found,
                    supported: schema::SCHEMA_VERSION,
                }),
            }
        };
        match open(flags, &path.to_string_lossy()) {
            // A WAL database needs its shared-memory file; in a folder where it cannot be
            // made, read the file as it is: no writer of ours can be at work there (it
            // would have made that file), so the file holds every commit.
            Err(
                StoreError::ReadOnly { .. } | StoreError::Open { .. } | StoreError::Sqlite { .. },
            ) if path.exists() => open(flags | OpenFlags::SQLITE_OPEN_URI, &immutable_uri(path)),
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
        // Room for every statement the store has (some 25), so listing between commits
        // never pushes a commit's statements out of the cache.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // Plans that do not depend on bound values: otherwise SQLite (built with STAT4)
        // re-parses and re-plans a cached statement whenever a value the planner looked at
        // (a `LIMIT ?`, a range bound) changes — measured as 5 % of the server's CPU, in
        // listing a run's events.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(sqlite)?;
        conn.execute_batch("PRAGMA foreign_keys = ON")
            .map_err(sqlite)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            tracks: HashMap::new(),
            in_batch: false,
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

    pub(super) fn error(&self, cause: rusqlite::Error) -> StoreError {
        StoreError::sqlite(&self.path, cause)
    }

    /// Runs an owner-checked `UPDATE` (`?1` the run, `?2` the owner, then `rest`); when it
    /// changes no row, says why: no such run, or another holder.
    pub(super) fn owned_update(
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
    pub(super) fn not_ours(&self, run: RunId) -> StoreError {
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
    pub(super) fn track(&mut self, run: RunId) -> Result<RunTrack, StoreError> {
        if let Some(track) = self.tracks.get(&run) {
            return Ok(*track);
        }
        // Its several reads see one commit (inside a batch they already do).
        let (_, track) = if self.conn.is_autocommit() {
            let tx = self
                .conn
                .unchecked_transaction()
                .map_err(|cause| self.error(cause))?;
            load_run(&tx, &self.path, run)?
        } else {
            load_run(&self.conn, &self.path, run)?
        };
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
