//! Runs on a bounded pool: at most `--max-concurrent-runs` runs are driven at once, each in
//! a [`Slot`]. Workers take queued jobs in the order they came, a slot each, so runs beyond
//! the bound wait `queued`. A request that waits for its new run drives it on its own
//! (blocking) thread instead when a slot is free and nobody is queued, so it is not handed
//! to a worker and back ([`Executor::free_slot`]); either way no queued run is overtaken.
//! Each run is driven through the shared store under an owner of its own (a fresh nonce),
//! so the store itself refuses to let two drivers take one run. A lease thread renews the
//! leases of the runs being driven.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::cancel::CancelToken;
use crate::durable::{self, Stopped};
use crate::runtime::{NoEvents, Run};
use crate::store::{LEASE_RENEW_EVERY, Owner, RunId, RunStatus, RunStore, StoreError};

use super::error::ApiError;
use super::hub::Live;
use super::shared_store::SharedStore;
use super::state::{App, AppState};

/// The limits one run asked for, capped by the server's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunLimits {
    pub(crate) max_steps: u64,
    pub(crate) timeout: Option<std::time::Duration>,
}

/// How a job's run begins.
pub(crate) enum Begin {
    /// A queued run, from its input: the worker claims it.
    Queued,
    /// A run already claimed and made ready (resumed, its input given), or handed on by
    /// the request that drove it until its wait ran out.
    Ready(Box<Run>),
}

pub(crate) struct Job {
    pub(crate) run: RunId,
    pub(crate) hash: String,
    pub(crate) begin: Begin,
    pub(crate) limits: RunLimits,
    pub(crate) owner: Owner,
}

/// A run a job holds: how to cancel it, and who owns it in the store.
struct Held {
    cancel: CancelToken,
    owner: Owner,
}

/// The jobs waiting, and how many runs are being driven.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    driving: usize,
    /// The most runs driven at once (0 until the workers start).
    slots: usize,
}

/// One of the runs being driven: its place is given back when this is dropped.
pub(crate) struct Slot<'a> {
    executor: &'a Executor,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut queue = self.executor.queue();
        queue.driving = queue.driving.saturating_sub(1);
        // Only a queued job needs the slot: an idle worker woken for nothing costs two
        // context switches a run.
        if !queue.jobs.is_empty() {
            self.executor.ready.notify_one();
        }
    }
}

#[derive(Default)]
pub(crate) struct Executor {
    queue: Mutex<Queue>,
    /// Signalled when a job comes or a slot is given back.
    ready: Condvar,
    held: Mutex<HashMap<RunId, Held>>,
    stopping: AtomicBool,
    /// Set once a stop has given every held run back; `stopped` tells the requests that
    /// wait on a blocking thread.
    let_go: AtomicBool,
    stopped: tokio::sync::Notify,
    nonce: AtomicU64,
}

impl Executor {
    /// A new owner for one run of this process.
    pub(crate) fn owner(&self) -> Owner {
        let base = Owner::this_process();
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let count = self.nonce.fetch_add(1, Ordering::Relaxed);
        Owner::new(base.host(), base.pid(), started.rotate_left(20) ^ count)
    }

    /// Takes `run` for a job of this server: `false` when a job already holds it.
    pub(crate) fn reserve(&self, run: RunId, owner: &Owner) -> bool {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.contains_key(&run) {
            return false;
        }
        held.insert(
            run,
            Held {
                cancel: CancelToken::new(),
                owner: owner.clone(),
            },
        );
        true
    }

    /// [`Self::reserve`], waiting up to `patience` for a job that is ending (its run already
    /// stored as waiting or stopped) to let the run go.
    pub(crate) fn reserve_within(&self, run: RunId, owner: &Owner, patience: Duration) -> bool {
        let until = Instant::now() + patience;
        loop {
            if self.reserve(run, owner) {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Gives up a reservation whose job was never submitted.
    pub(crate) fn unreserve(&self, run: RunId) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.remove(&run);
    }

    /// Queues a reserved run's job.
    pub(crate) fn submit(&self, job: Job) -> Result<(), ApiError> {
        if self.stopping.load(Ordering::Acquire) {
            self.unreserve(job.run);
            return Err(ApiError::ShuttingDown);
        }
        self.queue().jobs.push_back(job);
        self.ready.notify_one();
        Ok(())
    }

    /// A slot to drive a new run in at once, on the caller's thread: `None` when every slot
    /// is taken or runs are queued (they come first).
    pub(crate) fn free_slot(&self) -> Option<Slot<'_>> {
        let mut queue = self.queue();
        if self.is_stopping() || !queue.jobs.is_empty() || queue.driving >= queue.slots {
            return None;
        }
        queue.driving += 1;
        Some(Slot { executor: self })
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Cancels the run a job holds; `false` when no job holds it.
    pub(crate) fn cancel(&self, run: RunId) -> bool {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(&run).map(|held| held.cancel.cancel()).is_some()
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Resolves once the executor has stopped and given its runs back (at once if it has).
    pub(crate) async fn stopped(&self) {
        let notified = self.stopped.notified();
        tokio::pin!(notified);
        // Listening before looking: a stop between the two still wakes this.
        notified.as_mut().enable();
        if !self.let_go.load(Ordering::Acquire) {
            notified.await;
        }
    }

    /// Stops taking jobs and gives every held run back to the store, where it reads as
    /// interrupted (a job still stepping finds its lease lost at its next commit).
    pub(crate) fn stop(&self, app: &AppState) {
        self.stopping.store(true, Ordering::Release);
        self.ready.notify_all();
        let held: Vec<(RunId, Owner)> = {
            let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            held.iter()
                .map(|(run, held)| (*run, held.owner.clone()))
                .collect()
        };
        let mut store = app.store.clone();
        for (run, owner) in held {
            // A queued run has no owner to release: it stays queued for the next start.
            let _ = store.release(run, &owner);
            app.hub.publish(run, Live::Stopped);
        }
        self.let_go.store(true, Ordering::Release);
        self.stopped.notify_waiters();
    }

    /// The next job once a slot is free, and when it starts: the time is read while the
    /// queue is held, so the start times of queued runs are in queue order, whichever worker
    /// is scheduled first.
    fn next(&self) -> Option<(Job, SystemTime, Slot<'_>)> {
        let mut queue = self.queue();
        loop {
            if self.is_stopping() {
                return None;
            }
            if queue.driving < queue.slots
                && let Some(job) = queue.jobs.pop_front()
            {
                queue.driving += 1;
                return Some((job, SystemTime::now(), Slot { executor: self }));
            }
            queue = self
                .ready
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    pub(crate) fn token(&self, run: RunId) -> CancelToken {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(&run)
            .map_or_else(CancelToken::new, |held| held.cancel.clone())
    }

    fn owners(&self) -> Vec<(RunId, Owner)> {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.iter()
            .map(|(run, held)| (*run, held.owner.clone()))
            .collect()
    }
}

/// Starts the workers (one a slot) and the lease thread.
pub(crate) fn start(app: &App, slots: usize) -> std::io::Result<()> {
    let slots = slots.max(1);
    app.executor.queue().slots = slots;
    for index in 0..slots {
        let app = Arc::clone(app);
        std::thread::Builder::new()
            .name(format!("flowc-run-{index}"))
            .spawn(move || {
                while let Some((job, started_at, slot)) = app.executor.next() {
                    work(&app, job, started_at);
                    drop(slot);
                }
            })?;
    }
    let app = Arc::clone(app);
    std::thread::Builder::new()
        .name("flowc-leases".into())
        .spawn(move || {
            while !app.executor.is_stopping() {
                std::thread::sleep(LEASE_RENEW_EVERY);
                let mut store = app.store.clone();
                for (run, owner) in app.executor.owners() {
                    // A queued run is nobody's yet, and a lost lease is the job's to find.
                    let _ = store.renew_lease(run, &owner);
                }
            }
        })?;
    Ok(())
}

/// Drives one job's run (a queued one started at `started_at`), then tells its subscribers
/// and its waiter how it stopped.
fn work(app: &AppState, job: Job, started_at: SystemTime) {
    let Job {
        run: id,
        hash,
        begin,
        limits,
        owner,
    } = job;
    let cancel = app.executor.token(id);
    let mut store = app.store.clone();
    let ready = match begin {
        Begin::Ready(run) => Ok(Some(*run)),
        Begin::Queued => claim_queued(app, &mut store, id, &hash, limits, &owner, started_at),
    };
    let driven = ready.and_then(|run| match run {
        Some(run) => drive(app, &mut store, id, &hash, &owner, run, &cancel, None).map(drop),
        None => Ok(()),
    });
    if let Err(error) = &driven {
        report(id, error);
    }
    let_go(app, id, driven.is_ok());
}

/// Ends a driver's hold on `id`, and tells its subscribers and waiters when it stopped:
/// `stopped` when its drive ended with it stopped in the store, else the store is asked.
pub(crate) fn let_go(app: &AppState, id: RunId, stopped: bool) {
    app.executor.unreserve(id);
    let stopped = stopped
        || app
            .read(|store| store.run(id))
            .is_ok_and(|record| record.is_some_and(|record| record.status != RunStatus::Running));
    if stopped {
        app.hub.publish(id, Live::Stopped);
    }
}

/// Takes a queued run and starts it from its input, its start (`run_started`) at
/// `started_at`; `None` when it was cancelled meanwhile.
fn claim_queued(
    app: &AppState,
    store: &mut SharedStore,
    id: RunId,
    hash: &str,
    limits: RunLimits,
    owner: &Owner,
    started_at: SystemTime,
) -> Result<Option<Run>, ApiError> {
    let loaded = match store.claim(id, owner) {
        Ok(loaded) => loaded,
        Err(StoreError::Finished { .. }) => return Ok(None),
        Err(error) => return Err(ApiError::from_store(error)),
    };
    let graph = app.graph(hash)?;
    match graph.interpreter.start(loaded.input) {
        Ok(mut run) => {
            run.set_id(id.to_string());
            run.set_started_at(started_at);
            run.set_max_steps(limits.max_steps);
            run.set_timeout(limits.timeout);
            Ok(Some(run))
        }
        Err(error) => {
            // Checked when it was queued: only another flowc's store gets here.
            store.set_status(id, owner, RunStatus::Failed)?;
            Err(ApiError::Internal {
                reason: error.to_string(),
            })
        }
    }
}

/// Drives `run` through `store` until it stops (how is in the store, for whoever asks), or
/// until `deadline`: then it is handed back, still going, `Some`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn drive(
    app: &AppState,
    store: &mut SharedStore,
    id: RunId,
    hash: &str,
    owner: &Owner,
    run: Run,
    cancel: &CancelToken,
    deadline: Option<Instant>,
) -> Result<Option<Box<Run>>, ApiError> {
    let graph = app.graph(hash)?;
    durable::drive_until(
        &graph.interpreter,
        store,
        owner,
        id,
        run,
        &mut NoEvents,
        cancel,
        deadline,
    )
    .map(|driven: Result<Stopped, Box<Run>>| driven.err())
    .map_err(|error| ApiError::durable(error, |_| Value::Null))
}

#[allow(clippy::print_stderr)]
pub(crate) fn report(run: RunId, error: &ApiError) {
    // Not the run's own failure (that is stored with the run): the server's, for its log.
    eprintln!("flowc serve: run {run}: {error}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executor(slots: usize) -> Executor {
        let executor = Executor::default();
        executor.queue().slots = slots;
        executor
    }

    fn job(run: RunId) -> Job {
        Job {
            run,
            hash: "h1".into(),
            begin: Begin::Queued,
            limits: RunLimits {
                max_steps: 10,
                timeout: None,
            },
            owner: Owner::new("here", 1, 0),
        }
    }

    #[test]
    fn a_run_driven_by_its_request_takes_a_slot_of_the_bound() {
        let executor = executor(2);
        let first = executor.free_slot().expect("a free slot");
        let second = executor.free_slot().expect("another free slot");
        assert!(executor.free_slot().is_none(), "both slots are taken");
        drop(first);
        let third = executor.free_slot().expect("the slot given back");
        drop((second, third));
        assert_eq!(executor.queue().driving, 0);
    }

    #[test]
    fn a_request_does_not_overtake_a_queued_run() {
        let executor = executor(1);
        let held = executor.free_slot().unwrap();
        executor.submit(job(7)).unwrap();
        drop(held);
        // A slot is free, but run 7 came first: it is the worker's to take.
        assert!(executor.free_slot().is_none());
        let (next, _, slot) = executor.next().unwrap();
        assert_eq!(next.run, 7);
        assert!(
            executor.free_slot().is_none(),
            "the worker holds the one slot"
        );
        drop(slot);
        assert!(executor.free_slot().is_some());
    }

    #[test]
    fn a_stopping_executor_gives_no_slot() {
        let executor = executor(1);
        executor.stopping.store(true, Ordering::Release);
        assert!(executor.free_slot().is_none());
        assert!(executor.next().is_none());
    }
}
