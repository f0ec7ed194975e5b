//! [`JsonLines`]: the execution log as one JSON object per line, streamed to any `Write`.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crate::runtime::events::{Event, EventSink};

/// How stale [`JsonLines`] lets its buffer get while records keep coming.
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Writes each record as one line of JSON, as it comes; nothing is kept in memory. Wrap a
/// file in a `BufWriter`: records are flushed on `run_started`, on `run_finished`, and on
/// any record that comes 100 ms or more after the last flush, so a reader
/// tailing the file follows the run while a fast one still costs one write per buffer, not
/// per step. Between records nothing runs: to bound how long the last records wait while
/// a step is slow, call [`JsonLines::flush_pending`] from a timer (`flowc run` does).
/// The first write error is kept (see [`JsonLines::error`] and [`JsonLines::finish`]) and
/// later records are dropped.
#[derive(Debug)]
pub struct JsonLines<W: Write> {
    out: W,
    error: Option<io::Error>,
    last_flush: Instant,
    /// Records written since the last flush.
    pending: bool,
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W) -> Self {
        JsonLines {
            out,
            error: None,
            last_flush: Instant::now(),
            pending: false,
        }
    }

    /// Flushes the records written since the last flush, if any. Cheap when there are none.
    pub fn flush_pending(&mut self) {
        if self.pending && self.error.is_none() {
            let flushed = self.flush(Instant::now());
            self.keep(flushed);
        }
    }

    /// The first write error, if one happened. A caller that must not go on unlogged checks
    /// it after each record and stops the run (`flowc run` cancels it).
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Flushes, and returns the writer or the first error.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn write(&mut self, event: &Event) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, event)?;
        self.out.write_all(b"\n")?;
        self.pending = true;
        // One clock read per record (tens of nanoseconds) against a syscall per flush.
        let now = Instant::now();
        if matches!(
            event,
            Event::RunStarted(_) | Event::RunResumed(_) | Event::Waiting(_) | Event::RunFinished(_)
        ) || now.duration_since(self.last_flush) >= FLUSH_INTERVAL
        {
            self.flush(now)?;
        }
        Ok(())
    }

    fn flush(&mut self, now: Instant) -> io::Result<()> {
        self.out.flush()?;
        self.last_flush = now;
        self.pending = false;
        Ok(())
    }

    fn keep(&mut self, result: io::Result<()>) {
        if let Err(error) = result {
            self.error = Some(error);
        }
    }
}

impl<W: Write> EventSink for JsonLines<W> {
    fn event(&mut self, event: &Event) {
        if self.error.is_none() {
            let written = self.write(event);
            self.keep(written);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};
    use std::time::{Duration, SystemTime};

    use std::sync::Arc;

    use super::{FLUSH_INTERVAL, JsonLines};
    use crate::compile::ir::NodeId;
    use crate::runtime::events::{
        Event, EventSink, NodeRef, RunFinished, RunStarted, RunStatus, Step,
    };

    /// Keeps what was written and, apart, what was flushed.
    #[derive(Default)]
    struct Recorder {
        written: Vec<u8>,
        flushed: Vec<u8>,
        flushes: usize,
    }

    impl Write for Recorder {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.flushed.clone_from(&self.written);
            self.flushes += 1;
            Ok(())
        }
    }

    impl Recorder {
        fn flushed_lines(&self) -> Vec<String> {
            String::from_utf8(self.flushed.clone())
                .unwrap()
                .lines()
                .map(|line| {
                    let record: serde_json::Value = serde_json::from_str(line).unwrap();
                    format!("{} {}", record["event"].as_str().unwrap(), record["seq"])
                })
                .collect()
        }
    }

    fn started() -> Event {
        Event::RunStarted(RunStarted {
            seq: 0,
            run_id: None,
            flow: "f".into(),
            program: "sha256:0".into(),
            started_at: SystemTime::UNIX_EPOCH,
            state: serde_json::Map::new(),
        })
    }

    fn step(seq: u64) -> Event {
        Event::Step(Step {
            seq,
            step: seq,
            node: NodeRef {
                id: NodeId(0),
                name: Arc::from("a"),
            },
            tool: "noop".into(),
            started_at: SystemTime::UNIX_EPOCH,
            duration: Duration::ZERO,
            changes: serde_json::Map::new(),
            edge: None,
            in_loop: None,
            output: Vec::new(),
            stderr: Vec::new(),
            error: None,
            attempts: 1,
        })
    }

    fn finished(seq: u64) -> Event {
        Event::RunFinished(RunFinished {
            seq,
            run_id: None,
            status: RunStatus::Ok,
            steps: seq - 1,
            duration: Duration::ZERO,
            error: None,
            state: None,
        })
    }

    #[test]
    fn the_first_and_last_records_are_flushed_at_once_and_quick_steps_wait() {
        let mut log = JsonLines::new(Recorder::default());
        log.event(&started());
        assert_eq!(log.out.flushed_lines(), ["run_started 0"]);
        log.event(&step(1));
        log.event(&step(2));
        assert_eq!(
            log.out.flushed_lines(),
            ["run_started 0"],
            "steps are buffered"
        );
        log.event(&finished(3));
        assert_eq!(
            log.out.flushed_lines(),
            ["run_started 0", "step 1", "step 2", "run_finished 3"]
        );
        assert_eq!(log.out.flushes, 2);
    }

    #[test]
    fn a_step_after_the_interval_flushes() {
        let mut log = JsonLines::new(Recorder::default());
        log.event(&started());
        log.event(&step(1));
        // As if the last flush were an interval ago, without sleeping.
        log.last_flush = log.last_flush.checked_sub(FLUSH_INTERVAL).unwrap();
        log.event(&step(2));
        assert_eq!(
            log.out.flushed_lines(),
            ["run_started 0", "step 1", "step 2"]
        );
        log.event(&step(3));
        assert_eq!(log.out.flushes, 2, "the clock restarts at each flush");
    }

    #[test]
    fn flush_pending_flushes_only_what_waits() {
        let mut log = JsonLines::new(Recorder::default());
        log.flush_pending();
        assert_eq!(log.out.flushes, 0, "nothing written, nothing to flush");
        log.event(&started());
        log.flush_pending();
        assert_eq!(log.out.flushes, 1, "run_started was flushed already");
        log.event(&step(1));
        log.flush_pending();
        assert_eq!(log.out.flushed_lines(), ["run_started 0", "step 1"]);
        assert_eq!(log.out.flushes, 2);
    }

    #[test]
    fn the_first_write_error_is_kept_and_later_records_are_dropped() {
        #[derive(Debug)]
        struct Full;
        impl Write for Full {
            fn write(&mut self, _bytes: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut log = JsonLines::new(Full);
        assert!(log.error().is_none());
        log.event(&started());
        assert_eq!(log.error().unwrap().to_string(), "disk full");
        log.event(&step(1));
        log.flush_pending();
        assert_eq!(log.finish().unwrap_err().to_string(), "disk full");
    }
}
