//! The watchdog: a second copy of the flowc binary that each command's process group starts
//! with, so that the group dies with flowc even when flowc is killed with `SIGKILL` and has no
//! chance to kill it itself.
//!
//! flowc spawns it (`flowc __flowc-exec-watchdog PARENT-PID`) as the first member of a new
//! process group, then spawns the command into that group. The watchdog does nothing until
//! flowc is gone, then kills its whole group, itself included. It learns that flowc is gone
//!
//! - from end of file on its stdin, a pipe whose only writer is flowc (every platform): the
//!   kernel closes it when flowc dies, however it dies;
//! - on Linux also from `SIGTERM`, its parent-death signal (`PR_SET_PDEATHSIG`);
//! - and from its parent pid no longer being flowc's, for a flowc that died before the above
//!   were in place.
//!
//! When the command is done, flowc kills the group itself, watchdog included. The command is
//! flowc's own child, so its exit status and a failure to start it reach flowc as before.
//!
//! Only an executable whose `main` calls [`serve`] first can be a watchdog: when flowc is used
//! as a library, commands are spawned without one.

use std::ffi::OsStr;
use std::io;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

/// The first argument that makes the flowc binary a watchdog.
const ARG: &str = "__flowc-exec-watchdog";

/// Set once `main` called [`serve`]: this executable can be a watchdog.
static AVAILABLE: AtomicBool = AtomicBool::new(false);

/// For the binary's `main`, before anything else: when this process was started as a watchdog,
/// runs it (it never returns then); otherwise records that this executable can start
/// watchdogs and returns.
#[cfg(unix)]
pub fn serve() {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() == Some(OsStr::new(ARG)) {
        let parent = args.next().and_then(|pid| pid.to_str()?.parse().ok());
        watch(parent);
    }
    AVAILABLE.store(true, Ordering::Relaxed);
}

#[cfg(not(unix))]
pub fn serve() {}

/// Starts a watchdog in a new process group (whose id is its pid), or `None` when this
/// executable cannot be one.
pub(super) fn start() -> io::Result<Option<Child>> {
    if !AVAILABLE.load(Ordering::Relaxed) {
        return Ok(None);
    }
    let mut command = Command::new(executable()?);
    command
        .arg(ARG)
        .arg(std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    command.spawn().map(Some)
}

/// The running executable. On Linux the kernel's link to it, which works even when the file
/// was replaced or deleted since flowc started (an upgrade under a long run).
fn executable() -> io::Result<PathBuf> {
    if cfg!(target_os = "linux") {
        Ok(PathBuf::from("/proc/self/exe"))
    } else {
        std::env::current_exe()
    }
}

/// The watchdog's whole life: wait for the parent's death, then kill the group.
#[cfg(unix)]
fn watch(parent: Option<u32>) -> ! {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{Signal, set_parent_process_death_signal};
        use signal_hook::{consts::SIGTERM, iterator::Signals};
        // Catching `SIGTERM` comes first, so that the death signal, once set, is caught rather
        // than killing the watchdog alone.
        if let Ok(mut signals) = Signals::new([SIGTERM])
            && set_parent_process_death_signal(Some(Signal::TERM)).is_ok()
        {
            let _ = std::thread::Builder::new()
                .name("watchdog".to_owned())
                .spawn(move || {
                    if signals.forever().next().is_some() {
                        end_group();
                    }
                });
        }
    }
    let parent_now = rustix::process::getppid().map(|pid| pid.as_raw_nonzero().get());
    if parent.is_none() || parent.and_then(|pid| i32::try_from(pid).ok()) != parent_now {
        end_group();
    }
    // Blocks until flowc closes its end of the pipe: flowc never writes, and holds it until
    // it kills the group itself.
    let _ = io::copy(&mut io::stdin(), &mut io::sink());
    end_group()
}

/// Kills the watchdog's own process group: the command, whatever it started there, and the
/// watchdog itself.
#[cfg(unix)]
fn end_group() -> ! {
    use rustix::process::{Signal, kill_current_process_group};
    let _ = kill_current_process_group(Signal::KILL);
    // Only reached if the group could not be signalled; the exit code is read by no one.
    std::process::exit(1)
}
