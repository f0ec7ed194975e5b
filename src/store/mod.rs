//! The run store: where a durable run keeps its flow, position, state and event log, so that
//! a run killed at any point (even by SIGKILL) is resumed by another process from its last
//! committed step.
//!
//! The store takes in opaque JSON text from the engine (a run's checkpoint, each event's
//! record, the run's error) and the state as JSON objects; it gives back what was committed.
//! It never interprets a checkpoint or an event record, and it never decides what re-runs
//! after a crash: that is the engine's business (a step that was running when the process
//! died was not committed, so the engine runs it again from the last checkpoint).
//!
//! **Guarantees.** Each [`RunStore::commit`] is one SQLite transaction: the events, their state
//! deltas, the checkpoint, the status, the lease and (when given) a snapshot land together or
//! not at all, and a reader (another connection, another process) sees whole commits only. A
//! crash of the process loses nothing committed. The database runs in WAL mode with
//! `synchronous=NORMAL`, so a *power loss* or an operating-system crash can lose the last few
//! commits (it does not corrupt the file); call [`SqliteStore::set_synchronous_full`] where
//! that matters more than speed (one fsync per commit).
//!
//! **Ownership.** A running run has one owner ([`Owner`]: host, pid and a nonce) and a lease
//! ([`LEASE`] long) that every commit renews, and that a [`LeaseKeeper`] renews during long
//! steps. Every write checks the owner in the same statement, so two processes never both
//! drive one run: the loser gets [`StoreError::LeaseLost`]. A `running` run with no owner, an
//! expired lease, or an owner on this host whose process is gone *reads* as
//! [`RunStatus::Interrupted`] (derived on reading, never written by a reader) and can be
//! [claimed](RunStore::claim). Leases compare wall clocks, so hosts sharing one store (over a
//! network file system, which SQLite's locking does not promise to support) need clocks
//! closer than the lease. A queued run has no owner until a worker claims it.
//!
//! **State.** The state is a snapshot plus the deltas of the events after it (each delta an
//! object of changed keys; keys are never removed). [`RunStore::wants_snapshot`] tells the
//! writer when to include a fresh snapshot, so loading replays at most
//! [`SNAPSHOT_EVERY_EVENTS`] deltas (measured: 13 ms to load a run of 1,000,000 events).
//!
//! **Files.** A store identifies itself by `PRAGMA application_id` ([`APPLICATION_ID`]) and
//! `user_version` ([`SCHEMA_VERSION`]). A new or empty file is set up; anything else that is
//! not a store of this or an older version (another program's database, a newer store, a
//! damaged file, a file that is not SQLite) is refused with its own error before anything
//! writes to it. [`SqliteStore::open_read_only`] lists and loads a store that cannot be
//! written (a read-only file or folder).
//!
//! ```
//! use flowc::store::{Commit, FlowRecord, NewRun, Owner, RunStatus, RunStore, SqliteStore, StoredEvent};
//! use serde_json::{Map, Value, json};
//! use std::time::SystemTime;
//!
//! let mut store = SqliteStore::in_memory()?;
//! let flow = FlowRecord { hash: "h1".into(), name: "hello".into(), source: "flow hello {}".into(), path: None };
//! store.save_flow(&flow)?;
//! let owner = Owner::this_process();
//! let state: Map<String, Value> = json!({ "n": 0 }).as_object().cloned().unwrap_or_default();
//! let run = store.create_run(
//!     &NewRun { flow_hash: "h1", input: &Map::new(), state: &state, checkpoint: "{}",
//!               started_at: SystemTime::now(), status: RunStatus::Running, idempotency: None },
//!     &owner,
//! )?;
//! let event = StoredEvent { seq: 1, kind: "node".into(), record: "{}".into(), changes: Some(r#"{"n":1}"#.into()) };
//! store.commit(run, &owner, &Commit { events: &[event], checkpoint: "{}", steps: 1,
//!                                     status: RunStatus::Completed, snapshot: None, error: None })?;
//! let loaded = store.load(run)?;
//! assert_eq!(loaded.state["n"], json!(1));
//! assert_eq!(loaded.record.status, RunStatus::Completed);
//! # Ok::<(), flowc::store::StoreError>(())
//! ```

mod batch;
mod claim;
mod error;
mod flows;
mod lease;
mod owner;
mod reads;
mod replay;
mod rows;
mod schema;
mod sqlite;
mod status;
mod writes;

#[cfg(test)]
mod claims;
#[cfg(test)]
mod files;
#[cfg(test)]
mod measure;
#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

pub use error::{RecordPart, StoreError};
pub use flows::{FlowDeleted, FlowSummary};
pub use lease::LeaseKeeper;
pub use owner::Owner;
pub use replay::{SNAPSHOT_EVERY_EVENTS, SNAPSHOT_MIN_DELTA_BYTES};
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};
pub use sqlite::SqliteStore;
pub use status::RunStatus;

/// A run's id in its store.
pub type RunId = i64;

/// How long a lease lasts after each commit or renewal.
pub const LEASE: Duration = Duration::from_secs(15);

/// How often a [`LeaseKeeper`] renews: a third of the lease, so two renewals can be late.
pub const LEASE_RENEW_EVERY: Duration = Duration::from_secs(5);

/// The most rows one [`RunStore::runs`] or [`RunStore::events`] call returns, whatever the
/// limit asked for (a page; ask again from the cursor for more).
pub const MAX_PAGE: usize = 10_000;

/// A compiled flow, stored once per content hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    pub hash: String,
    pub name: String,
    pub source: String,
    pub path: Option<String>,
}

/// A run to create: its first position and state (the snapshot at seq 0).
#[derive(Clone, Copy, Debug)]
pub struct NewRun<'a> {
    pub flow_hash: &'a str,
    /// The input as given.
    pub input: &'a Map<String, Value>,
    /// The initial state (defaults filled).
    pub state: &'a Map<String, Value>,
    /// JSON text, opaque to the store.
    pub checkpoint: &'a str,
    pub started_at: SystemTime,
    /// `Running` (taken by the creating owner) or `Queued`.
    pub status: RunStatus,
    /// The request's `Idempotency-Key`, stored with the run in its creating transaction.
    pub idempotency: Option<IdempotencyKey<'a>>,
}

/// An `Idempotency-Key` and a digest of the request body it came with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdempotencyKey<'a> {
    pub key: &'a str,
    pub digest: &'a str,
}

/// One event of a run's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// 1, 2, 3 … within the run.
    pub seq: u64,
    pub kind: String,
    /// JSON text of the event, opaque to the store.
    pub record: String,
    /// JSON object text of the state keys this event changed (the delta), or `None`.
    pub changes: Option<String>,
}

/// What one step (or a few) committed at once.
#[derive(Clone, Copy, Debug)]
pub struct Commit<'a> {
    /// New events, seq ascending, after the last stored one.
    pub events: &'a [StoredEvent],
    pub checkpoint: &'a str,
    pub steps: u64,
    pub status: RunStatus,
    /// The full state after these events (see [`RunStore::wants_snapshot`]).
    pub snapshot: Option<&'a Map<String, Value>>,
    /// JSON text of the run's error, for a failed run.
    pub error: Option<&'a str>,
}

/// A row of the runs table, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRecord {
    pub id: RunId,
    pub flow_hash: String,
    pub flow_name: String,
    /// As read: a `running` run whose owner is gone or whose lease expired reads as
    /// [`RunStatus::Interrupted`].
    pub status: RunStatus,
    pub steps: u64,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
    pub finished_at: Option<SystemTime>,
    pub owner: Option<String>,
    pub error: Option<String>,
}

/// A run with its position and state, ready to resume or to show.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedRun {
    pub record: RunRecord,
    pub checkpoint: String,
    pub state: Map<String, Value>,
    pub input: Map<String, Value>,
    /// The seq of the last stored event (0 when none).
    pub last_seq: u64,
}

/// Which runs to list, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// The status as read (so `Interrupted` includes dead `running` runs).
    pub status: Option<RunStatus>,
    /// The flow's name.
    pub flow: Option<String>,
    /// At most this many (and at most [`MAX_PAGE`]).
    pub limit: usize,
    /// A cursor: only runs with ids below this one.
    pub before: Option<RunId>,
}

/// Storage for durable runs. One store value is one writer.
pub trait RunStore: Send {
    /// Stores a flow; saving the same hash again changes nothing.
    fn save_flow(&mut self, flow: &FlowRecord) -> Result<(), StoreError>;
    fn flow(&self, hash: &str) -> Result<Option<FlowRecord>, StoreError>;
    /// Creates a run with its state as the snapshot at seq 0; a `Running` one is owned by
    /// `owner` from the start, any other has no owner until it is claimed.
    fn create_run(&mut self, run: &NewRun<'_>, owner: &Owner) -> Result<RunId, StoreError>;
    /// One transaction: the events, the delta, the checkpoint, the status, the lease renewal
    /// and (when given) the snapshot. Fails with [`StoreError::LeaseLost`] when another owner
    /// holds the run (so two processes can never both drive one run).
    fn commit(&mut self, run: RunId, owner: &Owner, commit: &Commit<'_>) -> Result<(), StoreError>;
    /// Whether the next commit should carry a snapshot: when the run has none yet, or after
    /// [`SNAPSHOT_EVERY_EVENTS`] events, or when the deltas since the last one outweigh it
    /// (and [`SNAPSHOT_MIN_DELTA_BYTES`]).
    fn wants_snapshot(&self, run: RunId) -> bool;
    /// Takes a resumable run (interrupted, including a `running` one whose owner is gone;
    /// waiting; or queued) for `owner`, atomically, and loads it. The loaded record is the
    /// run as it is after the claim: `running`, owned by `owner`. Claiming a run `owner`
    /// already holds loads it again.
    fn claim(&mut self, run: RunId, owner: &Owner) -> Result<LoadedRun, StoreError>;
    /// Takes a `needs-attention` run, and only such a run, for `owner` once a person has
    /// decided what it does next (the one way out of that status: `durable::settle`).
    fn claim_attention(&mut self, run: RunId, owner: &Owner) -> Result<LoadedRun, StoreError>;
    /// Cancels a run nobody drives (interrupted, waiting or queued) in one transaction,
    /// without loading it: `cancelled`, no owner. Refused as [`Self::claim`] refuses (a
    /// finished run with [`StoreError::Finished`], a `needs-attention` one, one a live
    /// process drives).
    fn cancel_idle(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError>;
    fn set_status(
        &mut self,
        run: RunId,
        owner: &Owner,
        status: RunStatus,
    ) -> Result<(), StoreError>;
    fn renew_lease(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError>;
    /// Gives the run up: no owner, no lease (a `running` run then reads as interrupted).
    fn release(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError>;
    fn run(&self, run: RunId) -> Result<Option<RunRecord>, StoreError>;
    /// The run created under an `Idempotency-Key`, with the digest of that request's body.
    fn keyed_run(&self, key: &str) -> Result<Option<(RunId, String)>, StoreError>;
    /// Loads a run without claiming it (read-only).
    fn load(&self, run: RunId) -> Result<LoadedRun, StoreError>;
    /// Runs, newest first.
    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError>;
    /// A run's events after `after` (all when `None`), in seq order, at most `limit` (and at
    /// most [`MAX_PAGE`]).
    fn events(
        &self,
        run: RunId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError>;
}
