//! Rows to records: times as stored (milliseconds since the Unix epoch), and a run's status
//! as read, where a `running` run that nobody drives any more reads as interrupted.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::Row;

use super::owner::stored_owner_is_dead;
use super::{RecordPart, RunId, RunRecord, RunStatus, StoreError};

/// The columns [`RawRun::from_row`] reads, in order, and the join they need.
pub(super) const RUN_SELECT: &str = "SELECT r.id, r.flow_hash, f.name, r.status, r.steps, \
     r.created_at, r.updated_at, r.finished_at, r.owner, r.error, r.lease_until \
     FROM runs r JOIN flows f ON f.hash = r.flow_hash";

/// A time as stored: milliseconds since the epoch (0 for a time before it).
pub(super) fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |elapsed| {
        i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
    })
}

pub(super) fn now_millis() -> i64 {
    millis(SystemTime::now())
}

/// A stored time back (a negative one, which flowc never writes, reads as the epoch).
pub(super) fn time(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

/// A count as stored (SQLite integers are signed; flowc never writes a negative one).
pub(super) fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A count to store.
pub(super) fn stored_count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A runs row as read, before its status is checked and derived.
pub(super) struct RawRun {
    id: RunId,
    flow_hash: String,
    flow_name: String,
    status: String,
    steps: i64,
    created_at: i64,
    updated_at: i64,
    finished_at: Option<i64>,
    owner: Option<String>,
    error: Option<String>,
    lease_until: Option<i64>,
}

impl RawRun {
    /// Reads the columns of [`RUN_SELECT`].
    pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            flow_hash: row.get(1)?,
            flow_name: row.get(2)?,
            status: row.get(3)?,
            steps: row.get(4)?,
            created_at: row.get(5)?,
            updated_at: row.get(6)?,
            finished_at: row.get(7)?,
            owner: row.get(8)?,
            error: row.get(9)?,
            lease_until: row.get(10)?,
        })
    }

    /// The record, with the status as read at `now`.
    pub(super) fn into_record(self, now: i64) -> Result<RunRecord, StoreError> {
        let stored = stored_status(self.id, &self.status)?;
        Ok(RunRecord {
            id: self.id,
            status: status_as_read(stored, self.owner.as_deref(), self.lease_until, now),
            flow_hash: self.flow_hash,
            flow_name: self.flow_name,
            steps: count(self.steps),
            created_at: time(self.created_at),
            updated_at: time(self.updated_at),
            finished_at: self.finished_at.map(time),
            owner: self.owner,
            error: self.error,
        })
    }
}

/// A status column's text as a status.
pub(super) fn stored_status(run: RunId, text: &str) -> Result<RunStatus, StoreError> {
    text.parse().map_err(|cause| StoreError::CorruptRecord {
        run,
        part: RecordPart::Status,
        cause: Some(Box::new(cause)),
    })
}

/// A `running` run reads as interrupted when nobody drives it: no owner, an expired lease,
/// or an owner on this host whose process is gone. Derived, never written, so a reader
/// never overrules a live owner.
pub(super) fn status_as_read(
    stored: RunStatus,
    owner: Option<&str>,
    lease_until: Option<i64>,
    now: i64,
) -> RunStatus {
    let abandoned =
        || owner.is_none_or(stored_owner_is_dead) || lease_until.is_none_or(|until| until < now);
    if stored == RunStatus::Running && abandoned() {
        RunStatus::Interrupted
    } else {
        stored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Owner;

    #[test]
    fn times_round_trip_to_the_millisecond() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(time(millis(at)), at);
        assert_eq!(millis(UNIX_EPOCH - Duration::from_secs(5)), 0);
        assert_eq!(time(-5), UNIX_EPOCH);
    }

    #[test]
    fn a_running_run_reads_as_interrupted_only_when_abandoned() {
        let live = Owner::this_process();
        let now = 1_000;
        let read =
            |owner: Option<&str>, lease| status_as_read(RunStatus::Running, owner, lease, now);
        assert_eq!(read(Some(live.id()), Some(now + 1)), RunStatus::Running);
        assert_eq!(read(Some(live.id()), Some(now - 1)), RunStatus::Interrupted);
        assert_eq!(read(None, Some(now + 1)), RunStatus::Interrupted);
        let remote = Owner::new("elsewhere.example", 1, 1);
        assert_eq!(read(Some(remote.id()), Some(now + 1)), RunStatus::Running);
        // Other statuses are as stored, whatever the lease.
        assert_eq!(
            status_as_read(RunStatus::Waiting, None, None, now),
            RunStatus::Waiting
        );
    }
}
