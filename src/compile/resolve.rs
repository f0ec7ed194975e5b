//! Names to ids: collects every node and loop declaration (reporting duplicates), resolves
//! the names in edges (reporting undefined ones), and works out which loop body each node
//! belongs to.

use std::collections::HashMap;

use crate::compile::error::CompileError;
use crate::compile::ir::{NodeId, Target};
use crate::compile::suggest::closest;
use crate::span::Span;
use crate::syntax::ast::{
    Chain, Code, EdgeCondition, Endpoint, Flow, Ident, Item, LoopDecl, LoopItem, NodeDecl,
    StateBlock,
};

pub(super) enum Decl<'a> {
    Node(&'a NodeDecl),
    Loop(&'a LoopDecl),
}

impl<'a> Decl<'a> {
    pub(super) fn name(&self) -> &'a Ident {
        match self {
            Decl::Node(node) => &node.name,
            Decl::Loop(body) => &body.name,
        }
    }
}

/// One hop `from -> to` as written.
pub(super) struct RawEdge<'a> {
    pub(super) from: NodeId,
    pub(super) to: Target,
    pub(super) condition: Option<&'a EdgeCondition>,
    /// From the source name to the target name.
    pub(super) span: Span,
    pub(super) to_span: Span,
}

/// A `start -> x` hop.
pub(super) struct StartEdge {
    pub(super) to: Target,
    pub(super) span: Span,
    pub(super) scope: Option<NodeId>,
    pub(super) guarded: bool,
}

pub(super) struct Resolved<'a> {
    pub(super) decls: Vec<Decl<'a>>,
    pub(super) state: Option<&'a StateBlock>,
    pub(super) edges: Vec<RawEdge<'a>>,
    pub(super) starts: Vec<StartEdge>,
    /// Whether any chain begins with `start`, even one whose target is undefined.
    pub(super) start_written: bool,
    /// Guards on hops that were not built (an endpoint is undefined): still compiled, so
    /// their own mistakes are reported in the same pass.
    pub(super) orphan_guards: Vec<&'a Code>,
    /// The loop each declaration is declared in (loops) or first used in (nodes).
    pub(super) homes: Vec<Option<NodeId>>,
    /// For a node in a loop body: where the body names it, which is why it belongs there.
    pub(super) home_at: Vec<Option<Span>>,
    /// Nodes reported as named in two unrelated loop bodies: what follows from that (a loop
    /// that begins with one) is not reported again.
    pub(super) in_two_loops: Vec<bool>,
    /// Whether a chain names the declaration at all.
    pub(super) used: Vec<bool>,
    /// A second declaration of a taken name: reported as a duplicate and otherwise ignored.
    pub(super) shadowed: Vec<bool>,
    /// For each loop: the first name of its first body item, its entry.
    pub(super) entries: HashMap<NodeId, NodeId>,
}

pub(super) fn resolve<'a>(flow: &'a Flow, errors: &mut Vec<CompileError>) -> Resolved<'a> {
    let mut resolver = Resolver {
        decls: Vec::new(),
        by_name: HashMap::new(),
        state: None,
        edges: Vec::new(),
        starts: Vec::new(),
        start_written: false,
        orphan_guards: Vec::new(),
        loop_parents: HashMap::new(),
        mentions: Vec::new(),
        entries: HashMap::new(),
        errors,
    };
    for item in &flow.items {
        match item {
            Item::Node(node) => {
                resolver.declare(Decl::Node(node));
            }
            Item::Loop(body) => resolver.declare_loop(body, None),
            Item::State(block) => match resolver.state {
                Some(first) => resolver.errors.push(CompileError::DuplicateState {
                    again: block.span.into(),
                    first: first.span.into(),
                }),
                None => resolver.state = Some(block),
            },
            Item::Chain(_) => {}
        }
    }
    for item in &flow.items {
        match item {
            Item::Chain(chain) => resolver.chain(chain, None),
            Item::Loop(body) => resolver.loop_body(body),
            Item::Node(_) | Item::State(_) => {}
        }
    }
    resolver.finish()
}

struct Resolver<'a, 'e> {
    decls: Vec<Decl<'a>>,
    by_name: HashMap<&'a str, NodeId>,
    state: Option<&'a StateBlock>,
    edges: Vec<RawEdge<'a>>,
    starts: Vec<StartEdge>,
    start_written: bool,
    orphan_guards: Vec<&'a Code>,
    loop_parents: HashMap<NodeId, Option<NodeId>>,
    /// (node, the loop whose body names it, where)
    mentions: Vec<(NodeId, Option<NodeId>, Span)>,
    entries: HashMap<NodeId, NodeId>,
    errors: &'e mut Vec<CompileError>,
}

impl<'a> Resolver<'a, '_> {
    fn declare(&mut self, decl: Decl<'a>) -> NodeId {
        let name = decl.name();
        if let Some(&first) = self.by_name.get(name.name.as_str()) {
            self.errors.push(CompileError::DuplicateNode {
                name: name.name.clone(),
                again: name.span.into(),
                first: self.decls[first.index()].name().span.into(),
            });
        }
        let id = NodeId(u32::try_from(self.decls.len()).expect("fewer than 2^32 nodes"));
        self.by_name.entry(name.name.as_str()).or_insert(id);
        self.decls.push(decl);
        id
    }

    fn declare_loop(&mut self, body: &'a LoopDecl, parent: Option<NodeId>) {
        let id = self.declare(Decl::Loop(body));
        self.loop_parents.insert(id, parent);
        for item in &body.body {
            if let LoopItem::Loop(inner) = item {
                self.declare_loop(inner, Some(id));
            }
        }
    }

    fn loop_body(&mut self, body: &'a LoopDecl) {
        let Some(&id) = self.by_name.get(body.name.name.as_str()) else {
            return;
        };
        if !matches!(self.decls[id.index()], Decl::Loop(decl) if std::ptr::eq(decl, body)) {
            return; // a duplicate name: its body was reported with the duplicate
        }
        let entry = match body.body.first() {
            Some(LoopItem::Loop(inner)) => self.lookup(&inner.name),
            Some(LoopItem::Chain(chain)) => match chain.endpoints.first() {
                Some(Endpoint::Name(name)) => self.lookup(name),
                _ => None,
            },
            None => None,
        };
        if let Some(entry) = entry {
            self.entries.insert(id, entry);
        }
        for item in &body.body {
            match item {
                LoopItem::Chain(chain) => self.chain(chain, Some(id)),
                LoopItem::Loop(inner) => {
                    if let Some(inner_id) = self.lookup(&inner.name) {
                        self.mentions.push((inner_id, Some(id), inner.name.span));
                    }
                    self.loop_body(inner);
                }
            }
        }
    }

    fn chain(&mut self, chain: &'a Chain, scope: Option<NodeId>) {
        let targets: Vec<Option<Target>> = chain
            .endpoints
            .iter()
            .map(|endpoint| match endpoint {
                Endpoint::Start(_) => None,
                Endpoint::End(_) => Some(Target::End),
                Endpoint::Name(name) => {
                    let id = self.lookup_or_report(name)?;
                    self.mentions.push((id, scope, name.span));
                    Some(Target::Node(id))
                }
            })
            .collect();
        // A lone `start` is no start edge: it must not hide the `no-start` error.
        self.start_written |= matches!(chain.endpoints.first(), Some(Endpoint::Start(_)))
            && chain.endpoints.len() > 1;
        if let [lone] = chain.endpoints.as_slice() {
            self.lone(lone, chain.condition.as_ref());
        }
        for (hop, pair) in chain.endpoints.windows(2).enumerate() {
            let span = Span::new(pair[0].span().start, pair[1].span().end);
            let condition = if hop == 0 {
                chain.condition.as_ref()
            } else {
                None
            };
            let from_known = matches!(pair[0], Endpoint::Start(_)) || targets[hop].is_some();
            let (Some(to), true) = (targets[hop + 1], from_known) else {
                if let Some(EdgeCondition::When(code)) = condition {
                    self.orphan_guards.push(code);
                }
                continue;
            };
            match (&pair[0], targets[hop]) {
                (Endpoint::Start(_), _) => self.starts.push(StartEdge {
                    to,
                    span,
                    scope,
                    guarded: condition.is_some(),
                }),
                (_, Some(Target::Node(from))) => self.edges.push(RawEdge {
                    from,
                    to,
                    condition,
                    span,
                    to_span: pair[1].span(),
                }),
                _ => {}
            }
        }
    }

    /// A chain of one endpoint adds no edge: a `start` there, or a condition after it,
    /// would be silently dropped. Its guard is still compiled, for its own mistakes.
    fn lone(&mut self, endpoint: &'a Endpoint, condition: Option<&'a EdgeCondition>) {
        let from = match endpoint {
            Endpoint::Start(at) => {
                self.errors
                    .push(CompileError::LoneStart { at: (*at).into() });
                "start".to_owned()
            }
            Endpoint::End(_) => "end".to_owned(),
            Endpoint::Name(name) => name.name.clone(),
        };
        match condition {
            Some(EdgeCondition::When(code)) => {
                self.errors.push(CompileError::GuardWithoutEdge {
                    from,
                    at: code.span.into(),
                });
                self.orphan_guards.push(code);
            }
            Some(EdgeCondition::OnError(at)) => {
                self.errors.push(CompileError::OnErrorWithoutEdge {
                    from,
                    at: (*at).into(),
                });
            }
            None => {}
        }
    }

    fn lookup(&self, name: &Ident) -> Option<NodeId> {
        self.by_name.get(name.name.as_str()).copied()
    }

    fn lookup_or_report(&mut self, name: &Ident) -> Option<NodeId> {
        let found = self.lookup(name);
        if found.is_none() {
            self.errors.push(CompileError::UndefinedNode {
                name: name.name.clone(),
                suggestion: closest(&name.name, self.by_name.keys().copied()),
                at: name.span.into(),
            });
        }
        found
    }

    /// Each loop's home is where it is declared. A node's home is the innermost loop whose
    /// body names it; names in two unrelated loop bodies are an error.
    fn finish(self) -> Resolved<'a> {
        let mut homes: Vec<Option<NodeId>> = vec![None; self.decls.len()];
        let mut home_at: Vec<Option<Span>> = vec![None; self.decls.len()];
        let mut used = vec![false; self.decls.len()];
        let mut in_two_loops = vec![false; self.decls.len()];
        for (&id, &parent) in &self.loop_parents {
            homes[id.index()] = parent;
        }
        let shadowed: Vec<bool> = self
            .decls
            .iter()
            .enumerate()
            .map(|(index, decl)| self.by_name[decl.name().name.as_str()].index() != index)
            .collect();
        let is_within = |inner: Option<NodeId>, outer: Option<NodeId>| {
            let mut at = inner;
            loop {
                if at == outer {
                    return true;
                }
                match at {
                    Some(id) => at = self.loop_parents.get(&id).copied().flatten(),
                    None => return false,
                }
            }
        };
        for &(id, scope, span) in &self.mentions {
            used[id.index()] = true;
            if self.loop_parents.contains_key(&id) || scope.is_none() {
                continue;
            }
            let current = homes[id.index()];
            let (Some(first_loop), Some(second_loop)) = (current, scope) else {
                homes[id.index()] = scope;
                home_at[id.index()] = Some(span);
                continue;
            };
            if is_within(scope, current) {
                homes[id.index()] = scope;
                home_at[id.index()] = Some(span);
            } else if !is_within(current, scope) {
                in_two_loops[id.index()] = true;
                self.errors.push(CompileError::NodeInTwoLoops {
                    name: self.decls[id.index()].name().name.clone(),
                    first_loop: self.decls[first_loop.index()].name().name.clone(),
                    second_loop: self.decls[second_loop.index()].name().name.clone(),
                    again: span.into(),
                    first: home_at[id.index()].unwrap_or(span).into(),
                });
            }
        }
        Resolved {
            decls: self.decls,
            state: self.state,
            edges: self.edges,
            starts: self.starts,
            start_written: self.start_written,
            orphan_guards: self.orphan_guards,
            homes,
            home_at,
            in_two_loops,
            used,
            shadowed,
            entries: self.entries,
        }
    }
}
