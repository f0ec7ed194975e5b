//! `CompileError`: every mistake the compiler finds in a well-formed file, errors and
//! warnings alike. Variants hold data (names, spans); the messages are made here.

use miette::{Diagnostic, SourceSpan};
use thiserror::Error;

use crate::compile::hints::Hint;
use crate::compile::schema_check::{a_type, bool_example, literal_example};
use crate::syntax::ast::FieldType;

/// ` (did you mean `x`?)`-style help, or the fallback when there is no close name.
fn did_you_mean(suggestion: Option<&String>, otherwise: &str) -> String {
    match suggestion {
        Some(name) => format!("did you mean `{name}`?"),
        None => otherwise.to_owned(),
    }
}

/// The hint's text, or the general help.
fn hint_or(hint: Option<&Hint>, otherwise: &str) -> String {
    hint.map_or_else(|| otherwise.to_owned(), ToString::to_string)
}

/// How an unknown method's receiver is named: a field and its type, or nothing known.
fn receiver_phrase(receiver: Option<&(String, FieldType)>) -> String {
    match receiver {
        Some((field, ty)) => format!(" on `{field}`, {}", a_type(*ty)),
        None => String::new(),
    }
}

#[derive(Debug, Error, Diagnostic)]
pub enum CompileError {
    #[error("`{name}` is declared twice")]
    #[diagnostic(
        code("flow::duplicate-node"),
        help("nodes and loops share one namespace; rename one of them")
    )]
    DuplicateNode {
        name: String,
        #[label(primary, "declared again here")]
        again: SourceSpan,
        #[label("first declared here")]
        first: SourceSpan,
    },

    #[error("the flow has two `state` blocks")]
    #[diagnostic(
        code("flow::duplicate-state"),
        help("merge the fields into one `state {{ … }}` block")
    )]
    DuplicateState {
        #[label(primary, "second state block")]
        again: SourceSpan,
        #[label("first state block")]
        first: SourceSpan,
    },

    #[error("field `{name}` is declared twice")]
    #[diagnostic(code("flow::duplicate-field"), help("remove one of the declarations"))]
    DuplicateField {
        name: String,
        #[label(primary, "declared again here")]
        again: SourceSpan,
        #[label("first declared here")]
        first: SourceSpan,
    },

    #[error("`{attr}` is given twice on node `{node}`")]
    #[diagnostic(code("flow::duplicate-attribute"), help("keep one `{attr}`"))]
    DuplicateAttribute {
        node: String,
        attr: &'static str,
        #[label(primary, "given again here")]
        again: SourceSpan,
        #[label("first given here")]
        first: SourceSpan,
    },

    #[error("node `{node}` is `once` but has no action")]
    #[diagnostic(
        code("flow::once-without-action"),
        help("remove `once`: a node without an action has no side effect")
    )]
    OnceWithoutAction {
        node: String,
        #[label("nothing here to run once")]
        at: SourceSpan,
    },

    #[error("node `{node}` is both `once` and `retry`")]
    #[diagnostic(
        code("flow::once-with-retry"),
        help("a retry runs the action again, which `once` forbids: remove one of them")
    )]
    OnceWithRetry {
        node: String,
        #[label(primary, "never run twice")]
        once: SourceSpan,
        #[label("runs it again on failure")]
        retry: SourceSpan,
    },

    #[error("`{attr}` does not apply to wait node `{node}`")]
    #[diagnostic(
        code("flow::wait-policy"),
        help(
            "remove `{attr}`: the wait's own `timeout:` argument bounds it (`wait(prompt: \"…\", timeout: 24h)`), and a wait cannot be retried"
        )
    )]
    WaitPolicy {
        node: String,
        attr: &'static str,
        #[label("not for a wait")]
        at: SourceSpan,
    },

    #[error("`start` cannot have a guard or an error edge")]
    #[diagnostic(
        code("flow::guarded-start"),
        help(
            "the run always begins at the start node; branch from there: `start -> route` then `route -> a when …`"
        )
    )]
    GuardedStart {
        #[label("the run begins here unconditionally")]
        at: SourceSpan,
    },

    #[error("`{name}` is not declared")]
    #[diagnostic(code("flow::undefined-node"), help("{}", did_you_mean(suggestion.as_ref(), &format!("declare it: `node {name} = noop`, `node {name} {{ … }}` or `loop {name} max N {{ … }} until …`"))))]
    UndefinedNode {
        name: String,
        suggestion: Option<String>,
        #[label("no node or loop has this name")]
        at: SourceSpan,
    },

    #[error("unknown tool `{name}`")]
    #[diagnostic(code("flow::unknown-tool"), help("{}", did_you_mean(suggestion.as_ref(), "run `flowc tools` to list the registered tools")))]
    UnknownTool {
        name: String,
        suggestion: Option<String>,
        #[label("not a registered tool")]
        at: SourceSpan,
    },

    #[error("tool `{tool}` has no argument `{arg}`")]
    #[diagnostic(code("flow::bad-tool-args"), help("{}", did_you_mean(suggestion.as_ref(), &format!("the tool takes {signature}"))))]
    UnknownArg {
        tool: String,
        arg: String,
        suggestion: Option<String>,
        signature: String,
        #[label("unknown argument")]
        at: SourceSpan,
    },

    #[error("tool `{tool}` needs argument `{arg}`")]
    #[diagnostic(code("flow::bad-tool-args"), help("the tool takes {signature}"))]
    MissingArg {
        tool: String,
        arg: String,
        signature: String,
        #[label("`{arg}` is missing")]
        at: SourceSpan,
    },

    #[error("argument `{arg}` of `{tool}` must be {expected}, not {found}")]
    #[diagnostic(code("flow::bad-tool-args"), help("{}the tool takes {signature}", match unitless { Some(n) => format!("a duration has a unit: write `{n}s` (or `{n}ms`, `{n}m`); "), None => String::new() }))]
    ArgType {
        tool: String,
        arg: String,
        expected: String,
        found: String,
        /// The number written, when a duration was expected and only its unit is missing.
        unitless: Option<u64>,
        signature: String,
        #[label("this is {found}")]
        at: SourceSpan,
    },

    #[error("argument `{arg}` of `{tool}` is not valid: {reason}")]
    #[diagnostic(code("flow::bad-tool-args"), help("the tool takes {signature}"))]
    ArgValue {
        tool: String,
        arg: String,
        reason: String,
        signature: String,
        #[label("not a valid `{arg}`")]
        at: SourceSpan,
    },

    #[error("argument `{arg}` is given twice")]
    #[diagnostic(code("flow::bad-tool-args"), help("remove one of them"))]
    ArgTwice {
        arg: String,
        #[label(primary, "given again here")]
        again: SourceSpan,
        #[label("first given here")]
        first: SourceSpan,
    },

    #[error("the flow has no `start` edge")]
    #[diagnostic(code("flow::no-start"), help("{}", match first_node { Some(node) => format!("add `start -> {node}` to say where the run begins"), None => "declare a node and add `start -> NODE`".to_owned() }))]
    NoStart {
        first_node: Option<String>,
        #[label("this flow never says where to begin")]
        at: SourceSpan,
    },

    #[error("the flow has more than one `start` edge")]
    #[diagnostic(
        code("flow::multiple-starts"),
        help("a run begins at one node; keep one `start -> …` and route from there with guards")
    )]
    MultipleStarts {
        #[label(primary, "another start")]
        again: SourceSpan,
        #[label("first start")]
        first: SourceSpan,
    },

    #[error("`{from}` has more than one default edge")]
    #[diagnostic(
        code("flow::ambiguous-default"),
        help(
            "give all but one of these edges a `when` guard (parallel branches are not supported yet)"
        )
    )]
    AmbiguousDefault {
        from: String,
        #[label(primary, "another unguarded edge")]
        again: SourceSpan,
        #[label("first unguarded edge")]
        first: SourceSpan,
    },

    #[error("`{from}` has more than one `on error` edge")]
    #[diagnostic(
        code("flow::ambiguous-error-edge"),
        help(
            "a failure goes one way; keep one `on error` edge and branch after it with guards on `error`"
        )
    )]
    AmbiguousErrorEdge {
        from: String,
        #[label(primary, "another error edge")]
        again: SourceSpan,
        #[label("first error edge")]
        first: SourceSpan,
    },

    #[error("invalid guard: {reason}")]
    #[diagnostic(
        code("flow::guard-syntax"),
        help("{}", hint_or(hint.as_ref(), "a guard is one rhai expression over the state's fields, e.g. `count < 3 && status == \"ok\"`"))
    )]
    GuardSyntax {
        reason: String,
        hint: Option<Hint>,
        #[label("here")]
        at: SourceSpan,
    },

    #[error("invalid script: {reason}")]
    #[diagnostic(
        code("flow::script-syntax"),
        help("{}", hint_or(hint.as_ref(), "a script is rhai statements; state fields are variables, `let` makes a local"))
    )]
    ScriptSyntax {
        reason: String,
        hint: Option<Hint>,
        #[label("here")]
        at: SourceSpan,
    },

    #[error("`{name}` is not a state field")]
    #[diagnostic(code("flow::unknown-field"), help("{}", match hint { Some(hint) => hint.to_string(), None => did_you_mean(suggestion.as_ref(), &format!("declare it in `state {{ … }}` (e.g. `{}: any`), or make it a local with `let` in a script", crate::sandbox::in_schema(name))) }))]
    UnknownField {
        name: String,
        suggestion: Option<String>,
        hint: Option<Hint>,
        #[label("not declared in `state`")]
        at: SourceSpan,
    },

    #[error("default of `{field}` must be {expected}, not {found}")]
    #[diagnostic(
        code("flow::bad-default"),
        help("change the default, or the field's type")
    )]
    BadDefault {
        field: String,
        expected: String,
        found: &'static str,
        #[label(primary, "this is {found}")]
        at: SourceSpan,
        #[label("declared {expected} here")]
        ty: SourceSpan,
    },

    #[error("loop `{name}` has no `max` bound")]
    #[diagnostic(
        code("flow::loop-without-max"),
        help("every loop needs a bound: `loop {name} max 10 {{ … }} until …`")
    )]
    LoopWithoutMax {
        name: String,
        #[label("add `max N` here")]
        at: SourceSpan,
    },

    #[error("loop `{name}` has a bound of 0")]
    #[diagnostic(
        code("flow::loop-without-max"),
        help("a loop runs its body at least once; use `max 1` or more")
    )]
    LoopMaxZero {
        name: String,
        #[label("must be at least 1")]
        at: SourceSpan,
    },

    #[error("edge leaves loop `{loop_name}` from inside its body: `{node}` belongs to the loop")]
    #[diagnostic(
        code("flow::edge-leaves-loop"),
        help(
            "a node named in a loop's body runs only inside it, and the loop is left through its `until` guard; put the outgoing edge on the loop itself: `{loop_name} -> …` (only `on error` edges may leave from inside), or use another node here"
        )
    )]
    EdgeLeavesLoop {
        loop_name: String,
        node: String,
        #[label(primary, "this edge leaves the loop")]
        at: SourceSpan,
        #[label("loop `{loop_name}`")]
        loop_at: SourceSpan,
        #[label("named in the loop's body here, so it is part of the loop")]
        member_at: SourceSpan,
    },

    #[error("edge enters loop `{loop_name}` past its entry{}", node.as_ref().map_or_else(String::new, |node| format!(": `{node}` belongs to the loop")))]
    #[diagnostic(
        code("flow::edge-enters-loop"),
        help(
            "a node named in a loop's body runs only inside it; enter the loop through its name: `… -> {loop_name}`, or use another node here"
        )
    )]
    EdgeEntersLoop {
        loop_name: String,
        /// The body node entered; none for a `start` written inside the body.
        node: Option<String>,
        #[label(primary, "this edge jumps into the loop's body")]
        at: SourceSpan,
        #[label("loop `{loop_name}`")]
        loop_at: SourceSpan,
        #[label("named in the loop's body here, so it is part of the loop")]
        member_at: Option<SourceSpan>,
    },

    #[error("`{name}` is used in two loops, `{first_loop}` and `{second_loop}`")]
    #[diagnostic(
        code("flow::node-in-two-loops"),
        help("a node belongs to one loop body; declare a second node for the other loop")
    )]
    NodeInTwoLoops {
        name: String,
        first_loop: String,
        second_loop: String,
        #[label(primary, "used in `{second_loop}` here")]
        again: SourceSpan,
        #[label("used in `{first_loop}` here")]
        first: SourceSpan,
    },

    #[error("loop `{name}` has no exit: every node in its body has an edge onward")]
    #[diagnostic(
        code("flow::loop-exit"),
        help(
            "an iteration ends at the one body node with no outgoing edge; end a chain in the body there"
        )
    )]
    LoopNoExit {
        name: String,
        #[label("the body never finishes an iteration")]
        at: SourceSpan,
    },

    #[error("loop `{name}` has {count} exits: {names}")]
    #[diagnostic(
        code("flow::loop-exit"),
        help(
            "an iteration must end at exactly one node; join the branches, e.g. `a -> done` and `b -> done` with `node done`"
        )
    )]
    LoopManyExits {
        name: String,
        count: usize,
        names: String,
        #[label(collection, "ends an iteration")]
        exits: Vec<SourceSpan>,
    },

    #[error("loop `{name}` cannot begin with `{entry}`, which is not part of its body")]
    #[diagnostic(
        code("flow::loop-entry"),
        help(
            "a loop's body begins with a node of its own; a loop cannot contain itself, and a node used in another loop or outside belongs there"
        )
    )]
    LoopEntryElsewhere {
        name: String,
        entry: String,
        #[label("the body begins here")]
        at: SourceSpan,
    },

    #[error("loop `{name}` has an empty body")]
    #[diagnostic(
        code("flow::empty-loop"),
        help("put the steps to repeat inside: `loop {name} max 3 {{ step }} until …`")
    )]
    EmptyLoop {
        name: String,
        #[label("nothing to repeat")]
        at: SourceSpan,
    },

    #[error("`start` leads to `end` without running any node")]
    #[diagnostic(
        code("flow::no-start"),
        help("point `start` at the first node: `start -> NODE`")
    )]
    StartToEnd {
        #[label("nothing runs")]
        at: SourceSpan,
    },

    #[error("`start` leads nowhere")]
    #[diagnostic(
        code("flow::lone-start"),
        help("`start` says where the run begins: write `start -> NODE` at flow level")
    )]
    LoneStart {
        #[label("no edge follows")]
        at: SourceSpan,
    },

    #[error("this guard belongs to no edge: `{from}` stands alone in its chain")]
    #[diagnostic(
        code("flow::guard-without-edge"),
        help("a guard belongs to the first hop of its chain: write `{from} -> NEXT when …`")
    )]
    GuardWithoutEdge {
        from: String,
        #[label("guards no edge")]
        at: SourceSpan,
    },

    #[error("this `on error` belongs to no edge: `{from}` stands alone in its chain")]
    #[diagnostic(
        code("flow::on-error-without-edge"),
        help("an error edge names where to go: write `{from} -> HANDLER on error`")
    )]
    OnErrorWithoutEdge {
        from: String,
        #[label("no edge to take on error")]
        at: SourceSpan,
    },

    #[error("cycle {path} can never be left")]
    #[diagnostic(
        code("flow::inescapable-cycle"),
        help(
            "give one of these nodes a way out: a guarded edge leaving the cycle, an `on error` edge, or put the cycle in a bounded `loop`"
        )
    )]
    InescapableCycle {
        path: String,
        #[label(primary, "this edge is part of the cycle")]
        at: SourceSpan,
        #[label(collection, "and this one")]
        rest: Vec<SourceSpan>,
    },

    #[error("`{field}` is {}, so comparing it with {} fails on every run", a_type(*ty), literal.article())]
    #[diagnostic(
        code("flow::mismatched-comparison"),
        help(
            "a guard compares values of one type (ints and floats together, strings with chars); compare `{field}` with {}{}, or change its type in `state`",
            literal_example(*ty),
            if matches!(ty, FieldType::List | FieldType::Map) { format!(" (or its size: `{field}.len()`)") } else { String::new() }
        )
    )]
    MismatchedComparison {
        field: String,
        ty: FieldType,
        literal: LiteralType,
        #[label(primary, "this is {}", literal.article())]
        at: SourceSpan,
        #[label("`{field}` is {}", a_type(*ty))]
        field_at: SourceSpan,
    },

    #[error("`{keyword}` guard `{field}` is {}, never true or false", a_type(*ty))]
    #[diagnostic(
        code("flow::non-bool-guard"),
        help("a guard must be true or false, or the run fails there; test the field, e.g. {}", bool_example(field, *ty))
    )]
    NonBoolGuard {
        field: String,
        ty: FieldType,
        keyword: &'static str,
        #[label("{} field", a_type(*ty))]
        at: SourceSpan,
    },

    #[error("no method `{method}`{}", receiver_phrase(receiver.as_ref()))]
    #[diagnostic(
        code("flow::unknown-method"),
        help("{}", did_you_mean(suggestion.as_ref(), "see docs/language.md for the functions guards and scripts can call"))
    )]
    UnknownMethod {
        method: String,
        receiver: Option<(String, FieldType)>,
        suggestion: Option<String>,
        #[label("no such method")]
        at: SourceSpan,
    },

    #[error("`{name}` can never run: no path from `start` reaches it")]
    #[diagnostic(
        severity(Warning),
        code("flow::unreachable-node"),
        help("add an edge to it from a node that runs, or remove it")
    )]
    UnreachableNode {
        name: String,
        #[label("unreachable")]
        at: SourceSpan,
    },

    #[error("`{name}` is declared but never used in an edge")]
    #[diagnostic(
        severity(Warning),
        code("flow::unused-node"),
        help("connect it (`… -> {name}`) or remove it")
    )]
    UnusedNode {
        name: String,
        #[label("not used")]
        at: SourceSpan,
    },

    #[error("`{from}` has guarded edges but no default edge")]
    #[diagnostic(
        severity(Warning),
        code("flow::missing-default"),
        help(
            "when no guard holds, the run fails with `no-matching-edge`; add an unguarded edge `{from} -> …` as the default"
        )
    )]
    MissingDefault {
        from: String,
        #[label(primary, "taken only when its guard holds")]
        at: SourceSpan,
        #[label(collection, "and this one too")]
        rest: Vec<SourceSpan>,
    },

    #[error("guard is always {value}")]
    #[diagnostic(
        severity(Warning),
        code("flow::constant-guard"),
        help("a guard that reads no state decides nothing; use a plain edge, or test a field")
    )]
    ConstantGuard {
        value: bool,
        #[label("reads no state")]
        at: SourceSpan,
    },
}

/// The type of a scalar literal, as the check names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiteralType {
    Int,
    Float,
    Bool,
    String,
    Char,
}

impl LiteralType {
    pub fn article(self) -> &'static str {
        match self {
            LiteralType::Int => "an int",
            LiteralType::Float => "a float",
            LiteralType::Bool => "a bool",
            LiteralType::String => "a string",
            LiteralType::Char => "a char",
        }
    }
}
