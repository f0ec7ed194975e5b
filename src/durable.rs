//! Durable runs: the engine's steps, each committed to a [`RunStore`] before the next one
//! starts. What one commit holds: the step's log records (the keys it changed among them),
//! the run's new checkpoint and status, and now and then a snapshot of the whole state.
//!
//! What a crash costs: nothing committed is lost. A step that was running is run again when
//! the run is resumed (at least once), except a `once` node's: its start is committed before
//! its action runs, and a run found inside one is left `needs-attention`. A retry's backoff
//! and a `wait` are committed as such, so a resumed run goes on waiting for what is left.

use std::time::{Instant, SystemTime};

use serde_json::{Map, Value};

use crate::cancel::CancelToken;
use crate::runtime::{
    Checkpoint, Event, EventSink, Interpreter, Progress, ResumeError, Run, RunOutcome, RunStatus,
    RuntimeError, StoredRecord, WaitRequest, sleep_until,
};
use crate::store::{
    Commit, FlowRecord, LoadedRun, NewRun, Owner, RunId, RunStatus as StoredStatus, RunStore,
    StoreError, StoredEvent,
};

/// How a durable drive stopped.
#[derive(Debug)]
pub enum Stopped {
    Finished(RunOutcome),
    /// The run failed or was cancelled (stored as such).
    Failed(Box<RuntimeError>),
    /// At a `wait` node: resume the run with its input.
    Waiting(WaitRequest),
}

/// Why a durable run could not start, go on or be stored.
#[derive(Debug, thiserror::Error)]
pub enum DurableError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The initial state does not fit the schema: nothing was stored.
    #[error(transparent)]
    Input(Box<RuntimeError>),
    #[error(transparent)]
    Resume(#[from] ResumeError),
    #[error("run {run}'s checkpoint cannot be read: {error}")]
    Checkpoint {
        run: RunId,
        error: serde_json::Error,
    },
}

/// Stores the flow (once per content hash) and a new run of it from `input`.
pub fn start(
    interpreter: &Interpreter,
    store: &mut dyn RunStore,
    owner: &Owner,
    flow: &FlowRecord,
    input: &Map<String, Value>,
) -> Result<(RunId, Run), DurableError> {
    let run = interpreter
        .start(input.clone())
        .map_err(|error| DurableError::Input(Box::new(error)))?;
    store.save_flow(flow)?;
    let id = store.create_run(
        &NewRun {
            flow_hash: &interpreter.program().hash,
            input,
            state: &run.state_json(),
            checkpoint: &checkpoint_json(run.checkpoint()),
            started_at: SystemTime::now(),
            status: StoredStatus::Running,
            idempotency: None,
        },
        owner,
    )?;
    let mut run = run;
    run.set_id(id.to_string());
    Ok((id, run))
}

/// Takes a stored run (interrupted, or waiting) for `owner` and makes it ready to drive;
/// `input` goes to a waiting run's `wait` node. A run found inside a `once` node is marked
/// `needs-attention` and refused.
pub fn resume(
    interpreter: &Interpreter,
    store: &mut dyn RunStore,
    owner: &Owner,
    id: RunId,
    input: Option<Map<String, Value>>,
) -> Result<Run, DurableError> {
    let loaded: LoadedRun = store.claim(id, owner)?;
    let refuse = |store: &mut dyn RunStore, status: StoredStatus, error: DurableError| {
        // The claim is given back, so the run stays as it was for a later attempt.
        match store
            .set_status(id, owner, status)
            .and_then(|()| store.release(id, owner))
        {
            Ok(()) => error,
            Err(store_error) => DurableError::Store(store_error),
        }
    };
    let checkpoint: Checkpoint = match serde_json::from_str(&loaded.checkpoint) {
        Ok(checkpoint) => checkpoint,
        Err(error) => {
            let back = StoredStatus::Interrupted;
            return Err(refuse(
                store,
                back,
                DurableError::Checkpoint { run: id, error },
            ));
        }
    };
    // What the run goes back to when it is refused: as it was before the claim.
    let back = if checkpoint
        .begun
        .as_ref()
        .is_some_and(|b| b.waiting.is_some())
    {
        StoredStatus::Waiting
    } else {
        StoredStatus::Interrupted
    };
    let mut run = match interpreter.resume(checkpoint, loaded.state) {
        Ok(run) => run,
        Err(error @ ResumeError::OnceInterrupted { .. }) => {
            return Err(refuse(store, StoredStatus::NeedsAttention, error.into()));
        }
        Err(error) => return Err(refuse(store, back, error.into())),
    };
    run.set_id(id.to_string());
    if let Some(input) = input
        && let Err(error) = interpreter.provide_input(&mut run, input)
    {
        return Err(refuse(store, back, error.into()));
    }
    Ok(run)
}

/// Cancels a run that nobody steps (queued, waiting, interrupted or needs-attention) in the
/// store, and answers the status it ends with: `cancelled`, or the final status a finished
/// run already had (cancelling is idempotent). A run another live process steps is refused
/// ([`StoreError::OwnedByLiveProcess`]): that process must stop it.
pub fn cancel(
    store: &mut dyn RunStore,
    owner: &Owner,
    id: RunId,
) -> Result<StoredStatus, DurableError> {
    match store.cancel_idle(id, owner) {
        Ok(()) => Ok(StoredStatus::Cancelled),
        Err(StoreError::NeedsAttention { .. }) => {
            settle(store, owner, id, Settle::Cancel)?;
            Ok(StoredStatus::Cancelled)
        }
        Err(StoreError::Finished { status, .. }) => Ok(status),
        Err(error) => Err(error.into()),
    }
}

/// What a person decided for a `needs-attention` run, having checked whether its `once`
/// node's action happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settle {
    /// It did not: the run is `interrupted` again, and resuming it runs the node again.
    Rerun,
    /// The run stops here, `cancelled`.
    Cancel,
}

/// Takes `id` out of `needs-attention` as `decision` says: the one way out of that status.
pub fn settle(
    store: &mut dyn RunStore,
    owner: &Owner,
    id: RunId,
    decision: Settle,
) -> Result<(), DurableError> {
    let loaded = store.claim_attention(id, owner)?;
    match decision {
        Settle::Cancel => store.set_status(id, owner, StoredStatus::Cancelled)?,
        Settle::Rerun => {
            let mut checkpoint: Checkpoint = match serde_json::from_str(&loaded.checkpoint) {
                Ok(checkpoint) => checkpoint,
                Err(error) => {
                    store.set_status(id, owner, StoredStatus::NeedsAttention)?;
                    store.release(id, owner)?;
                    return Err(DurableError::Checkpoint { run: id, error });
                }
            };
            if let Some(begun) = checkpoint.begun.as_mut() {
                begun.once_started = false;
            }
            // Released while `running`, the run reads as interrupted: resumable.
            store.commit(
                id,
                owner,
                &Commit {
                    events: &[],
                    checkpoint: &checkpoint_json(&checkpoint),
                    steps: loaded.record.steps,
                    status: StoredStatus::Running,
                    snapshot: None,
                    error: None,
                },
            )?;
        }
    }
    store.release(id, owner)?;
    Ok(())
}

/// Steps `run` to its end (or to a `wait`), committing each step to `store` before the next
/// one starts; every record also goes to `events` as it happens.
pub fn drive(
    interpreter: &Interpreter,
    store: &mut dyn RunStore,
    owner: &Owner,
    id: RunId,
    run: Run,
    events: &mut dyn EventSink,
    cancel: &CancelToken,
) -> Result<Stopped, DurableError> {
    match drive_until(interpreter, store, owner, id, run, events, cancel, None)? {
        Ok(stopped) => Ok(stopped),
        Err(_) => unreachable!("a drive without a deadline only ends stopped"),
    }
}

/// [`drive`], but only until `deadline`: a run that is still going then (its last step
/// committed, as always) is handed back, `Err`, for someone else to drive on.
#[allow(clippy::too_many_arguments)]
pub fn drive_until(
    interpreter: &Interpreter,
    store: &mut dyn RunStore,
    owner: &Owner,
    id: RunId,
    mut run: Run,
    events: &mut dyn EventSink,
    cancel: &CancelToken,
    deadline: Option<Instant>,
) -> Result<Result<Stopped, Box<Run>>, DurableError> {
    let mut sink = Collect {
        records: Vec::new(),
        user: events,
    };
    loop {
        sink.records.clear();
        let progress = interpreter.step(&mut run, &mut sink, cancel);
        let status = match &progress {
            Progress::Continued | Progress::Sleeping { .. } => StoredStatus::Running,
            Progress::Waiting(_) => StoredStatus::Waiting,
            Progress::Finished | Progress::Ended(RunStatus::Ok) => StoredStatus::Completed,
            Progress::Failed(error) if matches!(**error, RuntimeError::Cancelled { .. }) => {
                StoredStatus::Cancelled
            }
            Progress::Ended(RunStatus::Cancelled) => StoredStatus::Cancelled,
            Progress::Failed(_) | Progress::Ended(RunStatus::Failed) => StoredStatus::Failed,
        };
        let error = match &progress {
            Progress::Failed(error) => Some(error_json(error)),
            _ => None,
        };
        let checkpoint = checkpoint_json(run.sync_checkpoint());
        let last = status != StoredStatus::Running;
        let snapshot = (last || store.wants_snapshot(id)).then(|| run.state_json());
        store.commit(
            id,
            owner,
            &Commit {
                events: &sink.records,
                checkpoint: &checkpoint,
                steps: run.steps(),
                status,
                snapshot: snapshot.as_ref(),
                error: error.as_deref(),
            },
        )?;
        // Handed back when the run would go on (or wake from a backoff) only after the
        // deadline.
        if let Some(deadline) = deadline
            && goes_on_after(&progress, deadline)
        {
            // A backoff is in the checkpoint: whoever drives on sleeps what is left of it.
            return Ok(Err(Box::new(run)));
        }
        match progress {
            Progress::Continued => {}
            Progress::Sleeping { until } => sleep_until(until, cancel),
            Progress::Waiting(request) => return Ok(Ok(Stopped::Waiting(request))),
            Progress::Finished | Progress::Ended(RunStatus::Ok) => {
                return Ok(Ok(Stopped::Finished(run.into_outcome())));
            }
            Progress::Failed(error) => return Ok(Ok(Stopped::Failed(error))),
            Progress::Ended(status) => {
                unreachable!("a durable run is not driven after it ended ({status:?})")
            }
        }
    }
}

/// Whether a run that made `progress` takes its next step (now, or at the end of a
/// backoff) only at or after `deadline`; `false` for a run that stopped.
fn goes_on_after(progress: &Progress, deadline: Instant) -> bool {
    let next = match progress {
        Progress::Continued => Some(Instant::now()),
        // A backoff too long for an `Instant` ends after any deadline.
        Progress::Sleeping { until } => {
            Instant::now().checked_add(until.duration_since(SystemTime::now()).unwrap_or_default())
        }
        _ => return false,
    };
    next.is_none_or(|next| next >= deadline)
}

/// The run's error as the store keeps it: its code, message and node.
fn error_json(error: &RuntimeError) -> String {
    serde_json::json!({
        "code": error.short_code(),
        "message": error.to_string(),
        "node": error.node(),
    })
    .to_string()
}

fn checkpoint_json(checkpoint: &Checkpoint) -> String {
    serde_json::to_string(checkpoint).expect("a checkpoint serializes")
}

/// Passes each record on, and keeps the stored form of those a store keeps.
struct Collect<'a> {
    records: Vec<StoredEvent>,
    user: &'a mut dyn EventSink,
}

impl EventSink for Collect<'_> {
    fn event(&mut self, event: &Event) {
        if self.user.enabled() {
            self.user.event(event);
        }
        if let Some(record) = StoredRecord::encode(event) {
            self.records.push(StoredEvent {
                seq: record.seq,
                kind: record.kind.to_owned(),
                record: record.record,
                changes: record.changes,
            });
        }
    }
}
