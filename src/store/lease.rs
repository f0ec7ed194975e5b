//! The lease keeper: a thread with its own connection that renews a run's lease while a long
//! step commits nothing, so that the run does not read as interrupted meanwhile.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{LEASE_RENEW_EVERY, Owner, RunId, RunStore, SqliteStore, StoreError};

/// Renews one run's lease every [`LEASE_RENEW_EVERY`] until dropped (a drop stops it at once
/// and waits for the thread).
pub struct LeaseKeeper {
    stop: Option<Sender<()>>,
    lost: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LeaseKeeper {
    /// Whether a renewal found the run taken by another owner (or gone); the keeper then
    /// stops renewing, and the run's next commit fails with [`StoreError::LeaseLost`].
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }
}

impl SqliteStore {
    /// Starts renewing `run`'s lease for `owner` on a connection of its own to `path`.
    pub fn keep_lease(
        path: impl AsRef<Path>,
        run: RunId,
        owner: &Owner,
    ) -> Result<LeaseKeeper, StoreError> {
        Self::keep_lease_every(path.as_ref(), run, owner, LEASE_RENEW_EVERY)
    }

    /// [`SqliteStore::keep_lease`], renewing every `every`.
    pub(super) fn keep_lease_every(
        path: &Path,
        run: RunId,
        owner: &Owner,
        every: Duration,
    ) -> Result<LeaseKeeper, StoreError> {
        if path == Path::new(":memory:") {
            return Err(StoreError::InMemory);
        }
        let mut store = SqliteStore::open(path)?;
        let owner = owner.clone();
        let (stop, stopped) = mpsc::channel::<()>();
        let lost = Arc::new(AtomicBool::new(false));
        let lost_in_thread = Arc::clone(&lost);
        let thread = std::thread::Builder::new()
            .name(format!("flowc-lease-{run}"))
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    // Any other failure (a busy or failing disk): the next renewal tries
                    // again, and the lease has two renewals of slack.
                    if let Err(StoreError::LeaseLost { .. } | StoreError::NotFound { .. }) =
                        store.renew_lease(run, &owner)
                    {
                        lost_in_thread.store(true, Ordering::Release);
                        return;
                    }
                }
            })
            .map_err(|cause| StoreError::LeaseThread { cause })?;
        Ok(LeaseKeeper {
            stop: Some(stop),
            lost,
            thread: Some(thread),
        })
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread's wait at once.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A renewal that panicked has nothing to report here.
            let _ = thread.join();
        }
    }
}
