//! `code.analyze`: radon's cyclomatic complexity of every function, method and class (see
//! [`super::complexity`]), and the issues of [`super::issues`], over one file or many (see
//! [`super::inputs`]), aggregated. Sets `functions` (`file`, `name`, `class`, `kind`
//! `"function"` or `"method"`, `line`, `end_line`, `complexity`, `rank`), `classes` (`file`,
//! `name`, `line`, `end_line`, `complexity`, `rank`) and `issues` (`file`, `kind`, `line`,
//! `function`, `message`). A file with syntax errors is analyzed as far as the parser could
//! read it, and each error is a `syntax-error` issue.

use serde::Serialize;
use serde_json::{Map, Value};

use super::complexity::{blocks, rank};
use super::definitions::definitions;
use super::each_file::map_files;
use super::inputs::files;
use super::issues::{Issue, Limits, issues};
use super::source::PythonFile;
use super::{count_arg, to_json};
use crate::tools::{ArgType, Tool, ToolCall, ToolFailure, ToolRegistry, ToolSpec};

pub(super) fn register(registry: &mut ToolRegistry) {
    let defaults = Limits::default();
    registry.register(
        ToolSpec::new(
            "code.analyze",
            "Cyclomatic complexity (as radon computes it) and rank of every function, method and class of Python files, and their issues (syntax errors, long functions, too many parameters, missing docstrings, bare except, mutable defaults, TODO comments); sets `functions`, `classes` and `issues`.",
        )
        .optional("file", ArgType::String, "one Python file, relative to the flow's folder")
        .optional("files", ArgType::list_of(ArgType::String), "several Python files")
        .optional("input", ArgType::one_of(&["file", "files"]), "without `file` or `files`: which state field names the files (default: `file` when set, else `files`)")
        .optional("max_function_lines", ArgType::Int, &format!("a longer function is an issue (default {})", defaults.max_function_lines))
        .optional("max_parameters", ArgType::Int, &format!("a function taking more is an issue, `self` and `cls` not counted (default {})", defaults.max_parameters)),
        Analyze,
    );
}

struct Analyze;

/// One function or method's figures.
#[derive(Debug, Serialize)]
pub(super) struct FunctionFigures {
    pub file: String,
    pub name: String,
    pub class: Option<String>,
    pub kind: &'static str,
    pub line: usize,
    pub end_line: usize,
    pub complexity: u32,
    pub rank: String,
}

/// One class's figures.
#[derive(Debug, Serialize)]
pub(super) struct ClassFigures {
    pub file: String,
    pub name: String,
    pub line: usize,
    pub end_line: usize,
    pub complexity: u32,
    pub rank: String,
}

/// What `code.analyze` finds in some files.
#[derive(Debug, Default)]
pub(super) struct Analysis {
    pub functions: Vec<FunctionFigures>,
    pub classes: Vec<ClassFigures>,
    pub issues: Vec<Issue>,
}

impl Analysis {
    /// What one file holds.
    pub(super) fn of(file: &PythonFile, limits: Limits) -> Self {
        let mut analysis = Analysis::default();
        analysis.add(file, limits);
        analysis
    }

    fn add(&mut self, file: &PythonFile, limits: Limits) {
        let found = blocks(file);
        self.functions
            .extend(found.functions.into_iter().map(|function| FunctionFigures {
                file: file.path.clone(),
                kind: if function.is_method {
                    "method"
                } else {
                    "function"
                },
                rank: rank(function.complexity).to_string(),
                name: function.name,
                class: function.class,
                line: function.line,
                end_line: function.end_line,
                complexity: function.complexity,
            }));
        self.classes
            .extend(found.classes.into_iter().map(|class| ClassFigures {
                file: file.path.clone(),
                rank: rank(class.complexity()).to_string(),
                complexity: class.complexity(),
                name: class.name,
                line: class.line,
                end_line: class.end_line,
            }));
        self.issues.extend(issues(file, &definitions(file), limits));
    }
}

impl Tool for Analyze {
    fn call(&self, call: &ToolCall<'_>) -> Result<Map<String, Value>, ToolFailure> {
        let defaults = Limits::default();
        let limits = Limits {
            max_function_lines: count_arg(call, "max_function_lines", defaults.max_function_lines)?,
            max_parameters: count_arg(call, "max_parameters", defaults.max_parameters)?,
        };
        let inputs = files(call, "code.analyze")?;
        let mut analysis = Analysis::default();
        for one in map_files(call, "code.analyze", &inputs, |file| {
            Analysis::of(file, limits)
        })? {
            analysis.functions.extend(one.functions);
            analysis.classes.extend(one.classes);
            analysis.issues.extend(one.issues);
        }
        Ok(Map::from_iter([
            ("functions".to_owned(), to_json(&analysis.functions)),
            ("classes".to_owned(), to_json(&analysis.classes)),
            ("issues".to_owned(), to_json(&analysis.issues)),
        ]))
    }

    fn check_arg(&self, name: &str, value: &Value) -> Result<(), String> {
        match (name, value) {
            ("max_function_lines" | "max_parameters", Value::Number(number))
                if number.as_u64().is_none() =>
            {
                Err(format!("`{name}` must be at least 0"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "analyze_tests.rs"]
mod tests;
