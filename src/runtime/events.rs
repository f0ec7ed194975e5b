//! The execution log: what the engine reports as it runs (`run_started`, one `step` per
//! node, `run_finished`), and a JSON-Lines writer that streams each record to any `Write`
//! as it happens. The format is documented in `docs/engine.md` and kept stable.
//!
//! Records borrow from the run (node names, the state's values), so emitting one costs
//! nothing until a sink serializes it; a step's `changes` holds only the keys it set.

use std::io::{self, Write};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::runtime::state::{State, Stored};

/// One record of the execution log. Serializes as one JSON object tagged by `"event"`.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event<'a> {
    RunStarted(RunStarted<'a>),
    Step(Step<'a>),
    RunFinished(RunFinished<'a>),
}

/// The first record, once the initial state is valid.
#[derive(Debug, Serialize)]
pub struct RunStarted<'a> {
    /// 0 for this record; each later record adds one.
    pub seq: u64,
    pub flow: &'a str,
    #[serde(serialize_with = "rfc3339")]
    pub started_at: SystemTime,
    /// The initial state, defaults filled.
    pub state: StateView<'a>,
}

/// A node that finished (or failed).
#[derive(Debug, Serialize)]
pub struct Step<'a> {
    /// The step number, from 1.
    pub seq: u64,
    pub node: &'a str,
    /// The tool's name, `script` or `junction`.
    pub tool: &'a str,
    #[serde(serialize_with = "rfc3339")]
    pub started_at: SystemTime,
    #[serde(rename = "duration_us", serialize_with = "micros")]
    pub duration: Duration,
    /// The keys the node set, with their new values.
    pub changes: Changes<'a>,
    /// The edge taken; absent when the run fails at this step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<EdgeTaken<'a>>,
    /// The innermost loop the node is in, and which iteration (from 1).
    #[serde(rename = "loop", skip_serializing_if = "Option::is_none")]
    pub in_loop: Option<LoopPosition<'a>>,
    /// Lines from `print` and `debug`.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub output: &'a [String],
    /// Why the node failed (also when an `on error` edge handled it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorRecord<'a>>,
    /// Attempts made, when the node was retried.
    #[serde(skip_serializing_if = "is_one")]
    pub attempts: u32,
}

/// The edge a step took.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct EdgeTaken<'a> {
    /// The next node or loop, or `end`.
    pub to: &'a str,
    /// The guard's text; `null` for a default edge, an error edge or a loop's repeat.
    pub guard: Option<&'a str>,
    /// Set when the node failed and its `on error` edge was taken.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub on_error: bool,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct LoopPosition<'a> {
    pub name: &'a str,
    pub iteration: u64,
    /// On the step of the loop's exit node: the value of the `until` guard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<bool>,
    /// When that guard was true and this loop is the exit of an enclosing one: the `until`
    /// guards of the enclosing loops evaluated on this step, innermost first.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub outer: &'a [OuterUntil<'a>],
}

/// An enclosing loop's `until`, evaluated because the step finished its body too.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct OuterUntil<'a> {
    pub name: &'a str,
    pub iteration: u64,
    pub until: bool,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct ErrorRecord<'a> {
    /// The diagnostic code without `flow::` (`tool-failed`).
    pub code: &'a str,
    pub message: &'a str,
}

/// How the run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    Failed,
    Cancelled,
}

/// The last record.
#[derive(Debug, Serialize)]
pub struct RunFinished<'a> {
    pub seq: u64,
    pub status: RunStatus,
    /// Steps run.
    pub steps: u64,
    #[serde(rename = "duration_us", serialize_with = "micros")]
    pub duration: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FinishedError<'a>>,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct FinishedError<'a> {
    pub code: &'a str,
    pub message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<&'a str>,
}

/// The keys a step set, with their current values.
#[derive(Clone, Copy)]
pub struct Changes<'a> {
    pub(crate) state: &'a State,
    pub(crate) slots: &'a [usize],
}

/// A field's value in a log record: serializes as JSON; [`FieldValue::to_json`] converts it.
#[derive(Clone, Copy, Debug)]
pub struct FieldValue<'a>(pub(crate) &'a Stored);

impl FieldValue<'_> {
    pub fn to_json(&self) -> serde_json::Value {
        self.0.to_json()
    }
}

impl Serialize for FieldValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'a> Changes<'a> {
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, FieldValue<'a>)> + 'a {
        let state = self.state;
        self.slots
            .iter()
            .filter_map(move |&slot| Some((state.name(slot), FieldValue(state.stored(slot)?))))
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The changes as a JSON object.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_json()))
            .collect()
    }
}

impl std::fmt::Debug for Changes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Changes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.slots.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

/// The whole state, in output order.
#[derive(Clone, Copy)]
pub struct StateView<'a> {
    pub(crate) state: &'a State,
}

impl<'a> StateView<'a> {
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, FieldValue<'a>)> + 'a {
        self.state
            .iter()
            .map(|(name, value)| (name, FieldValue(value)))
    }

    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        self.state.to_json()
    }
}

impl std::fmt::Debug for StateView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for StateView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_one(n: &u32) -> bool {
    *n == 1
}

fn rfc3339<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_rfc3339_micros(*time))
}

fn micros<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .serialize(serializer)
}

/// Receives the log records of a run, as they happen.
pub trait EventSink {
    /// Whether to build `step` records at all (timing and change lists cost a little).
    fn enabled(&self) -> bool {
        true
    }
    fn event(&mut self, event: &Event<'_>);
}

/// Discards every record; the run skips building them.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEvents;

impl EventSink for NoEvents {
    fn enabled(&self) -> bool {
        false
    }
    fn event(&mut self, _event: &Event<'_>) {}
}

impl<F: FnMut(&Event<'_>)> EventSink for F {
    fn event(&mut self, event: &Event<'_>) {
        self(event);
    }
}

/// Sends every record to both sinks.
pub struct Tee<'a>(pub &'a mut dyn EventSink, pub &'a mut dyn EventSink);

impl EventSink for Tee<'_> {
    fn enabled(&self) -> bool {
        self.0.enabled() || self.1.enabled()
    }
    fn event(&mut self, event: &Event<'_>) {
        if self.0.enabled() {
            self.0.event(event);
        }
        if self.1.enabled() {
            self.1.event(event);
        }
    }
}

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

    fn write(&mut self, event: &Event<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, event)?;
        self.out.write_all(b"\n")?;
        self.pending = true;
        // One clock read per record (tens of nanoseconds) against a syscall per flush.
        let now = Instant::now();
        if matches!(event, Event::RunStarted(_) | Event::RunFinished(_))
            || now.duration_since(self.last_flush) >= FLUSH_INTERVAL
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
    fn event(&mut self, event: &Event<'_>) {
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

    use super::{
        Changes, Event, EventSink, FLUSH_INTERVAL, JsonLines, RunFinished, RunStarted, RunStatus,
        StateView, Step,
    };
    use crate::runtime::state::{Slots, State};

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

    fn state() -> State {
        State::from_input(&Slots::default(), 0, None, serde_json::Map::new()).unwrap()
    }

    fn started(state: &State) -> Event<'_> {
        Event::RunStarted(RunStarted {
            seq: 0,
            flow: "f",
            started_at: SystemTime::UNIX_EPOCH,
            state: StateView { state },
        })
    }

    fn step(state: &State, seq: u64) -> Event<'_> {
        Event::Step(Step {
            seq,
            node: "a",
            tool: "noop",
            started_at: SystemTime::UNIX_EPOCH,
            duration: Duration::ZERO,
            changes: Changes { state, slots: &[] },
            edge: None,
            in_loop: None,
            output: &[],
            error: None,
            attempts: 1,
        })
    }

    fn finished(seq: u64) -> Event<'static> {
        Event::RunFinished(RunFinished {
            seq,
            status: RunStatus::Ok,
            steps: seq - 1,
            duration: Duration::ZERO,
            error: None,
        })
    }

    #[test]
    fn the_first_and_last_records_are_flushed_at_once_and_quick_steps_wait() {
        let state = state();
        let mut log = JsonLines::new(Recorder::default());
        log.event(&started(&state));
        assert_eq!(log.out.flushed_lines(), ["run_started 0"]);
        log.event(&step(&state, 1));
        log.event(&step(&state, 2));
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
        let state = state();
        let mut log = JsonLines::new(Recorder::default());
        log.event(&started(&state));
        log.event(&step(&state, 1));
        // As if the last flush were an interval ago, without sleeping.
        log.last_flush = log.last_flush.checked_sub(FLUSH_INTERVAL).unwrap();
        log.event(&step(&state, 2));
        assert_eq!(
            log.out.flushed_lines(),
            ["run_started 0", "step 1", "step 2"]
        );
        log.event(&step(&state, 3));
        assert_eq!(log.out.flushes, 2, "the clock restarts at each flush");
    }

    #[test]
    fn flush_pending_flushes_only_what_waits() {
        let state = state();
        let mut log = JsonLines::new(Recorder::default());
        log.flush_pending();
        assert_eq!(log.out.flushes, 0, "nothing written, nothing to flush");
        log.event(&started(&state));
        log.flush_pending();
        assert_eq!(log.out.flushes, 1, "run_started was flushed already");
        log.event(&step(&state, 1));
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
        let state = state();
        let mut log = JsonLines::new(Full);
        assert!(log.error().is_none());
        log.event(&started(&state));
        assert_eq!(log.error().unwrap().to_string(), "disk full");
        log.event(&step(&state, 1));
        log.flush_pending();
        assert_eq!(log.finish().unwrap_err().to_string(), "disk full");
    }
}
