//! Locking shared state that a panic elsewhere cannot make unusable.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, also after another holder panicked: what it guards (a cancel token, print
/// lines, idle engines, a trace writer) stays valid, and a run must not fail for it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
