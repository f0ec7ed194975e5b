//! `RuntimeWarning`: what a run's input suggests is a mistake but does not stop the run, as
//! data. Found by [`input_warnings`] before the run, so that any front end (the command
//! line, a server) can show them.

use miette::SourceSpan;
use serde_json::{Map, Value};

use crate::compile::ir::Program;
use crate::compile::suggest::closest;
use crate::value::ERROR_FIELD;

/// A problem with a run's input that does not stop the run.
#[derive(Clone, Debug, thiserror::Error, miette::Diagnostic)]
pub enum RuntimeWarning {
    #[error("the initial state has `{key}`, which the schema does not declare")]
    #[diagnostic(
        code("flow::unknown-state-key"),
        severity(Warning),
        help(
            "did you mean `{field}`? A key outside the schema is kept as it is, and `{field}` \
             does not get its value"
        )
    )]
    UnknownStateKey {
        key: String,
        field: String,
        #[label("did you mean this field?")]
        at: SourceSpan,
    },
}

/// Warnings about `input`, the initial state: each key the schema does not declare that is
/// one edit from a declared field the input leaves out (keys outside the schema are allowed;
/// one so close to a field is most likely that field misspelt).
pub fn input_warnings(program: &Program, input: &Map<String, Value>) -> Vec<RuntimeWarning> {
    let Some(schema) = &program.schema else {
        return Vec::new();
    };
    let declared = |key: &str| key == ERROR_FIELD || schema.fields.iter().any(|f| f.name == key);
    let mut warnings = Vec::new();
    for key in input.keys().filter(|key| !declared(key)) {
        let length = key.chars().count();
        // One edit changes the length by at most one: the cheap test first.
        let near = schema.fields.iter().filter(|field| {
            field.name.chars().count().abs_diff(length) <= 1 && !input.contains_key(&field.name)
        });
        let Some(suggestion) = closest(key, near.map(|field| field.name.as_str())) else {
            continue;
        };
        if strsim::damerau_levenshtein(key, &suggestion) != 1 {
            continue;
        }
        let Some(field) = schema.fields.iter().find(|f| f.name == suggestion) else {
            continue;
        };
        warnings.push(RuntimeWarning::UnknownStateKey {
            key: key.clone(),
            field: suggestion,
            at: field.span.into(),
        });
    }
    warnings
}
