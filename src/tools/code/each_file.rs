//! Reading, parsing and analyzing many files on every core: one parser per thread, each thread
//! taking the next file not yet taken, and the results put back in the input order, so the
//! output is the same as one file after another.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::check_interrupted;
use super::inputs::Input;
use super::source::{PythonFile, PythonParser};
use crate::tools::{ToolCall, ToolFailure};

/// One file's result, with its place in the input.
type Done<T> = (usize, Result<T, ToolFailure>);

/// What `work` makes of each input file, in input order; or the failure of the first input
/// (in input order) that could not be read, or the interruption (cancel or deadline) met
/// before a file. After a failure no thread starts another file. Each file's text and tree
/// are dropped once `work` is done with them.
pub(super) fn map_files<T: Send>(
    call: &ToolCall<'_>,
    tool: &str,
    inputs: &[Input],
    work: impl Fn(&PythonFile) -> T + Sync,
) -> Result<Vec<T>, ToolFailure> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    // Files are handed out in input order, and a thread checks `failed` before taking one, so
    // the files done are always the first ones: the earliest failure is in the results.
    let worker = || -> Result<Vec<Done<T>>, ToolFailure> {
        let mut parser = PythonParser::new()?;
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(input) = inputs.get(index) else {
                break;
            };
            let result = check_interrupted(call, tool)
                .and_then(|()| parser.read(call, &input.path, &input.field))
                .map(|file| work(&file));
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            done.push((index, result));
        }
        Ok(done)
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(inputs.len());
    let mut done = if threads <= 1 {
        worker()?
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
            let mut done = Vec::new();
            for handle in handles {
                match handle.join() {
                    Ok(results) => done.extend(results?),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            Ok::<_, ToolFailure>(done)
        })?
    };
    done.sort_unstable_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}
