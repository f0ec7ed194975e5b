//! The server's one write connection, shared: a [`RunStore`] whose calls take the
//! connection's lock, so runs on many threads write through one SQLite connection (SQLite
//! is never "locked" by ourselves) and a long step holds nothing.
//!
//! **Group commit.** A write is put on a list of pending writes. When no group is being
//! committed, its caller becomes the leader: it takes every write pending (its own, and
//! whatever came meanwhile) and commits them in one transaction ([`SqliteStore::batch`]),
//! each in a savepoint of its own, so one write's failure (a lost lease) fails that write
//! only. Writes that came during that commit wait for the next group, whose leader is the
//! first of their callers (the lead is handed on, so no caller commits others' writes for
//! long): under load every transaction carries all that is pending, and no writer waits on
//! the connection's lock itself (reads without a reader connection of their own still do). A caller is answered only after the transaction holding its
//! write committed: a step's record and state are stored before its run's next step
//! starts, exactly as with a transaction per step. Alone, a caller commits its own write on
//! its own thread (no hand-off to another thread). Each commit that lands is published to
//! the [`Hub`] after that.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value};

use crate::store::{
    Commit, FlowRecord, IdempotencyKey, LoadedRun, NewRun, Owner, RunFilter, RunId, RunRecord,
    RunStatus, RunStore, SqliteStore, StoreError, StoredEvent,
};

use super::hub::{Hub, Live};
use super::mailbox::Mailbox;

pub(crate) struct SharedStore {
    store: Arc<Mutex<SqliteStore>>,
    pending: Arc<Mutex<Pending>>,
    hub: Hub,
    /// Whether the next commit of a run wants a snapshot, as the store said with the last
    /// commit through this handle: `run` (no), `-run` (yes), 0 (not known: ask the store).
    /// A handle drives one run at a time, so this spares asking before every step.
    next_snapshot: AtomicI64,
}

impl Clone for SharedStore {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            pending: Arc::clone(&self.pending),
            hub: self.hub.clone(),
            next_snapshot: AtomicI64::new(0),
        }
    }
}

impl SharedStore {
    pub(crate) fn new(store: SqliteStore, hub: Hub) -> Self {
        Self {
            store: Arc::new(Mutex::new(store)),
            pending: Arc::new(Mutex::new(Pending::default())),
            hub,
            next_snapshot: AtomicI64::new(0),
        }
    }

    /// The connection itself, alone (not in a group): for reads, and for writes a
    /// [`RunStore`] does not have.
    pub(crate) fn lock(&self) -> MutexGuard<'_, SqliteStore> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits the write `work` with whatever else is pending; answered once its group
    /// committed.
    fn grouped<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut SqliteStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let mailbox = Arc::new(Mailbox::for_this_thread());
        let lead = {
            let mut pending = self.pending();
            pending.writes.push(Box::new(Write {
                work: Some(work),
                done: None,
                mailbox: Some(Arc::clone(&mailbox)),
            }));
            !std::mem::replace(&mut pending.committing, true)
        };
        if lead {
            self.lead();
        }
        loop {
            match mailbox.wait() {
                Reply::Done(done) => return done,
                // Our write is the first pending: commit its group.
                Reply::Lead => self.lead(),
            }
        }
    }

    /// Commits every pending write in one group, then hands the lead to the first write
    /// pending after it (or ends the committing when there is none).
    fn lead(&self) {
        // Declared first, so dropped last: after the connection's lock, and also when the
        // commit panics, so that no write waits for a leader forever.
        let _hand_on = HandOn(self);
        let mut store = self.lock();
        for _ in 0..GROUPS_A_LEAD {
            let group = std::mem::take(&mut self.pending().writes);
            if group.is_empty() {
                break;
            }
            commit_group(&mut store, group);
        }
    }
}

/// The most groups one leader commits in a row while writes keep coming: the connection
/// is not left idle while the next leader wakes up, and no caller's own run waits long
/// for the others'.
const GROUPS_A_LEAD: usize = 3;

/// Hands the lead on when dropped ([`SharedStore::lead`]).
struct HandOn<'a>(&'a SharedStore);

impl Drop for HandOn<'_> {
    fn drop(&mut self) {
        let mut pending = self.0.pending();
        match pending.writes.first() {
            Some(next) => next.lead(),
            None => pending.committing = false,
        }
    }
}

/// The writes waiting for a group, and whether a group is being committed (then its leader
/// hands the lead on, and a new write just waits).
#[derive(Default)]
struct Pending {
    writes: Vec<Box<dyn GroupedWrite>>,
    committing: bool,
}

/// What a caller of [`SharedStore::grouped`] is told.
enum Reply<T> {
    /// Its write's outcome, once its group committed (or failed).
    Done(Result<T, StoreError>),
    /// Its write is the first pending: it leads the next group.
    Lead,
}

/// Commits `group` in one transaction and answers each write.
fn commit_group(store: &mut SqliteStore, mut group: Vec<Box<dyn GroupedWrite>>) {
    let landed = store
        .batch(|store| {
            for write in &mut group {
                write.apply(store);
            }
        })
        .map_err(Arc::new);
    for write in group {
        write.answer(landed.as_ref().err());
    }
}

/// A write of a group: applied inside the group's transaction, answered after it.
trait GroupedWrite: Send {
    fn apply(&mut self, store: &mut SqliteStore);
    /// `failed`: why the group's transaction did not commit, if it did not.
    fn answer(self: Box<Self>, failed: Option<&Arc<StoreError>>);
    /// Tells its caller to lead the next group.
    fn lead(&self);
}

struct Write<T, F> {
    work: Option<F>,
    done: Option<Result<T, StoreError>>,
    /// Its caller's, until answered.
    mailbox: Option<Arc<Mailbox<Reply<T>>>>,
}

impl<T, F> Drop for Write<T, F> {
    fn drop(&mut self) {
        // Dropped unanswered (the committing thread panicked): its caller must not wait on.
        if let Some(mailbox) = self.mailbox.take() {
            mailbox.put(Reply::Done(Err(StoreError::GroupNotAnswered)));
        }
    }
}

impl<T, F> GroupedWrite for Write<T, F>
where
    T: Send,
    F: FnOnce(&mut SqliteStore) -> Result<T, StoreError> + Send,
{
    fn apply(&mut self, store: &mut SqliteStore) {
        if let Some(work) = self.work.take() {
            self.done = Some(work(store));
        }
    }

    fn answer(mut self: Box<Self>, failed: Option<&Arc<StoreError>>) {
        let answer = match (failed, self.done.take()) {
            (None, Some(done)) => done,
            // The write's own failure says more than the group's.
            (Some(_), Some(Err(own))) => Err(own),
            (Some(cause), _) => Err(StoreError::GroupNotCommitted {
                cause: Arc::clone(cause),
            }),
            (None, None) => Err(StoreError::GroupNotAnswered),
        };
        if let Some(mailbox) = self.mailbox.take() {
            mailbox.put(Reply::Done(answer));
        }
    }

    fn lead(&self) {
        if let Some(mailbox) = &self.mailbox {
            mailbox.put(Reply::Lead);
        }
    }
}

/// Encodes what the store said of a run's next snapshot for [`SharedStore::next_snapshot`].
fn snapshot_hint(run: RunId, wanted: bool) -> i64 {
    if wanted { -run } else { run }
}

impl RunStore for SharedStore {
    fn save_flow(&mut self, flow: &FlowRecord) -> Result<(), StoreError> {
        let flow = flow.clone();
        self.grouped(move |store| store.save_flow(&flow))
    }
    fn flow(&self, hash: &str) -> Result<Option<FlowRecord>, StoreError> {
        self.lock().flow(hash)
    }
    fn create_run(&mut self, run: &NewRun<'_>, owner: &Owner) -> Result<RunId, StoreError> {
        let flow_hash = run.flow_hash.to_owned();
        let input: Map<String, Value> = run.input.clone();
        let state: Map<String, Value> = run.state.clone();
        let checkpoint = run.checkpoint.to_owned();
        let (started_at, status) = (run.started_at, run.status);
        let idempotency = run
            .idempotency
            .map(|keyed| (keyed.key.to_owned(), keyed.digest.to_owned()));
        let owner = owner.clone();
        let (id, wanted) = self.grouped(move |store| {
            let id = store.create_run(
                &NewRun {
                    flow_hash: &flow_hash,
                    input: &input,
                    state: &state,
                    checkpoint: &checkpoint,
                    started_at,
                    status,
                    idempotency: idempotency
                        .as_ref()
                        .map(|(key, digest)| IdempotencyKey { key, digest }),
                },
                &owner,
            )?;
            Ok((id, store.wants_snapshot(id)))
        })?;
        self.next_snapshot
            .store(snapshot_hint(id, wanted), Ordering::Relaxed);
        Ok(id)
    }
    fn commit(&mut self, run: RunId, owner: &Owner, commit: &Commit<'_>) -> Result<(), StoreError> {
        let events: Vec<StoredEvent> = commit.events.to_vec();
        let checkpoint = commit.checkpoint.to_owned();
        let snapshot = commit.snapshot.cloned();
        let error = commit.error.map(str::to_owned);
        let (steps, status) = (commit.steps, commit.status);
        let owner = owner.clone();
        let (events, wanted) = self.grouped(move |store| {
            store.commit(
                run,
                &owner,
                &Commit {
                    events: &events,
                    checkpoint: &checkpoint,
                    steps,
                    status,
                    snapshot: snapshot.as_ref(),
                    error: error.as_deref(),
                },
            )?;
            // What it will be once this commit landed; the group cannot undo it but by
            // failing, and then the run stops here.
            let wanted = store.wants_snapshot(run);
            Ok((events, wanted))
        })?;
        self.next_snapshot
            .store(snapshot_hint(run, wanted), Ordering::Relaxed);
        for event in events {
            self.hub.publish(run, Live::Event(Arc::new(event)));
        }
        Ok(())
    }
    fn wants_snapshot(&self, run: RunId) -> bool {
        match self.next_snapshot.load(Ordering::Relaxed) {
            hint if hint == run => false,
            hint if hint == -run => true,
            _ => self.lock().wants_snapshot(run),
        }
    }
    fn claim(&mut self, run: RunId, owner: &Owner) -> Result<LoadedRun, StoreError> {
        let owner = owner.clone();
        let (loaded, wanted) = self.grouped(move |store| {
            let loaded = store.claim(run, &owner)?;
            Ok((loaded, store.wants_snapshot(run)))
        })?;
        self.next_snapshot
            .store(snapshot_hint(run, wanted), Ordering::Relaxed);
        Ok(loaded)
    }
    fn claim_attention(&mut self, run: RunId, owner: &Owner) -> Result<LoadedRun, StoreError> {
        let owner = owner.clone();
        self.grouped(move |store| store.claim_attention(run, &owner))
    }
    fn cancel_idle(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError> {
        let owner = owner.clone();
        self.grouped(move |store| store.cancel_idle(run, &owner))
    }
    fn set_status(
        &mut self,
        run: RunId,
        owner: &Owner,
        status: RunStatus,
    ) -> Result<(), StoreError> {
        let owner = owner.clone();
        self.grouped(move |store| store.set_status(run, &owner, status))
    }
    fn renew_lease(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError> {
        let owner = owner.clone();
        self.grouped(move |store| store.renew_lease(run, &owner))
    }
    fn release(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError> {
        let owner = owner.clone();
        self.grouped(move |store| store.release(run, &owner))
    }
    fn run(&self, run: RunId) -> Result<Option<RunRecord>, StoreError> {
        self.lock().run(run)
    }
    fn keyed_run(&self, key: &str) -> Result<Option<(RunId, String)>, StoreError> {
        self.lock().keyed_run(key)
    }
    fn load(&self, run: RunId) -> Result<LoadedRun, StoreError> {
        self.lock().load(run)
    }
    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        self.lock().runs(filter)
    }
    fn events(
        &self,
        run: RunId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.lock().events(run, after, limit)
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use serde_json::json;

    use super::*;

    fn start_run(store: &mut SharedStore, owner: &Owner) -> RunId {
        let state = json!({ "n": 0 }).as_object().cloned().unwrap();
        store
            .create_run(
                &NewRun {
                    flow_hash: "h1",
                    input: &Map::new(),
                    state: &state,
                    checkpoint: "{}",
                    started_at: SystemTime::now(),
                    status: RunStatus::Running,
                    idempotency: None,
                },
                owner,
            )
            .unwrap()
    }

    fn step(seq: u64, status: RunStatus, events: &[StoredEvent]) -> Commit<'_> {
        Commit {
            events,
            checkpoint: "{}",
            steps: seq,
            status,
            snapshot: None,
            error: None,
        }
    }

    /// A shared store over a new in-memory database holding one flow, `h1`.
    fn store_with_flow() -> SharedStore {
        let mut store = SharedStore::new(SqliteStore::in_memory().unwrap(), Hub::default());
        store
            .save_flow(&FlowRecord {
                hash: "h1".into(),
                name: "hello".into(),
                source: "flow hello {}".into(),
                path: None,
            })
            .unwrap();
        store
    }

    #[test]
    fn runs_on_many_threads_each_have_every_step_stored_in_order() {
        let store = store_with_flow();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let mut store = store.clone();
                std::thread::spawn(move || {
                    let owner = Owner::new("here", 1, 0);
                    let run = start_run(&mut store, &owner);
                    for seq in 1..=50 {
                        let events = [StoredEvent {
                            seq,
                            kind: "node".into(),
                            record: "{}".into(),
                            changes: Some(format!(r#"{{"n":{seq}}}"#)),
                        }];
                        let status = if seq == 50 {
                            RunStatus::Completed
                        } else {
                            RunStatus::Running
                        };
                        store
                            .commit(run, &owner, &step(seq, status, &events))
                            .unwrap();
                        // Committed before the next step: already readable.
                        assert_eq!(store.load(run).unwrap().last_seq, seq);
                    }
                    run
                })
            })
            .collect();
        for thread in threads {
            let run = thread.join().unwrap();
            let loaded = store.load(run).unwrap();
            assert_eq!(loaded.record.status, RunStatus::Completed);
            assert_eq!(loaded.state["n"], json!(50));
            let seqs: Vec<u64> = store
                .events(run, None, 100)
                .unwrap()
                .iter()
                .map(|event| event.seq)
                .collect();
            assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_lost_lease_fails_that_commit_only() {
        let mut store = store_with_flow();
        let owner = Owner::new("here", 1, 0);
        let run = start_run(&mut store, &owner);
        let events = [StoredEvent {
            seq: 1,
            kind: "node".into(),
            record: "{}".into(),
            changes: None,
        }];
        let stranger = Owner::new("there", 2, 0);
        let lost = store.commit(run, &stranger, &step(1, RunStatus::Running, &events));
        assert!(matches!(lost, Err(StoreError::LeaseLost { .. })));
        store
            .commit(run, &owner, &step(1, RunStatus::Completed, &events))
            .unwrap();
        assert_eq!(store.load(run).unwrap().record.status, RunStatus::Completed);
    }
}
