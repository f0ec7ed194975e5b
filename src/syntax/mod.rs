//! Text to AST. Takes one `.flow` file's text and gives its syntax tree or the first syntax
//! error; never looks at what names mean.

pub mod ast;
mod diagnose;
mod error;
mod parser;
mod scan;

pub use error::SyntaxError;

use crate::source::SourceFile;

/// Parses one `.flow` file.
pub fn parse(source: &SourceFile) -> Result<ast::Flow, SyntaxError> {
    parser::parse_file(&source.text)
}

#[cfg(test)]
mod tests {
    use super::ast::{EdgeCondition, Endpoint, Item, LiteralValue, LoopItem, NodeAction, NodeAttr};
    use super::*;

    fn parse_text(text: &str) -> ast::Flow {
        parse(&SourceFile::new("test.flow", text)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn chains(flow: &ast::Flow) -> Vec<&ast::Chain> {
        flow.items
            .iter()
            .filter_map(|item| match item {
                Item::Chain(chain) => Some(chain),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn guard_text_is_a_verbatim_slice_with_its_span() {
        let text = "flow f {\n  a -> b when s == \"x; }\" && c(1, ')') // note\n}";
        let flow = parse_text(text);
        let Some(EdgeCondition::When(guard)) = &chains(&flow)[0].condition else {
            panic!()
        };
        assert_eq!(guard.text, "s == \"x; }\" && c(1, ')')");
        assert_eq!(&text[guard.span.start..guard.span.end], guard.text);
    }

    #[test]
    fn guards_wrap_inside_brackets_and_stop_at_a_closing_brace() {
        let flow = parse_text(
            "flow f {\n  a -> b when (x >\n    1)\n  loop l max 2 { c -> d when y } until `${z}` != \"}\"\n}",
        );
        let Some(EdgeCondition::When(guard)) = &chains(&flow)[0].condition else {
            panic!()
        };
        assert_eq!(guard.text, "(x >\n    1)");
        let Item::Loop(body) = &flow.items[1] else {
            panic!()
        };
        assert_eq!(body.until.text, "`${z}` != \"}\"");
        let LoopItem::Chain(inner) = &body.body[0] else {
            panic!()
        };
        let Some(EdgeCondition::When(guard)) = &inner.condition else {
            panic!()
        };
        assert_eq!(guard.text, "y");
    }

    #[test]
    fn a_chain_guard_belongs_to_its_first_hop() {
        let flow = parse_text("flow f { detect -> fix -> verify when bad }");
        let chain = chains(&flow)[0];
        assert_eq!(chain.endpoints.len(), 3);
        assert!(matches!(chain.condition, Some(EdgeCondition::When(_))));
    }

    #[test]
    fn doc_comments_attach_to_the_next_declaration() {
        let flow = parse_text(
            "/// The flow.\nflow f {\n  /// First line.\n  /// Second line.\n  node a = noop\n  //// not a doc\n  node b\n}",
        );
        assert_eq!(flow.doc.as_deref(), Some("The flow."));
        let docs: Vec<_> = flow
            .items
            .iter()
            .map(|item| match item {
                Item::Node(node) => node.doc.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(docs, [Some("First line.\nSecond line.".to_owned()), None]);
    }

    #[test]
    fn scripts_keep_braces_strings_and_comments_inside() {
        let flow = parse_text(
            "flow f {\n  node s {\n    let m = #{ a: \"}\" }; // }\n    x = `${m.a}`;\n  }\n}",
        );
        let Item::Node(node) = &flow.items[0] else {
            panic!()
        };
        let NodeAction::Script(code) = &node.action else {
            panic!()
        };
        assert!(
            code.text.contains("let m = #{ a: \"}\" }; // }"),
            "{}",
            code.text
        );
        assert!(
            code.text.trim_end().ends_with("x = `${m.a}`;"),
            "{}",
            code.text
        );
    }

    #[test]
    fn attributes_and_literals_are_parsed() {
        let flow = parse_text(
            "flow f {\n  node a = exec(cmd: \"run\\n\", timeout: 250ms, opts: {depth: 2, \"tags\": [1, 2.5, null]}) retry 3 backoff 2s timeout 1m\n  start -> a; a -> end on error\n}",
        );
        let Item::Node(node) = &flow.items[0] else {
            panic!()
        };
        let NodeAction::Tool(call) = &node.action else {
            panic!()
        };
        assert_eq!(call.name.name, "exec");
        assert_eq!(call.args[0].value.value, LiteralValue::Json("run\n".into()));
        assert_eq!(
            call.args[1].value.value,
            LiteralValue::Duration(std::time::Duration::from_millis(250))
        );
        assert_eq!(
            call.args[2].value.value,
            LiteralValue::Json(serde_json::json!({"depth": 2, "tags": [1, 2.5, null]}))
        );
        assert_eq!(node.timeout.as_ref().map(|t| t.value.as_secs()), Some(60));
        let retry = node.retry.as_ref().expect("retry");
        assert_eq!(
            (
                retry.attempts.value,
                retry.backoff.as_ref().map(|b| b.value.as_secs())
            ),
            (3, Some(2))
        );
        let chains = chains(&flow);
        assert_eq!(chains.len(), 2);
        assert!(matches!(chains[1].endpoints[1], Endpoint::End(_)));
        assert!(matches!(
            chains[1].condition,
            Some(EdgeCondition::OnError(_))
        ));
    }

    #[test]
    fn every_attribute_is_kept_in_order_with_its_span_and_the_first_counts() {
        let text = "flow f {\n  node once = noop once timeout 1s timeout 2s\n  start -> once\n}";
        let flow = parse_text(text);
        let Item::Node(node) = &flow.items[0] else {
            panic!()
        };
        assert_eq!(node.name.name, "once");
        let written: Vec<_> = node
            .attrs
            .iter()
            .map(|attr| (attr.value, &text[attr.span.start..attr.span.end]))
            .collect();
        assert_eq!(
            written,
            [
                (NodeAttr::Once, "once"),
                (NodeAttr::Timeout, "timeout 1s"),
                (NodeAttr::Timeout, "timeout 2s")
            ]
        );
        assert_eq!(node.timeout.as_ref().map(|t| t.value.as_secs()), Some(1));
        assert!(node.attr(NodeAttr::Once).is_some());
        assert!(node.attr(NodeAttr::Retry).is_none());
    }

    #[test]
    fn state_fields_fit_on_one_line() {
        let flow = parse_text("flow f { state { n: int = 0, s: string?; m: map = {} } }");
        let Item::State(block) = &flow.items[0] else {
            panic!()
        };
        let names: Vec<_> = block
            .fields
            .iter()
            .map(|f| (f.name.name.as_str(), f.nullable))
            .collect();
        assert_eq!(names, [("n", false), ("s", true), ("m", false)]);
    }

    #[test]
    fn names_that_begin_with_a_keyword_are_names() {
        let flow = parse_text(
            "flow f {\n  nodes -> states\n  node_a -> loops when maxed\n  starts -> ending\n  \
             errors -> timeouts -> retry_later -> end\n}",
        );
        let names: Vec<Vec<&str>> = chains(&flow)
            .iter()
            .map(|chain| {
                chain
                    .endpoints
                    .iter()
                    .filter_map(|endpoint| match endpoint {
                        Endpoint::Name(ident) => Some(ident.name.as_str()),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            names,
            [
                vec!["nodes", "states"],
                vec!["node_a", "loops"],
                vec!["starts", "ending"],
                vec!["errors", "timeouts", "retry_later"],
            ]
        );
    }

    #[test]
    fn keywords_need_a_word_boundary() {
        for text in [
            "flow f {\n  a -> b whenready\n}",
            "flow f {\n  a -> b onerror\n}",
            "flow f {\n  node a = noop timeout5s\n}",
            "flow f {\n  loop l max3 { a } until done\n}",
        ] {
            assert!(parse(&SourceFile::new("t.flow", text)).is_err(), "{text}");
        }
    }
}
