//! Cyclomatic complexity exactly as radon 6 computes it (`radon cc`, radon/visitors.py
//! `ComplexityVisitor`), on tree-sitter's tree instead of Python's `ast`.
//!
//! A block (function, method or class) starts at 1. Each of these adds to the block it is in:
//! `if`, each `elif`, a conditional expression: 1; `for`/`async for`/`while`: 1, and 1 more
//! with an `else`; `try`: 1 per `except` clause and 1 for its `else` (a `try` with `except*`
//! adds nothing: radon looks for `Try` only, and Python parses that one as `TryStar`); each
//! `and`/`or`: 1 (radon's n-1 per boolean operation); each `for` and each `if` of a
//! comprehension: 1; `assert`: 1, and nothing inside it counts; `match`: 1 per `case`, minus 1
//! when some case is a bare capture or `_`. `with`, `lambda` and decorators add nothing
//! (a lambda's body counts in the block it is in; decorators, parameter defaults and
//! annotations of a `def` count nowhere, as radon does not visit them).
//!
//! A function nested in a function is a closure: a block of its own that adds nothing to its
//! parent. A class's complexity is radon's: its "real" complexity is 1 plus what its body
//! adds plus the sum of its methods' complexities; reported is that divided by the number of
//! methods (rounded down), plus 1 when there are several. A class defined inside a function
//! is not reported, nor are its methods: radon drops them. Blocks are listed as
//! `radon cc --show-closures` lists them: closures and inner classes named after their parent
//! (`outer.inner`, `Outer.Inner`).

use tree_sitter::{Node, TreeCursor};

use super::source::{
    PythonFile, children, end_line_of, for_each_named_child, in_field, line_of, named_children,
};

/// A function or method as radon sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct FunctionBlock {
    pub name: String,
    pub class: Option<String>,
    pub is_method: bool,
    pub line: usize,
    pub end_line: usize,
    pub complexity: u32,
    pub closures: Vec<FunctionBlock>,
}

/// A class as radon sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ClassBlock {
    pub name: String,
    pub line: usize,
    pub end_line: usize,
    pub methods: Vec<FunctionBlock>,
    pub inner_classes: Vec<ClassBlock>,
    pub real_complexity: u32,
}

impl ClassBlock {
    /// radon's `Class.complexity`.
    pub(super) fn complexity(&self) -> u32 {
        let methods = u32::try_from(self.methods.len()).unwrap_or(u32::MAX);
        self.real_complexity
            .checked_div(methods)
            .map_or(self.real_complexity, |average| {
                average + u32::from(methods > 1)
            })
    }
}

/// radon's rank: A (1–5), B (6–10), C (11–20), D (21–30), E (31–40), F (41 and over).
pub(super) fn rank(complexity: u32) -> char {
    match complexity {
        0..=5 => 'A',
        6..=10 => 'B',
        11..=20 => 'C',
        21..=30 => 'D',
        31..=40 => 'E',
        _ => 'F',
    }
}

/// The blocks of a file, flattened as `radon cc --show-closures` lists them.
#[derive(Debug, Default)]
pub(super) struct Blocks {
    pub functions: Vec<FunctionBlock>,
    pub classes: Vec<ClassBlock>,
}

pub(super) fn blocks(file: &PythonFile) -> Blocks {
    let mut visitor = Visitor::new(file, None);
    visitor.visit(&mut file.tree.walk());
    let mut flat = Blocks::default();
    for function in visitor.functions {
        flatten_function(function, None, &mut flat);
    }
    for class in visitor.classes {
        flatten_class(class, None, &mut flat);
    }
    flat.functions.sort_by_key(|function| function.line);
    flat.classes.sort_by_key(|class| class.line);
    flat
}

fn flatten_function(mut function: FunctionBlock, prefix: Option<&str>, flat: &mut Blocks) {
    if let Some(prefix) = prefix {
        function.name = format!("{prefix}.{}", function.name);
    }
    let closures = std::mem::take(&mut function.closures);
    let name = function.name.clone();
    flat.functions.push(function);
    for closure in closures {
        flatten_function(closure, Some(&name), flat);
    }
}

fn flatten_class(mut class: ClassBlock, prefix: Option<&str>, flat: &mut Blocks) {
    if let Some(prefix) = prefix {
        class.name = format!("{prefix}.{}", class.name);
    }
    let inner = std::mem::take(&mut class.inner_classes);
    for method in &class.methods {
        let mut method = method.clone();
        method.class = Some(class.name.clone());
        flatten_function(method, None, flat);
    }
    let name = class.name.clone();
    flat.classes.push(class);
    for inner in inner {
        flatten_class(inner, Some(&name), flat);
    }
}

/// radon's `ComplexityVisitor` over one statement (or the module): the decision points it
/// meets outside nested definitions, and the definitions themselves.
struct Visitor<'f> {
    file: &'f PythonFile,
    /// The class whose body this is, for methods.
    class: Option<String>,
    complexity: u32,
    functions: Vec<FunctionBlock>,
    classes: Vec<ClassBlock>,
}

impl<'f> Visitor<'f> {
    fn new(file: &'f PythonFile, class: Option<String>) -> Self {
        Visitor {
            file,
            class,
            complexity: 0,
            functions: Vec::new(),
            classes: Vec::new(),
        }
    }

    /// Visits the node the cursor is on, and leaves the cursor there.
    fn visit(&mut self, cursor: &mut TreeCursor<'_>) {
        let node = cursor.node();
        // Read once: a node's kind is a C string, measured and checked as UTF-8 each time.
        let kind = node.kind();
        match kind {
            "function_definition" => self.visit_function(cursor),
            "class_definition" => self.visit_class(cursor),
            // Decorators are not visited: only the definition counts.
            "decorated_definition" => in_field(cursor, "definition", |cursor| self.visit(cursor)),
            // radon adds 1 and does not look inside the assertion.
            "assert_statement" => self.complexity += 1,
            // A case guard is an `if_clause` too, but only a comprehension's counts.
            "case_clause" => for_each_named_child(cursor, |cursor| {
                if cursor.node().kind() == "if_clause" {
                    self.visit_children(cursor);
                } else {
                    self.visit(cursor);
                }
            }),
            _ => {
                self.complexity += decisions(kind, node);
                self.visit_children(cursor);
            }
        }
    }

    fn visit_children(&mut self, cursor: &mut TreeCursor<'_>) {
        for_each_named_child(cursor, |cursor| self.visit(cursor));
    }

    fn visit_function(&mut self, cursor: &mut TreeCursor<'_>) {
        let node = cursor.node();
        let mut complexity = 1;
        let mut closures = Vec::new();
        in_field(cursor, "body", |cursor| {
            for_each_named_child(cursor, |cursor| {
                let mut visitor = Visitor::new(self.file, None);
                visitor.visit(cursor);
                closures.extend(visitor.functions);
                complexity += visitor.complexity;
            });
        });
        self.functions.push(FunctionBlock {
            name: self.name_of(node),
            class: self.class.clone(),
            is_method: self.class.is_some(),
            line: line_of(node),
            end_line: end_line_of(node),
            complexity,
            closures,
        });
    }

    fn visit_class(&mut self, cursor: &mut TreeCursor<'_>) {
        let node = cursor.node();
        let name = self.name_of(node);
        let mut class = ClassBlock {
            name: name.clone(),
            line: line_of(node),
            end_line: end_line_of(node),
            methods: Vec::new(),
            inner_classes: Vec::new(),
            real_complexity: 1,
        };
        in_field(cursor, "body", |cursor| {
            for_each_named_child(cursor, |cursor| {
                let mut visitor = Visitor::new(self.file, Some(name.clone()));
                visitor.visit(cursor);
                let methods: u32 = visitor.functions.iter().map(|f| f.complexity).sum();
                class.real_complexity += visitor.complexity + methods;
                class.methods.extend(visitor.functions);
                class.inner_classes.extend(visitor.classes);
            });
        });
        self.classes.push(class);
    }

    fn name_of(&self, node: Node<'_>) -> String {
        node.child_by_field_name("name")
            .map_or_else(String::new, |name| self.file.text_of(name).to_owned())
    }
}

/// What one node adds by itself (its children are visited separately).
fn decisions(kind: &str, node: Node<'_>) -> u32 {
    match kind {
        "if_statement"
        | "elif_clause"
        | "conditional_expression"
        | "boolean_operator"
        | "for_in_clause"
        | "if_clause" => 1,
        "for_statement" | "while_statement" => {
            1 + u32::from(node.child_by_field_name("alternative").is_some())
        }
        "try_statement" => try_decisions(node),
        "match_statement" => match_decisions(node),
        _ => 0,
    }
}

fn try_decisions(node: Node<'_>) -> u32 {
    let parts = named_children(node);
    let handlers: Vec<_> = parts
        .iter()
        .filter(|p| p.kind() == "except_clause")
        .collect();
    let star = handlers
        .iter()
        .any(|handler| children(**handler).iter().any(|token| token.kind() == "*"));
    if star {
        return 0;
    }
    let has_else = parts.iter().any(|part| part.kind() == "else_clause");
    u32::try_from(handlers.len()).unwrap_or(u32::MAX) + u32::from(has_else)
}

fn match_decisions(node: Node<'_>) -> u32 {
    let Some(body) = node.child_by_field_name("body") else {
        return 0;
    };
    let cases: Vec<_> = named_children(body)
        .into_iter()
        .filter(|child| child.kind() == "case_clause")
        .collect();
    let catch_all = cases.iter().any(|case| is_catch_all(*case));
    u32::try_from(cases.len())
        .unwrap_or(u32::MAX)
        .saturating_sub(u32::from(catch_all))
}

/// `case _:` or `case name:` — Python's `MatchAs` without a sub-pattern, which is what radon
/// looks for (`case.pattern.pattern is None`).
fn is_catch_all(case: Node<'_>) -> bool {
    let patterns: Vec<_> = named_children(case)
        .into_iter()
        .filter(|child| child.kind() == "case_pattern")
        .collect();
    let [pattern] = patterns.as_slice() else {
        return false;
    };
    // `case a, b:` is a sequence even with one pattern node per item; a trailing comma too.
    if children(case).iter().any(|token| token.kind() == ",") {
        return false;
    }
    match named_children(*pattern).as_slice() {
        [] => true,
        [name] => name.kind() == "dotted_name" && name.named_child_count() == 1,
        _ => false,
    }
}

#[cfg(test)]
#[path = "complexity_tests.rs"]
mod tests;
