//! The database's layout and identity: the DDL, the application id and the schema version,
//! and the check that an opened file is ours before anything writes to it.
//!
//! A new or empty file is set up. A file with our id and a newer version, a foreign SQLite
//! database, or a file that is not SQLite at all is refused with its own error and never
//! written to: every check here only reads, and the first write (WAL mode, the tables) comes
//! after them.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// `PRAGMA application_id` of a run store: "Flow" in ASCII.
pub const APPLICATION_ID: i32 = 0x466C_6F77;

/// `PRAGMA user_version` of the layout below; a store with a higher one is refused, one
/// with a lower one is upgraded when opened for writing.
pub const SCHEMA_VERSION: i32 = 3;

/// Version 2. Times are milliseconds since the Unix epoch. `events` is WITHOUT ROWID: its
/// primary key is the only way it is read, and it saves the rowid per event. A run's input
/// has a table of its own, because every commit rewrites the run's `runs` row: with a large
/// input in it, each step wrote (or read back) the whole input.
const SCHEMA_V2: &str = "
CREATE TABLE flows (
    hash TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    path TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX flows_by_name ON flows (name);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    flow_hash TEXT NOT NULL REFERENCES flows (hash),
    status TEXT NOT NULL,
    checkpoint TEXT NOT NULL,
    steps INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    finished_at INTEGER,
    owner TEXT,
    lease_until INTEGER
);
CREATE INDEX runs_by_status ON runs (status, id);
CREATE INDEX runs_by_flow ON runs (flow_hash, id);
CREATE TABLE run_inputs (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    input TEXT NOT NULL
);
CREATE TABLE events (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    record TEXT NOT NULL,
    changes TEXT,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE snapshots (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL
);
";

/// Added in version 3: the `Idempotency-Key` a server run was created under and a digest of
/// its request body, kept with the run (and deleted with it), so a repeated request finds
/// its run after a restart too.
const ADDED_IN_V3: &str = "
CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY NOT NULL,
    digest TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_by_run ON idempotency_keys (run_id);
";

/// From version 1 (the input in the `runs` row) to 2.
const UPGRADE_V1_TO_V2: &str = "
CREATE TABLE run_inputs (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    input TEXT NOT NULL
);
INSERT INTO run_inputs (run_id, input) SELECT id, input FROM runs;
ALTER TABLE runs DROP COLUMN input;
";

/// What an opened file turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Found {
    /// A run store this flowc reads.
    Ours,
    /// A run store of an older layout (`user_version`): upgrade it (when writing).
    Older(i32),
    /// An empty database: set it up (when writing).
    Empty,
}

/// Reads the file's identity (reading only) and says whether it is ours, empty, or an error.
pub(super) fn identify(conn: &Connection, path: &Path) -> Result<Found, StoreError> {
    let read = |sql: &str| -> Result<i64, StoreError> {
        conn.query_row(sql, [], |row| row.get(0))
            .map_err(|cause| StoreError::sqlite(path, cause))
    };
    // Counting the schema reads page 1, which is where a file that is not SQLite, or is
    // damaged, is first noticed.
    let tables = read("SELECT count(*) FROM sqlite_schema")?;
    let application_id = i32::try_from(read("PRAGMA application_id")?).unwrap_or(-1);
    let version = i32::try_from(read("PRAGMA user_version")?).unwrap_or(-1);
    let path = path.to_path_buf();
    match (application_id, version) {
        (APPLICATION_ID, found) if found > SCHEMA_VERSION => Err(StoreError::NewerSchema {
            path,
            found,
            supported: SCHEMA_VERSION,
        }),
        (APPLICATION_ID, found) if found < 1 => Err(StoreError::UnknownSchema { path, found }),
        (APPLICATION_ID, found) if found < SCHEMA_VERSION => Ok(Found::Older(found)),
        (APPLICATION_ID, _) => Ok(Found::Ours),
        (0, 0) if tables == 0 => Ok(Found::Empty),
        (application_id, _) => Err(StoreError::Foreign {
            path,
            application_id,
        }),
    }
}

/// Creates the tables and stamps the file as ours, or upgrades an older layout, in one
/// transaction; when another process did it first, checks what it made instead.
pub(super) fn initialise(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sqlite = |cause| StoreError::sqlite(path, cause);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    match identify(&tx, path)? {
        Found::Ours => return Ok(()),
        Found::Older(found) => return upgrade(tx, path, found),
        Found::Empty => {}
    }
    tx.execute_batch(SCHEMA_V2).map_err(sqlite)?;
    tx.execute_batch(ADDED_IN_V3).map_err(sqlite)?;
    tx.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
    ))
    .map_err(sqlite)?;
    tx.commit().map_err(sqlite)
}

/// Brings a store of an older layout (`found`) up to [`SCHEMA_VERSION`].
fn upgrade(tx: rusqlite::Transaction<'_>, path: &Path, found: i32) -> Result<(), StoreError> {
    let sqlite = |cause| StoreError::sqlite(path, cause);
    if found == 1 {
        tx.execute_batch(UPGRADE_V1_TO_V2).map_err(sqlite)?;
    }
    if found <= 2 {
        tx.execute_batch(ADDED_IN_V3).map_err(sqlite)?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION};"))
        .map_err(sqlite)?;
    tx.commit().map_err(sqlite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_database_is_set_up_and_then_reads_as_ours() {
        let mut conn = Connection::open_in_memory().unwrap();
        let path = Path::new(":memory:");
        assert_eq!(identify(&conn, path).unwrap(), Found::Empty);
        initialise(&mut conn, path).unwrap();
        assert_eq!(identify(&conn, path).unwrap(), Found::Ours);
        // A second set-up (another process racing) changes nothing.
        initialise(&mut conn, path).unwrap();
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(tables, 6);
    }

    #[test]
    fn a_newer_version_and_a_foreign_id_are_refused() {
        let conn = Connection::open_in_memory().unwrap();
        let path = Path::new("x.db");
        conn.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 4;"
        ))
        .unwrap();
        assert!(matches!(
            identify(&conn, path),
            Err(StoreError::NewerSchema {
                found: 4,
                supported: 3,
                ..
            })
        ));
        conn.execute_batch("PRAGMA application_id = 7").unwrap();
        assert!(matches!(
            identify(&conn, path),
            Err(StoreError::Foreign {
                application_id: 7,
                ..
            })
        ));
    }
}
