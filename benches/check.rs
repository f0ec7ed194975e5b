//! `flowc::check` (parse + compile) on generated flows of 1k, 10k and 100k nodes.
//!
//! Each flow has a schema `state { n: int = 0 }`, one node per step (every tenth an inline
//! script, the others `noop`), and from each node a guarded edge to the next plus a default
//! edge past it, so there are as many guards as nodes and the flow compiles without errors
//! or warnings. Run with `cargo bench --bench check`; results are in docs/performance.md.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flowc::SourceFile;
use flowc::tools::ToolRegistry;

/// A valid flow of `nodes` nodes (at least 2) and as many guarded edges.
fn generated_flow(nodes: usize) -> String {
    let mut text = String::with_capacity(nodes * 90);
    text.push_str(
        "/// Generated for the benchmark.\nflow generated {\n    state { n: int = 0 }\n\n",
    );
    for i in 0..nodes {
        if i % 10 == 0 {
            writeln!(text, "    node s{i} {{ n += 1 }}").expect("writing to a String");
        } else {
            writeln!(text, "    node s{i} = noop").expect("writing to a String");
        }
    }
    text.push_str("\n    start -> s0\n");
    for i in 0..nodes - 1 {
        writeln!(text, "    s{i} -> s{} when n > {i}", i + 1).expect("writing to a String");
        if i + 2 < nodes {
            writeln!(text, "    s{i} -> s{}", i + 2).expect("writing to a String");
        } else {
            writeln!(text, "    s{i} -> end").expect("writing to a String");
        }
    }
    text.push_str("}\n");
    text
}

fn check(c: &mut Criterion) {
    let tools = ToolRegistry::builtin();
    let mut group = c.benchmark_group("check");
    for nodes in [1_000, 10_000, 100_000] {
        let source = SourceFile::new(format!("generated-{nodes}.flow"), generated_flow(nodes));
        let checked = flowc::check(&source, &tools);
        assert!(
            checked.report.problems.is_empty(),
            "the generated flow must compile cleanly:\n{}",
            checked.report.render_short()
        );
        assert_eq!(
            checked.program.map(|program| program.nodes.len()),
            Some(nodes)
        );

        if nodes >= 100_000 {
            group
                .sample_size(10)
                .warm_up_time(Duration::from_secs(2))
                .measurement_time(Duration::from_secs(25));
        } else if nodes >= 10_000 {
            group
                .sample_size(20)
                .warm_up_time(Duration::from_secs(2))
                .measurement_time(Duration::from_secs(10));
        }
        group.throughput(Throughput::Elements(nodes as u64));
        group.bench_with_input(BenchmarkId::from_parameter(nodes), &source, |b, source| {
            b.iter(|| flowc::check(black_box(source), &tools));
        });
    }
    group.finish();
}

/// One phase of `check` on the 10k and 100k flows: `prepare` makes its input from the
/// source, untimed; `phase` is what is timed.
fn phase<I, O>(
    c: &mut Criterion,
    name: &str,
    prepare: impl Fn(&SourceFile) -> I,
    phase: impl Fn(&I) -> O,
) {
    let mut group = c.benchmark_group(name);
    for nodes in [10_000, 100_000] {
        let source = SourceFile::new(format!("generated-{nodes}.flow"), generated_flow(nodes));
        let input = prepare(&source);
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5));
        group.throughput(Throughput::Elements(nodes as u64));
        group.bench_with_input(BenchmarkId::from_parameter(nodes), &input, |b, input| {
            b.iter(|| phase(black_box(input)));
        });
    }
    group.finish();
}

/// The parse alone (text to AST), to tell the parser's share of `check`.
fn parse(c: &mut Criterion) {
    phase(c, "parse", SourceFile::clone, |source| {
        flowc::syntax::parse(source).expect("the flow parses")
    });
}

/// The compile alone (AST to IR), the rest of `check`.
fn compile(c: &mut Criterion) {
    let tools = ToolRegistry::builtin();
    let limits = flowc::sandbox::Limits::default();
    phase(
        c,
        "compile",
        |source| flowc::syntax::parse(source).expect("the flow parses"),
        |flow| flowc::compile::compile(flow, &tools, &limits),
    );
}

criterion_group!(benches, check, parse, compile);
criterion_main!(benches);
