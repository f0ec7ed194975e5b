//! A node's attributes (`timeout`, `retry`, `once`) against each other and its action: each
//! given once, `once` only where there is an action and no retry, and no run policy on a
//! wait, which its own `timeout:` argument bounds. Reports; builds nothing.

use crate::compile::error::CompileError;
use crate::syntax::ast::{NodeAction, NodeAttr, NodeDecl};
use crate::tools::WAIT_TOOL;

/// Pushes one error per misplaced or repeated attribute of `node`.
pub(super) fn check(node: &NodeDecl, errors: &mut Vec<CompileError>) {
    let name = || node.name.name.clone();
    for (index, given) in node.attrs.iter().enumerate() {
        if let Some(first) = node.attrs[..index].iter().find(|a| a.value == given.value) {
            errors.push(CompileError::DuplicateAttribute {
                node: name(),
                attr: given.value.keyword(),
                again: given.span.into(),
                first: first.span.into(),
            });
        }
    }
    let once = node.attr(NodeAttr::Once);
    let is_wait = matches!(&node.action, NodeAction::Tool(call) if call.name.name == WAIT_TOOL);
    if is_wait {
        // `once` on a wait is allowed: pausing has no side effect to repeat, so it changes
        // nothing.
        for attr in [NodeAttr::Timeout, NodeAttr::Retry] {
            if let Some(at) = node.attr(attr) {
                errors.push(CompileError::WaitPolicy {
                    node: name(),
                    attr: attr.keyword(),
                    at: at.into(),
                });
            }
        }
        return;
    }
    match (once, &node.action, node.attr(NodeAttr::Retry)) {
        (Some(at), NodeAction::Junction, _) => errors.push(CompileError::OnceWithoutAction {
            node: name(),
            at: at.into(),
        }),
        (Some(once), _, Some(retry)) => errors.push(CompileError::OnceWithRetry {
            node: name(),
            once: once.into(),
            retry: retry.into(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::compile::{codes_of, compile};
    use crate::sandbox::Limits;
    use crate::source::SourceFile;
    use crate::tools::ToolRegistry;

    /// The codes for a flow whose one node `a` is declared as `decl`.
    fn codes(decl: &str) -> Vec<String> {
        codes_of(&format!("flow f {{\n  node {decl}\n  start -> a\n}}\n"))
    }

    #[test]
    fn once_goes_with_timeout_in_any_order() {
        assert!(codes("a = noop once timeout 5s").is_empty());
        assert!(codes("a = noop timeout 5s once").is_empty());
        assert!(codes("a { x = 1 } once").is_empty());
    }

    #[test]
    fn once_is_not_reserved_so_a_node_may_be_named_once() {
        let text = "flow f {\n  node once = noop once\n  start -> once\n}\n";
        let flow = crate::syntax::parse(&SourceFile::new("t.flow", text)).expect("parses");
        let compilation = compile(&flow, text, &ToolRegistry::builtin(), &Limits::default());
        let program = compilation.program.expect("compiles");
        assert!(program.nodes[0].once);
        assert_eq!(program.nodes[0].name, "once");
    }

    #[test]
    fn once_on_a_junction_is_reported() {
        assert_eq!(codes("a once"), ["flow::once-without-action"]);
    }

    #[test]
    fn once_with_retry_is_reported() {
        assert_eq!(codes("a = noop retry 2 once"), ["flow::once-with-retry"]);
    }

    #[test]
    fn each_repeated_attribute_is_reported() {
        assert_eq!(
            codes("a = noop once timeout 1s once timeout 2s"),
            ["flow::duplicate-attribute", "flow::duplicate-attribute"]
        );
        assert_eq!(
            codes("a = noop retry 1 retry 2"),
            ["flow::duplicate-attribute"]
        );
    }

    #[test]
    fn a_wait_takes_no_timeout_or_retry_attribute_but_may_be_once() {
        assert_eq!(
            codes("a = wait(prompt: \"ok?\") timeout 1s retry 2"),
            ["flow::wait-policy", "flow::wait-policy"]
        );
        assert!(codes("a = wait(prompt: \"ok?\", timeout: 1h) once").is_empty());
    }
}
