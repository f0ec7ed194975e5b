//! The store's behaviour through its trait: round trips, ownership and leases, claims, and
//! replay against applying every delta.

use std::time::SystemTime;

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{
    Commit, FlowRecord, NewRun, Owner, RecordPart, RunFilter, RunId, RunStatus, RunStore,
    SqliteStore, StoreError, StoredEvent,
};

pub(super) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("an object literal"),
    }
}

pub(super) fn flow(hash: &str, name: &str) -> FlowRecord {
    FlowRecord {
        hash: hash.into(),
        name: name.into(),
        source: format!("flow {name} {{}}"),
        path: Some(format!("{name}.flow")),
    }
}

/// A store with flow `h1` (`hello`) and one running run of it, owned by the returned owner.
pub(super) fn store_with_run(mut store: SqliteStore) -> (SqliteStore, RunId, Owner) {
    store.save_flow(&flow("h1", "hello")).unwrap();
    let owner = Owner::this_process();
    let run = new_run(&mut store, &owner, RunStatus::Running);
    (store, run, owner)
}

pub(super) fn new_run(store: &mut SqliteStore, owner: &Owner, status: RunStatus) -> RunId {
    let input = object(json!({ "name": "x" }));
    let state = object(json!({ "name": "x", "n": 0 }));
    store
        .create_run(
            &NewRun {
                flow_hash: "h1",
                input: &input,
                state: &state,
                checkpoint: r#"{"at":"start"}"#,
                started_at: SystemTime::now(),
                status,
                idempotency: None,
            },
            owner,
        )
        .unwrap()
}

pub(super) fn event(seq: u64, changes: Option<Value>) -> StoredEvent {
    StoredEvent {
        seq,
        kind: "node-finished".into(),
        record: format!(r#"{{"seq":{seq}}}"#),
        changes: changes.map(|value| value.to_string()),
    }
}

pub(super) fn step(events: &[StoredEvent], status: RunStatus) -> Commit<'_> {
    Commit {
        events,
        checkpoint: r#"{"at":"next"}"#,
        steps: events.last().map_or(0, |event| event.seq),
        status,
        snapshot: None,
        error: None,
    }
}

#[test]
fn flows_are_saved_once_per_hash() {
    let mut store = SqliteStore::in_memory().unwrap();
    store.save_flow(&flow("h1", "hello")).unwrap();
    let mut renamed = flow("h1", "other");
    renamed.path = None;
    store.save_flow(&renamed).unwrap();
    assert_eq!(store.flow("h1").unwrap(), Some(flow("h1", "hello")));
    assert_eq!(store.flow("nope").unwrap(), None);
}

#[test]
fn a_run_of_an_unsaved_flow_is_refused() {
    let mut store = SqliteStore::in_memory().unwrap();
    let empty = Map::new();
    let error = store
        .create_run(
            &NewRun {
                flow_hash: "missing",
                input: &empty,
                state: &empty,
                checkpoint: "{}",
                started_at: SystemTime::now(),
                status: RunStatus::Running,
                idempotency: None,
            },
            &Owner::this_process(),
        )
        .unwrap_err();
    assert!(matches!(error, StoreError::FlowNotSaved { hash } if hash == "missing"));
}

#[test]
fn commits_round_trip_through_load_and_events() {
    let (mut store, run, owner) = store_with_run(SqliteStore::in_memory().unwrap());
    let first = [event(1, Some(json!({ "n": 1 }))), event(2, None)];
    store
        .commit(run, &owner, &step(&first, RunStatus::Running))
        .unwrap();
    let second = [event(3, Some(json!({ "n": 2, "done": true })))];
    let mut last = step(&second, RunStatus::Failed);
    last.error = Some(r#"{"message":"boom"}"#);
    store.commit(run, &owner, &last).unwrap();

    let loaded = store.load(run).unwrap();
    assert_eq!(
        Value::Object(loaded.state),
        json!({ "name": "x", "n": 2, "done": true })
    );
    assert_eq!(Value::Object(loaded.input), json!({ "name": "x" }));
    assert_eq!(loaded.checkpoint, r#"{"at":"next"}"#);
    assert_eq!(loaded.last_seq, 3);
    let record = loaded.record;
    assert_eq!(
        (record.status, record.steps, record.flow_name.as_str()),
        (RunStatus::Failed, 3, "hello")
    );
    assert_eq!(record.error.as_deref(), Some(r#"{"message":"boom"}"#));
    assert!(record.finished_at.is_some());
    assert_eq!(record.owner.as_deref(), Some(owner.id()));

    let all = store.events(run, None, 100).unwrap();
    assert_eq!(all, [first.as_slice(), second.as_slice()].concat());
    assert_eq!(store.events(run, Some(1), 1).unwrap(), [first[1].clone()]);
    assert!(matches!(
        store.events(99, None, 10),
        Err(StoreError::NotFound { run: 99 })
    ));
}

#[test]
fn damaged_rows_are_errors_naming_the_part() {
    let (store, run, _) = store_with_run(SqliteStore::in_memory().unwrap());
    store
        .conn
        .execute(
            "UPDATE snapshots SET state = '[oops' WHERE run_id = ?1",
            [run],
        )
        .unwrap();
    assert!(matches!(
        store.load(run),
        Err(StoreError::CorruptRecord {
            part: RecordPart::Snapshot,
            ..
        })
    ));
    store
        .conn
        .execute("UPDATE runs SET status = 'done' WHERE id = ?1", [run])
        .unwrap();
    assert!(matches!(
        store.run(run),
        Err(StoreError::CorruptRecord {
            part: RecordPart::Status,
            ..
        })
    ));
}

#[test]
fn events_out_of_order_and_bad_deltas_are_refused_before_writing() {
    let (mut store, run, owner) = store_with_run(SqliteStore::in_memory().unwrap());
    store
        .commit(run, &owner, &step(&[event(1, None)], RunStatus::Running))
        .unwrap();
    let again = [event(1, None)];
    assert!(matches!(
        store.commit(run, &owner, &step(&again, RunStatus::Running)),
        Err(StoreError::EventOutOfOrder {
            seq: 1,
            last: 1,
            ..
        })
    ));
    let list = [event(2, Some(json!([1, 2])))];
    assert!(matches!(
        store.commit(run, &owner, &step(&list, RunStatus::Running)),
        Err(StoreError::InvalidDelta { seq: 2, .. })
    ));
    assert_eq!(store.load(run).unwrap().last_seq, 1);
}

#[test]
fn listing_is_newest_first_with_filters_and_a_cursor() {
    let (mut store, first, owner) = store_with_run(SqliteStore::in_memory().unwrap());
    store.save_flow(&flow("h2", "other")).unwrap();
    let second = new_run(&mut store, &owner, RunStatus::Running);
    let third = new_run(&mut store, &owner, RunStatus::Queued);
    store
        .conn
        .execute("UPDATE runs SET flow_hash = 'h2' WHERE id = ?1", [second])
        .unwrap();
    let ids = |filter: RunFilter| -> Vec<RunId> {
        store
            .runs(&filter)
            .unwrap()
            .iter()
            .map(|run| run.id)
            .collect()
    };
    let all = RunFilter {
        limit: 10,
        ..RunFilter::default()
    };
    assert_eq!(ids(all.clone()), [third, second, first]);
    assert_eq!(
        ids(RunFilter {
            limit: 1,
            before: Some(third),
            ..all.clone()
        }),
        [second]
    );
    assert_eq!(
        ids(RunFilter {
            flow: Some("hello".into()),
            ..all.clone()
        }),
        [third, first]
    );
    assert_eq!(
        ids(RunFilter {
            status: Some(RunStatus::Running),
            ..all.clone()
        }),
        [second, first]
    );
    assert_eq!(
        ids(RunFilter {
            status: Some(RunStatus::Queued),
            flow: Some("other".into()),
            ..all
        }),
        Vec::<RunId>::new()
    );
}

#[test]
fn the_policy_asks_for_a_snapshot_after_many_events() {
    let (mut store, run, owner) = store_with_run(SqliteStore::in_memory().unwrap());
    assert!(
        !store.wants_snapshot(run),
        "the initial state is a snapshot"
    );
    assert!(
        store.wants_snapshot(999),
        "an unknown run: a snapshot is never wrong"
    );
    let events: Vec<StoredEvent> = (1..=super::SNAPSHOT_EVERY_EVENTS)
        .map(|seq| event(seq, Some(json!({ "n": seq }))))
        .collect();
    store
        .commit(run, &owner, &step(&events, RunStatus::Running))
        .unwrap();
    assert!(store.wants_snapshot(run));
    let state = store.load(run).unwrap().state;
    let mut with_snapshot = step(&[], RunStatus::Running);
    with_snapshot.snapshot = Some(&state);
    store.commit(run, &owner, &with_snapshot).unwrap();
    assert!(!store.wants_snapshot(run));
    // A fresh writer learns the same from the stored run when it claims it.
    store.release(run, &owner).unwrap();
    let loaded = store.claim(run, &owner).unwrap();
    assert_eq!(loaded.state, state);
    assert!(!store.wants_snapshot(run));
}

/// One step of a generated run: its delta, and whether the commit carries a snapshot.
fn steps() -> impl Strategy<Value = Vec<(Vec<(u8, i64)>, bool)>> {
    let delta = prop::collection::vec((0u8..6, any::<i64>()), 0..4);
    prop::collection::vec((delta, any::<bool>()), 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn snapshot_and_replay_equal_applying_every_delta(steps in steps()) {
        let (mut store, run, owner) = store_with_run(SqliteStore::in_memory().unwrap());
        let mut expected = object(json!({ "name": "x", "n": 0 }));
        for (index, (delta, snapshot)) in steps.iter().enumerate() {
            let delta: Map<String, Value> =
                delta.iter().map(|(key, value)| (format!("k{key}"), json!(value))).collect();
            for (key, value) in &delta {
                expected.insert(key.clone(), value.clone());
            }
            let changes = (!delta.is_empty()).then(|| Value::Object(delta));
            let events = [event(index as u64 + 1, changes)];
            let mut commit = step(&events, RunStatus::Running);
            commit.snapshot = snapshot.then_some(&expected);
            store.commit(run, &owner, &commit).unwrap();
        }
        let loaded = store.load(run).unwrap();
        prop_assert_eq!(loaded.last_seq, steps.len() as u64);
        prop_assert_eq!(loaded.state, expected);
    }
}

#[test]
fn a_run_is_loaded_with_its_state_and_log_as_committed() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("runs.db");
    let (mut store, run, owner) = store_with_run(SqliteStore::open(&path).unwrap());
    let reader = SqliteStore::open_read_only(&path).unwrap();
    let first = [event(1, Some(json!({ "n": 1 })))];
    store
        .commit(run, &owner, &step(&first, RunStatus::Running))
        .unwrap();
    let (loaded, log) = reader.load_with_log(run, 10).unwrap();
    assert_eq!(loaded.state["n"], json!(1));
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
    // A page shorter than the log: its first events.
    let more = [event(2, Some(json!({ "n": 2 }))), event(3, None)];
    store
        .commit(run, &owner, &step(&more, RunStatus::Completed))
        .unwrap();
    let (loaded, log) = reader.load_with_log(run, 2).unwrap();
    assert_eq!(loaded.state["n"], json!(2));
    assert_eq!(loaded.record.status, RunStatus::Completed);
    assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert!(matches!(
        reader.load_with_log(run + 1, 10),
        Err(StoreError::NotFound { .. })
    ));
}
