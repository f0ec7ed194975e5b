use super::*;

fn fmt(text: &str) -> String {
    let formatted = format(&SourceFile::new("t.flow", text)).unwrap_or_else(|e| panic!("{e}"));
    let again = format(&SourceFile::new("t.flow", formatted.as_str())).unwrap();
    assert_eq!(again, formatted, "formatting is idempotent");
    formatted
}

#[test]
fn a_cramped_flow_gets_the_canonical_layout() {
    insta::assert_snapshot!(fmt(concat!(
        "flow  f{state{n:int=0,names : list? = [\n1,\n  2]}\n",
        "node a=exec(cmd:\"x\",timeout:5s)   retry  2  backoff 1s\n",
        "node b{n+=1}\nnode c\n",
        "start->a->b ; b->c when n>1\n",
        "loop l   max 3 {c -> b} until n >= 3\n}"
    )));
}

#[test]
fn comments_and_paragraphs_stay_where_they_were_written() {
    insta::assert_snapshot!(fmt(concat!(
        "// file header\n\n",
        "/// The flow.\n",
        "flow f { // after the brace\n",
        "  state {\n    // the counter\n    n: int = 0 // starts at zero\n  }\n\n\n",
        "  /// Adds one.\n  node a { n += 1 }\n",
        "  /* block */ node b\n\n",
        "  start -> a -> b // the path\n",
        "  // the last word\n",
        "}\n// after the flow\n",
    )));
}

#[test]
fn scripts_are_reindented_and_keep_their_inner_layout() {
    insta::assert_snapshot!(fmt(concat!(
        "flow f {\n",
        "node a {\n      let x = 1;\n      if x > 0 {\n          x += 1; // inner comment\n      }\n\n      #{ y: x }\n}\n",
        "node b {   let t = `a\n  b`; #{ t: t }\n  }\n",
        "start -> a -> b\n}\n",
    )));
}

#[test]
fn a_comment_inside_a_declaration_keeps_the_declaration_as_written() {
    let text = "flow f {\n  node a /* why */ = noop\n  start -> /* here */ a\n}\n";
    assert_eq!(
        fmt(text),
        "flow f {\n    node a /* why */ = noop\n    start -> /* here */ a\n}\n"
    );
}

#[test]
fn empty_blocks_stay_on_one_line() {
    assert_eq!(
        fmt("flow f {\n  state {  }\n  node a {   }\n  start -> a\n}"),
        "flow f {\n    state {}\n    node a {}\n    start -> a\n}\n"
    );
}

#[test]
fn slashes_inside_strings_and_code_are_not_comments() {
    let text = "flow f {\n    state {\n        \"a//b\": string = \"//x\"\n    }\n    node a = exec(cmd: \"echo // no\")\n    start -> a -> b when s == \"//\"\n    node b\n}\n";
    assert_eq!(fmt(text), text);
}

#[test]
fn a_file_that_does_not_parse_is_a_syntax_error() {
    let error = format(&SourceFile::new("t.flow", "flow f { a -> }")).unwrap_err();
    assert!(matches!(error, FormatError::Syntax(_)));
}
