//! The server's one write connection, shared: a [`RunStore`] whose every call takes the
//! connection's lock for that call only, so runs on many threads write through one SQLite
//! connection (SQLite is never "locked" by ourselves) and a long step holds no lock. Each
//! commit that lands is published to the [`Hub`].

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::store::{
    Commit, FlowRecord, LoadedRun, NewRun, Owner, RunFilter, RunId, RunRecord, RunStatus, RunStore,
    SqliteStore, StoreError, StoredEvent,
};

use super::hub::{Hub, Live};

#[derive(Clone)]
pub(crate) struct SharedStore {
    store: Arc<Mutex<SqliteStore>>,
    hub: Hub,
}

impl SharedStore {
    pub(crate) fn new(store: SqliteStore, hub: Hub) -> Self {
        Self {
            store: Arc::new(Mutex::new(store)),
            hub,
        }
    }

    /// The connection itself, for the writes a [`RunStore`] does not have.
    pub(crate) fn lock(&self) -> MutexGuard<'_, SqliteStore> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RunStore for SharedStore {
    fn save_flow(&mut self, flow: &FlowRecord) -> Result<(), StoreError> {
        self.lock().save_flow(flow)
    }
    fn flow(&self, hash: &str) -> Result<Option<FlowRecord>, StoreError> {
        self.lock().flow(hash)
    }
    fn create_run(&mut self, run: &NewRun<'_>, owner: &Owner) -> Result<RunId, StoreError> {
        self.lock().create_run(run, owner)
    }
    fn commit(&mut self, run: RunId, owner: &Owner, commit: &Commit<'_>) -> Result<(), StoreError> {
        self.lock().commit(run, owner, commit)?;
        for event in commit.events {
            self.hub.publish(run, Live::Event(Arc::new(event.clone())));
        }
        Ok(())
    }
    fn wants_snapshot(&self, run: RunId) -> bool {
        self.lock().wants_snapshot(run)
    }
    fn claim(&mut self, run: RunId, owner: &Owner) -> Result<LoadedRun, StoreError> {
        self.lock().claim(run, owner)
    }
    fn set_status(
        &mut self,
        run: RunId,
        owner: &Owner,
        status: RunStatus,
    ) -> Result<(), StoreError> {
        self.lock().set_status(run, owner, status)
    }
    fn renew_lease(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError> {
        self.lock().renew_lease(run, owner)
    }
    fn release(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError> {
        self.lock().release(run, owner)
    }
    fn run(&self, run: RunId) -> Result<Option<RunRecord>, StoreError> {
        self.lock().run(run)
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
