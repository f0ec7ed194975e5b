//! `flowc::check` (parse + compile) on generated flows of 1k, 10k and 100k nodes.
//!
//! Each flow has a schema `state { n: int = 0 }`, one node per step (every tenth an inline
//! script, the others `noop`), and from each node a guarded edge to the next plus a default
//! edge past it, so there are as many guards as nodes and the flow compiles without errors
//! or warnings. Run with `cargo bench --bench check`; results are in docs/performance.md.
//!
//! The `hostile` group checks files written to be slow, each at three sizes so that linear
//! growth shows: thousands of unknown names in one script, thousands of `let`s (in one
//! script, and spread over scripts under the bound), and a file of as many errors, rendered
//! in `human`. Run it alone with `cargo bench --bench check -- hostile`.

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
        |source| {
            let flow = flowc::syntax::parse(source).expect("the flow parses");
            (flow, std::sync::Arc::clone(&source.text))
        },
        |(flow, text)| flowc::compile::compile(flow, text, &tools, &limits),
    );
}

/// A flow with a schema whose one script assigns `names` unknown names.
fn unknown_names(names: usize) -> String {
    let body: Vec<String> = (0..names).map(|i| format!("u{i} = n")).collect();
    format!(
        "flow f {{\n  state {{ n: int = 0 }}\n  node a {{ {} }}\n  start -> a\n}}\n",
        body.join("; ")
    )
}

/// A flow of `nodes` scripts of `lets` declarations each, chained.
fn many_lets(nodes: usize, lets: usize) -> String {
    let mut text = String::from("flow f {\n  state { n: int = 0 }\n");
    for node in 0..nodes {
        writeln!(text, "  node s{node} {{").expect("writing to a String");
        for i in 0..lets {
            writeln!(text, "    let v{i} = n + {i};").expect("writing to a String");
        }
        text.push_str("  }\n");
    }
    text.push_str("  start -> s0\n");
    for node in 1..nodes {
        writeln!(text, "  s{} -> s{node}", node - 1).expect("writing to a String");
    }
    text.push_str("}\n");
    text
}

/// A flow of `errors` edges to undeclared nodes.
fn many_errors(errors: usize) -> String {
    let mut text = String::from("flow f {\n  node a = noop\n  start -> a\n");
    for i in 0..errors {
        writeln!(text, "  a -> m{i}").expect("writing to a String");
    }
    text.push_str("}\n");
    text
}

/// `check` on hostile files, then the `human` report (which shows 100 problems at most).
fn hostile(c: &mut Criterion) {
    let tools = ToolRegistry::builtin();
    let mut group = c.benchmark_group("hostile");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let cases: Vec<(&str, usize, String)> = [1_000, 2_000, 4_000]
        .into_iter()
        .map(|n| ("unknown-names", n, unknown_names(n)))
        .chain(
            [10_000, 20_000, 40_000]
                .into_iter()
                .map(|n| ("lets-in-one-script", n, many_lets(1, n))),
        )
        .chain(
            [10, 20, 40]
                .into_iter()
                .map(|n| ("scripts-of-400-lets", n, many_lets(n, 400))),
        )
        .chain(
            [50_000, 100_000, 200_000]
                .into_iter()
                .map(|n| ("errors", n, many_errors(n))),
        )
        .collect();
    for (name, size, text) in cases {
        let source = SourceFile::new(format!("{name}-{size}.flow"), text);
        assert!(flowc::check(&source, &tools).report.has_errors() || name == "scripts-of-400-lets");
        group.throughput(Throughput::Bytes(source.text.len() as u64));
        group.bench_with_input(BenchmarkId::new(name, size), &source, |b, source| {
            b.iter(|| {
                let checked = flowc::check(black_box(source), &tools);
                checked.report.render_human(false, 100)
            });
        });
    }
    group.finish();
}

criterion_group!(benches, check, parse, compile, hostile);
criterion_main!(benches);
