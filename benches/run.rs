//! Engine throughput: a counter flow (`node inc { n += 1 }`, `inc -> inc when n < N`),
//! reported as steps per second (criterion's elements/s), with the log off, with the log
//! streaming to a file, and with a large untouched `payload` field (per-step cost must not
//! grow with state the step does not touch). `cargo bench --bench run`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::io::BufWriter;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flowc::CancelToken;
use flowc::runtime::{JsonLines, NoEvents};
use serde_json::{Map, json};

mod counter;
use counter::{COUNTER, input, interpreter};

const STEPS: u64 = 100_000;
/// The flow with a tool node is slower per step; fewer steps keep the bench short.
const TOOL_STEPS: u64 = 10_000;

const TOOL_COUNTER: &str = "flow counter {\n    state { n: int = 0, limit: int }\n    node inc { n += 1 }\n    node touch = noop\n    start -> inc\n    inc -> touch\n    touch -> inc when n < limit\n    touch -> end\n}\n";

fn bench_counter(c: &mut Criterion) {
    let mut group = c.benchmark_group("counter");
    group.throughput(Throughput::Elements(STEPS));
    group.sample_size(10);
    let cancel = CancelToken::new();
    let counter = interpreter(COUNTER);

    group.bench_function("log off", |b| {
        b.iter(|| {
            black_box(
                counter
                    .run(input(STEPS, false), &mut NoEvents, &cancel)
                    .unwrap(),
            )
        });
    });

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trace.jsonl");
    group.bench_function("log to file", |b| {
        b.iter(|| {
            let file = std::fs::File::create(&path).unwrap();
            let mut log = JsonLines::new(BufWriter::new(file));
            let outcome = counter.run(input(STEPS, false), &mut log, &cancel).unwrap();
            log.finish().unwrap();
            black_box(outcome)
        });
    });

    // The payload is converted once per run (in and out); that cost is not per step, so it
    // is measured apart and the per-run fixed cost is left out of the comparison: each
    // iteration reuses a prepared input.
    let with_payload = input(STEPS, true);
    group.bench_function("log off, 10k-object payload", |b| {
        b.iter_batched(
            || with_payload.clone(),
            |input| black_box(counter.run(input, &mut NoEvents, &cancel).unwrap()),
            criterion::BatchSize::LargeInput,
        );
    });
    group.bench_function("log to file, 10k-object payload", |b| {
        b.iter_batched(
            || with_payload.clone(),
            |input| {
                let file = std::fs::File::create(&path).unwrap();
                let mut log = JsonLines::new(BufWriter::new(file));
                let outcome = counter.run(input, &mut log, &cancel).unwrap();
                log.finish().unwrap();
                black_box(outcome)
            },
            criterion::BatchSize::LargeInput,
        );
    });

    // A tool node (`noop`) every other step: tools get the state as JSON.
    let tool_counter = interpreter(TOOL_COUNTER);
    group.throughput(Throughput::Elements(TOOL_STEPS * 2));
    let mut tool_input = input(TOOL_STEPS, true);
    tool_input.insert("limit".into(), json!(TOOL_STEPS));
    group.bench_function("script + noop tool, 10k-object payload", |b| {
        b.iter_batched(
            || tool_input.clone(),
            |input| black_box(tool_counter.run(input, &mut NoEvents, &cancel).unwrap()),
            criterion::BatchSize::LargeInput,
        );
    });
    group.finish();
}

/// The fixed cost of a run: validating the input, building the run's rhai engine, one step.
fn bench_one_step(c: &mut Criterion) {
    let one = interpreter(
        "flow one {\n    state { n: int = 0 }\n    node inc { n += 1 }\n    start -> inc\n}\n",
    );
    let cancel = CancelToken::new();
    c.bench_function("one-step run", |b| {
        b.iter(|| black_box(one.run(Map::new(), &mut NoEvents, &cancel).unwrap()));
    });
}

criterion_group!(benches, bench_counter, bench_one_step);
criterion_main!(benches);
