//! The real `flowc` binary, sent signals while an `exec` node runs a command that started a
//! process of its own: however flowc ends, no process of the command's group is left.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// The longest wait for anything a test waits for; reached only when something is wrong.
const PATIENCE: Duration = Duration::from_secs(10);

/// A started `flowc run` whose one node runs `family.sh`, and that command's pids.
struct Run {
    flowc: Child,
    /// The shell running `family.sh` and the `sleep` it put in the background.
    pids: [i32; 2],
    /// Their process group.
    pgid: i32,
    _dir: tempfile::TempDir,
}

fn start() -> Run {
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/exec/family.sh");
    let pids_file = dir.path().join("pids");
    let flow = dir.path().join("hang.flow");
    fs::write(
        &flow,
        format!(
            "flow hang {{\n    node work = exec(cmd: \"sh '{}' '{}'\")\n    start -> work\n}}\n",
            script.display(),
            pids_file.display()
        ),
    )
    .unwrap();
    let flowc = Command::new(assert_cmd::cargo::cargo_bin("flowc"))
        .arg("run")
        .arg(&flow)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pids = wait_for_pids(&pids_file);
    let pgid = pgid_of(pids[0]).expect("the command is running");
    assert_eq!(pgid_of(pids[1]), Some(pgid), "one group");
    Run {
        flowc,
        pids,
        pgid,
        _dir: dir,
    }
}

fn wait_for_pids(path: &PathBuf) -> [i32; 2] {
    let until = Instant::now() + PATIENCE;
    loop {
        if let Ok(text) = fs::read_to_string(path) {
            let pids: Vec<i32> = text.lines().map(|line| line.parse().unwrap()).collect();
            return [pids[0], pids[1]];
        }
        assert!(Instant::now() < until, "the command never wrote its pids");
        thread::sleep(Duration::from_millis(10));
    }
}

/// The fields of `/proc/PID/stat` after the command name: state first, the group third.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn pgid_of(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(2)?.parse().ok()
}

/// Processes of group `pgid` still running (zombies are dead, only not yet reaped).
fn members(pgid: i32) -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            stat_fields(pid).is_some_and(|fields| {
                fields[0] != "Z" && fields.get(2).and_then(|g| g.parse().ok()) == Some(pgid)
            })
        })
        .collect()
}

fn signal(pid: u32, signal: Signal) {
    let pid = Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
    // flowc may have exited already after an earlier signal: then there is nobody to tell.
    let _ = kill_process(pid, signal);
}

impl Run {
    /// Sends the signals one right after the other, then waits for flowc to exit and for the
    /// command's group to be empty.
    fn end_with(mut self, signals: &[Signal]) -> ExitStatus {
        let pid = self.flowc.id();
        for &sent in signals {
            signal(pid, sent);
        }
        let status = self.wait_flowc();
        self.assert_group_gone();
        status
    }

    fn wait_flowc(&mut self) -> ExitStatus {
        let until = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.flowc.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= until {
                let _ = self.flowc.kill();
                panic!("flowc did not exit");
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn assert_group_gone(&self) {
        let until = Instant::now() + PATIENCE;
        loop {
            let left = members(self.pgid);
            if left.is_empty() {
                break;
            }
            if Instant::now() >= until {
                for pid in &left {
                    signal(u32::try_from(*pid).unwrap(), Signal::KILL);
                }
                panic!(
                    "processes {left:?} of the command's group (with {:?}) outlived flowc",
                    self.pids
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The first signal cancels the run: `cancelled`, exit code 3.
fn assert_cancelled(status: ExitStatus) {
    assert_eq!(status.code(), Some(3), "{status}");
}

#[test]
fn sigint_cancels_the_run_and_kills_the_command_group() {
    assert_cancelled(start().end_with(&[Signal::INT]));
}

#[test]
fn sigterm_cancels_the_run_and_kills_the_command_group() {
    assert_cancelled(start().end_with(&[Signal::TERM]));
}

#[test]
fn sighup_cancels_the_run_and_kills_the_command_group() {
    assert_cancelled(start().end_with(&[Signal::HUP]));
}

#[test]
fn sigquit_cancels_the_run_and_kills_the_command_group() {
    assert_cancelled(start().end_with(&[Signal::QUIT]));
}

/// A second signal may find the run still stopping (then flowc exits with 128 + its number)
/// or already stopped; either way nothing of the command is left.
#[test]
fn a_second_signal_in_quick_succession_leaves_nothing_behind() {
    let status = start().end_with(&[Signal::INT, Signal::TERM]);
    assert!(matches!(status.code(), Some(3 | 143)), "{status}");
    let status = start().end_with(&[Signal::INT, Signal::INT]);
    assert!(matches!(status.code(), Some(3 | 130)), "{status}");
}

/// Killed outright, flowc can kill nothing: the group's watchdog does.
#[test]
fn sigkill_of_flowc_leaves_nothing_behind() {
    use std::os::unix::process::ExitStatusExt;
    let status = start().end_with(&[Signal::KILL]);
    assert_eq!(status.signal(), Some(Signal::KILL.as_raw()), "{status}");
}

/// With the watchdog in between, how the command ended still reads as before.
#[test]
fn the_binary_reports_exit_statuses_and_start_failures_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let run = |cmd: &str| {
        let flow = dir.path().join("one.flow");
        fs::write(
            &flow,
            format!("flow one {{\n    node work = exec(cmd: {cmd:?})\n    start -> work\n}}\n"),
        )
        .unwrap();
        let output = assert_cmd::Command::cargo_bin("flowc")
            .unwrap()
            .arg("run")
            .arg(&flow)
            // Wide enough that no message is wrapped.
            .env("COLUMNS", "1000")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(3), "the run fails");
        String::from_utf8(output.stderr).unwrap()
    };
    let stderr = run("sh -c 'echo dying >&2; kill -KILL $$'");
    assert!(stderr.contains("(signal: 9 (SIGKILL))"), "{stderr}");
    assert!(stderr.contains("dying"), "{stderr}");
    let stderr = run("sh -c 'exit 7'");
    assert!(stderr.contains("(exit status: 7)"), "{stderr}");
    let stderr = run("flowc-no-such-command");
    assert!(
        stderr.contains("cannot start `flowc-no-such-command`: No such file or directory"),
        "{stderr}"
    );
}
