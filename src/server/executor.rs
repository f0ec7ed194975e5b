//! Runs on a bounded pool of threads: `--max-concurrent-runs` workers take jobs in the order
//! they came, so runs beyond that wait `queued`. Each job drives one run through the shared
//! store under an owner of its own (a fresh nonce), so the store itself refuses to let two
//! jobs drive one run. A lease thread renews the leases of the runs being driven.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::cancel::CancelToken;
use crate::durable::{self, Stopped};
use crate::runtime::{NoEvents, Run};
use crate::store::{LEASE_RENEW_EVERY, Owner, RunId, RunStatus, RunStore, StoreError};

use super::error::ApiError;
use super::hub::Live;
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
    /// A run already claimed and made ready (resumed, its input given).
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

#[derive(Default)]
pub(crate) struct Executor {
    queue: Mutex<VecDeque<Job>>,
    ready: Condvar,
    held: Mutex<HashMap<RunId, Held>>,
    stopping: AtomicBool,
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
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.push_back(job);
        self.ready.notify_one();
        Ok(())
    }

    /// Cancels the run a job holds; `false` when no job holds it.
    pub(crate) fn cancel(&self, run: RunId) -> bool {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(&run).map(|held| held.cancel.cancel()).is_some()
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
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
    }

    /// The next job, and when it starts: the time is read while the queue is held, so the
    /// start times of queued runs are in queue order, whichever worker is scheduled first.
    fn next(&self) -> Option<(Job, SystemTime)> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.is_stopping() {
                return None;
            }
            if let Some(job) = queue.pop_front() {
                return Some((job, SystemTime::now()));
            }
            queue = self
                .ready
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn token(&self, run: RunId) -> CancelToken {
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

/// Starts the workers and the lease thread.
pub(crate) fn start(app: &App, workers: usize) -> std::io::Result<()> {
    for index in 0..workers.max(1) {
        let app = Arc::clone(app);
        std::thread::Builder::new()
            .name(format!("flowc-run-{index}"))
            .spawn(move || {
                while let Some((job, started_at)) = app.executor.next() {
                    work(&app, job, started_at);
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
    let ready = match begin {
        Begin::Ready(run) => Ok(Some(*run)),
        Begin::Queued => claim_queued(app, id, &hash, limits, &owner, started_at),
    };
    let driven = ready.and_then(|run| match run {
        Some(run) => drive(app, id, &hash, &owner, run, &cancel),
        None => Ok(()),
    });
    if let Err(error) = driven {
        report(id, &error);
    }
    app.executor.unreserve(id);
    if let Ok(Some(record)) = app.store.run(id)
        && record.status != RunStatus::Running
    {
        app.hub.publish(id, Live::Stopped);
    }
}

/// Takes a queued run and starts it from its input, its start (`run_started`) at
/// `started_at`; `None` when it was cancelled meanwhile.
fn claim_queued(
    app: &AppState,
    id: RunId,
    hash: &str,
    limits: RunLimits,
    owner: &Owner,
    started_at: SystemTime,
) -> Result<Option<Run>, ApiError> {
    let mut store = app.store.clone();
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

fn drive(
    app: &AppState,
    id: RunId,
    hash: &str,
    owner: &Owner,
    run: Run,
    cancel: &CancelToken,
) -> Result<(), ApiError> {
    let graph = app.graph(hash)?;
    let mut store = app.store.clone();
    // How it stopped is in the store, for whoever asks.
    durable::drive(
        &graph.interpreter,
        &mut store,
        owner,
        id,
        run,
        &mut NoEvents,
        cancel,
    )
    .map(|_: Stopped| ())
    .map_err(|error| ApiError::durable(error, |_| Value::Null))
}

#[allow(clippy::print_stderr)]
fn report(run: RunId, error: &ApiError) {
    // Not the run's own failure (that is stored with the run): the server's, for its log.
    eprintln!("flowc serve: run {run}: {error}");
}
