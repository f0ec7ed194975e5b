//! Who drives a run: a process, named by its host, pid and a nonce, and whether such a
//! process is still alive. The nonce tells apart two owners in one process and a pid reused
//! by a later process.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The process that drives a run; stored as [`Owner::id`], `host:pid:nonce`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Owner {
    host: String,
    pid: u32,
    nonce: u64,
    id: String,
}

impl Owner {
    /// This process, with a fresh nonce (from the time, the pid and a counter, so each call
    /// gives a new owner).
    pub fn this_process() -> Self {
        static CALLS: AtomicU64 = AtomicU64::new(0);
        let pid = std::process::id();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        // Truncating the nanoseconds keeps their fast-changing low bits, which is all a
        // nonce needs.
        #[allow(clippy::cast_possible_truncation)]
        let seed = (nanos as u64) ^ (u64::from(pid) << 32) ^ CALLS.fetch_add(1, Ordering::Relaxed);
        Self::new(this_host(), pid, mix(seed))
    }

    /// An owner with the given parts (to name another process, or in tests).
    pub fn new(host: &str, pid: u32, nonce: u64) -> Self {
        // `:` separates the parts of the id; a host name never holds one.
        let host = host.replace(':', "_");
        let id = format!("{host}:{pid}:{nonce:016x}");
        Self {
            host,
            pid,
            nonce,
            id,
        }
    }

    /// Reads an id written by [`Owner::id`].
    pub fn parse(id: &str) -> Option<Self> {
        let mut parts = id.rsplitn(3, ':');
        let nonce = u64::from_str_radix(parts.next()?, 16).ok()?;
        let pid = parts.next()?.parse().ok()?;
        let host = parts.next()?;
        Some(Self::new(host, pid, nonce))
    }

    /// `host:pid:nonce`, as stored in the runs table.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Known to be gone: it ran on this host and its pid is not alive. An owner on another
    /// host is never known to be gone (its lease says).
    pub fn is_known_dead(&self) -> bool {
        self.host == this_host() && !pid_is_alive(self.pid)
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// Whether the owner stored as `id` is known to be gone (an id that does not parse was not
/// written by a flowc and names no process we can find).
pub(super) fn stored_owner_is_dead(id: &str) -> bool {
    Owner::parse(id).is_none_or(|owner| owner.is_known_dead())
}

/// splitmix64's finaliser: spreads the seed's bits over the whole nonce.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// This machine's host name (cached: it is asked for at every read of a running run).
fn this_host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let name = read_host_name();
        if name.is_empty() {
            "localhost".to_owned()
        } else {
            name.replace(':', "_")
        }
    })
}

#[cfg(unix)]
fn read_host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

#[cfg(not(unix))]
fn read_host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_default()
}

#[cfg(unix)]
fn pid_is_alive(pid: u32) -> bool {
    use rustix::io::Errno;
    use rustix::process::{Pid, test_kill_process};
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    // EPERM: the process exists but belongs to someone else, so it is alive.
    !matches!(test_kill_process(pid), Err(Errno::SRCH))
}

/// Without a portable liveness test, a process is taken as alive: its lease decides.
#[cfg(not(unix))]
fn pid_is_alive(_pid: u32) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trips_through_parse() {
        let owner = Owner::this_process();
        assert_eq!(Owner::parse(owner.id()), Some(owner.clone()));
        assert_eq!(owner.pid(), std::process::id());
        assert_eq!(owner.id().matches(':').count(), 2);
    }

    #[test]
    fn each_call_is_a_new_owner() {
        assert_ne!(Owner::this_process(), Owner::this_process());
    }

    #[test]
    fn malformed_ids_do_not_parse() {
        for id in ["", "host", "host:12", "host:x:00ff", "host:12:zz"] {
            assert_eq!(Owner::parse(id), None, "{id}");
        }
    }

    #[test]
    fn this_process_is_alive_and_a_pid_beyond_any_pid_max_is_dead() {
        assert!(!Owner::this_process().is_known_dead());
        // Linux caps pids at 2^22; no process has this one.
        let gone = Owner::new(this_host(), 2_000_000_000, 1);
        assert_eq!(gone.is_known_dead(), cfg!(unix));
        assert!(stored_owner_is_dead("not an owner"));
    }

    #[test]
    fn an_owner_on_another_host_is_never_known_dead() {
        assert!(!Owner::new("elsewhere.example", u32::MAX, 7).is_known_dead());
    }
}
