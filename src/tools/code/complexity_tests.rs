//! Complexity of each construct, one by one, against radon.

use super::*;
use crate::tools::code::source::PythonParser;

fn blocks_of(source: &str) -> Blocks {
    let file = PythonParser::new()
        .expect("grammar")
        .parse("t.py", source.to_owned())
        .expect("parses");
    blocks(&file)
}

/// (class, name, complexity) of every function block, in source order.
fn functions(source: &str) -> Vec<(Option<String>, String, u32)> {
    blocks_of(source)
        .functions
        .into_iter()
        .map(|f| (f.class, f.name, f.complexity))
        .collect()
}

fn only(source: &str) -> u32 {
    let found = functions(source);
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].2
}

// Every figure below is what `radon cc -j --show-closures` (radon 6.0.1, Python 3.11.7) gives.

#[test]
fn if_and_each_elif_add_one_and_else_nothing() {
    assert_eq!(
        only(
            "def f(a):\n    if a:\n        pass\n    elif a > 1:\n        pass\n    elif a > 2:\n        pass\n    else:\n        pass\n"
        ),
        4
    );
}

#[test]
fn a_for_adds_one_and_its_else_one_more() {
    assert_eq!(
        only("def f(a):\n    for x in a:\n        pass\n    else:\n        pass\n"),
        3
    );
}

#[test]
fn async_for_counts_and_async_with_does_not() {
    assert_eq!(
        only(
            "async def f(a):\n    async for x in a:\n        pass\n    async with a:\n        pass\n"
        ),
        2
    );
}

#[test]
fn a_while_adds_one() {
    assert_eq!(only("def f(a):\n    while a:\n        pass\n"), 2);
}

#[test]
fn each_except_and_the_try_else_add_one_finally_nothing() {
    assert_eq!(
        only(
            "def f(a):\n    try:\n        pass\n    except ValueError:\n        pass\n    except (KeyError, TypeError):\n        pass\n    else:\n        pass\n    finally:\n        pass\n"
        ),
        4
    );
}

#[test]
fn a_try_with_except_star_adds_nothing_as_radon_sees_only_try() {
    assert_eq!(
        only(
            "def f(a):\n    try:\n        pass\n    except* ValueError:\n        pass\n    else:\n        pass\n"
        ),
        1
    );
}

#[test]
fn each_and_or_adds_one() {
    assert_eq!(
        only("def f(a, b, c):\n    return a and b and c or (a and b)\n"),
        5
    );
}

#[test]
fn each_conditional_expression_adds_one() {
    assert_eq!(
        only("def f(a):\n    return 1 if a else 2 if a > 1 else 3\n"),
        3
    );
}

#[test]
fn each_comprehension_for_and_if_adds_one() {
    assert_eq!(
        only(
            "def f(a):\n    x = [i for i in a if i if i > 1]\n    y = {k: v for k in a for v in a}\n    z = (i for i in a)\n    return x, y, z\n"
        ),
        7
    );
}

#[test]
fn an_assert_adds_one_and_nothing_inside_it_counts() {
    assert_eq!(
        only("def f(a, b):\n    assert a and b, 'x' if a else 'y'\n"),
        2
    );
}

#[test]
fn a_lambda_body_counts_in_its_function() {
    assert_eq!(only("def f(a):\n    return lambda x: x if x else a\n"), 2);
}

#[test]
fn a_with_adds_nothing() {
    assert_eq!(only("def f(a):\n    with a:\n        pass\n"), 1);
}

#[test]
fn match_cases_add_one_each_minus_one_for_a_wildcard() {
    assert_eq!(
        only(
            "def f(a):\n    match a:\n        case 1:\n            pass\n        case 2 | 3:\n            pass\n        case _:\n            pass\n"
        ),
        3
    );
}

#[test]
fn a_capture_case_counts_as_a_wildcard_and_a_guard_only_for_its_operators() {
    assert_eq!(
        only(
            "def f(a):\n    match a:\n        case [x]:\n            pass\n        case y if y and a:\n            pass\n"
        ),
        3
    );
}

#[test]
fn match_without_a_catch_all_counts_every_case() {
    assert_eq!(
        only(
            "def f(a):\n    match a:\n        case 1:\n            pass\n        case {'k': v}:\n            pass\n"
        ),
        3
    );
}

#[test]
fn decorators_defaults_and_annotations_count_nowhere() {
    assert_eq!(
        only(
            "@dec(1 if x else 2)\ndef f(a=1 if x else 2, b=x or y) -> (int if x else str):\n    pass\n"
        ),
        1
    );
}

#[test]
fn closures_are_blocks_of_their_own_named_after_their_parent() {
    let found = functions(
        "def f(a):\n    if a:\n        pass\n    def g(b):\n        if b:\n            pass\n        def h():\n            return a or b\n        return h\n    return g\n",
    );
    let names: Vec<_> = found
        .iter()
        .map(|(_, name, c)| (name.as_str(), *c))
        .collect();
    assert_eq!(names, [("f", 2), ("f.g", 2), ("f.g.h", 2)]);
}

#[test]
fn a_class_inside_a_function_is_dropped_with_its_methods() {
    let found = blocks_of(
        "def f(a):\n    class K:\n        def m(self):\n            if a: pass\n    return K\n",
    );
    assert_eq!(found.functions.len(), 1);
    assert_eq!(found.functions[0].complexity, 1);
    assert!(found.classes.is_empty());
}

#[test]
fn a_class_scores_its_real_complexity_over_its_methods_plus_one() {
    let found = blocks_of(
        "class C:\n    flag = 1 if x else 2\n    def a(self):\n        if self: pass\n    def b(self):\n        return [i for i in self]\n    if x:\n        def c(self):\n            pass\n",
    );
    assert_eq!(found.classes.len(), 1);
    assert_eq!(found.classes[0].real_complexity, 8);
    assert_eq!(found.classes[0].complexity(), 3);
    let methods: Vec<_> = found
        .functions
        .iter()
        .map(|f| {
            (
                f.class.as_deref(),
                f.name.as_str(),
                f.complexity,
                f.is_method,
            )
        })
        .collect();
    assert_eq!(
        methods,
        [
            (Some("C"), "a", 2, true),
            (Some("C"), "b", 2, true),
            (Some("C"), "c", 1, true)
        ]
    );
}

#[test]
fn a_class_without_methods_scores_its_real_complexity() {
    assert_eq!(
        blocks_of("class E:\n    x = [i for i in y if i]\n").classes[0].complexity(),
        3
    );
}

#[test]
fn a_class_with_one_method_scores_without_the_extra_one() {
    assert_eq!(
        blocks_of("class O:\n    def a(self):\n        if self: pass\n        if self: pass\n")
            .classes[0]
            .complexity(),
        4
    );
}

#[test]
fn inner_classes_and_their_methods_are_named_after_the_outer_class() {
    let found = blocks_of("class A:\n    class B:\n        def m(self):\n            pass\n");
    let classes: Vec<_> = found.classes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(classes, ["A", "A.B"]);
    assert_eq!(found.functions[0].class.as_deref(), Some("A.B"));
}

#[test]
fn ranks_follow_radon_bounds() {
    let ranks: String = [1, 5, 6, 10, 11, 20, 21, 30, 31, 40, 41, 99]
        .into_iter()
        .map(rank)
        .collect();
    assert_eq!(ranks, "AABBCCDDEEFF");
}
