//! Robustness: whatever the text, `flowc::check` and the three renderers (`human`, `short`,
//! `json`) return instead of panicking or overflowing the stack, and every label they print
//! points inside the file on character boundaries.
//!
//! Three property tests feed them random bytes, random token soup made from the grammar's
//! own words, and mutations of real flows (`examples/*.flow` and `tests/ui/**/*.flow` as
//! they are when the test runs, plus the built-in seeds below). Deterministic tests cover
//! the inputs a property test is unlikely to build: deep nesting, a 1 MB line, CRLF, a BOM,
//! non-ASCII text, very long chains, and reports of tens of thousands of diagnostics or
//! labels in every format (minutes of work while rendering was quadratic).
//!
//! Case counts keep this module near 10 s in a debug build on 2 cores; raise them for a
//! longer hunt with `PROPTEST_CASES=20000 cargo test --test integration robustness`.
//! A failure prints the smallest input proptest found: add it to `regressions` below.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flowc::diagnostics::{MAX_HUMAN_LABELS, MAX_SHOWN_PROBLEMS};
use flowc::tools::ToolRegistry;
use flowc::{Checked, FileReport, SourceFile};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

// ---------------------------------------------------------------------------------------
// The check under test

/// The example of the language contract, section 2.
const CONTRACT_EXAMPLE: &str = r"/// Profiles rows, then repairs anomalies until few remain.
flow data_quality {
    state {
        rows: list
        threshold: int = 2
        anomaly_count: int = 0
    }

    /// Per-column statistics: nulls, types, min/max/mean.
    node profile = dq.profile
    node detect  = dq.detect_anomalies(z: 3.0)
    node rules   = dq.generate_rules
    node apply   = dq.apply_rules
    node recheck = dq.detect_anomalies(z: 3.0)
    node report {
        #{ summary: `${anomaly_count} anomalies left after repair` }
    }

    start -> profile -> detect
    detect -> report when anomaly_count <= threshold
    detect -> repair                      // the default edge: taken when no guard holds

    loop repair max 5 {
        rules -> apply -> recheck
    } until anomaly_count <= threshold

    repair -> report
    report -> end
}
";

/// Every construct of the grammar in one valid flow, so mutations reach all of them.
const KITCHEN_SINK: &str = r#"/// Everything the grammar has, in one flow.
/// Two lines of docs.
flow kitchen_sink {
    state {
        n: int = 0, limit: int = 3; ratio: float = 0.5
        name: string? = null
        tags: list = ["a", "b\n\u00e9"]
        meta: map = { "k": 1, nested: [true, false, null, -1.5e3] }
        wait: int = 250ms
        flag: bool = false
        anything: any
    }

    /* a block comment with brackets { ( [ */
    node begin                                   // a junction
    node call = exec(cmd: "echo {}", timeout: 5s) timeout 10s retry 3 backoff 250ms
    node bump {
        let step = 1;
        n += step; // a comment inside the script }
        if n > 100 { n = 100 }
        #{ name: `n is ${n} (of ${limit})`, tags: tags + ['x'] }
    }
    /// The inner work.
    node work = noop
    node check = noop
    node recover { #{ flag: true } }
    node finish = noop

    start -> begin -> call
    call -> recover on error
    call -> finish when flag && (n > limit ||
        ratio < 0.1)
    call -> outer
    recover -> finish

    /// A loop in a loop.
    loop outer max 3 {
        bump -> inner
        loop inner max 2 { work -> check } until n % 2 == 0
    } until n >= limit
    outer -> finish; finish -> end
}
"#;

/// A flow without a schema: names in guards are not checked, scripts define fields.
const NO_SCHEMA: &str = "flow loose {\n  node a { x = 1; #{ y: \"}\" } }\n  node b = noop\n  node c\n  start -> a\n  a -> b when x > 0 && y == \"}\"\n  a -> c\n  b -> end\n}\n";

/// The built-in tools only: the contract example's `dq.*` tools are unknown, which is one
/// more diagnostic to render.
fn registry() -> &'static ToolRegistry {
    static REGISTRY: OnceLock<ToolRegistry> = OnceLock::new();
    REGISTRY.get_or_init(ToolRegistry::builtin)
}

/// Checks `text` and renders its report in every format, asserting what must hold for any
/// input: a program exactly when there are no errors, and labels inside the text.
fn check_all(text: &str) -> Checked {
    let source = SourceFile::new("fuzz.flow", text);
    let checked = flowc::check(&source, registry());
    let report = &checked.report;
    let human = report.render_human(false, 80);
    let short = report.render_short();
    let json = report.to_json();

    assert_eq!(
        checked.program.is_some(),
        !report.has_errors(),
        "a program exactly when there are no errors"
    );
    assert!(
        checked.program.is_some() || !report.problems.is_empty(),
        "a failed check says why"
    );
    let shown = report.problems.len().min(MAX_SHOWN_PROBLEMS);
    let more = usize::from(report.problems.len() > MAX_SHOWN_PROBLEMS);
    assert_eq!(
        short.lines().count(),
        shown + more,
        "one short line per problem shown, one for the rest:\n{short}"
    );
    assert!(
        report.problems.is_empty() || !human.is_empty(),
        "every problem is rendered"
    );
    let diagnostics = json["diagnostics"]
        .as_array()
        .expect("diagnostics is an array");
    assert_eq!(diagnostics.len(), shown);
    assert_eq!(
        json["omitted"].as_u64(),
        Some((report.problems.len() - shown) as u64)
    );
    for diagnostic in diagnostics {
        for label in diagnostic["labels"].as_array().expect("labels is an array") {
            let start = usize::try_from(label["offset"].as_u64().expect("offset")).expect("fits");
            let end =
                start + usize::try_from(label["length"].as_u64().expect("length")).expect("fits");
            assert!(
                end <= text.len(),
                "label {start}..{end} is past the end ({}): {diagnostic}",
                text.len()
            );
            assert!(
                text.is_char_boundary(start) && text.is_char_boundary(end),
                "label {start}..{end} splits a character: {diagnostic}"
            );
        }
    }
    checked
}

/// The codes of the diagnostics, in report order.
fn codes(checked: &Checked) -> Vec<String> {
    checked
        .report
        .problems
        .iter()
        .map(|p| p.code().map(|c| c.to_string()).unwrap_or_default())
        .collect()
}

fn assert_clean(text: &str) {
    let checked = check_all(text);
    assert!(
        checked.report.problems.is_empty(),
        "expected no diagnostics, got:\n{}",
        checked.report.render_human(false, 100)
    );
}

// ---------------------------------------------------------------------------------------
// Seeds for mutation

/// The real flows in the repository now, and the built-in seeds.
fn seeds() -> &'static [String] {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        flow_files(&root.join("examples"), false, &mut files);
        flow_files(&root.join("tests/ui"), true, &mut files);
        files.sort();
        let mut seeds: Vec<String> = files
            .iter()
            .filter_map(|path| std::fs::read(path).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .collect();
        seeds.extend([CONTRACT_EXAMPLE, KITCHEN_SINK, NO_SCHEMA].map(str::to_owned));
        seeds
    })
}

fn flow_files(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if recursive {
                flow_files(&path, true, out);
            }
        } else if path.extension().is_some_and(|ext| ext == "flow") {
            out.push(path);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Strategies

/// Words of the grammar, of rhai and of the lexical corners in between.
const TOKENS: &[&str] = &[
    "flow",
    "state",
    "node",
    "loop",
    "max",
    "until",
    "when",
    "on error",
    "on",
    "error",
    "start",
    "end",
    "timeout",
    "retry",
    "backoff",
    "int",
    "float",
    "bool",
    "string",
    "list",
    "map",
    "any",
    "?",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "->",
    "-",
    ">",
    "=",
    "==",
    "<=",
    "&&",
    "||",
    "!",
    ":",
    ",",
    ";",
    ".",
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "\"",
    "\\",
    "`",
    "'",
    "${",
    "#{",
    "/*",
    "*/",
    "//",
    "///",
    "////",
    "noop",
    "exec",
    "dq.profile",
    "dq.detect_anomalies",
    "cmd",
    "z",
    "true",
    "false",
    "null",
    "let",
    "if",
    "x",
    "n",
    "a",
    "b",
    "é",
    "日本",
    "\u{FEFF}",
    "\0",
    "0",
    "3.0",
    "-1e9",
    "99999999999999999999",
    "250ms",
    "5s",
    "2m",
    "1h",
    "9999999999h",
    "\"str\"",
    "\"\\u00e9\"",
    "\"\\q\"",
    "eval",
    "import",
    "print",
];

/// A token or a generated name, number or duration, followed by a separator.
fn token() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        6 => prop::sample::select(TOKENS).prop_map(str::to_owned),
        1 => "[a-z_][a-z0-9_]{0,6}",
        1 => "[0-9]{1,4}(\\.[0-9]{1,2})?",
        1 => "[0-9]{1,3}(ms|s|m|h)",
    ];
    let separator = prop::sample::select(&["", " ", " ", " ", "\n"][..]);
    (word, separator).prop_map(|(word, separator)| word + separator)
}

/// Token soup, half of the time inside `flow f { … }` so that it reaches the items.
fn token_soup() -> impl Strategy<Value = String> {
    (any::<bool>(), prop::collection::vec(token(), 0..60)).prop_map(|(wrap, tokens)| {
        let body = tokens.concat();
        if wrap {
            format!("flow f {{\n{body}\n}}\n")
        } else {
            body
        }
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete { at: Index, len: usize },
    Insert { at: Index, bytes: Vec<u8> },
    InsertToken { at: Index, token: &'static str },
    Duplicate { from: Index, len: usize, to: Index },
    Replace { at: Index, byte: u8 },
    Truncate { at: Index },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1..16usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..4)).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        3 => (any::<Index>(), prop::sample::select(TOKENS)).prop_map(|(at, token)| Mutation::InsertToken { at, token }),
        2 => (any::<Index>(), 1..200usize, any::<Index>()).prop_map(|(from, len, to)| Mutation::Duplicate { from, len, to }),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Replace { at, byte }),
        1 => any::<Index>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(seed: &str, mutations: &[Mutation]) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    for mutation in mutations {
        let len = bytes.len();
        match mutation {
            Mutation::Delete { at, len: count } if len > 0 => {
                let start = at.index(len);
                bytes.drain(start..(start + count).min(len));
            }
            Mutation::Insert { at, bytes: new } => {
                let at = at.index(len + 1);
                bytes.splice(at..at, new.iter().copied());
            }
            Mutation::InsertToken { at, token } => {
                let at = at.index(len + 1);
                bytes.splice(at..at, token.bytes());
            }
            Mutation::Duplicate {
                from,
                len: count,
                to,
            } if len > 0 => {
                let start = from.index(len);
                let slice = bytes[start..(start + count).min(len)].to_vec();
                let to = to.index(len + 1);
                bytes.splice(to..to, slice);
            }
            Mutation::Replace { at, byte } if len > 0 => bytes[at.index(len)] = *byte,
            Mutation::Truncate { at } => bytes.truncate(at.index(len + 1)),
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A seed with a few mutations applied; shows the mutated text when a case fails.
fn mutated_flow() -> impl Strategy<Value = String> {
    (any::<Index>(), prop::collection::vec(mutation(), 1..8)).prop_map(|(seed, mutations)| {
        let seeds = seeds();
        apply(&seeds[seed.index(seeds.len())], &mutations)
    })
}

fn config(cases: u32) -> Config {
    // PROPTEST_CASES overrides the count; failures are reported, not written to files.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_all(&String::from_utf8_lossy(&bytes));
    }
}

proptest! {
    #![proptest_config(config(1500))]

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        check_all(&text);
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn mutated_flows_never_panic(text in mutated_flow()) {
        check_all(&text);
    }
}

// ---------------------------------------------------------------------------------------
// The seeds themselves

#[test]
fn built_in_seeds_compile_without_diagnostics() {
    for seed in [KITCHEN_SINK, NO_SCHEMA] {
        assert_clean(seed);
    }
    // The contract's example calls tools this registry does not have, and that is all.
    let checked = check_all(CONTRACT_EXAMPLE);
    assert!(
        codes(&checked)
            .iter()
            .all(|code| code == "flow::unknown-tool"),
        "{}",
        checked.report.render_short()
    );
}

#[test]
fn every_repository_flow_checks_without_panicking() {
    for seed in seeds() {
        check_all(seed);
    }
}

// ---------------------------------------------------------------------------------------
// Pathological inputs

/// A flow whose one guard is `guard`.
fn with_guard(guard: &str) -> String {
    format!(
        "flow f {{\n  state {{ n: int = 0 }}\n  node a = noop\n  node b = noop\n  start -> a\n  a -> b when {guard}\n  a -> end\n}}\n"
    )
}

/// A flow whose one script is `script`.
fn with_script(script: &str) -> String {
    format!("flow f {{\n  node a {{ {script} }}\n  start -> a\n}}\n")
}

#[test]
fn ten_thousand_nested_parentheses_in_a_guard_are_refused() {
    let deep = format!("{}n > 0{}", "(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(codes(&check_all(&with_guard(&deep))), ["flow::syntax"]);
    let unclosed = "(".repeat(10_000);
    assert_eq!(codes(&check_all(&with_guard(&unclosed))), ["flow::syntax"]);
}

/// Nesting that hides from a bracket count which skips strings and comments: the text
/// before the brackets opens a string or comment as far as a simple scanner can tell, but
/// pest sees code and recurses once per bracket.
#[test]
fn deep_nesting_behind_quotes_and_comments_is_refused() {
    let opens = "(".repeat(10_000);
    let cases = [
        with_guard(&format!("`${{{opens}`")),
        with_script(&format!("`${{{opens}}}`")),
        with_script(&format!("let c = '\"'; {opens}")),
        with_script(&format!("let c = '`'; {opens}")),
        with_script(&format!("let s = \"unterminated\n{opens}")),
        with_script(&format!("/* unterminated {opens}")),
        with_guard(&format!("\"unterminated {opens}")),
        with_guard(&format!("'\"' == {opens}")),
        format!(
            "flow f {{\n  state {{ x: list = {} }}\n}}\n",
            "[".repeat(10_000)
        ),
        format!(
            "flow f {{\n  node a = exec(cmd: {})\n}}\n",
            "{\"a\":".repeat(10_000)
        ),
    ];
    for text in &cases {
        let checked = check_all(text);
        assert!(
            checked.report.has_errors(),
            "accepted:\n{}",
            &text[..text.len().min(200)]
        );
    }
}

/// pest tries a bracket without its match as a group and then as a plain character, so its
/// time doubled with each one: 30 unclosed `(` in a guard took hours. Many are refused
/// before pest runs; this test hangs if they are not.
#[test]
fn many_unclosed_brackets_are_refused_quickly() {
    let opens = "(".repeat(30);
    for text in [
        with_guard(&format!("{opens}n > 0")),
        with_guard(&format!("{}n > 0", "([".repeat(15))),
        with_guard(&format!("{opens}n > 0{}", "]".repeat(30))),
        with_guard(&format!("`${{{opens}n`")),
        with_guard(&format!("\"a\" + {opens}n")),
        with_guard(&format!("\"a + {opens}n")),
        with_guard(&format!("'\"' + {opens}n")),
        with_script(&format!("{opens}x")),
        with_script(&format!("let x = #{{ a: {} }}", "[".repeat(30))),
        format!(
            "flow f {{\n  state {{ x: list = {} }}\n}}\n",
            "[".repeat(30)
        ),
        format!(
            "flow f {{\n  node a = noop\n  start -> a\n{}",
            "  a -> end when (n\n".repeat(30)
        ),
    ] {
        let checked = check_all(&text);
        assert_eq!(
            codes(&checked),
            ["flow::syntax"],
            "{}",
            checked.report.render_short()
        );
    }
}

/// Nesting right at the limit is fine in every place that nests, on a test thread's stack.
#[test]
fn nesting_at_the_limit_does_not_overflow_the_stack() {
    let depth = 60;
    let parens = format!("{}n > 0{}", "(".repeat(depth), ")".repeat(depth));
    let braces = format!("{}{}", "{".repeat(depth), "}".repeat(depth));
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", "{\"a\": ".repeat(depth), "}".repeat(depth));
    for text in [
        with_guard(&parens),
        with_script(&braces),
        with_script(&format!("let x = {arrays};")),
        format!("flow f {{\n  state {{ x: list = {arrays} }}\n  node a = noop\n  start -> a\n}}\n"),
        format!("flow f {{\n  node a = exec(cmd: \"x\", timeout: {objects})\n  start -> a\n}}\n"),
        with_guard(&format!("`${{{parens}}}` == \"\"")),
    ] {
        check_all(&text);
    }
}

#[test]
fn a_one_megabyte_line_is_checked() {
    // One line of a megabyte, most of it one string, with a mistake at its very end: the
    // label is a million columns to the right.
    let long = format!(
        "flow f {{ node a = exec(cmd: \"{}\"); start -> a; a -> nowhere }}",
        "x".repeat(1 << 20)
    );
    assert_eq!(codes(&check_all(&long)), ["flow::undefined-node"]);

    // A hundred kilobytes of nodes and guarded edges on one line (a debug build parses a
    // megabyte of them in seconds): clean, and then broken at the end.
    let mut line = String::from("flow wide { state { n: int = 0 }; node n0 = noop; start -> n0");
    let mut count = 0;
    while line.len() < 100_000 {
        count += 1;
        write!(
            line,
            "; node n{count} = noop; n{} -> n{count} when n > {count}; n{} -> n{count}",
            count - 1,
            count - 1
        )
        .expect("writing to a String");
    }
    line.push_str(" }");
    assert_clean(&line);
    let broken = format!("{} -> ??? }}", &line[..line.len() - 2]);
    assert_eq!(codes(&check_all(&broken)), ["flow::syntax"]);

    // A guard of a hundred kilobytes.
    let mut guard = String::from("n > 0");
    while guard.len() < 100_000 {
        guard.push_str(" && n > 0");
    }
    check_all(&with_guard(&guard));
}

#[test]
fn a_file_of_only_line_breaks_is_empty() {
    assert_eq!(codes(&check_all(&"\r\n".repeat(10_000))), ["flow::syntax"]);
    assert_eq!(codes(&check_all(&"\r".repeat(100))), ["flow::syntax"]);
    assert_eq!(codes(&check_all("")), ["flow::syntax"]);
}

#[test]
fn crlf_line_endings_are_line_breaks() {
    for seed in [KITCHEN_SINK, NO_SCHEMA] {
        assert_clean(&seed.replace('\n', "\r\n"));
    }
    // A lone `\r` is not a line break; whatever it does, it does not panic.
    check_all(&CONTRACT_EXAMPLE.replace('\n', "\r"));
    // Errors in CRLF files are placed on the right line.
    let broken = KITCHEN_SINK
        .replace("limit: int = 3", "limit: int = \"3\"")
        .replace('\n', "\r\n");
    let checked = check_all(&broken);
    assert_eq!(codes(&checked), ["flow::bad-default"]);
    assert!(
        checked.report.render_short().starts_with("fuzz.flow:5:34:"),
        "{}",
        checked.report.render_short()
    );
}

#[test]
fn a_byte_order_mark_is_skipped() {
    assert_clean(&format!("\u{FEFF}{KITCHEN_SINK}"));
    assert_clean(&format!("\u{FEFF}{}", KITCHEN_SINK.replace('\n', "\r\n")));
    let checked = check_all("\u{FEFF}flow f {\n  node a = noop\n  start -> a -> nowhere\n}\n");
    assert_eq!(codes(&checked), ["flow::undefined-node"]);
    // BOMs elsewhere: inside the flow they are blanks, anywhere else they are errors.
    check_all(&CONTRACT_EXAMPLE.replace("node ", "node \u{FEFF}"));
    check_all(&CONTRACT_EXAMPLE.replace("threshold", "thres\u{FEFF}hold"));
}

#[test]
fn non_ascii_text_is_reported_at_character_boundaries() {
    // Identifiers are ASCII: a non-ASCII letter is a syntax error, on its own line and column.
    let checked = check_all("flow f {\n  node café = noop\n  start -> café\n}\n");
    assert_eq!(codes(&checked), ["flow::syntax"]);
    assert!(
        checked.report.render_short().starts_with("fuzz.flow:2:11:"),
        "{}",
        checked.report.render_short()
    );
    for text in [
        "flow flöw { }",
        "flow f { node ñ }",
        "flow f { start -> 日本 }",
        "flow f {\n  node a = noop\n  start -> a\n  a -> end when é > 0\n}",
        "flow f {\n  state { n: int = 0 }\n  node a = noop\n  start -> a\n  a -> end when n > \"日本\" + é\n}",
        "flow f {\n  node a { let é = 1; }\n  start -> a\n}",
        "flow f {\n  node a { x = \"日本\"; y = '日' ; z = `${日本}` }\n  start -> a\n}",
        "/// Dökümantasyon 📝\nflow f {\n  /// 节点\n  node a = exec(cmd: \"écho 😀\", timeout: 5日)\n  start -> a\n}",
        "flow f { state { 名前: string } }",
        "flow f {\n  state { s: string = \"\\u00e9\\ud800\" }\n}",
        "flow f {\n  node a = noop\n  start -> a\n  a -> end when 😀😀😀 && 😀\n}",
        "😀",
        "flow 😀",
        "\u{FEFF}😀 flow f { }",
    ] {
        check_all(text);
    }
}

/// `start -> n0 -> … -> n{count-1}`, with each node declared.
fn chain_flow(count: usize, separator: &str) -> String {
    let mut text = String::from("flow chain {\n");
    for i in 0..count {
        writeln!(text, "  node n{i} = noop").expect("writing to a String");
    }
    text.push_str("  start");
    for i in 0..count {
        write!(text, " ->{separator}n{i}").expect("writing to a String");
    }
    text.push_str("\n}\n");
    text
}

#[test]
fn very_long_chains_are_checked() {
    assert_clean(&chain_flow(10_000, " "));
    assert_clean(&chain_flow(10_000, "\n    "));

    // A chain closed into a cycle no run can leave: one diagnostic with a label on every
    // node, of which `human` draws the first `MAX_HUMAN_LABELS`.
    let count = 2_000;
    let cycle = chain_flow(count, " ").replace("\n}\n", " -> n0\n}\n");
    let checked = check_all(&cycle);
    assert_eq!(codes(&checked), ["flow::inescapable-cycle"]);
    assert!(
        checked.report.render_human(false, 80).contains(&format!(
            "note: {} more labels not shown",
            count - MAX_HUMAN_LABELS
        )),
        "the labels past the first {MAX_HUMAN_LABELS} are counted"
    );

    // Thousands of edges to nodes that do not exist: one diagnostic each.
    let mut text = String::from("flow f {\n  node a = noop\n  start -> a\n");
    for i in 0..count {
        writeln!(text, "  a -> missing{i} when {i} > 0").expect("writing to a String");
    }
    text.push('}');
    assert_eq!(check_all(&text).report.error_count(), count);
}

#[test]
fn deeply_nested_loops_are_checked() {
    let depth = 30;
    let mut text =
        String::from("flow f {\n  state { n: int = 0 }\n  node work = noop\n  start -> l0\n");
    for i in 0..depth {
        writeln!(text, "{:indent$}loop l{i} max 2 {{", "", indent = i + 2)
            .expect("writing to a String");
    }
    writeln!(text, "{:indent$}work", "", indent = depth + 2).expect("writing to a String");
    for i in (0..depth).rev() {
        writeln!(text, "{:indent$}}} until n > {i}", "", indent = i + 2)
            .expect("writing to a String");
    }
    text.push_str("}\n");
    check_all(&text);
}

/// Inputs that once broke something; each stays a test.
#[test]
fn regressions() {
    let far_right = format!("flow f {{ {}start -> nowhere }}", " ".repeat(70_000));
    let far_right_tabs = format!(
        "flow f {{ node a = noop; start -> a{}; a -> b }}",
        "\t".repeat(17_000)
    );
    for text in [
        // A bad escape before a multi-byte character: the label split the character.
        "flow f {\n  state { s: string = \"\\é\" }\n}",
        "flow f {\n  state { s: string = \"\\u00😀\" }\n}",
        "flow f {\n  node a = exec(cmd: \"\\\u{FFFD}free\")\n  start -> a\n}",
        // A label past column 65535 of its line made miette's renderer panic.
        &far_right,
        &far_right_tabs,
        // A lone `start` set "a start is written" without an edge or an error.
        "flow f {\n  node a = noop\n  start\n}",
        "flow f {\n  node a = noop\n  start when a > 0\n}",
        "flow f {\n  node a = noop\n  start on error\n}",
        "flow f {\n  node a = noop\n  start -> a\n  a -> a when true\n}",
    ] {
        check_all(text);
    }
}

// ---------------------------------------------------------------------------------------
// Rendering many diagnostics

/// A problem with one label, like `flow::undefined-node`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("`{name}` is not declared")]
#[diagnostic(
    code("flow::undefined-node"),
    help("declare it with `node {name} = …`")
)]
struct Undeclared {
    name: String,
    #[label("no node or loop has this name")]
    at: miette::SourceSpan,
}

/// A problem with a label on every line, like `flow::inescapable-cycle`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cycle can never be left")]
#[diagnostic(
    code("flow::inescapable-cycle"),
    help("give one of these nodes a way out")
)]
struct Everywhere {
    #[label(primary, "the cycle starts here")]
    at: miette::SourceSpan,
    #[label(collection, "and continues here")]
    rest: Vec<miette::SourceSpan>,
}

/// `count` lines `  a -> missing{i}`, alternating `\n` and `\r\n`, with a non-ASCII name
/// in front so columns count characters; and the span of each `missing{i}`.
fn lines_to_label(count: usize) -> (String, Vec<miette::SourceSpan>) {
    let mut text = String::from("flow é {\n");
    let mut spans = Vec::with_capacity(count);
    for i in 0..count {
        text.push_str("  é -> ");
        let name = format!("missing{i}");
        spans.push((text.len(), name.len()).into());
        text.push_str(&name);
        text.push_str(if i % 2 == 0 { "\n" } else { "\r\n" });
    }
    text.push_str("}\n");
    (text, spans)
}

/// Runs `render` and prints how long it took: `--nocapture` shows it (docs/performance.md
/// quotes the figures of a release build).
#[allow(clippy::print_stderr)]
fn timed<T>(what: &str, render: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let value = render();
    eprintln!("{what}: {:?}", started.elapsed());
    value
}

/// Each renderer once took time quadratic in the number of diagnostics (in a release build,
/// `human` took 5.7 s for 16,000 and 38 s for 40,000). Now each format shows the first
/// [`MAX_SHOWN_PROBLEMS`] and counts the rest; they are pushed last line first, so the ones
/// shown are at the end of a long file, where reading a snippet was slow.
#[test]
fn twenty_thousand_diagnostics_show_the_first_hundred_in_every_format() {
    let count = 20_000;
    let (text, spans) = lines_to_label(count);
    let mut report = FileReport::new(SourceFile::new("many.flow", text));
    for (i, at) in spans.into_iter().enumerate().rev() {
        report.push(Undeclared {
            name: format!("missing{i}"),
            at,
        });
    }
    let more = format!(
        "many.flow: {} more problems not shown (at most {MAX_SHOWN_PROBLEMS} per file)",
        count - MAX_SHOWN_PROBLEMS
    );
    assert_eq!(report.error_count(), count, "every problem is counted");

    let human = timed("20,000 diagnostics, human", || {
        report.render_human(false, 80)
    });
    assert_eq!(
        human.matches("flow::undefined-node\n").count(),
        MAX_SHOWN_PROBLEMS
    );
    let last = count + 1;
    // miette counts the column in bytes, `short` and `json` in characters.
    assert!(
        human.contains(&format!("[many.flow:{last}:9]")),
        "the last line's snippet is placed on its line:\n{}",
        &human[..500]
    );
    assert_eq!(human.lines().last(), Some(more.as_str()));

    let short = timed("20,000 diagnostics, short", || report.render_short());
    assert_eq!(short.lines().count(), MAX_SHOWN_PROBLEMS + 1);
    assert_eq!(
        short.lines().next(),
        Some(
            format!(
                "many.flow:{last}:8: error[flow::undefined-node]: `missing{}` is not declared",
                count - 1
            )
            .as_str()
        )
    );
    assert_eq!(short.lines().last(), Some(more.as_str()));

    let json = timed("20,000 diagnostics, json", || report.to_json());
    let diagnostics = json["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(diagnostics.len(), MAX_SHOWN_PROBLEMS);
    assert_eq!(
        json["omitted"].as_u64(),
        Some((count - MAX_SHOWN_PROBLEMS) as u64)
    );
    assert_eq!(json["errors"].as_u64(), Some(count as u64));
    let label = &diagnostics[0]["labels"][0];
    assert_eq!(
        (label["line"].as_u64(), label["column"].as_u64()),
        (Some(last as u64), Some(8))
    );
}

/// One diagnostic with a label on each of thousands of lines: miette draws every label of a
/// snippet against every line of it, so `human` shows the first few and counts the rest,
/// while `short` and `json` keep them all.
#[test]
fn a_diagnostic_with_twenty_thousand_labels_renders_in_every_format() {
    let count = 20_000;
    let (text, spans) = lines_to_label(count);
    let mut spans = spans.into_iter();
    let at = spans.next().expect("one span at least");
    let mut report = FileReport::new(SourceFile::new("cycle.flow", text));
    report.push(Everywhere {
        at,
        rest: spans.collect(),
    });

    let human = timed("20,000 labels, human", || report.render_human(false, 80));
    assert_eq!(
        human.matches("and continues here").count(),
        MAX_HUMAN_LABELS - 1
    );
    assert!(
        human.contains(&format!(
            "note: {} more labels not shown",
            count - MAX_HUMAN_LABELS
        )),
        "{human}"
    );

    let short = timed("20,000 labels, short", || report.render_short());
    assert_eq!(short.lines().count(), 1);
    assert!(short.starts_with("cycle.flow:2:8: "), "{short}");

    let json = timed("20,000 labels, json", || report.to_json());
    let labels = json["diagnostics"][0]["labels"].as_array().expect("labels");
    assert_eq!(labels.len(), count);
}

// ---------------------------------------------------------------------------------------
// Flows from a small grammar of items

/// A name in a generated chain: mostly declared nodes and loops, sometimes `start` or
/// `end` (also where the grammar has no room for them) or an undeclared name.
fn endpoint(first: bool) -> impl Strategy<Value = &'static str> {
    let (start, end) = if first { (3, 1) } else { (1, 2) };
    prop_oneof![
        6 => prop::sample::select(&["a", "b", "c"][..]),
        3 => prop::sample::select(&["l0", "l1"][..]),
        start => Just("start"),
        end => Just("end"),
        1 => Just("x"),
    ]
}

/// What may follow a chain: mostly nothing, or a guard (well-formed, a syntax error, an
/// unknown name, a constant) or `on error`.
fn condition() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        8 => Just(""),
        2 => Just(" when n > 0"),
        1 => prop::sample::select(&[" when 1 +", " when m", " when true"][..]),
        2 => Just(" on error"),
    ]
}

/// One chain `e1 -> e2 -> …` of one to four endpoints, and what follows it.
fn generated_chain() -> impl Strategy<Value = String> {
    (
        endpoint(true),
        prop::collection::vec(endpoint(false), 0..4),
        condition(),
    )
        .prop_map(|(first, rest, condition)| {
            std::iter::once(first)
                .chain(rest)
                .collect::<Vec<_>>()
                .join(" -> ")
                + condition
        })
}

/// Chains and loops (nested, empty, without `max`), one to a line or `;`-separated.
fn generated_items() -> impl Strategy<Value = Vec<String>> {
    let leaf = generated_chain().prop_map(|chain| vec![chain]);
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            3 => prop::collection::vec(generated_chain(), 1..3),
            1 => (
                prop::sample::select(&["l0", "l1", "l2"][..]),
                prop_oneof![6 => Just("max 2 "), 1 => Just("max 0 "), 1 => Just("")],
                prop::collection::vec(inner, 0..3),
                prop_oneof![6 => Just("n > 2"), 1 => Just("true"), 1 => Just("1 +")],
                any::<bool>(),
            )
                .prop_map(|(name, max, body, until, semicolons)| {
                    let body: Vec<String> = body.concat();
                    let separator = if semicolons { "; " } else { "\n" };
                    vec![format!(
                        "loop {name} {max}{{ {} }} until {until}",
                        body.join(separator)
                    )]
                }),
        ]
    })
}

/// A flow with a schema, three nodes (a tool, a script, a junction), a start edge and
/// generated items: often enough free of errors to reach the building of the program.
fn generated_flow() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["a", "l0", "l1"][..]),
        prop::collection::vec(generated_items(), 1..4),
    )
        .prop_map(|(first, items)| {
            format!(
                "flow f {{\n  state {{ n: int = 0 }}\n  node a = noop\n  node b {{ n += 1 }}\n  node c\n  start -> {first}\n  {}\n}}\n",
                items.concat().join("\n  ")
            )
        })
}

proptest! {
    #![proptest_config(config(1000))]

    /// Well-formed flows in odd shapes: `start` and `end` inside loop bodies and chains,
    /// guards and `on error` on one-endpoint chains, empty and nested loops. Mutations of
    /// real flows rarely build these, and a lone `start` opening a loop body once panicked.
    #[test]
    fn flows_from_a_grammar_of_items_never_panic(text in generated_flow()) {
        check_all(&text);
    }
}

/// A lone `start` opening a loop body left the loop without an entry and no error, and the
/// compiler panicked building the program; a condition on a chain of one name was dropped.
#[test]
fn lone_starts_and_conditions_without_an_edge_are_errors() {
    let flow = |items: &str| {
        format!(
            "flow f {{\n  state {{ n: int = 0 }}\n  node a = noop\n  node b = noop\n  {items}\n}}\n"
        )
    };
    for (items, expected) in [
        (
            "start -> l\n  loop l max 2 { start; a } until n > 0",
            vec!["flow::lone-start"],
        ),
        (
            "start -> l\n  loop l max 2 { start } until n > 0",
            vec!["flow::lone-start"],
        ),
        ("start -> a\n  start", vec!["flow::lone-start"]),
        (
            "start -> a -> b\n  a when 1 +",
            vec!["flow::guard-without-edge", "flow::guard-syntax"],
        ),
        (
            "start -> a -> b\n  a when n > 0",
            vec!["flow::guard-without-edge"],
        ),
        (
            "start -> a -> b\n  b on error",
            vec!["flow::on-error-without-edge"],
        ),
        (
            "start -> a\n  start when n > 0",
            vec!["flow::lone-start", "flow::guard-without-edge"],
        ),
    ] {
        let checked = check_all(&flow(items));
        let errors: Vec<String> = codes(&checked)
            .into_iter()
            .filter(|code| !code.ends_with("-node") && code != "flow::constant-guard")
            .collect();
        assert_eq!(errors, expected, "{items}");
    }
}

/// Hostile files: a script of thousands of unknown names (one compile per name took 112 s
/// for 43 KB in a release build) and a file of thousands of errors (200,000 took minutes and
/// gigabytes to render in `human`). Each is checked, every problem counted, a hundred shown.
#[test]
fn hostile_files_are_checked_and_their_report_capped() {
    let names = 2_000;
    let assignments: Vec<String> = (0..names).map(|i| format!("u{i} = n")).collect();
    let unknown = format!(
        "flow f {{\n  state {{ n: int = 0 }}\n  node a {{ {} }}\n  start -> a\n}}\n",
        assignments.join("; ")
    );
    let errors = 5_000;
    let mut undefined = String::from("flow f {\n  node a = noop\n  start -> a\n");
    for i in 0..errors {
        writeln!(undefined, "  a -> m{i}").expect("writing to a String");
    }
    undefined.push_str("}\n");

    for (text, count, code) in [
        (unknown, names, "flow::unknown-field"),
        (undefined, errors, "flow::undefined-node"),
    ] {
        let checked = check_all(&text);
        let report = &checked.report;
        assert_eq!(report.error_count(), count);
        let json = report.to_json();
        assert_eq!(
            json["omitted"].as_u64(),
            Some((count - MAX_SHOWN_PROBLEMS) as u64)
        );
        let human = report.render_human(false, 80);
        assert_eq!(
            human.matches(&format!("{code}\n")).count(),
            MAX_SHOWN_PROBLEMS
        );
    }
}

/// Control characters of the file never reach the terminal raw: `human` and `short` show
/// them escaped in messages and as one visible character in snippets, with the label still
/// under the character it points at; `json` keeps the exact text.
#[test]
fn control_characters_are_shown_escaped_and_labels_stay_in_place() {
    let hidden = |text: &str| {
        text.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    };
    let text = "flow f {\n  // title: \u{1b}]0;pwned\u{7} and \u{1b}[2J\n  node a = exec(cmd: \"echo \u{1b}[31mred\u{7}\")\n  start -> a -> b\u{1b}[1m\n}\n";
    let checked = check_all(text);
    let report = &checked.report;
    assert_eq!(codes(&checked), ["flow::syntax"]);

    let human = report.render_human(false, 100);
    assert!(!hidden(&human), "{human:?}");
    assert!(human.contains("found `\\u{1b}`"), "{human}");
    assert!(
        human.contains("\"echo \u{241b}[31mred\u{2407}\""),
        "{human}"
    );
    // The label's arrow is under the picture of the ESC it points at.
    let lines: Vec<&str> = human.lines().collect();
    let snippet = lines
        .iter()
        .position(|line| line.contains("-> b\u{241b}"))
        .expect("the snippet line");
    let column = |line: &str, what: char| line.chars().position(|c| c == what);
    assert_eq!(
        column(lines[snippet + 1], '┬'),
        column(lines[snippet], '\u{241b}'),
        "{human}"
    );

    let short = report.render_short();
    assert!(!hidden(&short), "{short:?}");
    assert!(short.contains("found `\\u{1b}`"), "{short}");

    let json = report.to_json();
    assert_eq!(
        json["diagnostics"][0]["message"].as_str(),
        Some("expected `on error` or `when GUARD`, found `\u{1b}`")
    );
}

// ---------------------------------------------------------------------------------------
// Raised sandbox limits, in a child process: a stack overflow would be a signal exit

mod raised_limits {
    use assert_cmd::prelude::*;
    use std::process::{Command, Output};

    const RECURSION: &str = "flow r {\n  node go { fn f(n) { if n == 0 { 0 } else { 1 + f(n - 1) } } x = f(5000); }\n  start -> go\n}\n";

    fn run(text: &str, limits: &[&str]) -> Output {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.flow"), text).unwrap();
        let mut command = Command::cargo_bin("flowc").unwrap();
        command
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .args(["run", "--quiet", "r.flow"]);
        for limit in limits {
            command.args(["--limit", limit]);
        }
        command.output().unwrap()
    }

    fn stderr(output: &Output) -> String {
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    #[test]
    fn recursion_at_the_highest_call_levels_ends_in_the_limit_not_a_crash() {
        let output = run(
            RECURSION,
            &["max_call_levels=256", "max_function_expr_depth=256"],
        );
        // A signal (SIGSEGV, SIGABRT on stack overflow) leaves no exit code.
        assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
        assert!(
            stderr(&output).contains("exceeded the sandbox limit `max_call_levels` (256"),
            "{}",
            stderr(&output)
        );
    }

    #[test]
    fn a_depth_limit_above_its_ceiling_is_a_usage_error() {
        for (limit, name, ceiling) in [
            ("max_call_levels=2000", "max_call_levels", 256),
            ("max_expr_depth=0", "max_expr_depth", 512),
            (
                "max_function_expr_depth=100000",
                "max_function_expr_depth",
                256,
            ),
        ] {
            let output = run(RECURSION, &[limit]);
            assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
            assert!(
                stderr(&output).contains(&format!("`{name}` can be raised to {ceiling} at most")),
                "{}",
                stderr(&output)
            );
        }
    }

    #[test]
    fn nesting_at_the_highest_expression_depth_evaluates_without_a_crash() {
        let nots = "!".repeat(500);
        let text = format!(
            "flow d {{\n  state {{ b: bool = true, x: bool = false }}\n  node go {{ x = {nots}b; }}\n  start -> go\n}}\n"
        );
        let output = run(&text, &["max_expr_depth=512"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let deeper = format!(
            "flow d {{\n  state {{ x: int = 0 }}\n  node go {{ x = {}1; }}\n  start -> go\n}}\n",
            "1+".repeat(20_000)
        );
        let output = run(&deeper, &["max_expr_depth=512"]);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    }
}
