//! The store's queries that only read: a run, a run loaded (snapshot + deltas), a listing and
//! a page of events. They take a `Connection`, so that `claim` runs the same load inside its
//! transaction.

use std::fmt::Write;
use std::path::Path;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde_json::{Map, Value};

use super::replay::{RunTrack, replay};
use super::rows::{RUN_SELECT, RawRun, count, now_millis, stored_count};
use super::{
    LoadedRun, MAX_PAGE, RecordPart, RunFilter, RunId, RunRecord, RunStatus, StoreError,
    StoredEvent,
};

pub(super) fn run_record(
    conn: &Connection,
    path: &Path,
    run: RunId,
) -> Result<Option<RunRecord>, StoreError> {
    let sqlite = |cause| StoreError::sqlite(path, cause);
    let mut statement = conn
        .prepare_cached(&format!("{RUN_SELECT} WHERE r.id = ?1"))
        .map_err(sqlite)?;
    let raw = statement
        .query_row([run], RawRun::from_row)
        .optional()
        .map_err(sqlite)?;
    raw.map(|raw| raw.into_record(now_millis())).transpose()
}

/// The run created under `key`, and the digest of the body it came with.
pub(super) fn keyed_run(
    conn: &Connection,
    path: &Path,
    key: &str,
) -> Result<Option<(RunId, String)>, StoreError> {
    conn.prepare_cached("SELECT run_id, digest FROM idempotency_keys WHERE key = ?1")
        .and_then(|mut statement| {
            statement
                .query_row([key], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(|cause| StoreError::sqlite(path, cause))
}

/// The run with its state replayed, and what the writer needs to know of its log.
pub(super) fn load_run(
    conn: &Connection,
    path: &Path,
    run: RunId,
) -> Result<(LoadedRun, RunTrack), StoreError> {
    let sqlite = |cause| StoreError::sqlite(path, cause);
    let record = run_record(conn, path, run)?.ok_or(StoreError::NotFound { run })?;
    let (input, checkpoint): (String, String) = conn
        .prepare_cached(
            "SELECT i.input, r.checkpoint FROM runs r JOIN run_inputs i ON i.run_id = r.id \
             WHERE r.id = ?1",
        )
        .and_then(|mut statement| statement.query_row([run], |row| Ok((row.get(0)?, row.get(1)?))))
        .optional()
        .map_err(sqlite)?
        .ok_or(StoreError::CorruptRecord {
            run,
            part: RecordPart::Input,
            cause: None,
        })?;
    let input: Map<String, Value> =
        serde_json::from_str(&input).map_err(|cause| StoreError::CorruptRecord {
            run,
            part: RecordPart::Input,
            cause: Some(Box::new(cause)),
        })?;
    let (snapshot_seq, snapshot): (i64, String) = conn
        .prepare_cached("SELECT seq, state FROM snapshots WHERE run_id = ?1")
        .and_then(|mut statement| {
            statement
                .query_row([run], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(sqlite)?
        .ok_or(StoreError::CorruptRecord {
            run,
            part: RecordPart::Snapshot,
            cause: None,
        })?;
    let last_seq: i64 = conn
        .prepare_cached("SELECT seq FROM events WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1")
        .and_then(|mut statement| statement.query_row([run], |row| row.get(0)).optional())
        .map_err(sqlite)?
        .unwrap_or(0)
        .max(snapshot_seq);

    let mut deltas = conn
        .prepare_cached(
            "SELECT seq, changes FROM events \
             WHERE run_id = ?1 AND seq > ?2 AND changes IS NOT NULL ORDER BY seq",
        )
        .map_err(sqlite)?;
    let mut delta_bytes = 0;
    let rows = deltas
        .query_map(params![run, snapshot_seq], |row| {
            Ok((count(row.get(0)?), row.get::<_, String>(1)?))
        })
        .map_err(sqlite)?
        .map(|row| {
            let (seq, text) = row.map_err(sqlite)?;
            delta_bytes += text.len();
            Ok((seq, text))
        });
    let state = replay(run, &snapshot, rows)?;

    let (snapshot_seq, last_seq) = (count(snapshot_seq), count(last_seq));
    let mut track = RunTrack::snapshot_at(snapshot_seq, snapshot.len());
    track.last_seq = last_seq;
    track.events_since_snapshot = last_seq - snapshot_seq;
    track.delta_bytes_since_snapshot = u64::try_from(delta_bytes).unwrap_or(u64::MAX);
    let loaded = LoadedRun {
        record,
        checkpoint,
        state,
        input,
        last_seq,
    };
    Ok((loaded, track))
}

/// Runs newest first. A status filter is on the status as read; for `running` and
/// `interrupted`, which reading can change, rows are read in pages until enough match.
pub(super) fn list_runs(
    conn: &Connection,
    path: &Path,
    filter: &RunFilter,
) -> Result<Vec<RunRecord>, StoreError> {
    let sqlite = |cause| StoreError::sqlite(path, cause);
    let limit = filter.limit.min(MAX_PAGE);
    // Reading turns some `running` rows into `interrupted` ones, never the other way.
    let stored: Vec<RunStatus> = match filter.status {
        None => Vec::new(),
        Some(RunStatus::Interrupted) => vec![RunStatus::Running, RunStatus::Interrupted],
        Some(status) => vec![status],
    };

    let mut sql = format!("{RUN_SELECT} WHERE r.id < ?1");
    let mut bound = vec![SqlValue::Null];
    for (index, status) in stored.iter().enumerate() {
        sql.push_str(if index == 0 {
            " AND r.status IN (?"
        } else {
            ", ?"
        });
        bound.push(SqlValue::Text(status.as_str().to_owned()));
        sql.push_str(&bound.len().to_string());
        if index + 1 == stored.len() {
            sql.push(')');
        }
    }
    if let Some(flow) = &filter.flow {
        bound.push(SqlValue::Text(flow.clone()));
        let _ = write!(sql, " AND f.name = ?{}", bound.len());
    }
    // Rows that reading may filter out are read in larger pages, so that a few wanted ones
    // among many others do not cost a query each.
    let page_size = if matches!(
        filter.status,
        Some(RunStatus::Running | RunStatus::Interrupted)
    ) {
        limit.max(256)
    } else {
        limit
    };
    bound.push(SqlValue::Integer(stored_count(page_size as u64)));
    let _ = write!(sql, " ORDER BY r.id DESC LIMIT ?{}", bound.len());

    let mut statement = conn.prepare_cached(&sql).map_err(sqlite)?;
    let mut found = Vec::with_capacity(limit);
    let mut before = filter.before.unwrap_or(RunId::MAX);
    while found.len() < limit {
        bound[0] = SqlValue::Integer(before);
        let page: Vec<RawRun> = statement
            .query_map(params_from_iter(bound.iter()), RawRun::from_row)
            .and_then(Iterator::collect)
            .map_err(sqlite)?;
        let now = now_millis();
        let full = page.len() == page_size;
        for raw in page {
            let record = raw.into_record(now)?;
            before = record.id;
            if filter.status.is_none_or(|status| status == record.status) && found.len() < limit {
                found.push(record);
            }
        }
        if !full {
            break;
        }
    }
    Ok(found)
}

pub(super) fn list_events(
    conn: &Connection,
    path: &Path,
    run: RunId,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<StoredEvent>, StoreError> {
    let sqlite = |cause| StoreError::sqlite(path, cause);
    let limit = stored_count(limit.min(MAX_PAGE) as u64);
    // Without `after`, from the first event on (`run_started` is seq 0).
    let after = after.map_or(-1, stored_count);
    let events: Vec<StoredEvent> = conn
        .prepare_cached(
            "SELECT seq, kind, record, changes FROM events \
             WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .and_then(|mut statement| {
            statement
                .query_map(params![run, after, limit], |row| {
                    Ok(StoredEvent {
                        seq: count(row.get(0)?),
                        kind: row.get(1)?,
                        record: row.get(2)?,
                        changes: row.get(3)?,
                    })
                })?
                .collect()
        })
        .map_err(sqlite)?;
    if events.is_empty() && run_record(conn, path, run)?.is_none() {
        return Err(StoreError::NotFound { run });
    }
    Ok(events)
}

impl super::SqliteStore {
    /// A run loaded, and the first `limit` events of its log, as one commit left them (one
    /// read transaction: the log never holds an event the state does not).
    pub fn load_with_log(
        &self,
        run: RunId,
        limit: usize,
    ) -> Result<(LoadedRun, Vec<StoredEvent>), StoreError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|cause| self.error(cause))?;
        let (loaded, _) = load_run(&tx, &self.path, run)?;
        let events = list_events(&tx, &self.path, run, None, limit)?;
        Ok((loaded, events))
    }
}
