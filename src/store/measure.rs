//! Measurements, run by hand in a release build (they print what they measured):
//! `cargo test --release --lib store::measure -- --ignored --nocapture`.
//! `FLOWC_STORE_COMMITS` sets how many commits the speed test makes (default 200,000).

#![allow(clippy::print_stderr, clippy::cast_precision_loss)]

use std::time::Instant;

use serde_json::json;

use super::tests::{flow, new_run, object};
use super::{Commit, Owner, RunStatus, RunStore, SqliteStore, StoredEvent};

/// An event record of about 100 bytes, as the engine writes them.
fn record(seq: u64) -> String {
    format!(
        r#"{{"kind":"node-finished","node":"recheck_rows","at":1764650000000,"duration_ms":12,"attempt":1,"seq":{seq}}}"#
    )
}

/// A checkpoint of about 100 bytes.
fn checkpoint(seq: u64) -> String {
    format!(
        r#"{{"node":"recheck_rows","loops":[{{"name":"repair","iteration":3}}],"steps":{seq},"version":1}}"#
    )
}

fn file_bytes(path: &std::path::Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(name).ok()
        })
        .map(|meta| meta.len())
        .sum()
}

#[test]
#[ignore = "a measurement: run in release with --nocapture"]
fn commit_speed_and_database_size() {
    let commits: u64 = std::env::var("FLOWC_STORE_COMMITS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(200_000);
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("runs.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.save_flow(&flow("h1", "hello")).unwrap();
    let owner = Owner::this_process();
    let run = new_run(&mut store, &owner, RunStatus::Running);
    let mut state = object(json!({ "name": "x", "n": 0 }));
    let mut snapshots = 0;
    let started = Instant::now();
    for seq in 1..=commits {
        let events = [StoredEvent {
            seq,
            kind: "node-finished".to_owned(),
            record: record(seq),
            changes: Some(format!(r#"{{"n":{seq}}}"#)),
        }];
        state.insert("n".to_owned(), json!(seq));
        let snapshot = store.wants_snapshot(run);
        snapshots += u64::from(snapshot);
        let checkpoint = checkpoint(seq);
        let commit = Commit {
            events: &events,
            checkpoint: &checkpoint,
            steps: seq,
            status: RunStatus::Running,
            snapshot: snapshot.then_some(&state),
            error: None,
        };
        store.commit(run, &owner, &commit).unwrap();
    }
    let elapsed = started.elapsed();
    drop(store);
    let bytes = file_bytes(&path);
    let per_commit = elapsed.as_secs_f64() / commits as f64;
    eprintln!(
        "{commits} commits in {elapsed:.2?}: {:.1} µs each, {:.0} commits/s ({snapshots} with a snapshot)",
        per_commit * 1e6,
        1.0 / per_commit
    );
    eprintln!(
        "database: {:.1} MB, {:.0} bytes per commit, {:.0} MB per 1,000,000 commits",
        bytes as f64 / 1e6,
        bytes as f64 / commits as f64,
        bytes as f64 / commits as f64
    );
    assert_eq!(
        SqliteStore::open(&path)
            .unwrap()
            .load(run)
            .unwrap()
            .last_seq,
        commits
    );
}

#[test]
#[ignore = "a measurement: run in release with --nocapture"]
fn loading_a_run_of_a_million_events() {
    const EVENTS: u64 = 1_000_000;
    const BATCH: u64 = 1_000;
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("runs.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.save_flow(&flow("h1", "hello")).unwrap();
    let owner = Owner::this_process();
    let run = new_run(&mut store, &owner, RunStatus::Running);
    let mut state = object(json!({ "name": "x", "n": 0, "rows": (0..50).collect::<Vec<_>>() }));
    let started = Instant::now();
    for first in (1..=EVENTS).step_by(usize::try_from(BATCH).unwrap()) {
        // Deltas that touch 16 keys in turn, so replay does real work.
        let events: Vec<StoredEvent> = (first..first + BATCH)
            .map(|seq| StoredEvent {
                seq,
                kind: "node-finished".to_owned(),
                record: record(seq),
                changes: Some(format!(r#"{{"k{}":{seq},"n":{seq}}}"#, seq % 16)),
            })
            .collect();
        for seq in first..first + BATCH {
            state.insert(format!("k{}", seq % 16), json!(seq));
            state.insert("n".to_owned(), json!(seq));
        }
        // The policy is asked before each commit, as the engine does; with batches, a
        // snapshot lands at most a batch late.
        let snapshot = store.wants_snapshot(run).then_some(&state);
        let checkpoint = checkpoint(first + BATCH - 1);
        let commit = Commit {
            events: &events,
            checkpoint: &checkpoint,
            steps: first + BATCH - 1,
            status: RunStatus::Running,
            snapshot,
            error: None,
        };
        store.commit(run, &owner, &commit).unwrap();
    }
    eprintln!("wrote {EVENTS} events in {:.2?}", started.elapsed());
    store.release(run, &owner).unwrap();
    drop(store);

    let reader = SqliteStore::open_read_only(&path).unwrap();
    let started = Instant::now();
    let loaded = reader.load(run).unwrap();
    let load = started.elapsed();
    assert_eq!((loaded.last_seq, &loaded.state), (EVENTS, &state));
    let mut store = SqliteStore::open(&path).unwrap();
    let started = Instant::now();
    let claimed = store.claim(run, &Owner::this_process()).unwrap();
    let claim = started.elapsed();
    assert_eq!(claimed.state, state);
    eprintln!(
        "load of {EVENTS} events: {load:.2?}; claim: {claim:.2?}; database {:.0} MB",
        file_bytes(&path) as f64 / 1e6
    );
}
