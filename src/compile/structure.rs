//! The shape of the graph: the start, edges across loop boundaries, default edges, each
//! loop's entry and exit, cycles no run can leave, and what `start` can reach.

use std::collections::{HashMap, HashSet};

use crate::compile::error::CompileError;
use crate::compile::ir::{NodeId, Target};
use crate::compile::resolve::{Decl, RawEdge, Resolved};
use crate::span::Span;
use crate::syntax::ast::{EdgeCondition, Endpoint, Flow, LoopDecl, LoopItem};

/// The kind of an edge, without its compiled guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EdgeKind {
    Default,
    Guarded,
    OnError,
}

impl EdgeKind {
    pub(super) fn of(edge: &RawEdge<'_>) -> Self {
        match edge.condition {
            None => EdgeKind::Default,
            Some(EdgeCondition::When(_)) => EdgeKind::Guarded,
            Some(EdgeCondition::OnError(_)) => EdgeKind::OnError,
        }
    }
}

/// What the structure checks settle for the IR.
pub(super) struct Structure {
    pub(super) entry: Option<Target>,
    /// Per loop: (entry, exit, body).
    pub(super) loops: HashMap<NodeId, (NodeId, NodeId, Vec<NodeId>)>,
    /// Indexes into `Resolved::edges` of the edges that respect loop boundaries.
    pub(super) kept_edges: Vec<usize>,
}

pub(super) fn check(
    flow: &Flow,
    resolved: &Resolved<'_>,
    errors: &mut Vec<CompileError>,
    warnings: &mut Vec<CompileError>,
) -> Structure {
    let checker = Checker { resolved };
    // Where a node named in a loop body is used outside it: one error per such use, however
    // many of its hops cross the boundary.
    let mut crossings = HashSet::new();
    let entry = checker.start(flow, &mut crossings, errors);
    let kept_edges = checker.boundaries(&mut crossings, errors);
    let out = checker.adjacency(&kept_edges);
    checker.defaults(&kept_edges, errors, warnings);
    let loops = checker.loops(&out, errors);
    checker.cycles(&out, &loops, errors);
    if let Some(Target::Node(entry)) = entry {
        // An edge refused for crossing a loop boundary is reported already: what it leads
        // to is not unreachable on top of that.
        let all_edges;
        let reach = if kept_edges.len() == resolved.edges.len() {
            &out
        } else {
            all_edges = checker.adjacency(&(0..resolved.edges.len()).collect::<Vec<_>>());
            &all_edges
        };
        checker.reachability(entry, reach, &loops, warnings);
    }
    Structure {
        entry,
        loops,
        kept_edges,
    }
}

/// Outgoing edges per node: (target, kind, hop span).
type Adjacency = Vec<Vec<(Target, EdgeKind, Span)>>;

struct Checker<'r, 'a> {
    resolved: &'r Resolved<'a>,
}

impl Checker<'_, '_> {
    fn name(&self, id: NodeId) -> &str {
        &self.resolved.decls[id.index()].name().name
    }

    fn name_span(&self, id: NodeId) -> Span {
        self.resolved.decls[id.index()].name().span
    }

    /// Where a loop body names `id`, which makes it part of that loop.
    fn member_span(&self, id: NodeId) -> Span {
        self.resolved.home_at[id.index()].unwrap_or_else(|| self.name_span(id))
    }

    fn home(&self, target: Target) -> Option<NodeId> {
        match target {
            Target::Node(id) => self.resolved.homes[id.index()],
            Target::End => None,
        }
    }

    /// Whether scope `inner` is `outer` or nested inside it.
    fn is_within(&self, inner: Option<NodeId>, outer: Option<NodeId>) -> bool {
        let mut at = inner;
        loop {
            if at == outer {
                return true;
            }
            match at {
                Some(id) => at = self.resolved.homes[id.index()],
                None => return false,
            }
        }
    }

    /// The outermost loop that contains `inner` but not `outer`.
    fn crossed_loop(&self, inner: Option<NodeId>, outer: Option<NodeId>) -> NodeId {
        let mut at = inner.expect("a crossed boundary is inside some loop");
        while let Some(parent) = self.resolved.homes[at.index()] {
            if self.is_within(outer, Some(parent)) {
                break;
            }
            at = parent;
        }
        at
    }

    fn start(
        &self,
        flow: &Flow,
        crossings: &mut HashSet<Span>,
        errors: &mut Vec<CompileError>,
    ) -> Option<Target> {
        let starts = &self.resolved.starts;
        let Some(first) = starts.first() else {
            if self.resolved.start_written {
                return None; // its target is undefined, and reported as such
            }
            errors.push(CompileError::NoStart {
                first_node: self
                    .resolved
                    .decls
                    .first()
                    .map(|decl| decl.name().name.clone()),
                at: flow.name.span.into(),
            });
            return None;
        };
        for again in &starts[1..] {
            errors.push(CompileError::MultipleStarts {
                again: again.span.into(),
                first: first.span.into(),
            });
        }
        for start in starts {
            if start.guarded {
                errors.push(CompileError::GuardedStart {
                    at: start.span.into(),
                });
            }
            if start.to == Target::End {
                errors.push(CompileError::StartToEnd {
                    at: start.span.into(),
                });
            }
            let home = self.home(start.to).or(start.scope);
            if home.is_some() {
                let crossed = self.crossed_loop(home, None);
                let member = match start.to {
                    Target::Node(to) => {
                        let name = self.name(to);
                        crossings.insert(Span::new(start.span.end - name.len(), start.span.end));
                        Some((name.to_owned(), self.member_span(to).into()))
                    }
                    Target::End => None,
                };
                let (node, member_at) = member.unzip();
                errors.push(CompileError::EdgeEntersLoop {
                    loop_name: self.name(crossed).to_owned(),
                    node,
                    at: start.span.into(),
                    loop_at: self.name_span(crossed).into(),
                    member_at,
                });
            }
        }
        Some(first.to)
    }

    /// Reports edges that jump into a loop body or leave one (other than by `on error`), and
    /// returns the others. `crossings` are the uses of body nodes outside their loop that are
    /// reported already: a use in `a -> x -> b` crosses twice and is reported once.
    fn boundaries(
        &self,
        crossings: &mut HashSet<Span>,
        errors: &mut Vec<CompileError>,
    ) -> Vec<usize> {
        let mut kept = Vec::new();
        for (index, edge) in self.resolved.edges.iter().enumerate() {
            let from = self.resolved.homes[edge.from.index()];
            let to = self.home(edge.to);
            if from == to {
                kept.push(index);
            } else if !self.is_within(from, to) {
                let crossed = self.crossed_loop(to, from);
                let node = edge.to_node();
                if crossings.insert(edge.to_span) {
                    errors.push(CompileError::EdgeEntersLoop {
                        loop_name: self.name(crossed).to_owned(),
                        node: Some(self.name(node).to_owned()),
                        at: edge.span.into(),
                        loop_at: self.name_span(crossed).into(),
                        member_at: Some(self.member_span(node).into()),
                    });
                }
            } else if EdgeKind::of(edge) == EdgeKind::OnError {
                kept.push(index);
            } else {
                let crossed = self.crossed_loop(from, to);
                let from_at = Span::new(
                    edge.span.start,
                    edge.span.start + self.name(edge.from).len(),
                );
                if crossings.insert(from_at) {
                    errors.push(CompileError::EdgeLeavesLoop {
                        loop_name: self.name(crossed).to_owned(),
                        node: self.name(edge.from).to_owned(),
                        at: edge.span.into(),
                        loop_at: self.name_span(crossed).into(),
                        member_at: self.member_span(edge.from).into(),
                    });
                }
            }
        }
        kept
    }

    fn adjacency(&self, kept: &[usize]) -> Adjacency {
        let mut out = vec![Vec::new(); self.resolved.decls.len()];
        for &index in kept {
            let edge = &self.resolved.edges[index];
            out[edge.from.index()].push((edge.to, EdgeKind::of(edge), edge.span));
        }
        out
    }

    fn defaults(
        &self,
        kept: &[usize],
        errors: &mut Vec<CompileError>,
        warnings: &mut Vec<CompileError>,
    ) {
        let count = self.resolved.decls.len();
        let mut first_default: Vec<Option<Span>> = vec![None; count];
        let mut first_error: Vec<Option<Span>> = vec![None; count];
        let mut guarded: Vec<Vec<Span>> = vec![Vec::new(); count];
        for &index in kept {
            let edge = &self.resolved.edges[index];
            let from = edge.from.index();
            match EdgeKind::of(edge) {
                EdgeKind::Guarded => guarded[from].push(edge.span),
                EdgeKind::Default => match first_default[from] {
                    Some(first) => errors.push(CompileError::AmbiguousDefault {
                        from: self.name(edge.from).to_owned(),
                        again: edge.span.into(),
                        first: first.into(),
                    }),
                    None => first_default[from] = Some(edge.span),
                },
                EdgeKind::OnError => match first_error[from] {
                    Some(first) => errors.push(CompileError::AmbiguousErrorEdge {
                        from: self.name(edge.from).to_owned(),
                        again: edge.span.into(),
                        first: first.into(),
                    }),
                    None => first_error[from] = Some(edge.span),
                },
            }
        }
        for (index, guarded) in guarded.iter().enumerate() {
            if let [first, rest @ ..] = guarded.as_slice()
                && first_default[index].is_none()
            {
                let id = NodeId(u32::try_from(index).expect("fewer than 2^32 nodes"));
                warnings.push(CompileError::MissingDefault {
                    from: self.name(id).to_owned(),
                    at: (*first).into(),
                    rest: rest.iter().map(|&span| span.into()).collect(),
                });
            }
        }
    }

    fn loops(
        &self,
        out: &Adjacency,
        errors: &mut Vec<CompileError>,
    ) -> HashMap<NodeId, (NodeId, NodeId, Vec<NodeId>)> {
        let mut bodies: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
        for (index, home) in self.resolved.homes.iter().enumerate() {
            if let Some(home) = home {
                bodies
                    .entry(*home)
                    .or_default()
                    .push(NodeId(u32::try_from(index).expect("fewer than 2^32 nodes")));
            }
        }
        let mut loops = HashMap::new();
        for (index, decl) in self.resolved.decls.iter().enumerate() {
            let Decl::Loop(body) = decl else { continue };
            let id = NodeId(u32::try_from(index).expect("fewer than 2^32 nodes"));
            let members = bodies.remove(&id).unwrap_or_default();
            let entry = self.resolved.entries.get(&id).copied();
            if body.body.is_empty() {
                errors.push(CompileError::EmptyLoop {
                    name: body.name.name.clone(),
                    at: body.body_span.into(),
                });
                continue;
            }
            let Some(entry) = entry.filter(|entry| members.contains(entry)) else {
                // An undefined entry is reported where it is named; anything else here is a
                // loop or node that belongs elsewhere.
                if let Some(entry) = entry
                    && !self.resolved.in_two_loops[entry.index()]
                {
                    errors.push(CompileError::LoopEntryElsewhere {
                        name: body.name.name.clone(),
                        entry: self.name(entry).to_owned(),
                        at: first_item_span(body).into(),
                    });
                }
                continue;
            };
            let exits: Vec<NodeId> = members
                .iter()
                .copied()
                .filter(|member| {
                    out[member.index()]
                        .iter()
                        .all(|(_, kind, _)| *kind == EdgeKind::OnError)
                })
                .collect();
            match exits.as_slice() {
                [exit] => {
                    loops.insert(id, (entry, *exit, members));
                }
                [] => errors.push(CompileError::LoopNoExit {
                    name: body.name.name.clone(),
                    at: body.header.into(),
                }),
                several => errors.push(CompileError::LoopManyExits {
                    name: body.name.name.clone(),
                    count: several.len(),
                    names: several
                        .iter()
                        .map(|id| format!("`{}`", self.name(*id)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    exits: several
                        .iter()
                        .map(|id| self.first_mention(*id, body.span).into())
                        .collect(),
                }),
            }
        }
        loops
    }

    /// Where a node is named inside `within` (a loop's text), for labels in that loop.
    fn first_mention(&self, id: NodeId, within: Span) -> Span {
        self.resolved
            .edges
            .iter()
            .flat_map(|edge| {
                let from = Span::new(
                    edge.span.start,
                    edge.span.start + self.name(edge.from).len(),
                );
                [(edge.from, from), (edge.to_node(), edge.to_span)]
            })
            .find(|(node, span)| {
                *node == id && within.start <= span.start && span.end <= within.end
            })
            .map_or_else(|| self.name_span(id), |(_, span)| span)
    }

    /// Strongly connected components over plain and guarded edges within one scope; one that
    /// has no edge out of it (an error edge counts) can never be left.
    fn cycles(
        &self,
        out: &Adjacency,
        loops: &HashMap<NodeId, (NodeId, NodeId, Vec<NodeId>)>,
        errors: &mut Vec<CompileError>,
    ) {
        for component in strongly_connected(out) {
            let is_cycle = component.len() > 1
                || out[component[0].index()].iter().any(|(to, kind, _)| {
                    *to == Target::Node(component[0]) && *kind != EdgeKind::OnError
                });
            if !is_cycle {
                continue;
            }
            // A loop without an exit is reported as such; its body cycle adds nothing.
            let home = self.resolved.homes[component[0].index()];
            if home.is_some_and(|home| !loops.contains_key(&home)) {
                continue;
            }
            let leaves = component.iter().any(|member| {
                out[member.index()].iter().any(|(to, _, _)| match to {
                    Target::End => true,
                    Target::Node(to) => !component.contains(to),
                })
            });
            if leaves {
                continue;
            }
            let mut members = component.clone();
            members.sort();
            let mut path: Vec<&str> = members.iter().map(|id| self.name(*id)).collect();
            path.push(path[0]);
            // The edges that close the cycle are what to change, not the declarations.
            let mut edges: Vec<Span> = members
                .iter()
                .flat_map(|member| &out[member.index()])
                .filter(|(to, kind, _)| {
                    *kind != EdgeKind::OnError
                        && matches!(to, Target::Node(to) if component.contains(to))
                })
                .map(|&(_, _, span)| span)
                .collect();
            edges.sort_by_key(|span| span.start);
            edges.dedup();
            let (first, rest) = edges.split_first().expect("a cycle has at least one edge");
            errors.push(CompileError::InescapableCycle {
                path: path.join(" -> "),
                at: (*first).into(),
                rest: rest.iter().map(|&span| span.into()).collect(),
            });
        }
    }

    fn reachability(
        &self,
        entry: NodeId,
        out: &Adjacency,
        loops: &HashMap<NodeId, (NodeId, NodeId, Vec<NodeId>)>,
        warnings: &mut Vec<CompileError>,
    ) {
        let count = self.resolved.decls.len();
        let mut seen = vec![false; count];
        let mut stack = vec![entry];
        seen[entry.index()] = true;
        while let Some(id) = stack.pop() {
            let loop_entry = loops
                .get(&id)
                .map(|(entry, _, _)| Target::Node(*entry))
                .or_else(|| {
                    self.resolved
                        .entries
                        .get(&id)
                        .map(|entry| Target::Node(*entry))
                });
            let next = out[id.index()]
                .iter()
                .map(|(to, _, _)| *to)
                .chain(loop_entry);
            for to in next {
                if let Target::Node(to) = to
                    && !seen[to.index()]
                {
                    seen[to.index()] = true;
                    stack.push(to);
                }
            }
        }
        for index in 0..count {
            let id = NodeId(u32::try_from(index).expect("fewer than 2^32 nodes"));
            let inside_unseen_loop =
                self.resolved.homes[index].is_some_and(|home| !seen[home.index()]);
            if self.resolved.shadowed[index] {
                continue;
            }
            if !self.resolved.used[index] && self.resolved.homes[index].is_none() {
                warnings.push(CompileError::UnusedNode {
                    name: self.name(id).to_owned(),
                    at: self.name_span(id).into(),
                });
            } else if !seen[index] && !inside_unseen_loop {
                warnings.push(CompileError::UnreachableNode {
                    name: self.name(id).to_owned(),
                    at: self.name_span(id).into(),
                });
            }
        }
    }
}

/// Where a loop body's first item is named: its entry.
fn first_item_span(body: &LoopDecl) -> Span {
    match body.body.first() {
        Some(LoopItem::Loop(inner)) => inner.name.span,
        Some(LoopItem::Chain(chain)) => chain.endpoints.first().map_or(chain.span, Endpoint::span),
        None => body.body_span,
    }
}

impl RawEdge<'_> {
    /// The target node, or the source for an edge to `end` (so it never matches a search).
    fn to_node(&self) -> NodeId {
        match self.to {
            Target::Node(id) => id,
            Target::End => self.from,
        }
    }
}

/// Tarjan's algorithm, iterative so a 100k-node chain cannot exhaust the stack. Error edges
/// are left out: they are ways out, not parts of a cycle.
fn strongly_connected(out: &Adjacency) -> Vec<Vec<NodeId>> {
    const UNSEEN: usize = usize::MAX;
    let count = out.len();
    let mut index = vec![UNSEEN; count];
    let mut low = vec![0; count];
    let mut on_stack = vec![false; count];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next_index = 0;
    let successors = |node: usize| {
        out[node]
            .iter()
            .filter_map(|(to, kind, _)| match (to, kind) {
                (Target::Node(to), EdgeKind::Default | EdgeKind::Guarded) => Some(to.index()),
                _ => None,
            })
    };
    for root in 0..count {
        if index[root] != UNSEEN {
            continue;
        }
        // (node, position in its successor list)
        let mut work = vec![(root, 0usize)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (node, ref mut position)) = work.last_mut() {
            if let Some(successor) = successors(node).nth(*position) {
                *position += 1;
                if index[successor] == UNSEEN {
                    index[successor] = next_index;
                    low[successor] = next_index;
                    next_index += 1;
                    stack.push(successor);
                    on_stack[successor] = true;
                    work.push((successor, 0));
                } else if on_stack[successor] {
                    low[node] = low[node].min(index[successor]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == index[node] {
                let mut component = Vec::new();
                loop {
                    let member = stack.pop().expect("the root is on the stack");
                    on_stack[member] = false;
                    component.push(NodeId(
                        u32::try_from(member).expect("fewer than 2^32 nodes"),
                    ));
                    if member == node {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(usize, usize)], nodes: usize) -> Adjacency {
        let mut out = vec![Vec::new(); nodes];
        for &(from, to) in edges {
            out[from].push((
                Target::Node(NodeId(u32::try_from(to).unwrap())),
                EdgeKind::Default,
                Span::default(),
            ));
        }
        out
    }

    #[test]
    fn components_group_cycles_and_leave_chains_apart() {
        let out = graph(&[(0, 1), (1, 2), (2, 1), (2, 3)], 4);
        let mut sizes: Vec<usize> = strongly_connected(&out).iter().map(Vec::len).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [1, 1, 2]);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 200_000;
        let edges: Vec<(usize, usize)> = (0..n - 1).map(|i| (i, i + 1)).collect();
        assert_eq!(strongly_connected(&graph(&edges, n)).len(), n);
    }
}
