//! What the state schema settles before a run: with every field's type known, a guard that
//! compares a field with a literal of another type, a guard that is a field that cannot be
//! true or false, and a method that no value of the field's type has, fail on every run. They
//! are found here, in the compiled rhai AST, and reported at check time. Only direct uses of
//! a field with a known type (not `any`) are judged: anything less sure is left to run time.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::OnceLock;

use rhai::{AST, ASTNode, Dynamic, Engine, Expr, ImmutableString, Position, Stmt};

use crate::compile::error::{CompileError, LiteralType};
use crate::compile::ir::Schema;
use crate::compile::suggest::closest;
use crate::span::Span;
use crate::syntax::ast::{Code, FieldType};

/// Functions rhai's evaluator answers itself, outside any package: callable as methods on
/// every value, so never unknown.
const KEYWORD_FUNCTIONS: [&str; 10] = [
    "type_of",
    "print",
    "debug",
    "is_shared",
    "is_def_var",
    "is_def_fn",
    "Fn",
    "call",
    "curry",
    "eval",
];

/// The names of the functions an engine has, each with the types its first parameter takes
/// (`Dynamic`: any). Read from the engine, so it is what the sandbox registered.
struct Methods(HashMap<String, Vec<TypeId>>);

impl Methods {
    fn of(engine: &Engine) -> Self {
        let mut methods: HashMap<String, Vec<TypeId>> = HashMap::new();
        let functions = engine.collect_fn_metadata(
            None,
            |info| {
                Some((
                    info.metadata.name.to_string(),
                    info.metadata.param_types.first().copied(),
                ))
            },
            true,
        );
        for (name, first) in functions {
            let types = methods.entry(name).or_default();
            types.extend(first);
        }
        Methods(methods)
    }

    fn exists(&self, name: &str) -> bool {
        self.0.contains_key(name) || KEYWORD_FUNCTIONS.contains(&name)
    }

    /// Whether a method `name` takes a value of `ty` (or `()`, when `nullable`) first.
    fn applies(&self, name: &str, ty: FieldType, nullable: bool) -> bool {
        if KEYWORD_FUNCTIONS.contains(&name) {
            return true;
        }
        let accepted = type_ids(ty);
        self.0.get(name).is_some_and(|types| {
            types.iter().any(|id| {
                *id == TypeId::of::<Dynamic>()
                    || accepted.contains(id)
                    || (nullable && *id == TypeId::of::<()>())
            })
        })
    }

    /// The methods a value of `ty` has, for a did-you-mean.
    fn for_type(&self, ty: FieldType) -> impl Iterator<Item = &str> + Clone {
        self.0
            .keys()
            .filter(move |name| self.applies(name, ty, false))
            .map(String::as_str)
            // Operators and property accessors are not method names anyone types.
            .filter(|name| name.starts_with(|c: char| c.is_ascii_alphabetic()))
    }
}

/// The rhai types a field of `ty` holds.
fn type_ids(ty: FieldType) -> Vec<TypeId> {
    match ty {
        FieldType::Int => vec![TypeId::of::<rhai::INT>()],
        FieldType::Float => vec![TypeId::of::<rhai::FLOAT>(), TypeId::of::<rhai::INT>()],
        FieldType::Bool => vec![TypeId::of::<bool>()],
        FieldType::String => vec![TypeId::of::<ImmutableString>(), TypeId::of::<String>()],
        FieldType::List => vec![TypeId::of::<rhai::Array>()],
        FieldType::Map => vec![TypeId::of::<rhai::Map>()],
        FieldType::Any => Vec::new(),
    }
}

/// The checks for one flow: its schema, and the functions of the engine its code runs on.
pub(super) struct SchemaCheck<'s> {
    schema: &'s Schema,
    engine: &'s Engine,
}

/// What a guard decides: `when` picks an edge, `until` ends a loop.
#[derive(Clone, Copy)]
pub(super) enum GuardRole {
    When,
    Until,
}

impl<'s> SchemaCheck<'s> {
    pub(super) fn new(schema: &'s Schema, engine: &'s Engine) -> Self {
        SchemaCheck { schema, engine }
    }

    /// Read once, when first needed: every engine the sandbox builds registers the same
    /// packages (limits and strictness change no function).
    fn methods(&self) -> &'static Methods {
        static METHODS: OnceLock<Methods> = OnceLock::new();
        METHODS.get_or_init(|| Methods::of(self.engine))
    }

    /// A field's type, when it is one a check can rely on.
    fn field(&self, expr: &Expr) -> Option<(&str, FieldType, bool, Position)> {
        let Expr::Variable(variable, _, pos) = expr else {
            return None;
        };
        let name = variable.1.as_str();
        self.schema
            .fields
            .iter()
            .find(|field| field.name == name && field.ty != FieldType::Any)
            .map(|field| (field.name.as_str(), field.ty, field.nullable, *pos))
    }

    pub(super) fn guard(
        &self,
        ast: &AST,
        code: &Code,
        role: GuardRole,
        errors: &mut Vec<CompileError>,
    ) {
        if let [Stmt::Expr(expr)] = ast.statements()
            && let Some((name, ty, _, pos)) = self.field(expr)
            && ty != FieldType::Bool
        {
            errors.push(CompileError::NonBoolGuard {
                field: name.to_owned(),
                ty,
                keyword: match role {
                    GuardRole::When => "when",
                    GuardRole::Until => "until",
                },
                at: token_span(code, pos).into(),
            });
        }
        ast.walk(&mut |path: &[ASTNode]| {
            match path.last() {
                // A call at the top of a statement is a statement of its own kind.
                Some(
                    ASTNode::Expr(Expr::FnCall(call, _)) | ASTNode::Stmt(Stmt::FnCall(call, _)),
                ) => self.comparison(call, code, errors),
                Some(ASTNode::Expr(Expr::Dot(dot, ..))) => {
                    if let Some((name, ty, nullable, _)) = self.field(&dot.lhs)
                        && let Expr::MethodCall(method, pos) = &dot.rhs
                        && !self.methods().applies(&method.name, ty, nullable)
                        && !defines(ast, &method.name)
                    {
                        errors.push(CompileError::UnknownMethod {
                            method: method.name.to_string(),
                            receiver: Some((name.to_owned(), ty)),
                            suggestion: nearest(&method.name, self.methods().for_type(ty)),
                            at: token_span(code, *pos).into(),
                        });
                    }
                }
                _ => {}
            }
            true
        });
    }

    /// In a script a field may be shadowed or given another value, so only a method that
    /// exists for no type at all is sure to fail; and not even that in a script that makes
    /// functions or function pointers, since a map may hold one and call it as a method
    /// (`m.f()`).
    pub(super) fn script(&self, ast: &AST, code: &Code, errors: &mut Vec<CompileError>) {
        let mut makes_pointers = ast.iter_functions().next().is_some();
        ast.walk(&mut |path: &[ASTNode]| {
            makes_pointers |= match path.last() {
                Some(
                    ASTNode::Expr(Expr::FnCall(call, _)) | ASTNode::Stmt(Stmt::FnCall(call, _)),
                ) => call.name == "Fn",
                // `Fn("abs")` is made at compile time.
                Some(ASTNode::Expr(Expr::DynamicConstant(value, _))) => value.is_fnptr(),
                _ => false,
            };
            !makes_pointers
        });
        if makes_pointers {
            return;
        }
        ast.walk(&mut |path: &[ASTNode]| {
            if let Some(ASTNode::Expr(Expr::Dot(dot, ..))) = path.last()
                && let Expr::MethodCall(method, pos) = &dot.rhs
                && !self.methods().exists(&method.name)
                && !defines(ast, &method.name)
            {
                let receiver = self
                    .field(&dot.lhs)
                    .map(|(name, ty, ..)| (name.to_owned(), ty));
                let suggestion = match receiver {
                    Some((_, ty)) => nearest(&method.name, self.methods().for_type(ty)),
                    None => nearest(
                        &method.name,
                        self.methods()
                            .0
                            .keys()
                            .map(String::as_str)
                            .filter(|name| name.starts_with(|c: char| c.is_ascii_alphabetic())),
                    ),
                };
                errors.push(CompileError::UnknownMethod {
                    method: method.name.to_string(),
                    receiver,
                    suggestion,
                    at: token_span(code, *pos).into(),
                });
            }
            true
        });
    }

    /// `field OP literal` (either way round) where the two types never compare: guards
    /// compare strictly, so it fails on every run.
    fn comparison(&self, call: &rhai::FnCallExpr, code: &Code, errors: &mut Vec<CompileError>) {
        const ORDERING: [&str; 4] = ["<", "<=", ">", ">="];
        let ordering = ORDERING.contains(&call.name.as_str());
        if !(ordering || call.name == "==" || call.name == "!=") {
            return;
        }
        let [left, right] = call.args.as_slice() else {
            return;
        };
        let (field, literal) = match (self.field(left), self.field(right)) {
            (Some(field), None) => (field, right),
            (None, Some(field)) => (field, left),
            _ => return,
        };
        let (name, ty, nullable, field_pos) = field;
        // `()` equals nothing but `()`, without an error: a null field compares quietly.
        if nullable && !ordering {
            return;
        }
        let Some((literal_type, literal_pos)) = literal_type(literal) else {
            return;
        };
        if compares(ty, literal_type) {
            return;
        }
        errors.push(CompileError::MismatchedComparison {
            field: name.to_owned(),
            ty,
            literal: literal_type,
            at: token_span(code, literal_pos).into(),
            field_at: token_span(code, field_pos).into(),
        });
    }
}

fn literal_type(expr: &Expr) -> Option<(LiteralType, Position)> {
    Some(match expr {
        Expr::IntegerConstant(_, pos) => (LiteralType::Int, *pos),
        Expr::FloatConstant(_, pos) => (LiteralType::Float, *pos),
        Expr::BoolConstant(_, pos) => (LiteralType::Bool, *pos),
        Expr::StringConstant(_, pos) => (LiteralType::String, *pos),
        Expr::CharConstant(_, pos) => (LiteralType::Char, *pos),
        _ => return None,
    })
}

/// Whether a field of `ty` and a literal compare, by the sandbox's strict rules: numbers
/// with numbers, strings with strings and chars.
fn compares(ty: FieldType, literal: LiteralType) -> bool {
    matches!(
        (ty, literal),
        (
            FieldType::Int | FieldType::Float,
            LiteralType::Int | LiteralType::Float
        ) | (FieldType::Bool, LiteralType::Bool)
            | (FieldType::String, LiteralType::String | LiteralType::Char)
            | (FieldType::Any, _)
    )
}

/// The method nearest to `name`: a close spelling, or else the longest method that `name`
/// begins with (`lenght` for `len`).
fn nearest<'m>(name: &str, methods: impl Iterator<Item = &'m str> + Clone) -> Option<String> {
    closest(name, methods.clone()).or_else(|| {
        methods
            .filter(|method| method.len() >= 3 && name.starts_with(method))
            .max_by_key(|method| method.len())
            .map(str::to_owned)
    })
}

/// Whether the code defines a function `name` of its own.
fn defines(ast: &AST, name: &str) -> bool {
    ast.iter_functions().any(|function| function.name == name)
}

/// The token that starts at `pos`: a quoted literal or a word.
fn token_span(code: &Code, pos: Position) -> Span {
    let point = code.span.point_in(&code.text, pos);
    let offset = point.start - code.span.start;
    let rest = &code.text[offset..];
    let len = match rest.chars().next() {
        Some(quote @ ('"' | '\'')) => rest[1..].find(quote).map_or(rest.len(), |end| end + 2),
        Some(_) => rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len()),
        None => 0,
    };
    Span::new(point.start, point.start + len.max(point.end - point.start))
}

/// `a` or `an` and the type, for messages.
pub(super) fn a_type(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Int => "an int",
        FieldType::Float => "a float",
        FieldType::Bool => "a bool",
        FieldType::String => "a string",
        FieldType::List => "a list",
        FieldType::Map => "a map",
        FieldType::Any => "any value",
    }
}

/// A guard over `field` of `ty` that is true or false, for the help of a non-bool guard.
pub(super) fn bool_example(field: &str, ty: FieldType) -> String {
    match ty {
        FieldType::Int | FieldType::Float => format!("`{field} > 0`"),
        FieldType::String => format!("`{field} == \"done\"`"),
        FieldType::List | FieldType::Map => format!("`{field}.len() > 0`"),
        FieldType::Bool | FieldType::Any => format!("`{field}`"),
    }
}

/// A literal of `ty`, for the help of a mismatched comparison.
pub(super) fn literal_example(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Int => "`1`",
        FieldType::Float => "`1.0`",
        FieldType::Bool => "`true`",
        FieldType::String => "`\"1\"`",
        FieldType::List | FieldType::Map | FieldType::Any => "a value of its type",
    }
}

#[cfg(test)]
mod tests {
    use crate::compile::codes_of;

    /// The codes `check` reports for a flow with this schema and this guard and script.
    fn codes(fields: &str, guard: &str, script: &str) -> Vec<String> {
        let text = format!(
            "flow f {{\n  state {{ {fields} }}\n  node a {{ {script} }}\n  node b = noop\n  start -> a\n  a -> b when {guard}\n  a -> end\n}}"
        );
        codes_of(&text)
    }

    #[test]
    fn a_field_compared_with_a_literal_of_another_type_is_an_error() {
        let fields = "status: string = \"\", n: int = 0, rows: list = [], name: string?";
        assert_eq!(
            codes(fields, "status >= 1", ""),
            ["flow::mismatched-comparison"]
        );
        assert_eq!(
            codes(fields, "0 < rows", ""),
            ["flow::mismatched-comparison"]
        );
        assert_eq!(
            codes(fields, "name > 1", ""),
            ["flow::mismatched-comparison"]
        );
        for fine in [
            "status == \"ok\"",
            "status == 'o'",
            "n > 1.5",
            "name == 1",
            "rows.len() > 0",
        ] {
            assert_eq!(codes(fields, fine, ""), Vec::<String>::new(), "{fine}");
        }
    }

    #[test]
    fn a_guard_that_is_a_field_of_another_type_than_bool_is_an_error() {
        let fields = "n: int = 0, ok: bool = false, maybe: bool?, v: any";
        assert_eq!(codes(fields, "n", ""), ["flow::non-bool-guard"]);
        for fine in ["ok", "maybe", "v", "n > 0"] {
            assert_eq!(codes(fields, fine, ""), Vec::<String>::new(), "{fine}");
        }
    }

    #[test]
    fn a_method_no_value_of_the_field_type_has_is_an_error() {
        let fields = "rows: list = [], s: string = \"\", m: map = #{}";
        let fields = fields.replace("#{}", "{}");
        assert_eq!(
            codes(&fields, "rows.lenght() > 0", ""),
            ["flow::unknown-method"]
        );
        assert_eq!(
            codes(&fields, "s.drain(1) == 1", ""),
            ["flow::unknown-method"],
            "lists have `drain`, strings do not"
        );
        assert_eq!(
            codes(&fields, "true", "rows.lenght();"),
            ["flow::unknown-method", "flow::constant-guard"]
        );
        for fine in [
            "rows.len() > 0",
            "s.to_upper() == \"X\"",
            "m.keys().len() > 0",
            "rows.contains(1)",
            "s.type_of() == \"string\"",
            "s.contains(\"x\") && s.trim() == ()",
        ] {
            assert_eq!(codes(&fields, fine, ""), Vec::<String>::new(), "{fine}");
        }
        // A map may hold a closure or a function pointer and call it as a method.
        for script in [
            "let o = #{ f: |x| x }; o.f(1);",
            "let o = #{}; o.f = Fn(\"abs\"); o.f();",
        ] {
            assert_eq!(
                codes(&fields, "true", script),
                ["flow::constant-guard"],
                "{script}"
            );
        }
        // A script's own function is a method too.
        assert_eq!(
            codes(
                &fields,
                "true",
                "fn twice() { this * 2 } let x = 2; x.twice();"
            ),
            ["flow::constant-guard"]
        );
    }
}
