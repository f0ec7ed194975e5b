//! What runs: the state schema and its defaults, tool calls against the registry, and every
//! guard and script compiled once through the sandbox.

use std::collections::HashMap;

use crate::compile::error::CompileError;
use crate::compile::hints;
use crate::compile::ir::{NodeKind, Policy, RetryPolicy, Schema, SchemaField};
use crate::compile::schema_check::{GuardRole, SchemaCheck};
use crate::compile::suggest::closest;
use crate::sandbox::{self, CodeError, CodeKind, CompiledCode, Limits};
use crate::syntax::ast::{
    Code, FieldType, LiteralValue, NodeAction, NodeDecl, StateBlock, ToolCall,
};
use crate::tools::{ArgType, ToolRegistry, WAIT_TOOL};
use crate::value::Kind;

use crate::value::ERROR_FIELD;

pub(super) struct Actions<'t> {
    tools: &'t ToolRegistry,
    engine: rhai::Engine,
    /// State fields, when the flow has a schema: names outside it are errors.
    known: Vec<String>,
    schema: Option<&'t Schema>,
    /// The fields' names in rhai's scope (`sandbox::identifier`), in the order of `known`.
    in_scope: Vec<String>,
}

impl<'t> Actions<'t> {
    pub(super) fn new(
        tools: &'t ToolRegistry,
        limits: &Limits,
        schema: Option<&'t Schema>,
    ) -> Self {
        let known: Vec<String> = match schema {
            Some(schema) => {
                let mut names: Vec<String> = schema.fields.iter().map(|f| f.name.clone()).collect();
                if !names.iter().any(|n| n == ERROR_FIELD) {
                    names.push(ERROR_FIELD.to_owned());
                }
                names
            }
            None => Vec::new(),
        };
        let engine = sandbox::engine(limits, schema.is_some());
        let in_scope = known
            .iter()
            .map(|key| sandbox::identifier(key).into_owned())
            .collect();
        Actions {
            tools,
            engine,
            known,
            schema,
            in_scope,
        }
    }

    pub(super) fn node_kind(
        &self,
        node: &NodeDecl,
        errors: &mut Vec<CompileError>,
    ) -> Option<NodeKind> {
        let policy = Policy {
            timeout_ms: node.timeout.as_ref().map(|t| millis(t.value)),
            retry: node.retry.as_ref().map(|retry| RetryPolicy {
                attempts: retry.attempts.value,
                backoff_ms: retry.backoff.as_ref().map_or(0, |b| millis(b.value)),
            }),
        };
        Some(match &node.action {
            NodeAction::Junction => NodeKind::Junction,
            NodeAction::Tool(call) if call.name.name == WAIT_TOOL => {
                let args = self.tool_args(call, errors)?;
                wait_kind(&args)
            }
            NodeAction::Tool(call) => {
                let args = self.tool_args(call, errors)?;
                NodeKind::Tool {
                    tool: call.name.name.clone(),
                    args,
                    policy,
                }
            }
            NodeAction::Script(code) => NodeKind::Script {
                code: self.script(code, errors)?,
                policy,
            },
        })
    }

    fn tool_args(
        &self,
        call: &ToolCall,
        errors: &mut Vec<CompileError>,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        let Some(spec) = self.tools.get(&call.name.name) else {
            errors.push(CompileError::UnknownTool {
                name: call.name.name.clone(),
                suggestion: closest(&call.name.name, self.tools.names()),
                at: call.name.span.into(),
            });
            return None;
        };
        let before = errors.len();
        let mut given = HashMap::new();
        let mut args = serde_json::Map::new();
        // Reported after the loop: one with no close spelling may be the missing argument.
        let mut unknown = Vec::new();
        for arg in &call.args {
            let name = &arg.name.name;
            if let Some(first) = given.insert(name.as_str(), arg.name.span) {
                errors.push(CompileError::ArgTwice {
                    arg: name.clone(),
                    again: arg.name.span.into(),
                    first: first.into(),
                });
                continue;
            }
            let Some(arg_spec) = spec.arg_spec(name) else {
                unknown.push(arg);
                continue;
            };
            if let Some(found) = arg_spec.ty.mismatch(&arg.value.value) {
                // A bare whole number where a duration goes: it only lacks its unit.
                let unitless = match (&arg_spec.ty, &arg.value.value) {
                    (ArgType::Duration, LiteralValue::Json(serde_json::Value::Number(n))) => {
                        n.as_u64()
                    }
                    _ => None,
                };
                errors.push(CompileError::ArgType {
                    tool: spec.name.clone(),
                    arg: name.clone(),
                    expected: arg_spec.ty.name(),
                    found,
                    unitless,
                    signature: spec.signature(),
                    at: arg.value.span.into(),
                });
                continue;
            }
            let value = literal_json(&arg.value.value);
            let checked = self
                .tools
                .implementation(&spec.name)
                .map_or(Ok(()), |tool| tool.check_arg(name, &value));
            if let Err(reason) = checked {
                errors.push(CompileError::ArgValue {
                    tool: spec.name.clone(),
                    arg: name.clone(),
                    reason,
                    signature: spec.signature(),
                    at: arg.value.span.into(),
                });
                continue;
            }
            args.insert(name.clone(), value);
        }
        let mut missing: Vec<_> = spec
            .args
            .iter()
            .filter(|a| a.required && !given.contains_key(a.name.as_str()))
            .collect();
        let suggestions: Vec<Option<String>> = unknown
            .iter()
            .map(|arg| closest(&arg.name.name, spec.args.iter().map(|a| a.name.as_str())))
            .collect();
        let unspelt = suggestions.iter().filter(|s| s.is_none()).count();
        for (arg, mut suggestion) in unknown.into_iter().zip(suggestions) {
            // `exec(command: …)`: the one unknown argument stands for the one missing, which
            // is then not reported again.
            if suggestion.is_none()
                && unspelt == 1
                && let [only] = missing.as_slice()
            {
                suggestion = Some(only.name.clone());
                missing.clear();
            }
            errors.push(CompileError::UnknownArg {
                tool: spec.name.clone(),
                arg: arg.name.name.clone(),
                suggestion,
                signature: spec.signature(),
                at: arg.name.span.into(),
            });
        }
        for missing in missing {
            errors.push(CompileError::MissingArg {
                tool: spec.name.clone(),
                arg: missing.name.clone(),
                signature: spec.signature(),
                at: call.span.into(),
            });
        }
        (errors.len() == before).then_some(args)
    }

    pub(super) fn script(
        &self,
        code: &Code,
        errors: &mut Vec<CompileError>,
    ) -> Option<CompiledCode> {
        let compiled = self.compile(CodeKind::Script, code, errors)?;
        if let Some(schema) = self.schema {
            let before = errors.len();
            SchemaCheck::new(schema, &self.engine).script(&compiled.ast, code, errors);
            if errors.len() > before {
                return None;
            }
        }
        Some(compiled)
    }

    /// Compiles a guard; one that reads no state is evaluated now and reported as constant.
    pub(super) fn guard(
        &self,
        code: &Code,
        role: GuardRole,
        errors: &mut Vec<CompileError>,
        warnings: &mut Vec<CompileError>,
    ) -> Option<CompiledCode> {
        let compiled = self.compile(CodeKind::Guard, code, errors)?;
        if let Some(schema) = self.schema {
            let before = errors.len();
            SchemaCheck::new(schema, &self.engine).guard(&compiled.ast, code, role, errors);
            if errors.len() > before {
                return None;
            }
        }
        if compiled.names.is_empty() {
            match self.engine.eval_ast::<rhai::Dynamic>(&compiled.ast) {
                Ok(value) if value.is_bool() => warnings.push(CompileError::ConstantGuard {
                    value: value.as_bool().expect("checked is_bool"),
                    at: code.span.into(),
                }),
                Ok(value) => {
                    errors.push(CompileError::GuardSyntax {
                        hint: None,
                        reason: format!(
                            "a guard must be true or false, this one is always {} `{value}`",
                            Kind::of_dynamic(&value).name()
                        ),
                        at: code.span.into(),
                    });
                    return None;
                }
                // Comparing mismatched types fails whatever the state (the comparison is
                // strict): a mistake to report now.
                Err(error) => {
                    if let Some(refused) = sandbox::refused_comparison(&error) {
                        errors.push(CompileError::GuardSyntax {
                            hint: None,
                            reason: format!("it always fails: {refused}"),
                            at: code.span.into(),
                        });
                        return None;
                    }
                    // Anything else that fails without state is left to run time.
                }
            }
        }
        Some(compiled)
    }

    fn compile(
        &self,
        kind: CodeKind,
        code: &Code,
        errors: &mut Vec<CompileError>,
    ) -> Option<CompiledCode> {
        match sandbox::compile(&self.engine, kind, &code.text, code.span, &self.in_scope) {
            Ok(compiled) => Some(compiled),
            Err(CodeError::Syntax { reason, at }) => {
                let (hint, at) = match hints::for_syntax(&self.engine, kind, code, at) {
                    Some((hint, at)) => (Some(hint), at),
                    None => (None, at),
                };
                errors.push(match kind {
                    CodeKind::Guard => CompileError::GuardSyntax {
                        reason,
                        hint,
                        at: at.into(),
                    },
                    CodeKind::Script => CompileError::ScriptSyntax {
                        reason,
                        hint,
                        at: at.into(),
                    },
                });
                None
            }
            Err(CodeError::UnknownNames(names)) => {
                for (name, at) in names {
                    errors.push(CompileError::UnknownField {
                        hint: hints::for_unknown_name(&name),
                        suggestion: closest(&name, self.known.iter().map(String::as_str))
                            .map(|key| sandbox::in_code(&key, true)),
                        name,
                        at: at.into(),
                    });
                }
                None
            }
        }
    }
}

/// A wait node from its checked arguments. They were checked against the registry's `wait`
/// spec: the built-in one gives a string `prompt` and a duration `timeout` (milliseconds).
/// An embedder's replacement may type them otherwise; a prompt that is not a string is
/// shown as its JSON text, and a timeout that is not a whole number leaves the wait unbounded.
fn wait_kind(args: &serde_json::Map<String, serde_json::Value>) -> NodeKind {
    let prompt = match args.get("prompt") {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    NodeKind::Wait {
        prompt,
        timeout_ms: args.get("timeout").and_then(serde_json::Value::as_u64),
    }
}

/// The schema, with every default checked against its field's type.
pub(super) fn schema(block: &StateBlock, errors: &mut Vec<CompileError>) -> Schema {
    let mut fields: Vec<SchemaField> = Vec::new();
    for field in &block.fields {
        if let Some(first) = fields.iter().find(|f| f.name == field.name.name) {
            errors.push(CompileError::DuplicateField {
                name: field.name.name.clone(),
                again: field.name.span.into(),
                first: first.span.into(),
            });
            continue;
        }
        let default = field.default.as_ref().and_then(|literal| {
            if default_fits(field.ty.value, field.nullable, &literal.value) {
                Some(literal_json(&literal.value))
            } else {
                errors.push(CompileError::BadDefault {
                    field: field.name.name.clone(),
                    expected: format!(
                        "{}{}",
                        field.ty.value.keyword(),
                        if field.nullable { "?" } else { "" }
                    ),
                    found: literal.value.type_name(),
                    at: literal.span.into(),
                    ty: field.ty.span.into(),
                });
                None
            }
        });
        fields.push(SchemaField {
            name: field.name.name.clone(),
            ty: field.ty.value,
            nullable: field.nullable,
            default,
            span: field.name.span,
        });
    }
    Schema { fields }
}

/// Durations are accepted where a number of milliseconds is.
fn default_fits(ty: FieldType, nullable: bool, value: &LiteralValue) -> bool {
    match value {
        LiteralValue::Duration(_) => {
            matches!(ty, FieldType::Int | FieldType::Float | FieldType::Any)
        }
        LiteralValue::Json(json) => ty.accepts(nullable, Kind::of_json(json)),
    }
}

fn literal_json(value: &LiteralValue) -> serde_json::Value {
    match value {
        LiteralValue::Json(json) => json.clone(),
        LiteralValue::Duration(duration) => millis(*duration).into(),
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
