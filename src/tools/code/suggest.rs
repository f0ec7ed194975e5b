//! `code.suggest`: a concrete suggestion per issue and per complex function, and a quality
//! score, from what `code.analyze` left in the state (`issues`, and `functions` when there).
//!
//! The score: each issue weighs [`issue_weight`], each function its rank's
//! [`rank_weight`]; with `P` the sum and `n` the number of functions (at least 1),
//! `quality_score = round(100 · 10n / (10n + P))`. No penalty scores 100; an average penalty
//! of 10 per function scores 50. Dividing by the size keeps a large clean file from scoring
//! worse than a small one with the same faults per function.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::inputs::kind_name;
use super::issues::IssueKind;
use super::to_json;
use crate::tools::{ArgType, Tool, ToolCall, ToolFailure, ToolRegistry, ToolSpec};

/// A function of rank C or worse (complexity over 10) gets a suggestion to split it.
const COMPLEX_FROM: u32 = 11;

pub(super) fn register(registry: &mut ToolRegistry) {
    registry.register(
        ToolSpec::new(
            "code.suggest",
            "Turns `code.analyze`'s `issues` and `functions` in the state into `suggestions` (one per issue and per function of rank C or worse) and a `quality_score` from 0 to 100.",
        )
        .optional("min_rank", ArgType::one_of(&["B", "C", "D", "E", "F"]), "suggest splitting functions of this rank or worse (default C)"),
        Suggest,
    );
}

struct Suggest;

/// An issue as the state holds it (a script may have edited or added some).
#[derive(Debug, Deserialize)]
struct IssueRecord {
    #[serde(default)]
    file: Option<String>,
    kind: IssueKind,
    line: usize,
    #[serde(default)]
    function: Option<String>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    measure: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    parameter: Option<String>,
    #[serde(default)]
    default: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FunctionRecord {
    #[serde(default)]
    file: Option<String>,
    name: String,
    #[serde(default)]
    class: Option<String>,
    line: usize,
    complexity: u32,
}

#[derive(Debug, PartialEq, Eq, Serialize)]
#[expect(
    clippy::struct_field_names,
    reason = "`suggestion` is the state's field name"
)]
struct Suggestion {
    file: Option<String>,
    line: usize,
    function: Option<String>,
    /// The issue kind, or `complexity` for a complex function.
    kind: String,
    suggestion: String,
}

/// How much an issue costs the score.
pub(super) fn issue_weight(kind: IssueKind) -> u32 {
    match kind {
        IssueKind::SyntaxError => 10,
        IssueKind::BareExcept | IssueKind::MutableDefault => 4,
        IssueKind::LongFunction => 3,
        IssueKind::TooManyParameters => 2,
        IssueKind::MissingDocstring | IssueKind::Todo => 1,
    }
}

/// How much a function of this complexity costs the score, by radon's rank.
pub(super) fn rank_weight(complexity: u32) -> u32 {
    match super::complexity::rank(complexity) {
        'A' => 0,
        'B' => 1,
        'C' => 3,
        'D' => 6,
        'E' => 10,
        _ => 15,
    }
}

fn quality_score(penalty: u32, functions: usize) -> u32 {
    let size = 10.0 * f64::from(u32::try_from(functions.max(1)).unwrap_or(u32::MAX));
    let score = (100.0 * size / (size + f64::from(penalty))).round();
    // The ratio lies in (0, 1], so the score is a whole number from 0 to 100.
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "0..=100"
    )]
    let score = score as u32;
    score
}

impl Tool for Suggest {
    fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        let complex_from = match call.args.get("min_rank").and_then(Value::as_str) {
            Some("B") => 6,
            Some("D") => 21,
            Some("E") => 31,
            Some("F") => 41,
            _ => COMPLEX_FROM,
        };
        let issues: Vec<IssueRecord> = records(call, "issues", true)?;
        let functions: Vec<FunctionRecord> = records(call, "functions", false)?;
        let mut suggestions = Vec::new();
        let mut penalty = 0;
        for function in &functions {
            penalty += rank_weight(function.complexity);
            if function.complexity >= complex_from {
                suggestions.push(split(function));
            }
        }
        for issue in &issues {
            penalty += issue_weight(issue.kind);
            suggestions.push(Suggestion {
                file: issue.file.clone(),
                line: issue.line,
                function: issue.function.clone(),
                kind: to_json(&issue.kind).as_str().unwrap_or_default().to_owned(),
                suggestion: advice(issue),
            });
        }
        suggestions.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        Ok(Map::from_iter([
            ("suggestions".to_owned(), to_json(&suggestions)),
            (
                "quality_score".to_owned(),
                Value::from(quality_score(penalty, functions.len())),
            ),
        ]))
    }
}

/// The state field `field` as a list of records; missing is an empty list unless `required`.
fn records<T: for<'de> Deserialize<'de>>(
    call: &ToolCall<'_>,
    field: &str,
    required: bool,
) -> Result<Vec<T>, ToolFailure> {
    let items = match call.state.get(field) {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) if !required => return Ok(Vec::new()),
        None | Some(Value::Null) => {
            return Err(ToolFailure::failed(format!(
                "code.suggest needs the state field `{field}` (run code.analyze first)"
            )));
        }
        Some(other) => {
            return Err(ToolFailure::failed(format!(
                "state field `{field}` must be a list of maps, not {}",
                kind_name(other)
            )));
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            T::deserialize(item).map_err(|error| {
                ToolFailure::failed(format!("state field `{field}` item {index}: {error}"))
            })
        })
        .collect()
}

fn split(function: &FunctionRecord) -> Suggestion {
    let name = match &function.class {
        Some(class) => format!("{class}.{}", function.name),
        None => function.name.clone(),
    };
    let rank = super::complexity::rank(function.complexity);
    Suggestion {
        file: function.file.clone(),
        line: function.line,
        function: Some(name.clone()),
        kind: "complexity".to_owned(),
        suggestion: format!(
            "split `{name}` (complexity {}, rank {rank}) into smaller functions: move the body of each branch or loop into a helper with a name that says what it does",
            function.complexity
        ),
    }
}

fn advice(issue: &IssueRecord) -> String {
    let name = issue.function.as_deref().unwrap_or("this code");
    match issue.kind {
        IssueKind::SyntaxError => format!(
            "fix the syntax error at line {} ({}): until then Python cannot import the file",
            issue.line, issue.message
        ),
        IssueKind::LongFunction => match (issue.measure, issue.limit) {
            (Some(lines), Some(limit)) => format!(
                "split `{name}` ({lines} lines) into functions of at most {limit} lines, each doing one step"
            ),
            _ => format!("split `{name}` into shorter functions, each doing one step"),
        },
        IssueKind::TooManyParameters => match issue.measure {
            Some(count) => format!(
                "group the {count} parameters of `{name}` into a dataclass (or keyword-only arguments with defaults) so callers cannot mix them up"
            ),
            None => format!("group the parameters of `{name}` into a dataclass"),
        },
        IssueKind::MissingDocstring => format!(
            "add a docstring to `{}` saying what it does, what it takes and what it returns",
            issue
                .function
                .as_deref()
                .unwrap_or_else(|| class_in(&issue.message))
        ),
        IssueKind::BareExcept => format!(
            "in `{name}`, catch the exceptions you expect (`except ValueError:`), or at least `except Exception:`, so Ctrl-C and sys.exit still stop the program"
        ),
        IssueKind::MutableDefault => match (&issue.parameter, &issue.default) {
            (Some(parameter), Some(default)) => format!(
                "replace `def {}({parameter}={default})` with `{parameter}=None` and `if {parameter} is None: {parameter} = {default}`",
                short_name(name)
            ),
            _ => format!(
                "replace the mutable default of `{name}` with `None` and build the value inside"
            ),
        },
        IssueKind::Todo => format!(
            "resolve the comment at line {} or track it as an issue: {}",
            issue.line, issue.message
        ),
    }
}

/// The last part of a qualified name: `def` is written with it.
fn short_name(qualname: &str) -> &str {
    qualname.rsplit('.').next().unwrap_or(qualname)
}

/// The class a `missing-docstring` message names (between the first pair of backticks).
fn class_in(message: &str) -> &str {
    message.split('`').nth(1).unwrap_or("this class")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::quality_score;
    use crate::tools::code::testing::{call, failure};

    fn suggest(state: &Value) -> serde_json::Map<String, Value> {
        call("code.suggest", std::path::Path::new("."), &json!({}), state).expect("suggested")
    }

    #[test]
    fn the_score_divides_the_penalty_by_the_size() {
        assert_eq!(quality_score(0, 0), 100);
        assert_eq!(quality_score(10, 1), 50);
        assert_eq!(quality_score(10, 4), 80);
        assert_eq!(quality_score(5, 2), 80);
        assert_eq!(quality_score(1000, 1), 1);
    }

    #[test]
    fn each_issue_and_complex_function_gets_a_concrete_suggestion() {
        let state = json!({
            "functions": [
                {"file": "a.py", "name": "parse", "class": null, "line": 3, "complexity": 14},
                {"file": "a.py", "name": "ok", "class": "C", "line": 30, "complexity": 2},
            ],
            "issues": [
                {"file": "a.py", "kind": "mutable-default", "line": 40, "function": "C.add",
                 "message": "…", "parameter": "items", "default": "[]"},
                {"file": "a.py", "kind": "bare-except", "line": 9, "function": "parse", "message": "…"},
            ],
        });
        let changes = suggest(&state);
        let texts: Vec<_> = changes["suggestions"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|s| {
                (
                    s["line"].clone(),
                    s["kind"].clone(),
                    s["suggestion"].clone(),
                )
            })
            .collect();
        assert_eq!(texts.len(), 3);
        assert_eq!(texts[0].0, json!(3));
        assert_eq!(
            texts[0].2,
            json!(
                "split `parse` (complexity 14, rank C) into smaller functions: move the body of each branch or loop into a helper with a name that says what it does"
            )
        );
        assert_eq!(texts[1].1, json!("bare-except"));
        assert_eq!(
            texts[2].2,
            json!(
                "replace `def add(items=[])` with `items=None` and `if items is None: items = []`"
            )
        );
        // Penalty: rank C 3 + A 0 + mutable default 4 + bare except 4 = 11 over 2 functions.
        assert_eq!(changes["quality_score"], json!(quality_score(11, 2)));
        assert_eq!(changes["quality_score"], json!(65));
    }

    #[test]
    fn bad_state_fails_naming_the_field() {
        let run = |state: Value| {
            failure(call(
                "code.suggest",
                std::path::Path::new("."),
                &json!({}),
                &state,
            ))
        };
        assert_eq!(
            run(json!({})),
            "code.suggest needs the state field `issues` (run code.analyze first)"
        );
        assert_eq!(
            run(json!({"issues": {}})),
            "state field `issues` must be a list of maps, not a map"
        );
        let unknown = run(json!({"issues": [{"kind": "smell", "line": 1}]}));
        assert!(
            unknown.starts_with("state field `issues` item 0: unknown variant `smell`"),
            "{unknown}"
        );
        let missing = run(json!({"issues": [], "functions": [{"name": "f", "line": 1}]}));
        assert!(
            missing.starts_with("state field `functions` item 0: missing field `complexity`"),
            "{missing}"
        );
    }
}
