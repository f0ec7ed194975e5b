//! Why a guard or script did not produce a value, as data ([`CodeFailure`]), and its
//! rendering into a message and a help: the one place a script failure is put in words.

use std::time::Duration;

use crate::runtime::state::BadWrite;
use crate::sandbox::{Limits, Problem, RefusedComparison};
use crate::span::Span;
use crate::value::{DurationStyle, format_duration};

/// Which time limit ended an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// The sandbox's `max_wall_time_ms` for one evaluation.
    Wall = 1,
    /// The node's `timeout`.
    Node = 2,
    /// The run's `--timeout`.
    Run = 3,
}

/// Why a guard or script did not produce a value.
#[derive(Debug)]
pub(crate) enum CodeFailure {
    Cancelled,
    Deadline(Deadline),
    /// A sandbox limit: its setting's name and value.
    Limit {
        limit: &'static str,
        value: String,
        at: Span,
    },
    /// A comparison of values of types that do not compare (`"999" > 120`).
    RefusedComparison {
        left: &'static str,
        right: &'static str,
        operator: &'static str,
        at: Span,
    },
    /// What went wrong in the code's own terms, and the list item a `for` loop was on.
    Problem {
        problem: Problem,
        item: Option<LoopItem>,
        at: Span,
    },
    Error {
        reason: String,
        at: Span,
    },
    /// A value that does not fit its field's declared type.
    Write(Box<BadWrite>),
}

impl CodeFailure {
    /// The reason in one line, and help where a fix is known.
    pub(crate) fn describe(&self, limits: &Limits) -> (String, String) {
        match self {
            CodeFailure::Limit { limit, value, .. } if *limit == "max_value_depth" => (
                format!("exceeded the sandbox limit `{limit}` ({value})"),
                "state values nest at most this deep; flatten the structure".to_owned(),
            ),
            CodeFailure::Limit { limit, value, .. } => (
                format!("exceeded the sandbox limit `{limit}` ({value})"),
                format!(
                    "the code must stay within `{limit}`; if the work is expected, raise it with \
                     `flowc run --limit {limit}=N` (`RunOptions::limits` when embedding)"
                ),
            ),
            CodeFailure::Deadline(Deadline::Wall) => (
                format!(
                    "exceeded the sandbox limit `max_wall_time_ms` ({})",
                    format_duration(
                        Duration::from_millis(limits.max_wall_time_ms),
                        DurationStyle::Literal
                    )
                ),
                "the code must finish within `max_wall_time_ms`; look for a loop that does not end, or \
                 raise it with `flowc run --limit max_wall_time_ms=N`"
                    .to_owned(),
            ),
            CodeFailure::RefusedComparison {
                left,
                right,
                operator,
                ..
            } => (
                RefusedComparison {
                    left,
                    right,
                    operator,
                }
                .to_string(),
                "values of one type compare (ints and floats mix); convert one side first, e.g. \
                 `parse_int(x)` or `x.to_string()`"
                    .to_owned(),
            ),
            CodeFailure::Problem { problem, item, .. } => {
                let context = match item {
                    Some(LoopItem {
                        variable: Some(variable),
                        index,
                    }) => format!(" (in the `for {variable}` loop, at index {index})"),
                    Some(LoopItem {
                        variable: None,
                        index,
                    }) => format!(" (in a `for` loop, at index {index})"),
                    None => String::new(),
                };
                (
                    format!("{problem}{context}"),
                    problem.help().unwrap_or_default(),
                )
            }
            CodeFailure::Error { reason, .. } => (reason.clone(), String::new()),
            CodeFailure::Deadline(_) | CodeFailure::Cancelled | CodeFailure::Write(_) => {
                (String::new(), String::new())
            }
        }
    }

    pub(crate) fn at(&self) -> Option<Span> {
        match self {
            CodeFailure::Limit { at, .. }
            | CodeFailure::RefusedComparison { at, .. }
            | CodeFailure::Problem { at, .. }
            | CodeFailure::Error { at, .. } => Some(*at),
            _ => None,
        }
    }
}

/// The item a failing `for` loop over a list was processing.
#[derive(Debug)]
pub(crate) struct LoopItem {
    /// The loop's variable, when the failure is in the loop's own body.
    pub(crate) variable: Option<String>,
    pub(crate) index: usize,
}

/// A size limit's value in its unit (`1048576 bytes`).
pub(crate) fn limit_value(limits: &Limits, limit: &str) -> String {
    match limit {
        "max_string_size" => format!("{} bytes", limits.max_string_size),
        "max_total_string_size" => format!("{} bytes", limits.max_total_string_size),
        "max_array_size" => format!("{} elements", limits.max_array_size),
        "max_map_size" => format!("{} entries", limits.max_map_size),
        "max_total_size" => format!(
            "{} list elements or map entries in one value",
            limits.max_total_size
        ),
        other => unreachable!("`{other}` is not a size limit"),
    }
}
