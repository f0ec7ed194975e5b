//! Which list item a failing `for` loop was on. rhai unwinds the loop's variables with the
//! error, so lists are iterated through a wrapper that records each loop's current index.
//! A loop the error unwound is told from one left earlier by `break` by the operation count:
//! nothing runs while an error unwinds, so those loops end at the failing operation.

use std::any::TypeId;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rhai::{AST, ASTNode, Array, Dynamic, Engine, Module, Position, Stmt};

use crate::sync::lock;

#[derive(Debug, Default)]
struct Frame {
    /// The index of the item being processed, once there is one.
    index: Option<usize>,
    /// The operation count when the loop ended, and the order it ended in.
    ended: Option<(u64, usize)>,
    exhausted: bool,
}

/// The list loops of the current evaluation.
#[derive(Debug, Default)]
pub(crate) struct LoopTrace {
    frames: Mutex<Vec<Frame>>,
    ended: AtomicU64,
    operations: AtomicU64,
}

impl LoopTrace {
    /// Forgets the previous evaluation's loops.
    pub(crate) fn reset(&self) {
        lock(&self.frames).clear();
        self.ended.store(0, Ordering::Relaxed);
        self.operations.store(0, Ordering::Relaxed);
    }

    /// Called by the progress hook with rhai's operation count.
    pub(crate) fn count(&self, operations: u64) {
        self.operations.store(operations, Ordering::Relaxed);
    }

    /// The index of the item the innermost loop the failure unwound was on.
    pub(crate) fn failing_index(&self) -> Option<usize> {
        let last = self.operations.load(Ordering::Relaxed);
        lock(&self.frames)
            .iter()
            .filter(|frame| !frame.exhausted)
            .filter_map(|frame| {
                let (at, order) = frame.ended?;
                (at == last).then_some((order, frame.index?))
            })
            .min()
            .map(|(_, index)| index)
    }
}

struct Tracked {
    items: std::vec::IntoIter<Dynamic>,
    next: usize,
    frame: usize,
    trace: Arc<LoopTrace>,
}

impl Iterator for Tracked {
    type Item = Dynamic;

    fn next(&mut self) -> Option<Dynamic> {
        let item = self.items.next();
        let mut frames = lock(&self.trace.frames);
        if let Some(frame) = frames.get_mut(self.frame) {
            if item.is_some() {
                frame.index = Some(self.next);
            } else {
                frame.exhausted = true;
            }
        }
        self.next += 1;
        item
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let at = self.trace.operations.load(Ordering::Relaxed);
        let order =
            usize::try_from(self.trace.ended.fetch_add(1, Ordering::Relaxed)).unwrap_or(usize::MAX);
        if let Some(frame) = lock(&self.trace.frames).get_mut(self.frame) {
            frame.ended = Some((at, order));
        }
    }
}

/// Iterates lists through [`Tracked`]; the returned trace is the engine's.
pub(crate) fn register(engine: &mut Engine) -> Arc<LoopTrace> {
    let trace = Arc::new(LoopTrace::default());
    let hook = Arc::clone(&trace);
    let mut module = Module::new();
    module.set_iter(TypeId::of::<Array>(), move |list| {
        let items = list.cast::<Array>();
        let mut frames = lock(&hook.frames);
        frames.push(Frame::default());
        Box::new(Tracked {
            items: items.into_iter(),
            next: 0,
            frame: frames.len() - 1,
            trace: Arc::clone(&hook),
        })
    });
    engine.register_global_module(module.into());
    trace
}

/// The variable of the innermost `for` loop whose body holds `position`.
pub(crate) fn loop_variable(ast: &AST, position: Position) -> Option<String> {
    let key = |p: Position| Some((p.line()?, p.position().unwrap_or(0)));
    let at = key(position)?;
    let mut found: Option<((usize, usize), String)> = None;
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::For(for_loop, _))) = path.last() {
            let span = for_loop.2.body.span();
            if let (Some(start), Some(end)) = (key(span.start()), key(span.end()))
                && start <= at
                && at <= end
                && found.as_ref().is_none_or(|(outer, _)| *outer <= start)
            {
                found = Some((start, for_loop.0.name.to_string()));
            }
        }
        true
    });
    found.map(|(_, name)| name)
}
