//! Ownership through the trait: one owner at a time, leases that expire or are kept, and
//! which runs a claim takes.

use std::time::Duration;

use serde_json::json;

use super::tests::{event, flow, new_run, step, store_with_run};
use super::{Owner, RunFilter, RunStatus, RunStore, SqliteStore, StoreError};

#[test]
fn a_second_owner_cannot_commit_renew_or_release() {
    let (mut store, run, owner) = store_with_run(SqliteStore::in_memory().unwrap());
    let intruder = Owner::this_process();
    let events = [event(1, None)];
    let error = store
        .commit(run, &intruder, &step(&events, RunStatus::Running))
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::LeaseLost { run: r, holder: Some(h) } if *r == run && h == owner.id())
    );
    assert!(matches!(
        store.renew_lease(run, &intruder),
        Err(StoreError::LeaseLost { .. })
    ));
    assert!(matches!(
        store.release(run, &intruder),
        Err(StoreError::LeaseLost { .. })
    ));
    assert!(matches!(
        store.set_status(run, &intruder, RunStatus::Cancelled),
        Err(StoreError::LeaseLost { .. })
    ));
    assert!(matches!(
        store.commit(42, &owner, &step(&[], RunStatus::Running)),
        Err(StoreError::NotFound { run: 42 })
    ));
    // Nothing of the refused commit landed.
    assert_eq!(store.load(run).unwrap().last_seq, 0);
}

#[test]
fn a_live_owner_keeps_its_run_and_a_released_run_can_be_claimed() {
    let (mut store, run, owner) = store_with_run(SqliteStore::in_memory().unwrap());
    let other = Owner::this_process();
    assert_eq!(store.run(run).unwrap().unwrap().status, RunStatus::Running);
    assert!(matches!(
        store.claim(run, &other),
        Err(StoreError::OwnedByLiveProcess { owner: holder, .. }) if holder == owner.id()
    ));
    store
        .commit(
            run,
            &owner,
            &step(&[event(1, Some(json!({ "n": 5 })))], RunStatus::Running),
        )
        .unwrap();
    store.release(run, &owner).unwrap();
    assert_eq!(
        store.run(run).unwrap().unwrap().status,
        RunStatus::Interrupted
    );

    let loaded = store.claim(run, &other).unwrap();
    assert_eq!(loaded.state["n"], json!(5));
    assert_eq!(loaded.last_seq, 1);
    assert_eq!(
        loaded.record,
        store.run(run).unwrap().unwrap(),
        "as it is now"
    );
    assert_eq!(loaded.record.status, RunStatus::Running);
    assert_eq!(loaded.record.owner.as_deref(), Some(other.id()));
    // The first owner lost it: its next commit fails and changes nothing.
    assert!(matches!(
        store.commit(run, &owner, &step(&[event(2, None)], RunStatus::Running)),
        Err(StoreError::LeaseLost { holder: Some(h), .. }) if h == other.id()
    ));
    store
        .commit(run, &other, &step(&[event(2, None)], RunStatus::Completed))
        .unwrap();
}

#[test]
fn a_running_run_of_a_dead_process_is_interrupted_and_claimable() {
    let mut store = SqliteStore::in_memory().unwrap();
    store.save_flow(&flow("h1", "hello")).unwrap();
    // Linux caps pids at 2^22: this owner's process cannot exist.
    let dead = Owner::new(Owner::this_process().host(), 2_000_000_000, 1);
    let run = new_run(&mut store, &dead, RunStatus::Running);
    if cfg!(unix) {
        assert_eq!(
            store.run(run).unwrap().unwrap().status,
            RunStatus::Interrupted
        );
        let owner = Owner::this_process();
        assert_eq!(store.claim(run, &owner).unwrap().record.id, run);
    }
}

#[test]
fn an_expired_lease_reads_as_interrupted() {
    let (store, run, _owner) = store_with_run(SqliteStore::in_memory().unwrap());
    store
        .conn
        .execute("UPDATE runs SET lease_until = 1 WHERE id = ?1", [run])
        .unwrap();
    assert_eq!(
        store.run(run).unwrap().unwrap().status,
        RunStatus::Interrupted
    );
    let filter = |status| RunFilter {
        status: Some(status),
        limit: 10,
        ..RunFilter::default()
    };
    assert_eq!(
        store.runs(&filter(RunStatus::Interrupted)).unwrap().len(),
        1
    );
    assert!(store.runs(&filter(RunStatus::Running)).unwrap().is_empty());
}

#[test]
fn claim_refuses_finished_and_attention_runs_and_takes_waiting_and_queued_ones() {
    let (mut store, run, owner) = store_with_run(SqliteStore::in_memory().unwrap());
    let other = Owner::this_process();
    store.set_status(run, &owner, RunStatus::Cancelled).unwrap();
    assert!(matches!(
        store.claim(run, &other),
        Err(StoreError::Finished {
            status: RunStatus::Cancelled,
            ..
        })
    ));
    assert!(store.run(run).unwrap().unwrap().finished_at.is_some());

    let attention = new_run(&mut store, &owner, RunStatus::Running);
    store
        .set_status(attention, &owner, RunStatus::NeedsAttention)
        .unwrap();
    assert!(matches!(
        store.claim(attention, &other),
        Err(StoreError::NeedsAttention { .. })
    ));

    let waiting = new_run(&mut store, &owner, RunStatus::Running);
    store
        .set_status(waiting, &owner, RunStatus::Waiting)
        .unwrap();
    assert_eq!(
        store.claim(waiting, &other).unwrap().record.status,
        RunStatus::Running
    );

    let queued = new_run(&mut store, &owner, RunStatus::Queued);
    assert_eq!(store.run(queued).unwrap().unwrap().owner, None);
    assert_eq!(store.claim(queued, &other).unwrap().state["n"], json!(0));
    assert!(matches!(
        store.claim(77, &other),
        Err(StoreError::NotFound { run: 77 })
    ));
}

#[test]
fn the_lease_keeper_renews_until_dropped_and_notices_a_lost_lease() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("runs.db");
    let (mut store, run, owner) = store_with_run(SqliteStore::open(&path).unwrap());
    let lease = |store: &SqliteStore| -> i64 {
        store
            .conn
            .query_row("SELECT lease_until FROM runs WHERE id = ?1", [run], |row| {
                row.get(0)
            })
            .unwrap()
    };
    store
        .conn
        .execute("UPDATE runs SET lease_until = 5 WHERE id = ?1", [run])
        .unwrap();
    let keeper =
        SqliteStore::keep_lease_every(&path, run, &owner, Duration::from_millis(20)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lease(&store) == 5 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(lease(&store) > 5, "renewed");
    assert!(!keeper.lost());
    let started = std::time::Instant::now();
    drop(keeper);
    assert!(started.elapsed() < Duration::from_secs(1), "stops at once");

    store.release(run, &owner).unwrap();
    let keeper =
        SqliteStore::keep_lease_every(&path, run, &owner, Duration::from_millis(10)).unwrap();
    while !keeper.lost() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(keeper.lost());
    assert!(matches!(
        SqliteStore::keep_lease(":memory:", run, &owner),
        Err(StoreError::InMemory)
    ));
}

#[test]
fn listing_interrupted_runs_finds_them_among_many_live_ones() {
    let (mut store, first, owner) = store_with_run(SqliteStore::in_memory().unwrap());
    let mut ids = vec![first];
    for _ in 0..600 {
        ids.push(new_run(&mut store, &owner, RunStatus::Running));
    }
    let expired = [ids[10], ids[300], ids[590]];
    for run in expired {
        store
            .conn
            .execute("UPDATE runs SET lease_until = 1 WHERE id = ?1", [run])
            .unwrap();
    }
    let interrupted = |limit, before| -> Vec<i64> {
        let filter = RunFilter {
            status: Some(RunStatus::Interrupted),
            limit,
            before,
            ..RunFilter::default()
        };
        store
            .runs(&filter)
            .unwrap()
            .iter()
            .map(|run| run.id)
            .collect()
    };
    assert_eq!(interrupted(2, None), [expired[2], expired[1]]);
    assert_eq!(interrupted(2, Some(expired[1])), [expired[0]]);
    let running = RunFilter {
        status: Some(RunStatus::Running),
        limit: 1000,
        ..RunFilter::default()
    };
    assert_eq!(store.runs(&running).unwrap().len(), ids.len() - 3);
}

#[test]
fn cancelling_an_idle_run_writes_cancelled_and_refuses_what_a_claim_refuses() {
    let (mut store, running, owner) = store_with_run(SqliteStore::in_memory().unwrap());
    let canceller = Owner::this_process();
    // Driven by a live owner: that owner must stop it.
    assert!(matches!(
        store.cancel_idle(running, &canceller),
        Err(StoreError::OwnedByLiveProcess { .. })
    ));
    // Interrupted (given up while running), waiting and queued runs are cancelled.
    store.release(running, &owner).unwrap();
    let waiting = new_run(&mut store, &owner, RunStatus::Running);
    store
        .set_status(waiting, &owner, RunStatus::Waiting)
        .unwrap();
    store.release(waiting, &owner).unwrap();
    let queued = new_run(&mut store, &owner, RunStatus::Queued);
    for run in [running, waiting, queued] {
        store.cancel_idle(run, &canceller).unwrap();
        let record = store.run(run).unwrap().unwrap();
        assert_eq!(record.status, RunStatus::Cancelled);
        assert_eq!(record.owner, None);
        assert!(record.finished_at.is_some());
        // Its log and state are as they were.
        assert_eq!(store.load(run).unwrap().state["n"], json!(0));
    }
    assert!(matches!(
        store.cancel_idle(queued, &canceller),
        Err(StoreError::Finished {
            status: RunStatus::Cancelled,
            ..
        })
    ));
    let attention = new_run(&mut store, &owner, RunStatus::Running);
    store
        .set_status(attention, &owner, RunStatus::NeedsAttention)
        .unwrap();
    assert!(matches!(
        store.cancel_idle(attention, &canceller),
        Err(StoreError::NeedsAttention { .. })
    ));
    assert!(matches!(
        store.cancel_idle(77, &canceller),
        Err(StoreError::NotFound { run: 77 })
    ));
}
