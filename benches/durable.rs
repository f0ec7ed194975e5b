//! Durable-run throughput and resume latency: the counter flow of `benches/run.rs` driven
//! through `durable::start` + `durable::drive` on a real SQLite file in a tempdir (one
//! transaction per step), reported as checkpointed steps per second (criterion's
//! elements/s); the same with an untouched 10,000-object `payload` in the state; and the
//! time from `durable::resume` to the end of the first new step of a run stopped after
//! 1,000,000 stored steps. `cargo bench --bench durable`.
//!
//! The big run is made once (about a minute): it is driven through a store that stops
//! committing after [`BIG_RUN_STEPS`] steps, as a process killed there would, so the run is
//! left `running` with nothing after its last committed step. The file and WAL sizes of
//! that store are printed after a checkpoint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use flowc::CancelToken;
use flowc::durable::{self, Stopped};
use flowc::runtime::{Interpreter, NoEvents, Progress};
use flowc::store::{
    Commit, FlowRecord, LoadedRun, NewRun, Owner, RunFilter, RunId, RunRecord, RunStatus, RunStore,
    SqliteStore, StoreError, StoredEvent,
};
use serde_json::{Map, Value};

mod counter;
use counter::{COUNTER, input, interpreter};

/// Steps per measured iteration.
const STEPS: u64 = 20_000;
/// The stored run whose resume is timed.
const BIG_RUN_STEPS: u64 = 1_000_000;

fn flow_record(interpreter: &Interpreter) -> FlowRecord {
    FlowRecord {
        hash: interpreter.program().hash.clone(),
        name: interpreter.program().name.clone(),
        source: COUNTER.to_owned(),
        path: None,
    }
}

/// One durable run of the counter flow to its end; its step count.
fn durable_run(
    interpreter: &Interpreter,
    store: &mut dyn RunStore,
    owner: &Owner,
    flow: &FlowRecord,
    input: &Map<String, Value>,
) -> u64 {
    let cancel = CancelToken::new();
    let (id, run) = durable::start(interpreter, store, owner, flow, input).unwrap();
    match durable::drive(interpreter, store, owner, id, run, &mut NoEvents, &cancel).unwrap() {
        Stopped::Finished(outcome) => outcome.steps,
        other => panic!("the counter run did not finish: {other:?}"),
    }
}

fn bench_durable(c: &mut Criterion) {
    let interpreter = interpreter(COUNTER);
    let flow = flow_record(&interpreter);
    let owner = Owner::this_process();
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open(dir.path().join("runs.db")).unwrap();

    let mut group = c.benchmark_group("durable counter");
    group.throughput(Throughput::Elements(STEPS));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));

    let plain = input(STEPS, false);
    assert_eq!(
        durable_run(&interpreter, &mut store, &owner, &flow, &plain),
        STEPS
    );
    group.bench_function("sqlite file", |b| {
        b.iter(|| black_box(durable_run(&interpreter, &mut store, &owner, &flow, &plain)));
    });

    // The payload is stored once per run (the input, the first snapshot and the final one);
    // per step nothing of it is written.
    let with_payload = input(STEPS, true);
    group.bench_function("sqlite file, 10k-object payload", |b| {
        b.iter_batched(
            || with_payload.clone(),
            |input| black_box(durable_run(&interpreter, &mut store, &owner, &flow, &input)),
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

/// The stored big run, made on first use (so that a filter that skips the resume bench
/// skips its setup too).
struct BigRun {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    id: RunId,
}

fn bench_resume(c: &mut Criterion) {
    let interpreter = interpreter(COUNTER);
    let flow = flow_record(&interpreter);
    let owner = Owner::this_process();
    let cancel = CancelToken::new();
    let mut big: Option<BigRun> = None;
    let mut group = c.benchmark_group("durable resume");
    group.sample_size(20);
    group.bench_function("1M-step run: resume + first step", |b| {
        let BigRun { store, id, .. } = big.get_or_insert_with(|| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("big.db");
            let id = stored_big_run(&interpreter, &flow, &owner, &path);
            report_size(&path);
            let store = SqliteStore::open(&path).unwrap();
            BigRun {
                _dir: dir,
                store,
                id,
            }
        });
        let id = *id;
        b.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            for _ in 0..iterations {
                let started = Instant::now();
                let mut run = durable::resume(&interpreter, store, &owner, id, None).unwrap();
                let progress = interpreter.step(&mut run, &mut NoEvents, &cancel);
                timed += started.elapsed();
                assert!(matches!(progress, Progress::Continued));
                // Given back uncommitted (untimed), so every iteration resumes the same run.
                store.release(id, &owner).unwrap();
                drop(black_box(run));
            }
            timed
        });
    });
    group.finish();
}

/// A counter run with [`BIG_RUN_STEPS`] committed steps, left `running` as after a crash.
fn stored_big_run(
    interpreter: &Interpreter,
    flow: &FlowRecord,
    owner: &Owner,
    path: &Path,
) -> RunId {
    let mut store = StopAfter {
        inner: SqliteStore::open(path).unwrap(),
        commits_left: BIG_RUN_STEPS,
    };
    let cancel = CancelToken::new();
    let started = Instant::now();
    let (id, run) = durable::start(
        interpreter,
        &mut store,
        owner,
        flow,
        &input(u64::MAX >> 1, false),
    )
    .unwrap();
    let stopped = durable::drive(
        interpreter,
        &mut store,
        owner,
        id,
        run,
        &mut NoEvents,
        &cancel,
    );
    assert!(
        matches!(
            stopped,
            Err(durable::DurableError::Store(StoreError::LeaseLost { .. }))
        ),
        "the big run stops at its last commit: {stopped:?}"
    );
    let elapsed = started.elapsed();
    eprintln!(
        "stored a run of {BIG_RUN_STEPS} steps in {:.1} s ({:.0} steps/s)",
        elapsed.as_secs_f64(),
        f64::from(u32::try_from(BIG_RUN_STEPS).unwrap()) / elapsed.as_secs_f64()
    );
    let mut store = store.inner;
    store.release(id, owner).unwrap();
    assert_eq!(store.run(id).unwrap().unwrap().steps, BIG_RUN_STEPS);
    id
}

/// Prints the store's file and WAL sizes after a checkpoint (as a later writer leaves them).
fn report_size(path: &Path) {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(connection);
    let size = |path: &Path| std::fs::metadata(path).map_or(0, |meta| meta.len());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let (file, wal) = (size(path), size(Path::new(&wal)));
    eprintln!(
        "store of a {BIG_RUN_STEPS}-step run: {:.1} MB file + {:.1} MB WAL",
        mb(file),
        mb(wal)
    );
}

fn mb(bytes: u64) -> f64 {
    f64::from(u32::try_from(bytes / 1000).unwrap_or(u32::MAX)) / 1000.0
}

/// A store that commits the first `commits_left` commits and then refuses every one, as if
/// the process had died there (the run stays `running`, its last step unstored).
struct StopAfter {
    inner: SqliteStore,
    commits_left: u64,
}

impl RunStore for StopAfter {
    fn save_flow(&mut self, flow: &FlowRecord) -> Result<(), StoreError> {
        self.inner.save_flow(flow)
    }
    fn flow(&self, hash: &str) -> Result<Option<FlowRecord>, StoreError> {
        self.inner.flow(hash)
    }
    fn create_run(&mut self, run: &NewRun<'_>, owner: &Owner) -> Result<RunId, StoreError> {
        self.inner.create_run(run, owner)
    }
    fn commit(&mut self, run: RunId, owner: &Owner, commit: &Commit<'_>) -> Result<(), StoreError> {
        if self.commits_left == 0 {
            return Err(StoreError::LeaseLost { run, holder: None });
        }
        self.commits_left -= 1;
        self.inner.commit(run, owner, commit)
    }
    fn wants_snapshot(&self, run: RunId) -> bool {
        self.inner.wants_snapshot(run)
    }
    fn claim(&mut self, run: RunId, owner: &Owner) -> Result<LoadedRun, StoreError> {
        self.inner.claim(run, owner)
    }
    fn claim_attention(&mut self, run: RunId, owner: &Owner) -> Result<LoadedRun, StoreError> {
        self.inner.claim_attention(run, owner)
    }
    fn cancel_idle(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError> {
        self.inner.cancel_idle(run, owner)
    }
    fn set_status(
        &mut self,
        run: RunId,
        owner: &Owner,
        status: RunStatus,
    ) -> Result<(), StoreError> {
        self.inner.set_status(run, owner, status)
    }
    fn renew_lease(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError> {
        self.inner.renew_lease(run, owner)
    }
    fn release(&mut self, run: RunId, owner: &Owner) -> Result<(), StoreError> {
        self.inner.release(run, owner)
    }
    fn run(&self, run: RunId) -> Result<Option<RunRecord>, StoreError> {
        self.inner.run(run)
    }
    fn keyed_run(&self, key: &str) -> Result<Option<(RunId, String)>, StoreError> {
        self.inner.keyed_run(key)
    }
    fn load(&self, run: RunId) -> Result<LoadedRun, StoreError> {
        self.inner.load(run)
    }
    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        self.inner.runs(filter)
    }
    fn events(
        &self,
        run: RunId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.events(run, after, limit)
    }
}

criterion_group!(benches, bench_durable, bench_resume);
criterion_main!(benches);
