//! The process groups of the commands running now, in one process-wide registry, so that when
//! flowc exits on a signal it can kill every one of them first.
//!
//! A group is registered under the registry's lock in the same breath as its first process is
//! spawned, and leaves it (under the lock) before the last process holding its id is reaped.
//! So the signal path, which kills and exits with the lock held, reaches every group that
//! exists and never one whose id could already belong to someone else; and no command starts
//! after it.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};

use crate::sync::lock;

static LIVE: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// The registry, locked: hold it while spawning the processes of a group and [`Live::add`]ing it.
pub(super) fn live() -> Live {
    Live(lock(&LIVE))
}

pub(super) struct Live(MutexGuard<'static, BTreeSet<u32>>);

impl Live {
    pub(super) fn add(&mut self, pgid: u32) {
        self.0.insert(pgid);
    }
}

/// Kills the group `pgid` and takes it out of the registry.
pub(super) fn end(pgid: u32) {
    let mut live = lock(&LIVE);
    kill_group(pgid);
    live.remove(&pgid);
}

/// Kills the process group of every command running now, then exits the process with `code`.
/// The registry stays locked until the exit, so no command starts in between.
pub(crate) fn kill_all_and_exit(code: i32) -> ! {
    let live = lock(&LIVE);
    for &pgid in live.iter() {
        kill_group(pgid);
    }
    std::process::exit(code)
}

/// Sends `SIGKILL` to the process group `pgid`. An error means the group is already gone, and
/// then there is nothing to kill.
#[cfg(unix)]
pub(super) fn kill_group(pgid: u32) {
    use rustix::process::{Pid, Signal, kill_process_group};
    if let Some(pgid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) {
        let _ = kill_process_group(pgid, Signal::KILL);
    }
}

#[cfg(not(unix))]
pub(super) fn kill_group(_pgid: u32) {}
