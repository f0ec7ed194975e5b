//! The program's content hash: SHA-256 over a canonical encoding of the IR version, the
//! source text and the spec of every tool the flow uses. A durable run records it, so that
//! resuming can tell whether the program it was started from is still the one loaded. It
//! reads only what it is given; it never looks at a clock, a path or the environment, so the
//! same source and tool set hash alike in any process on any machine.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::compile::ir::{HASH_PREFIX, NodeKind};
use crate::tools::{ToolRegistry, ToolSpec, WAIT_TOOL};

/// Names the encoding, so that a later change to it cannot collide with this one.
const DOMAIN: &[u8] = b"flowc-program-hash-v1\0";

/// `sha256:` and 64 hex digits for a program of `ir_version` compiled from `text`, whose
/// nodes are `kinds`, against `tools`.
pub(super) fn program_hash<'k>(
    ir_version: u32,
    text: &str,
    kinds: impl IntoIterator<Item = &'k NodeKind>,
    tools: &ToolRegistry,
) -> String {
    // Name order, each once: how the flow lists its nodes does not matter, what they use does.
    let used: BTreeSet<&str> = kinds
        .into_iter()
        .filter_map(|kind| match kind {
            NodeKind::Tool { tool, .. } => Some(tool.as_str()),
            NodeKind::Wait { .. } => Some(WAIT_TOOL),
            NodeKind::Script { .. } | NodeKind::Junction | NodeKind::Loop(_) => None,
        })
        .collect();
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(ir_version.to_le_bytes());
    field(&mut hasher, text.as_bytes());
    count(&mut hasher, used.len());
    for name in used {
        // A compiled program names only registered tools; should one be missing, the hash
        // still differs from any registry that has it.
        if let Some(spec) = tools.get(name) {
            hasher.update([1]);
            tool_spec(&mut hasher, spec);
        } else {
            hasher.update([0]);
            field(&mut hasher, name.as_bytes());
        }
    }
    let mut hash = String::with_capacity(HASH_PREFIX.len() + 64);
    hash.push_str(HASH_PREFIX);
    for byte in hasher.finalize() {
        write!(hash, "{byte:02x}").expect("writing to a String cannot fail");
    }
    hash
}

/// The parts of a spec that decide which calls compile: the name and each argument's name,
/// type and required-ness, arguments in name order. Descriptions are for people and left
/// out: rewording one does not change any program.
fn tool_spec(hasher: &mut Sha256, spec: &ToolSpec) {
    field(hasher, spec.name.as_bytes());
    let mut args: Vec<_> = spec.args.iter().collect();
    args.sort_by(|a, b| a.name.cmp(&b.name));
    count(hasher, args.len());
    for arg in args {
        field(hasher, arg.name.as_bytes());
        field(hasher, arg.ty.name().as_bytes());
        hasher.update([u8::from(arg.required)]);
    }
}

/// Length-prefixed, so that no two different sequences of fields encode alike.
fn field(hasher: &mut Sha256, bytes: &[u8]) {
    count(hasher, bytes.len());
    hasher.update(bytes);
}

fn count(hasher: &mut Sha256, n: usize) {
    hasher.update(u64::try_from(n).unwrap_or(u64::MAX).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use crate::sandbox::Limits;
    use crate::source::SourceFile;
    use crate::tools::{ArgType, Tool, ToolCall, ToolFailure, ToolRegistry, ToolSpec};

    const FLOW: &str = "flow f {\n  // charge once\n  node pay = charge(amount: 3)\n  node ask = wait(prompt: \"ok?\")\n  start -> pay -> ask\n}\n";

    struct Charge;

    impl Tool for Charge {
        fn call(
            &self,
            _call: &ToolCall<'_>,
        ) -> Result<serde_json::Map<String, serde_json::Value>, ToolFailure> {
            Ok(serde_json::Map::new())
        }
    }

    fn registry(amount: ArgType) -> ToolRegistry {
        let mut tools = ToolRegistry::builtin();
        tools.register(
            ToolSpec::new("charge", "Charges a card.").required("amount", amount, "how much"),
            Charge,
        );
        tools
    }

    fn hash(text: &str, tools: &ToolRegistry) -> String {
        let source = SourceFile::new("f.flow", text);
        let checked = crate::check_with_limits(&source, tools, &Limits::default());
        checked.program.expect("the flow compiles").hash
    }

    #[test]
    fn the_same_source_and_tools_hash_alike_and_look_like_sha256() {
        let first = hash(FLOW, &registry(ArgType::Int));
        assert_eq!(first, hash(FLOW, &registry(ArgType::Int)));
        let digits = first.strip_prefix("sha256:").expect("the algorithm first");
        assert_eq!(digits.len(), 64);
        assert!(
            digits
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn a_changed_comment_changes_the_hash_because_the_source_is_hashed() {
        let tools = registry(ArgType::Int);
        let edited = FLOW.replace("charge once", "charge exactly once");
        assert_ne!(hash(FLOW, &tools), hash(&edited, &tools));
    }

    #[test]
    fn a_used_tool_with_another_spec_changes_the_hash() {
        assert_ne!(
            hash(FLOW, &registry(ArgType::Int)),
            hash(FLOW, &registry(ArgType::Float))
        );
    }

    #[test]
    fn an_unused_tool_in_the_registry_leaves_the_hash_alone() {
        let tools = registry(ArgType::Int);
        let mut more = registry(ArgType::Int);
        more.register(ToolSpec::new("unused", "Never called."), Charge);
        assert_eq!(hash(FLOW, &tools), hash(FLOW, &more));
        // Nor does a description, which no call depends on.
        let mut reworded = registry(ArgType::Int);
        reworded.register(
            ToolSpec::new("charge", "Takes money.").required("amount", ArgType::Int, "sum"),
            Charge,
        );
        assert_eq!(hash(FLOW, &tools), hash(FLOW, &reworded));
    }

    #[test]
    fn the_short_hash_is_the_first_twelve_hex_digits() {
        let source = SourceFile::new("f.flow", FLOW);
        let program = crate::check(&source, &registry(ArgType::Int))
            .program
            .expect("the flow compiles");
        assert_eq!(program.short_hash(), &program.hash["sha256:".len()..][..12]);
    }
}
